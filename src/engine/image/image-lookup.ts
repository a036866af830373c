// Finds a path in an image's layers as the container will see it (the merged view), without ever
// following a link on the host: components are looked up top layer first, a whiteout hides the
// layers below, and a symbolic link is resolved by its target within the image (absolute from the
// image's root), at most 40 links, as the kernel allows. An opaque directory is not read (node has no
// getxattr): a name it hides can still be found below it, which only matters for a command lookup.
import { lstatSync, readlinkSync } from 'node:fs';
import { join, posix } from 'node:path';

const MAX_LINKS = 40;

type Found = { kind: 'dir' | 'file' | 'link' | 'other'; layer: string };

/**
 * The entry at rel (no link in it) in the merged view of layers (top first). Within a layer, each
 * directory on the way must be a real directory there: lstat of a path whose component is a link would
 * have the host resolve it (an absolute link, a host directory). As in overlayfs, a layer where such a
 * component is not a directory (a link, a file, a whiteout) hides everything below it at that path.
 */
function entryAt(layersTopFirst: readonly string[], rel: string): Found | undefined {
  const parts = rel.split('/');
  layers: for (const layer of layersTopFirst) {
    for (let i = 1; i < parts.length; i++) {
      const dir = lstatSync(join(layer, ...parts.slice(0, i)), { throwIfNoEntry: false });
      if (!dir) continue layers;
      if (!dir.isDirectory()) return undefined;
    }
    const st = lstatSync(join(layer, rel), { throwIfNoEntry: false });
    if (!st) continue;
    if (st.isCharacterDevice() && st.rdev === 0) return undefined; // a whiteout
    if (st.isDirectory()) return { kind: 'dir', layer };
    if (st.isFile()) return { kind: 'file', layer };
    if (st.isSymbolicLink()) return { kind: 'link', layer };
    return { kind: 'other', layer };
  }
  return undefined;
}

/**
 * Resolves an absolute path in the image to a regular file's path in the image (links resolved), or
 * undefined when there is none. Only lstat and readlink touch the host.
 */
export function resolveInImage(layersTopFirst: readonly string[], path: string): string | undefined {
  const todo = path.split('/').filter(Boolean).reverse();
  const at: string[] = [];
  let links = 0;
  while (todo.length) {
    const part = todo.pop()!;
    if (part === '.') continue;
    if (part === '..') {
      at.pop();
      continue;
    }
    at.push(part);
    const found = entryAt(layersTopFirst, at.join('/'));
    if (!found) return undefined;
    if (found.kind === 'link') {
      if (++links > MAX_LINKS) return undefined;
      const target = readlinkSync(join(found.layer, ...at));
      at.pop();
      if (target.startsWith('/')) at.length = 0;
      todo.push(...target.split('/').filter(Boolean).reverse());
      continue;
    }
    if (found.kind === 'other' || (found.kind === 'file') !== (todo.length === 0)) return undefined;
  }
  return at.length ? posix.join('/', ...at) : undefined;
}
