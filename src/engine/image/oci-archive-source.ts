// An oci-archive read where it lies, never extracted: one pass over its tar headers (their data
// skipped, not read) finds where each file of the layout is, and the image source serves index.json,
// manifests and blobs as byte ranges of the file. So the pull checks the manifest (digest, signature)
// before anything of the archive is written; its layers are unpacked from their verified blobs by the
// layer store, as a registry's are.
import { createReadStream } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { posix } from 'node:path';
import { EngineCode, EngineError } from '../errors.js';
import { checksumOk, num, parsePax, str } from '../package/tar-extract.js';
import { hexOf } from './blob-store.js';
import type { ImageSource } from './image-source.js';
import { readAll } from './registry-client.js';

/** Where a regular file's data lies in the archive. */
type Member = { readonly offset: number; readonly size: number };

const refused = (msg: string): never => {
  throw new EngineError(EngineCode.CorruptData, `image refused: ${msg}`);
};

/** The image of an OCI image layout archived as a plain tar at `file` (at most maxEntries entries). */
export async function archiveSource(file: string, maxEntries: number): Promise<ImageSource> {
  const members = await membersOf(file, maxEntries);
  const range = (m: Member): AsyncIterable<Buffer> =>
    m.size === 0 ? (async function* () {})() : createReadStream(file, { start: m.offset, end: m.offset + m.size - 1 });
  const member = (name: string, what: string): Member => members.get(name) ?? refused(`the archive has no ${what}`);
  const read = (name: string, max: number, what: string) => readAll(range(member(name, what)), max, what);
  const blobName = (digest: string) => `blobs/sha256/${hexOf(digest)}`;
  let version: unknown;
  try {
    const layout = await read('oci-layout', 4096, 'oci-layout');
    version = (JSON.parse(layout.toString('utf8')) as { imageLayoutVersion?: unknown }).imageLayoutVersion;
  } catch (e) {
    if (e instanceof EngineError && !/oci-layout/.test(e.message)) throw e;
  }
  if (version !== '1.0.0') refused('the archive is not an OCI image layout 1.0.0');
  return {
    root: async (max) => ({
      bytes: await read('index.json', max, 'index.json'),
      contentType: undefined,
      digest: undefined,
    }),
    manifest: async (digest, max) => ({ bytes: await read(blobName(digest), max, 'manifest'), contentType: undefined }),
    blob: async (digest) => range(member(blobName(digest), `blob ${digest.slice(7, 19)}`)),
    close: () => undefined,
  };
}

/** The archive's regular files by their normalised names; every other kind of entry is passed over. */
async function membersOf(file: string, maxEntries: number): Promise<Map<string, Member>> {
  const fh = await open(file, 'r');
  try {
    const end = (await fh.stat()).size;
    const members = new Map<string, Member>();
    let pos = 0,
      entries = 0;
    let longName: string | undefined,
      pax: Record<string, string> = {};
    for (;;) {
      const h = await readAt(fh, pos, 512);
      if (h.every((b) => b === 0)) return members;
      if (!checksumOk(h)) refused('the archive has a bad tar header');
      const type = String.fromCharCode(h[156] || 48);
      const size = num(h, 124, 12);
      const data = pos + 512;
      pos = data + Math.ceil(size / 512) * 512;
      if (pos > end) refused('the archive is truncated');
      if (type === 'L' || type === 'K' || type === 'x' || type === 'g') {
        if (size > 1024 * 1024) refused('the archive has an oversized extended header');
        const ext = await readAt(fh, data, size);
        if (type === 'L') longName = ext.toString('utf8').replace(/\0.*$/s, '');
        else if (type === 'x') pax = parsePax(ext);
        continue;
      }
      const prefix = str(h, 345, 155);
      const name = longName ?? pax.path ?? (prefix ? `${prefix}/${str(h, 0, 100)}` : str(h, 0, 100));
      longName = undefined;
      pax = {};
      if (++entries > maxEntries) refused(`the archive holds more than ${maxEntries} entries`);
      if (type !== '0' && type !== '\0' && type !== '7') continue;
      const rel = posix.normalize(name).replace(/^(\.\/)+/, '');
      if (members.has(rel)) refused('the archive holds a file twice');
      members.set(rel, { offset: data, size });
    }
  } finally {
    await fh.close();
  }
}

async function readAt(fh: FileHandle, pos: number, n: number): Promise<Buffer> {
  const b = Buffer.alloc(n);
  const { bytesRead } = await fh.read(b, 0, n, pos);
  if (bytesRead < n) refused('the archive is truncated');
  return b;
}
