// Work on trees that a container or a DU's own user can write to, done with that owner's
// privileges and no more. As host root, a recursive delete of such a tree can be raced: a process of
// the owner swaps a directory for a link between the delete's check and its unlink, and root
// deletes host files. Run as the owner (a native DU's host user, or root of a user namespace over
// the EE's id range, which is what a container's root is), the same race reaches only what the
// owner could delete anyway. The programs run are the host's own (rm, find), never the owner's.
import { execFile } from 'node:child_process';
import {
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  lstatSync,
  mkdirSync,
  openSync,
  rmdirSync,
  unlinkSync,
} from 'node:fs';
import type { IdRange } from '../backends/lxc/policy.js';
import type { UserIds } from './users.js';

export type Owner = { readonly range: IdRange } | { readonly user: UserIds };

function runAs(owner: Owner, cmd: string, args: string[]): Promise<boolean> {
  const [file, argv, ids] =
    'range' in owner
      ? ['lxc-usernsexec', ['-m', `b:0:${owner.range.base}:${owner.range.size}`, '--', cmd, ...args], {}]
      : [cmd, args, { uid: owner.user.uid, gid: owner.user.gid }];
  // A failure is the owner's files resisting (their own doing): what is left is checked by the caller.
  return new Promise((resolve) => execFile(file, argv, { ...ids, maxBuffer: 1024 * 1024 }, (e) => resolve(!e)));
}

function kind(path: string): 'absent' | 'link' | 'dir' | 'other' {
  try {
    const st = lstatSync(path);
    return st.isSymbolicLink() ? 'link' : st.isDirectory() ? 'dir' : 'other';
  } catch {
    return 'absent';
  }
}

/**
 * Removes path and everything below it as its owner. The entry itself lives in a directory only the
 * agent writes (an EE's data directory, the engine's): root takes it out last, without following it.
 * Returns false when something the owner put there resisted (it is theirs, and stays).
 */
export async function removeTree(path: string, owner: Owner): Promise<boolean> {
  const k = kind(path);
  if (k === 'absent') return true;
  if (k !== 'dir') {
    unlinkSync(path);
    return true;
  }
  await runAs(owner, 'rm', ['-rf', '--', path]);
  try {
    if (kind(path) === 'dir') rmdirSync(path);
    else if (kind(path) !== 'absent') unlinkSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Empties a directory as its owner (find -delete neither follows links nor leaves the tree). */
export async function emptyTree(path: string, owner: Owner): Promise<void> {
  if (kind(path) !== 'dir') return;
  await runAs(owner, 'find', [path, '-mindepth', '1', '-delete']);
}

/**
 * Copies what is in one directory into another as their owner (cp -a: links copied as links, never
 * followed; ownership and modes kept within what the owner may set). False: not all of it was copied.
 */
export async function copyTree(from: string, to: string, owner: Owner): Promise<boolean> {
  if (kind(from) !== 'dir' || kind(to) !== 'dir') return false;
  return runAs(owner, 'cp', ['-a', '--', `${from}/.`, `${to}/`]);
}

/**
 * Creates a directory in a parent only the agent writes and gives it to its owner; an entry that is
 * there already is taken only if it is a real directory (opened without following a link).
 */
export function ownDir(path: string, ids: UserIds, mode: number): void {
  try {
    mkdirSync(path, { mode });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  const fd = openSync(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  try {
    fchownSync(fd, ids.uid, ids.gid);
    fchmodSync(fd, mode);
  } finally {
    closeSync(fd);
  }
}
