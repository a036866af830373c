// LXC for system tests: present in CI (.ci/run installs lxc and busybox-static), skipped loudly
// on a developer machine without it.
import type { TestContext } from 'node:test';
import type { LxcBackend } from '../../src/engine/backends/lxc/backend.js';
import { LxcHost } from '../../src/engine/backends/lxc/host.js';
import type { Engine } from '../../src/engine/engine.js';

import { missing, requireTool } from '../helpers.js';

/** The engine's LXC host, to look inside its containers. */
export const lxcHost = (engine: Engine): LxcHost => (engine.backend('lxc') as LxcBackend).host;

export async function requireLxc(t: TestContext): Promise<boolean> {
  if (!requireTool(t, 'lxc-create', 'busybox', 'mkfs.ext4')) return false;
  if (await LxcHost.available()) return true;
  missing(t, 'LXC is installed but not usable here (lxc-create, busybox, mkfs.ext4 fail)');
  return false;
}
