// runc for system tests: present in CI (.ci/run installs runc and busybox-static), skipped loudly on a
// developer machine without it; and a DU whose package is a root file system (busybox) for OCI EEs.
import { readFileSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { manifest, tarGz } from '../engine/tar-builder.js';
import { requireRoot, requireTool, which } from '../helpers.js';

export async function requireRunc(t: TestContext): Promise<boolean> {
  if (!requireTool(t, 'runc', 'busybox', 'mkfs.ext4')) return false;
  return requireRoot(t, 'runc containers in user namespaces are made by root');
}

const APPLETS = ['sh', 'sleep', 'id', 'cat', 'echo', 'ls', 'mount', 'touch', 'test', 'hostname', 'ip'];

/** A tar.gz DU whose root is a tiny root file system: static busybox, its applets, and the given scripts. */
export function busyboxPackage(
  name: string,
  services: object[],
  scripts: Record<string, string>,
  version = '1.0',
): Buffer {
  const busybox = readFileSync(which('busybox') ?? '/bin/busybox');
  return tarGz([
    { name: 'manifest.json', data: manifest({ name, services, version }) },
    { name: 'bin/busybox', data: busybox, mode: 0o755 },
    ...APPLETS.map((a) => ({ name: `bin/${a}`, type: '2' as const, link: 'busybox' })),
    { name: 'etc/passwd', data: 'root:x:0:0:root:/:/bin/sh\napp:x:1000:1000:app:/:/bin/sh\n' },
    { name: 'etc/group', data: 'root:x:0:\napp:x:1000:\n' },
    { name: 'mnt/.keep', data: '' },
    ...Object.entries(scripts).map(([n, data]) => ({ name: n, data, mode: 0o755 })),
  ]);
}
