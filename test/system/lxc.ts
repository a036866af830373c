// LXC for system tests: present in CI (.ci/run installs lxc and busybox-static), skipped loudly
// on a developer machine without it.
import type { TestContext } from 'node:test';
import { LxcHost } from '../../src/engine/backends/lxc.js';
import { missing, requireTool } from '../helpers.js';

export async function requireLxc(t: TestContext): Promise<boolean> {
  if (!requireTool(t, 'lxc-create', 'busybox', 'mkfs.ext4')) return false;
  if (await LxcHost.available()) return true;
  missing(t, 'LXC is installed but not usable here (lxc-create, busybox, mkfs.ext4 fail)');
  return false;
}
