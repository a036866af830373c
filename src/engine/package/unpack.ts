// Unpacks a DU package (tar.gz or SquashFS, told apart by their magic bytes) into a directory and
// reads its manifest. SquashFS images are listed first, so that device nodes, links leaving the
// image and oversized contents are refused before anything is written.
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { EngineCode, EngineError } from '../errors.js';
import { MANIFEST_FILE, type Manifest, parseManifest } from './manifest.js';
import { type ExtractLimits, extractTarGz, safeRelative } from './tar-extract.js';
import { tool } from '../tool.js';

export type PackageFormat = 'tar.gz' | 'squashfs';

export async function packageFormat(file: string): Promise<PackageFormat> {
  const fh = await open(file, 'r');
  try {
    const b = Buffer.alloc(4);
    const { bytesRead } = await fh.read(b, 0, 4, 0);
    if (bytesRead >= 2 && b[0] === 0x1f && b[1] === 0x8b) return 'tar.gz';
    if (bytesRead === 4 && b.toString('latin1') === 'hsqs') return 'squashfs';
  } finally { await fh.close(); }
  throw new EngineError(EngineCode.CorruptData, 'the file is neither a tar.gz nor a SquashFS package');
}

export async function unpackPackage(file: string, target: string, limits: ExtractLimits): Promise<{ manifest: Manifest; format: PackageFormat; bytes: number }> {
  const format = await packageFormat(file);
  const bytes = format === 'tar.gz' ? (await extractTarGz(file, target, limits)).bytes : await unsquash(file, target, limits);
  return { manifest: await readManifest(target), format, bytes };
}

/** The package's manifest: a regular file at its root, opened without following a link (a package's link could lead to any host file). */
export async function readManifest(dir: string): Promise<Manifest> {
  let text: string;
  try {
    const fh = await open(join(dir, MANIFEST_FILE), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    try {
      const st = await fh.stat();
      if (!st.isFile() || st.size > MAX_MANIFEST) throw new Error('not a regular file of a sane size');
      text = await fh.readFile('utf8');
    } finally { await fh.close(); }
  } catch {
    throw new EngineError(EngineCode.CorruptData, `the package has no ${MANIFEST_FILE} (a regular file of at most ${MAX_MANIFEST} bytes) at its root`);
  }
  return parseManifest(text);
}

const MAX_MANIFEST = 256 * 1024;

/**
 * Checks a SquashFS image without unpacking it: `unsquashfs -lls` lines look like
 * "drwxr-xr-x root/root 38 2026-11-22 12:00 /dir". Returns the bytes its files hold.
 */
export async function checkSquashfs(file: string, limits: ExtractLimits): Promise<number> {
  const list = await tool('unsquashfs', ['-lls', '-d', '', file]);
  if (list.exitCode !== 0) throw new EngineError(EngineCode.CorruptData, `not a readable SquashFS image: ${list.stderr.trim().split('\n').pop()}`);
  let bytes = 0, entries = 0;
  for (const line of list.stdout.split('\n')) {
    const m = /^([-dlcbps])[-rwxsStT]{9}\s+\S+\s+(\d+)(?:,\s*\d+)?\s+\S+\s+\S+\s+(.*)$/.exec(line);
    if (!m) continue;
    const [, kind, size, rest] = m;
    entries++;
    const [path, linkTarget] = rest!.split(' -> ');
    const rel = safeRelative(path!.replace(/^\/+/, '') || '.');
    if (kind === 'c' || kind === 'b' || kind === 'p' || kind === 's') throw new EngineError(EngineCode.CorruptData, `package refused: special file '${rel}'`);
    if (kind === 'l') {
      if (!linkTarget || linkTarget.startsWith('/')) throw new EngineError(EngineCode.CorruptData, `package refused: symlink '${rel}' points to an absolute path '${linkTarget}'`);
      safeRelative(posix.join(posix.dirname(rel), linkTarget));
    }
    if (kind === '-') bytes += Number(size);
  }
  if (entries > limits.maxEntries) throw new EngineError(EngineCode.CorruptData, `package refused: more than ${limits.maxEntries} entries`);
  if (bytes > limits.maxBytes) throw new EngineError(EngineCode.CorruptData, `package refused: unpacks to more than ${limits.maxBytes} bytes`);
  return bytes;
}

async function unsquash(file: string, target: string, limits: ExtractLimits): Promise<number> {
  const bytes = await checkSquashfs(file, limits);
  const out = await tool('unsquashfs', ['-no-xattrs', '-f', '-d', target, file]);
  if (out.exitCode !== 0) throw new EngineError(EngineCode.CorruptData, `SquashFS image could not be unpacked: ${out.stderr.trim().split('\n').pop()}`);
  return bytes;
}
