// Who owns and who can reach the files services use.
//
// shiftTree gives a tree of files to a user namespace: every entry's owner moves by `base` (host root ->
// the namespace's root), so the container sees its files as its own and nothing there is owned by
// a host id. Walks with lstat and lchown only: a symbolic link is re-owned, never followed, and
// only real directories are entered. Only trees the agent itself just made are shifted (a base
// root file system being copied, a package in staging), never one a container can write to.
import { chmodSync, lchownSync, lstatSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { IdRange } from '../backends/lxc/policy.js';

/** Host id of a container id; ids outside the range's size (none in sane packages) become its root. */
export const hostId = (ids: IdRange, id: number): number => ids.base + (id >= 0 && id < ids.size ? id : 0);

/**
 * keepSetId: a base root file system keeps its set-id programs as its maker built them (no_new_privs
 * and nosuid make them inert in an EE anyway); a package loses them (chown clears them, as it should).
 */
export function shiftTree(root: string, ids: IdRange, keepSetId = false): number {
  let entries = 0;
  const walk = (path: string): void => {
    const st = lstatSync(path);
    lchownSync(path, hostId(ids, st.uid), hostId(ids, st.gid));
    entries++;
    if (st.isSymbolicLink()) return;
    if (keepSetId && (st.mode & 0o6000) !== 0 && !st.isDirectory()) chmodSync(path, st.mode & 0o7777);
    if (st.isDirectory()) for (const name of readdirSync(path)) walk(join(path, name));
  };
  walk(root);
  return entries;
}

/**
 * Lets services that are not root reach what lies below dir (an EE's layers, a native DU's files):
 * dir and every directory above it get the search bit for others (never read: nothing can be
 * listed). All the way up: one that has it already says nothing of those above it (a state
 * directory made passable inside a private one).
 */
export function makePassable(dir: string): void {
  for (let d = dir; ; d = dirname(d)) {
    const mode = statSync(d).mode;
    if (!(mode & 0o001)) chmodSync(d, (mode & 0o7777) | 0o001);
    if (d === dirname(d)) return;
  }
}
