// Unpacks a DU package (tar.gz or SquashFS, told apart by their magic bytes) into a directory, checks
// the tree it made and reads its manifest. Nothing here parses names out of a listing: what a
// package holds is judged on its real files (tree-check.ts). A SquashFS image's listing is read
// only for the fixed fields that lead each line (type, size), to refuse a bomb before unsquashfs
// writes anything.
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { EngineCode, EngineError } from '../errors.js';
import { mountImage } from '../mounts.js';
import { tool, toolDetail } from '../tool.js';
import { MANIFEST_FILE, type Manifest, parseManifest } from './manifest.js';
import { overSize } from './size-limit.js';
import { type ExtractLimits, extractTarGz } from './tar-extract.js';
import { checkTree } from './tree-check.js';

/** A DU's format: a package (tar.gz, SquashFS), or an OCI image (a registry reference or an oci-archive). */
export type PackageFormat = 'tar.gz' | 'squashfs' | 'oci';

export async function packageFormat(file: string): Promise<Exclude<PackageFormat, 'oci'>> {
  const fh = await open(file, 'r');
  try {
    const b = Buffer.alloc(4);
    const { bytesRead } = await fh.read(b, 0, 4, 0);
    if (bytesRead >= 2 && b[0] === 0x1f && b[1] === 0x8b) return 'tar.gz';
    if (bytesRead === 4 && b.toString('latin1') === 'hsqs') return 'squashfs';
  } finally {
    await fh.close();
  }
  throw new EngineError(EngineCode.CorruptData, 'the file is neither a tar.gz nor a SquashFS package');
}

export async function unpackPackage(
  file: string,
  target: string,
  limits: ExtractLimits,
): Promise<{ manifest: Manifest; format: Exclude<PackageFormat, 'oci'>; bytes: number }> {
  const format = await packageFormat(file);
  if (format === 'tar.gz') await extractTarGz(file, target, limits);
  else await unsquash(file, target, limits);
  return { ...(await inspectRoot(target, limits)), format };
}

/**
 * A SquashFS image used where it lies (the native EE): listed (fixed fields only) while it is mounted
 * at `at` read-only, nodev and nosuid, then its real tree checked and its manifest read, before
 * anything reads or runs from it. A refused image stays mounted: the caller removes it.
 */
export async function mountPackage(
  image: string,
  at: string,
  limits: ExtractLimits,
): Promise<{ manifest: Manifest; bytes: number }> {
  const mounted = mountImage(image, at).then(
    () => undefined,
    (e: unknown) => e,
  );
  await listSquashfs(image, limits).finally(() => mounted);
  const failed = await mounted;
  if (failed) throw failed;
  return inspectRoot(at, limits);
}

/** A package's files where they will be used: checked before anything reads them, then its manifest. */
async function inspectRoot(root: string, limits: ExtractLimits): Promise<{ manifest: Manifest; bytes: number }> {
  const bytes = await checkTree(root, limits);
  return { manifest: await readManifest(root), bytes };
}

const MAX_MANIFEST = 256 * 1024;

/**
 * The package's manifest: a regular file at its root, opened without following a link (a package's
 * link could lead to any host file) and without waiting on a FIFO, read no further than the limit.
 */
export async function readManifest(dir: string): Promise<Manifest> {
  const no = (why: string): never => {
    throw new EngineError(EngineCode.CorruptData, `package refused: ${MANIFEST_FILE} ${why}`);
  };
  const fh = await open(
    join(dir, MANIFEST_FILE),
    constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK,
  ).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ELOOP') return no('is a symbolic link');
    if (e.code === 'ENOENT')
      throw new EngineError(EngineCode.CorruptData, `package refused: there is no ${MANIFEST_FILE} at its root`);
    return no('can not be opened');
  });
  try {
    const st = await fh.stat();
    if (!st.isFile()) no('is not a regular file');
    if (st.size > MAX_MANIFEST) no(`is larger than ${MAX_MANIFEST} bytes`);
    const buf = Buffer.alloc(MAX_MANIFEST + 1);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    if (bytesRead > MAX_MANIFEST) no(`is larger than ${MAX_MANIFEST} bytes`);
    return parseManifest(buf.toString('utf8', 0, bytesRead));
  } finally {
    await fh.close();
  }
}

/**
 * What an image would unpack to, from the fixed leading fields of `unsquashfs -lln` lines
 * ("drwxr-xr-x 0/0 38 2026-11-22 12:00 /dir"): the type letter and the size. A name with a newline
 * can only add lines, never hide one; the unpacked tree is checked for real afterwards.
 */
async function listSquashfs(file: string, limits: ExtractLimits): Promise<number> {
  const args = ['-lln', '-d', '', file];
  const list = await tool('unsquashfs', args);
  if (list.exitCode !== 0)
    throw new EngineError(
      EngineCode.CorruptData,
      'not a readable SquashFS image',
      undefined,
      toolDetail('unsquashfs', args, list),
    );
  let bytes = 0,
    entries = 0;
  for (const line of list.stdout.split('\n')) {
    const m = /^([-dlcbps])[-rwxsStT]{9} +\d+\/\d+ +(\d+)(?:, *\d+)? /.exec(line);
    if (!m) continue;
    entries++;
    if (m[1] === 'c' || m[1] === 'b')
      throw new EngineError(EngineCode.CorruptData, 'package refused: the package holds a device node');
    if (m[1] === 'p') throw new EngineError(EngineCode.CorruptData, 'package refused: the package holds a FIFO');
    if (m[1] === 's') throw new EngineError(EngineCode.CorruptData, 'package refused: the package holds a socket');
    if (m[1] === '-') bytes += Number(m[2]);
  }
  if (entries > limits.maxEntries)
    throw new EngineError(EngineCode.CorruptData, `package refused: more than ${limits.maxEntries} entries`);
  if (bytes > limits.maxBytes) overSize(limits);
  return bytes;
}

async function unsquash(file: string, target: string, limits: ExtractLimits): Promise<void> {
  await listSquashfs(file, limits);
  const args = ['-no-xattrs', '-no-progress', '-f', '-d', target, file];
  const out = await tool('unsquashfs', args);
  if (out.exitCode !== 0)
    throw new EngineError(
      EngineCode.CorruptData,
      'the SquashFS image could not be unpacked',
      undefined,
      toolDetail('unsquashfs', args, out),
    );
}
