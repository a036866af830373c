// How a HostObject's host path becomes a mount under an EE's shared du/ directory, so that neither the
// host path nor the container's copy is ever writable where the operator allowed it read-only.
// The path is opened without following a link anywhere: after the open, the object is the one checked
// (device and inode as lstat saw them) and the path the kernel reached it by is the one checked (a parent
// swapped for a link between the check and the open would show), and the mount is made of that opened
// object (/proc/<pid>/fd/<fd>), not of the path again.
// The bind is made in a private staging directory outside du/ and given its flags (ro, nosuid, nodev)
// there; only then is it moved into du/. A bind made in du/ directly propagated at once, writable, to
// the running container's copy (du/ is rshared, rslave inside), and the remount that followed stayed on
// the host's copy: root of the container could write a path allowed read-only.
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readlinkSync,
  realpathSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { isMounted, unmount } from './mounts.js';
import { runTool } from './tool.js';

/**
 * The object at an absolute, link-free path, opened read-only: its descriptor, or a throw where a link is met
 * or the object changed between the check and the open. `between` runs between the two (a test's swap).
 */
export function openExact(source: string, between: () => void = () => undefined): number {
  const seen = lstatSync(source, { bigint: true });
  if (seen.isSymbolicLink() || realpathSync(source) !== source) throw new Error('a symbolic link');
  between();
  const fd = openSync(source, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const now = fstatSync(fd, { bigint: true });
    if (now.dev !== seen.dev || now.ino !== seen.ino) throw new Error('replaced while it was opened');
    if (readlinkSync(`/proc/self/fd/${fd}`) !== source) throw new Error('reached through a link while opened');
    return fd;
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

/**
 * Binds the opened object at `at` (made, a directory or a file as the object is) with its flags already set,
 * staged in `staging`: a directory of the agent's outside the shared tree `at` is in, made and removed here.
 */
export async function bindOpened(fd: number, at: string, opts: { readOnly: boolean; staging: string }): Promise<void> {
  const dir = fstatSync(fd).isDirectory();
  const { staging } = opts;
  const held = join(staging, 'object');
  await clearStaging(staging); // what an agent that crashed in here left
  mkdirSync(staging, { recursive: true, mode: 0o700 });
  // A mount of its own, private: the bind made in it reaches no other mount namespace, and may be moved.
  await runTool('mount', ['--bind', staging, staging]);
  try {
    await runTool('mount', ['--make-private', staging]);
    makeMountPoint(held, dir);
    // -c: mount would otherwise resolve the descriptor's link back into a path string and mount that path.
    await runTool('mount', ['-c', '--bind', `/proc/${process.pid}/fd/${fd}`, held]);
    await runTool('mount', ['-o', `remount,bind,${opts.readOnly ? 'ro' : 'rw'},nosuid,nodev`, held]);
    await runTool('mount', ['--make-private', held]);
    makeMountPoint(at, dir);
    // Every copy du/ propagates it to (the running container's) is made of it as it is now: flags and all.
    await runTool('mount', ['--move', held, at]);
  } finally {
    await clearStaging(staging);
  }
}

/** A staging directory unmounted and removed (its mount points only, never a recursive removal). */
export async function clearStaging(staging: string): Promise<void> {
  const held = join(staging, 'object');
  for (const m of [held, staging]) {
    // A bind stacked by an earlier attempt too: until nothing is mounted there.
    for (let i = 0; i < 8 && isMounted(m); i++) await unmount(m).catch(() => undefined);
    if (!isMounted(m)) removeMountPoint(m);
  }
}

function makeMountPoint(at: string, dir: boolean): void {
  if (dir) mkdirSync(at, { recursive: true });
  else {
    mkdirSync(dirname(at), { recursive: true });
    writeFileSync(at, '', { flag: 'a' });
  }
}

function removeMountPoint(at: string): void {
  try {
    rmdirSync(at);
  } catch {
    try {
      if (!lstatSync(at).isDirectory()) rmSync(at, { force: true });
    } catch {
      /* gone already */
    }
  }
}
