// Checks a package's files as they really are on disk (a tree unpacked into staging, or an image
// mounted read-only), not as a listing describes them: a listing is text, and a name can look like
// anything in it. The walk uses lstat and readlink only, so it never follows a link itself. Refused:
// device nodes, FIFOs and sockets; symbolic links that lead outside the package when followed the
// way the kernel would (absolute, or climbing above the root, also through other links of the
// package, whatever order they were made in); more entries or bytes than allowed.
import { lstat, opendir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { EngineCode, EngineError } from '../errors.js';
import { overSize, type SizeLimits } from './size-limit.js';

export type TreeLimits = SizeLimits;

/** Links followed within one link's resolution, as the kernel allows (MAXSYMLINKS). */
const MAX_HOPS = 40;

const refused = (msg: string, rel: readonly string[]): never => {
  throw new EngineError(EngineCode.CorruptData, `package refused: ${msg}`, undefined, rel.join('/'));
};

/** Walks the tree under root; returns the bytes its regular files hold (each hard-linked file once). */
export async function checkTree(root: string, limits: TreeLimits): Promise<number> {
  let bytes = 0,
    entries = 0;
  const linked = new Set<string>();
  const dirs: string[][] = [[]];
  while (dirs.length) {
    const parts = dirs.pop()!;
    for await (const ent of await opendir(join(root, ...parts))) {
      const rel = [...parts, ent.name];
      if (++entries > limits.maxEntries) refused(`more than ${limits.maxEntries} entries`, rel);
      const path = join(root, ...rel);
      const st = await lstat(path);
      if (st.isDirectory()) dirs.push(rel);
      else if (st.isFile()) {
        if (st.nlink > 1) {
          const inode = `${st.dev}:${st.ino}`;
          if (linked.has(inode)) continue;
          linked.add(inode);
        }
        bytes += st.size;
        if (bytes > limits.maxBytes) overSize(limits, rel.join('/'));
      } else if (st.isSymbolicLink()) {
        const target = await readlink(path);
        if (target.startsWith('/')) refused('a symbolic link points to an absolute path', rel);
        if (!(await staysInside(root, parts, target))) refused('a symbolic link leaves the package', rel);
      } else
        refused(
          st.isFIFO()
            ? 'the package holds a FIFO'
            : st.isSocket()
              ? 'the package holds a socket'
              : 'the package holds a device node',
          rel,
        );
    }
  }
  return bytes;
}

/**
 * Whether a link in directory `at` (components under root) with this relative target resolves inside root.
 * Components that exist are looked at (links among them followed, by their own targets, from where
 * they are); those that don't, or lie below a file, are taken by name: something made there later
 * must not turn the link outwards.
 */
async function staysInside(root: string, at: readonly string[], target: string): Promise<boolean> {
  const where = [...at];
  const todo = target.split('/').reverse();
  let hops = 0;
  while (todo.length) {
    const part = todo.pop()!;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (!where.length) return false;
      where.pop();
      continue;
    }
    where.push(part);
    // Every component of `where` before this one is a real directory or missing: lstat follows nothing.
    const path = join(root, ...where);
    const st = await lstat(path).catch(() => undefined);
    if (!st?.isSymbolicLink()) continue;
    if (++hops > MAX_HOPS) return false;
    const next = await readlink(path);
    if (next.startsWith('/')) return false;
    where.pop();
    todo.push(...next.split('/').reverse());
  }
  return true;
}
