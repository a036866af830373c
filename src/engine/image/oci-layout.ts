// An OCI image layout (oci-layout + index.json + blobs/sha256/...) as a source of an image, the way an
// `oci-archive` tar delivers it: told from other packages by its content, unpacked (plain tar, with
// the package extractor's safety) into staging, then read as a registry is, every blob verified by
// whoever stores it. The index.json itself is the one document without a digest: it is the root.
import { constants } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { EngineCode, EngineError } from '../errors.js';
import { extractTarGz } from '../package/tar-extract.js';
import { hexOf } from './blob-store.js';
import { readAll } from './registry-client.js';

/** Whether a downloaded file is a plain tar holding an OCI image layout (its first entries name one). */
export async function isOciArchive(file: string): Promise<boolean> {
  const fh = await open(file, 'r');
  try {
    const b = Buffer.alloc(64 * 1024);
    const { bytesRead } = await fh.read(b, 0, b.length, 0);
    if (bytesRead < 512 || b.toString('latin1', 257, 262) !== 'ustar') return false;
    // Entries in the first 64 KiB: layouts written by skopeo, umoci and buildah put oci-layout and
    // index.json (small) before the blobs; a layout whose blobs come first is not recognised.
    const names: string[] = [];
    for (let off = 0; off + 512 <= bytesRead; ) {
      const name = b.toString('utf8', off, off + 100).replace(/\0.*$/s, '');
      if (!name) break;
      names.push(name.replace(/^\.\//, ''));
      const size = parseInt(
        b
          .toString('ascii', off + 124, off + 136)
          .replace(/\0.*$/s, '')
          .trim() || '0',
        8,
      );
      off += 512 + Math.ceil((Number.isFinite(size) ? size : 0) / 512) * 512;
    }
    return names.includes('oci-layout') && names.includes('index.json');
  } finally {
    await fh.close();
  }
}

export async function unpackLayout(
  archive: string,
  dir: string,
  limits: { maxBytes: number; maxEntries: number },
): Promise<void> {
  await mkdir(dir, { recursive: true });
  await extractTarGz(archive, dir, { ...limits, gzip: false });
  const layout = await readFile(join(dir, 'oci-layout'), 4096, 'oci-layout');
  let version: unknown;
  try {
    version = (JSON.parse(layout.toString('utf8')) as { imageLayoutVersion?: unknown }).imageLayoutVersion;
  } catch {}
  if (version !== '1.0.0')
    throw new EngineError(EngineCode.CorruptData, 'image refused: the archive is not an OCI image layout 1.0.0');
}

/** A file of the layout, never through a link, at most max bytes. */
export async function readFile(path: string, max: number, what: string): Promise<Buffer> {
  const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(() => {
    throw new EngineError(EngineCode.CorruptData, `image refused: the archive has no ${what}`);
  });
  try {
    if (!(await fh.stat()).isFile())
      throw new EngineError(EngineCode.CorruptData, `image refused: the archive's ${what} is not a file`);
    return await readAll(fh.createReadStream({ autoClose: false }), max, what);
  } finally {
    await fh.close();
  }
}

/** A blob of the layout, as a stream (verified by whoever reads it). */
export async function layoutBlob(dir: string, digest: string): Promise<AsyncIterable<Buffer>> {
  const fh = await open(
    join(dir, 'blobs', 'sha256', hexOf(digest)),
    constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK,
  ).catch(() => {
    throw new EngineError(EngineCode.CorruptData, `image refused: the archive lacks blob ${digest.slice(7, 19)}`);
  });
  if (!(await fh.stat()).isFile()) {
    await fh.close();
    throw new EngineError(EngineCode.CorruptData, 'image refused: a blob of the archive is not a file');
  }
  return fh.createReadStream();
}
