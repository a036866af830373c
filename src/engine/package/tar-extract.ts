// A tar.gz reader that can't be made to write outside its target: entries with absolute paths,
// "..", device nodes or FIFOs are refused, links may only point inside (by name here; through
// other links too in checkTree, once the whole tree is there), nothing is written through a
// symlink, hard links only join files extracted before them, set-id bits are dropped, and the
// uncompressed size and entry count are bounded (a decompression bomb stops at the limit). A
// truncated or corrupt archive is a clear error. Refusals say what was wrong in our words; the
// entry's name, package content, is their detail (debug log only).
import { constants, createReadStream } from 'node:fs';
import { lchown, link, lstat, mkdir, open, symlink } from 'node:fs/promises';
import { basename, dirname, join, posix } from 'node:path';
import { createGunzip } from 'node:zlib';
import { EngineCode, EngineError } from '../errors.js';
import { overSize, type SizeLimits } from './size-limit.js';

export interface ExtractLimits extends SizeLimits {
  /**
   * 'rootfs' is for an operator's root file system: absolute symlinks are kept (they resolve inside
   * the container, and nothing is ever written through a link), device nodes and FIFOs are skipped
   * (LXC makes /dev itself). The default, 'package', refuses all of them.
   */
  kind?: 'package' | 'rootfs';
  /** Absent: the archive is gzip-compressed; false: a plain tar (an OCI layer or image layout). */
  gzip?: boolean;
  /**
   * An OCI image layer (kind 'rootfs' links): owners kept from the headers, as `owner` maps them, and
   * whiteout entries (`.wh.<name>`, `.wh..wh..opq`) handed to `whiteout` and `opaque` to make in the
   * form overlayfs reads; device nodes and FIFOs are still refused.
   */
  layer?: LayerForm;
}

/** What a layer's unpacking does besides writing files: ids, and its whiteouts as overlayfs wants them. */
export interface LayerForm {
  owner(uid: number, gid: number): { uid: number; gid: number };
  /** Marks `rel` (under the target, parents made) deleted from the layers below. */
  whiteout(dest: string): Promise<void>;
  /** Marks directory `dest` as hiding whatever the layers below hold in it. */
  opaque(dest: string): Promise<void>;
}

const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';

const corrupt = (msg: string, detail?: string): never => {
  throw new EngineError(EngineCode.CorruptData, msg, undefined, detail);
};
const refused = (msg: string, entry: string): never => {
  throw new EngineError(EngineCode.CorruptData, `package refused: ${msg}`, undefined, entry);
};

/** Parses a numeric header field (octal, or GNU base-256). */
export function num(buf: Buffer, off: number, len: number): number {
  if (buf[off]! & 0x80) {
    let v = 0;
    for (let i = off + 1; i < off + len; i++) v = v * 256 + buf[i]!;
    return v;
  }
  const s = buf
    .toString('ascii', off, off + len)
    .replace(/\0.*$/s, '')
    .trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) return corrupt('a tar header has a bad number field', s);
  return parseInt(s, 8);
}

export const str = (buf: Buffer, off: number, len: number): string =>
  buf.toString('utf8', off, off + len).replace(/\0.*$/s, '');

export function checksumOk(h: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
  const field = h.toString('ascii', 148, 156).replace(/\0.*$/s, '').trim();
  return /^[0-7]+$/.test(field) && sum === parseInt(field, 8);
}

/** A safe relative path inside the target, or a refusal (`what` says which kind of entry or link). */
function safeRelative(name: string, what = "an entry's path"): string {
  if (name.includes('\0')) refused(`${what} holds a NUL byte`, name);
  if (name.startsWith('/')) refused(`${what} is an absolute path`, name);
  const norm = posix.normalize(name).replace(/\/+$/, '');
  if (!inside(norm)) refused(`${what} leaves the package`, name);
  return norm === '.' ? '' : norm;
}

const inside = (norm: string): boolean => norm !== '..' && !norm.startsWith('../') && !norm.split('/').includes('..');

/** Reads whole records from a gunzip stream, as asked. */
class Reader {
  private chunks: Buffer[] = [];
  private have = 0;
  private done = false;
  private readonly it: AsyncIterator<Buffer>;
  constructor(stream: AsyncIterable<Buffer>) {
    this.it = stream[Symbol.asyncIterator]();
  }
  async read(n: number): Promise<Buffer | undefined> {
    while (this.have < n && !this.done) {
      const r = await this.it.next();
      if (r.done) {
        this.done = true;
        break;
      }
      this.chunks.push(r.value);
      this.have += r.value.length;
    }
    if (this.have < n) return this.have === 0 ? undefined : corrupt('archive is truncated');
    const all = Buffer.concat(this.chunks);
    this.chunks = [all.subarray(n)];
    this.have = all.length - n;
    return all.subarray(0, n);
  }
}

export async function extractTarGz(
  file: string,
  target: string,
  limits: ExtractLimits,
): Promise<{ bytes: number; entries: number }> {
  const src = limits.gzip === false ? createReadStream(file) : createReadStream(file).pipe(createGunzip());
  const r = new Reader(src as AsyncIterable<Buffer>);
  let bytes = 0,
    entries = 0;
  let longName: string | undefined,
    longLink: string | undefined,
    pax: Record<string, string> = {};
  try {
    for (;;) {
      const h = await r.read(512);
      if (!h) return corrupt('archive ended without its end-of-archive blocks');
      if (h.every((b) => b === 0)) break;
      if (!checksumOk(h)) corrupt('tar header checksum mismatch (corrupt or not a tar archive)');
      const type = String.fromCharCode(h[156] || 48);
      const size = num(h, 124, 12);
      const prefix = str(h, 345, 155);
      const name = longName ?? pax.path ?? (prefix ? `${prefix}/${str(h, 0, 100)}` : str(h, 0, 100));
      const linkName = longLink ?? pax.linkpath ?? str(h, 157, 100);
      const padded = Math.ceil(size / 512) * 512;
      if (type === 'L' || type === 'K' || type === 'x' || type === 'g') {
        if (size > 1024 * 1024) corrupt('oversized extended header');
        const data = (await r.read(padded))!.subarray(0, size);
        if (type === 'L') longName = data.toString('utf8').replace(/\0.*$/s, '');
        else if (type === 'K') longLink = data.toString('utf8').replace(/\0.*$/s, '');
        else if (type === 'x') pax = parsePax(data);
        continue;
      }
      const entryPax = pax;
      longName = undefined;
      longLink = undefined;
      pax = {};
      if (++entries > limits.maxEntries) refused(`more than ${limits.maxEntries} entries`, name);
      const rel = safeRelative(name);
      const dest = join(target, rel);
      if (rel !== '') await assertNoSymlinkParent(target, rel);
      const mode = num(h, 100, 8) & 0o777;
      const layer = limits.layer;
      const regular = type === '0' || type === '\0' || type === '7';
      const whiteout = layer !== undefined && basename(rel).startsWith(WHITEOUT);
      // Only a regular file's data is written and counted; anything else that declares data would have it
      // read (into memory) for nothing, outside the size bound.
      if (size !== 0 && (whiteout || !regular)) refused('an entry that is not a file declares data', name);
      if (whiteout) {
        await whiteoutEntry(layer, target, rel, name);
        continue;
      }
      switch (type) {
        case '0':
        case '\0':
        case '7': {
          bytes += size;
          if (bytes > limits.maxBytes) overSize(limits, name);
          await mkdir(dirname(dest), { recursive: true });
          const fh = await open(dest, 'wx', mode || 0o644);
          try {
            let left = size;
            while (left > 0) {
              const n = Math.min(left, 1024 * 1024);
              const data = await r.read(n);
              if (!data) corrupt('archive is truncated');
              await fh.write(data!);
              left -= n;
            }
            await fh.chmod(mode || 0o644);
          } finally {
            await fh.close();
          }
          if (padded > size) await r.read(padded - size);
          break;
        }
        case '5': {
          // An earlier entry may have put a link here (to a host directory): mkdir would accept it, and
          // the mode and owner below would land on the link's target.
          const there = await lstat(dest).catch(() => undefined);
          if (there && !there.isDirectory()) refused('a directory entry would replace or follow another entry', name);
          if (!there) await mkdir(dest, { recursive: true, mode: (mode || 0o755) | 0o700 });
          break;
        }
        case '2': {
          const what = `${name} -> ${linkName}`;
          if (!linkName) refused('a symbolic link has no target', what);
          if (linkName.includes('\0')) refused('a symbolic link holds a NUL byte', what);
          if (linkName.startsWith('/')) {
            if (limits.kind !== 'rootfs' && !layer) refused('a symbolic link points to an absolute path', what);
          } else if (!inside(posix.join(posix.dirname(rel), linkName)))
            refused('a symbolic link leaves the package', what);
          await mkdir(dirname(dest), { recursive: true });
          await symlink(linkName, dest);
          break;
        }
        case '1': {
          const what = `${name} => ${linkName}`;
          const targetRel = safeRelative(linkName, 'a hard link');
          await assertNoSymlinkParent(target, targetRel);
          // A hard link to a symbolic link would move the link's target to another directory.
          const source = await lstat(join(target, targetRel)).catch(() => undefined);
          if (!source?.isFile()) refused('a hard link does not lead to a file extracted before it', what);
          await link(join(target, targetRel), dest);
          break;
        }
        case '3':
        case '4':
          if (limits.kind === 'rootfs' && !layer) break;
          refused('the package holds a device node', name);
          break;
        case '6':
          if (limits.kind === 'rootfs' && !layer) break;
          refused('the package holds a FIFO', name);
          break;
        default:
          refused('an entry is of an unsupported type', `${name} (type ${JSON.stringify(type)})`);
      }
      if (layer && rel !== '') await own(layer, dest, h, entryPax, type === '2' ? undefined : mode);
    }
    return { bytes, entries };
  } catch (e) {
    if (e instanceof EngineError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'Z_DATA_ERROR' || code === 'Z_BUF_ERROR' || code === 'ERR_ZLIB_INITIALIZATION_FAILED')
      corrupt('not a valid gzip file', (e as Error).message);
    if (code === 'EEXIST') refused('an entry is written twice', (e as Error).message);
    throw e;
  } finally {
    src.destroy();
  }
}

/**
 * A layer's entry gets its owner from the header (a pax record wins); chown drops set-id bits, so mode
 * follows, set on the entry itself: never through a link (lchown, and chmod on a descriptor opened
 * O_NOFOLLOW).
 */
async function own(
  layer: LayerForm,
  dest: string,
  h: Buffer,
  pax: Record<string, string>,
  mode: number | undefined,
): Promise<void> {
  const id = (key: string, off: number) =>
    pax[key] && /^\d{1,10}$/.test(pax[key]) ? Number(pax[key]) : num(h, off, 8);
  const to = layer.owner(id('uid', 108), id('gid', 116));
  await lchown(dest, to.uid, to.gid);
  if (mode) await chmodNoFollow(dest, mode);
}

/** chmod on the entry at `path` itself; a link there (which no entry here should be) is refused. */
async function chmodNoFollow(path: string, mode: number): Promise<void> {
  const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch((e) => {
    if ((e as NodeJS.ErrnoException).code === 'ELOOP')
      refused('an entry would be written through a symbolic link', path);
    throw e;
  });
  try {
    await fh.chmod(mode);
  } finally {
    await fh.close();
  }
}

/** `.wh.<name>` deletes <name> of the layers below; `.wh..wh..opq` makes its directory opaque. */
async function whiteoutEntry(layer: LayerForm, target: string, rel: string, name: string): Promise<void> {
  const dir = posix.dirname(rel) === '.' ? '' : posix.dirname(rel);
  const base = posix.basename(rel);
  if (dir) await assertNoSymlinkParent(target, `${dir}/x`);
  await mkdir(join(target, dir), { recursive: true });
  if (base === OPAQUE) return layer.opaque(join(target, dir));
  const hidden = base.slice(WHITEOUT.length);
  if (hidden === '' || hidden === '.' || hidden === '..' || hidden.startsWith(WHITEOUT))
    refused('a whiteout entry names no file', name);
  await layer.whiteout(join(target, dir, hidden));
}

export function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < data.length) {
    const sp = data.indexOf(0x20, i);
    if (sp < 0) break;
    const len = Number(data.toString('ascii', i, sp));
    if (!Number.isInteger(len) || len <= 0 || i + len > data.length) corrupt('a tar archive has a bad pax header');
    const rec = data.toString('utf8', sp + 1, i + len - 1);
    const eq = rec.indexOf('=');
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

/** No directory on the way to an entry may be a symlink: writing through one could leave the target. */
async function assertNoSymlinkParent(root: string, rel: string): Promise<void> {
  const parts = rel.split('/');
  let p = root;
  for (const part of parts.slice(0, -1)) {
    p = join(p, part);
    const st = await lstat(p).catch(() => undefined);
    if (!st) return;
    if (st.isSymbolicLink()) refused('an entry would be written through a symbolic link', rel);
  }
}
