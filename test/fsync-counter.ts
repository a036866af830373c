// Counts the fsyncs this process asks for (fsync, fdatasync; sync and async, callbacks and
// FileHandle), by wrapping node:fs: a count of disk flushes, not a timing, so a test can bound it.
// The wrapped functions reach ES module importers of node:fs through syncBuiltinESMExports().
import fs from 'node:fs';
import { open } from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';

export interface FsyncCounter {
  /** Flushes since the counter was made (or last reset), with the file each was for where known. */
  readonly count: number;
  readonly files: readonly string[];
  reset(): void;
  /** Puts node:fs back as it was. */
  restore(): void;
}

type Fn = (...a: never[]) => unknown;

export async function countFsyncs(): Promise<FsyncCounter> {
  const files: string[] = [];
  const pathOf = (fd: unknown) => {
    try {
      return fs.readlinkSync(`/proc/self/fd/${fd as number}`);
    } catch {
      return '?';
    }
  };
  const saved: [object, string, Fn][] = [];
  const wrap = (obj: object, name: string, which: (args: unknown[], self: unknown) => string) => {
    const o = obj as Record<string, Fn>;
    const orig = o[name]!;
    saved.push([obj, name, orig]);
    o[name] = function (this: unknown, ...args: unknown[]) {
      files.push(which(args, this));
      return (orig as (...a: unknown[]) => unknown).apply(this, args);
    } as Fn;
  };
  for (const name of ['fsyncSync', 'fdatasyncSync', 'fsync', 'fdatasync']) wrap(fs, name, (a) => pathOf(a[0]));
  // FileHandle is not exported: its prototype is reached through a handle.
  const fh = await open(tmpdir(), 'r');
  const proto = Object.getPrototypeOf(fh) as object;
  await fh.close();
  for (const name of ['sync', 'datasync']) wrap(proto, name, (_a, self) => pathOf((self as { fd: number }).fd));
  syncBuiltinESMExports();
  return {
    get count() {
      return files.length;
    },
    files,
    reset: () => {
      files.length = 0;
    },
    restore: () => {
      for (const [obj, name, orig] of saved) (obj as Record<string, Fn>)[name] = orig;
      syncBuiltinESMExports();
    },
  };
}
