// Mounts the engine makes: SquashFS images read-only, and the shared bind that lets mounts made on
// the host after a container started appear inside it.
import { readFileSync } from 'node:fs';
import { runTool, tool } from './tool.js';

export function isMounted(dir: string): boolean {
  return readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .some((l) => l.split(' ')[1] === dir);
}

const mountCmd = (args: string[]) => runTool('mount', args);

/** A SquashFS image, read-only, without devices or set-id programs. */
export async function mountImage(image: string, dir: string): Promise<void> {
  if (isMounted(dir)) return;
  await mountCmd(['-t', 'squashfs', '-o', 'loop,ro,nodev,nosuid', image, dir]);
}

export async function unmount(dir: string): Promise<void> {
  if (!isMounted(dir)) return;
  const r = await tool('umount', [dir]);
  if (r.exitCode !== 0) await tool('umount', ['-l', dir]);
}

/** Makes dir a mount of its own with shared propagation (idempotent). */
export async function makeShared(dir: string): Promise<void> {
  if (!isMounted(dir)) await mountCmd(['--bind', dir, dir]);
  await mountCmd(['--make-rshared', dir]);
}

/**
 * The loop devices still over an image after its unmount (auto-clear can lag on a busy host) detached, before
 * the image is changed: a later `mount -o loop` would take the same device again, and its cached blocks (the
 * old superblock) with it, so a grown file system would come back at its old size.
 */
export async function detachLoops(image: string): Promise<void> {
  for (let i = 0; i < 50; i++) {
    const devs = (await tool('losetup', ['-j', image])).stdout
      .split('\n')
      .map((l) => l.split(':')[0] ?? '')
      .filter((d) => d.startsWith('/dev/'));
    if (!devs.length) return;
    for (const d of devs) await tool('losetup', ['-d', d]);
    await new Promise((r) => setTimeout(r, 100));
  }
}
