// Crash-safe file replacement: write a temporary file, fsync it, rename it over the target and
// fsync the directory, so that after a kill -9 or power cut the file is either old or new.
import { closeSync, fsyncSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
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

/**
 * Files this process replaced without an fsync: the same content written again with one is not a
 * no-op, as the copy on disk may not survive a power cut yet.
 */
const unsynced = new Set<string>();

/** The file already holds exactly data (and, when durable is asked, no replacement of it waits for an fsync). */
function holds(path: string, data: Buffer, sync: boolean): boolean {
  if (sync && unsynced.has(path)) return false;
  try {
    return readFileSync(path).equals(data);
  } catch {
    return false;
  }
}

/**
 * Replaces the file with data, old or new after a kill -9 at any instant. With sync (the default) the
 * new content is on disk when this returns, power cut or not; without, a kill -9 keeps it (the page
 * cache outlives the process) but a power cut may bring back the old. Writing what the file already
 * holds writes and flushes nothing: no-op writes cost no fsync.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array, sync = true): void {
  const bytes = typeof data === 'string' ? Buffer.from(data) : Buffer.from(data.buffer, data.byteOffset, data.length);
  if (holds(path, bytes, sync)) return;
  const tmp = tempOf(path);
  try {
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeFully(fd, bytes, 0);
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
  if (sync) {
    fsyncDir(dirname(path));
    unsynced.delete(path);
  } else unsynced.add(path);
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
 * The same replacement (old or new after a kill -9 at once), its content made durable against a power
 * cut in the background: the promise settles once it is on disk, so slow storage costs nothing while
 * the caller has other work to do first. One fsync, not two: the directory is not flushed. Meant for a
 * new journal entry that must be on disk before what it describes is made: a journalling file system
 * (ext4, xfs) commits names in the order they were made, so a power cut that keeps what the entry
 * describes keeps the entry's name too; an fsync of the directory would only say so sooner.
 */
export async function writeFileSoon(path: string, data: string | Uint8Array): Promise<void> {
  writeFileAtomic(path, data, false);
  await fsyncSoon(path);
  unsynced.delete(path);
}

async function fsyncSoon(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
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
