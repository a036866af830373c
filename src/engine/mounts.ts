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
