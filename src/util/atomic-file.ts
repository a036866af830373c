// Crash-safe file replacement: write a temporary file, fsync it, rename it over the target and
// fsync the directory, so that after a kill -9 or power cut the file is either old or new.
import { closeSync, fsyncSync, openSync, readdirSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

const tempOf = (path: string) => join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
const TEMP = /^\..+\.\d+\.tmp$/;

/** Removes the temporary files of replacements a crash cut short (the old file is still in place). */
export function removeStaleTemps(dir: string): void {
  for (const f of readdirSync(dir))
    if (TEMP.test(f)) {
      try {
        unlinkSync(join(dir, f));
      } catch {
        /* already gone */
      }
    }
}

export function writeFileAtomic(path: string, data: string | Uint8Array, sync = true): void {
  const tmp = tempOf(path);
  try {
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeFully(fd, typeof data === 'string' ? Buffer.from(data) : data, 0);
      if (sync) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    // A full disk must not also keep the space the half-written copy took.
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    throw e;
  }
  if (sync) fsyncDir(dirname(path));
}

/**
 * Writes all of data at position, or throws. A write to a nearly full file system can write part of
 * what it was given and return without an error: taken as done, that would be a truncated file (or
 * journal line) reported as written. The next attempt then meets the error (ENOSPC).
 */
export function writeFully(fd: number, data: Uint8Array, position: number): void {
  for (let done = 0; done < data.length; ) {
    const n = writeSync(fd, data, done, data.length - done, position + done);
    if (n <= 0) throw new Error(`write returned ${n} with ${data.length - done} bytes left`);
    done += n;
  }
}

/** The file system is full (or the agent's quota is used up): a resource limit, not a fault. */
export function isDiskFull(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
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
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }
}

export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
