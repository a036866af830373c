// An `oci-archive` told from other packages by its content: a plain tar whose first entries are an OCI
// image layout's (oci-layout, index.json). It is read in place, never extracted (oci-archive-source.ts).
import { open } from 'node:fs/promises';

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
