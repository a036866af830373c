// LXC for system tests: present in CI (.ci/run installs lxc and busybox-static), skipped loudly
// on a developer machine without it.
import type { TestContext } from 'node:test';
import type { LxcBackend } from '../../src/engine/backends/lxc/backend.js';
import { LxcHost } from '../../src/engine/backends/lxc/host.js';
import type { Engine } from '../../src/engine/engine.js';

/** The engine's LXC host, to look inside its containers. */
export const lxcHost = (engine: Engine): LxcHost => (engine.backend('lxc') as LxcBackend).host;

export async function requireLxc(t: TestContext): Promise<boolean> {
  if (await LxcHost.available()) return true;
  if (process.env.CI) throw new Error('LXC (lxc, busybox-static) is not installed, and CI must run this test');
  t.skip('SKIPPED LOUDLY: LXC or busybox is not installed (apt-get install lxc busybox-static); CI runs this test');
  return false;
}
