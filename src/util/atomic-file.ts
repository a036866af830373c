// Crash-safe file replacement: write a temporary file, fsync it, rename it over the target and
// fsync the directory, so that after a kill -9 or power cut the file is either old or new.
import { closeSync, fsyncSync, openSync, readdirSync, renameSync, writeSync, unlinkSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';

const tempOf = (path: string) => join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
const TEMP = /^\..+\.\d+\.tmp$/;

/** Removes the temporary files of replacements a crash cut short (the old file is still in place). */
export function removeStaleTemps(dir: string): void {
  for (const f of readdirSync(dir)) if (TEMP.test(f)) { try { unlinkSync(join(dir, f)); } catch { /* already gone */ } }
}

export function writeFileAtomic(path: string, data: string | Uint8Array, sync = true): void {
  const tmp = tempOf(path);
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    if (sync) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(tmp, path);
  } catch (e) {
    try { unlinkSync(tmp); } catch { /* already gone */ }
    throw e;
  }
  if (sync) fsyncDir(dirname(path));
}

/**
 * The same replacement (old or new after a kill -9 at once), made durable against a power cut in the
 * background: the returned promise settles once the file and its directory are on disk, so slow
 * storage costs nothing while the caller has other work to do before it must rely on the file.
 */
export async function writeFileAtomicSoon(path: string, data: string | Uint8Array): Promise<void> {
  writeFileAtomic(path, data, false);
  for (const p of [path, dirname(path)]) {
    const fh = await open(p, 'r');
    try { await fh.sync(); } finally { await fh.close(); }
  }
}

export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try { fsyncSync(fd); } finally { closeSync(fd); }
}
