// OCI images for networking tests: a base layer of static busybox (a shell, httpd, wget, ip) and, on it,
// a web app that first probes a URL (what it got, wget's exit code, whether it could add an address to
// its own lo, its interfaces' names, and the same for a peer's URL if PEER is set: into its DU's data
// directory), then serves "hello from <name>" on 8080.
import { readFileSync } from 'node:fs';
import { type Blob, type Image, image, layer, ociArchive } from '../engine/image/oci-builder.js';
import { which } from '../helpers.js';

const APPLETS = ['sh', 'httpd', 'wget', 'timeout', 'ip', 'cat', 'echo', 'ls', 'sleep', 'id', 'cut', 'tr'];

export function busyboxLayer(): Blob {
  return layer([
    { name: 'bin/', type: '5', mode: 0o755 },
    { name: 'bin/busybox', data: readFileSync(which('busybox')!), mode: 0o755 },
    ...APPLETS.map((a) => ({ name: `bin/${a}`, type: '2' as const, link: 'busybox' })),
    { name: 'etc/', type: '5', mode: 0o755 },
    { name: 'etc/passwd', data: 'root:x:0:0::/:/bin/sh\n' },
    { name: 'etc/group', data: 'root:x:0:\n' },
    { name: 'tmp/', type: '5', mode: 0o1777 },
  ]);
}

const RUN = [
  '#!/bin/sh',
  'd="$CPE_DU_DATA"',
  'timeout 5 wget -q -O "$d/got" "$PROBE"; echo $? > "$d/rc.tmp"',
  'ip addr add 10.1.2.3/32 dev lo 2>/dev/null; echo $? > "$d/tamper"',
  'ip -o link | cut -d: -f2 | tr -d " " > "$d/lo"',
  // A unit of another EE, where one is given (PEER): out of reach on the bridge.
  '[ -z "$PEER" ] || { timeout 5 wget -q -O "$d/peer" "$PEER"; echo $? > "$d/peerrc"; }',
  'mv "$d/rc.tmp" "$d/rc"',
  'exec httpd -f -p 8080 -h /www',
  '',
].join('\n');

/** The web app's image (named by its title annotation) on base, probing url at start. */
export function probingWebImage(base: Blob, name: string, url: string, extra: Blob[] = []): Image {
  const app = layer([
    { name: 'srv/', type: '5', mode: 0o755 },
    { name: 'srv/run.sh', data: RUN, mode: 0o755 },
    { name: 'www/', type: '5', mode: 0o755 },
    { name: 'www/index.html', data: `hello from ${name}\n`, mode: 0o644 },
  ]);
  return image(
    [base, ...extra, app],
    { Cmd: ['/srv/run.sh'], Env: [`PROBE=${url}`], ExposedPorts: { '8080/tcp': {} } },
    {
      annotations: { 'org.opencontainers.image.title': name, 'org.opencontainers.image.version': '1.0' },
    },
  );
}

/** The same as an oci-archive. */
export function probingWeb(base: Blob, name: string, url: string): Buffer {
  return ociArchive(probingWebImage(base, name, url));
}
