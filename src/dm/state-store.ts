// Persistence of the data model in the state directory: a snapshot written atomically plus a
// journal of committed transactions, one JSON line each, fsynced before the caller is answered (a
// transaction that mirrors records kept elsewhere is written at once and flushed with the next one).
// A torn last line (kill -9 mid-write: no newline yet) is a transaction that never committed and is
// dropped. A transaction that can't be written whole (a full, read-only or failing disk) is cut off
// again and reported to the caller, so nothing follows a half line. Anything else that does not read
// back is corruption: it is moved aside (util/quarantine) and the model starts on what came before it.
import {
  closeSync,
  constants,
  existsSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
} from 'node:fs';
import { join } from 'node:path';
import { fsyncDir, writeFileAtomic, writeFully } from '../util/atomic-file.js';
import { isArrayOf, isObject, isString, isStringMap } from '../util/json-shape.js';
import type { Quarantine } from '../util/quarantine.js';

export type PersistOp =
  | readonly ['a', string] // row created at this instance path
  | readonly ['d', string] // row (and everything below it) deleted
  | readonly ['s', string, string] // parameter value
  | readonly ['n', string, number]; // next instance number of a table ("Device.X.{path}.")

export interface Snapshot {
  next: Record<string, number>;
  rows: string[]; // in creation order, parents before children
  values: Record<string, string>;
}

const SNAPSHOT = 'datamodel.json';
const JOURNAL = 'datamodel.journal';
/** Compact when the journal grows past this, so start-up replay stays short. */
const COMPACT_BYTES = 4 * 1024 * 1024;

export function emptySnapshot(): Snapshot {
  return { next: {}, rows: [], values: {} };
}

/** Applies journal operations to a snapshot in memory. */
export function applyOps(s: Snapshot, ops: readonly PersistOp[]): void {
  for (const op of ops) {
    switch (op[0]) {
      case 'a':
        s.rows.push(op[1]);
        break;
      case 'd': {
        const prefix = op[1];
        s.rows = s.rows.filter((r) => !r.startsWith(prefix));
        for (const k of Object.keys(s.values)) if (k.startsWith(prefix)) delete s.values[k];
        break;
      }
      case 's':
        s.values[op[1]] = op[2];
        break;
      // Never lower: a journal replayed over a snapshot that already holds it must not hand out numbers again.
      case 'n':
        s.next[op[1]] = Math.max(op[2], s.next[op[1]] ?? 1);
        break;
    }
  }
}

export class StateStore {
  private fd: number | undefined;
  /** Bytes of whole transactions in the journal: where the next one is written. */
  private size = 0;
  /** Bytes past `size` (a torn tail, a failed write) that must be cut off before the next write. */
  private dirty = false;
  /** Lines written since the last fsync: a kill -9 keeps them, a power cut may not. */
  private unflushed = false;

  constructor(
    readonly dir: string,
    private readonly quarantine: Quarantine,
  ) {}

  /** Reads the snapshot and replays the journal; fresh is true when the directory held no model yet. */
  load(): { snapshot: Snapshot; fresh: boolean; droppedTail: boolean } {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const snapPath = join(this.dir, SNAPSHOT);
    const journalPath = join(this.dir, JOURNAL);
    let fresh = !existsSync(snapPath) && !existsSync(journalPath);
    let snapshot = emptySnapshot();
    if (existsSync(snapPath)) {
      const s = this.quarantine.readJson(snapPath, isSnapshot);
      if (s) snapshot = s;
      else {
        // The journal holds changes to that snapshot: alone it would be a model nobody configured.
        if (existsSync(journalPath)) this.quarantine.file(journalPath, 'its journal has no base without it');
        fresh = true;
      }
    }
    this.size = 0;
    this.dirty = false;
    let droppedTail = false;
    if (existsSync(journalPath)) {
      const text = readFileSync(journalPath);
      let at = 0;
      while (at < text.length) {
        const end = text.indexOf(0x0a, at);
        if (end < 0) {
          droppedTail = true;
          break;
        }
        const ops = parseLine(text.toString('utf8', at, end));
        if (!ops) {
          this.quarantine.tail(journalPath, at, 'a journal line that is not a transaction');
          break;
        }
        applyOps(snapshot, ops);
        at = end + 1;
      }
      this.size = at;
      this.dirty = at < text.length;
    }
    // A crash between writing a snapshot and emptying the journal replays rows already in it.
    snapshot.rows = [...new Set(snapshot.rows)];
    return { snapshot, fresh, droppedTail };
  }

  /**
   * Writes the whole state as the new snapshot and starts an empty journal. If the snapshot can't be
   * written, the journal stays as it was and goes on taking transactions.
   */
  compact(snapshot: Snapshot): void {
    writeFileAtomic(join(this.dir, SNAPSHOT), JSON.stringify(snapshot));
    this.close();
    this.fd = openSync(join(this.dir, JOURNAL), 'w', 0o600);
    this.size = 0;
    this.dirty = false;
    this.unflushed = false;
    fsyncSync(this.fd);
    fsyncDir(this.dir);
  }

  /**
   * Appends one transaction, or throws with nothing of it left; true when compaction is due. With flush
   * it is on disk when this returns, with every line before it; without, a kill -9 keeps it but a power
   * cut may take it (and only lines after the last flushed one).
   */
  commit(ops: readonly PersistOp[], flush = true): boolean {
    if (ops.length === 0) return false;
    // Written at a known offset, not appended: after a failure the next line replaces the fragment.
    this.fd ??= openSync(join(this.dir, JOURNAL), constants.O_WRONLY | constants.O_CREAT, 0o600);
    if (this.dirty) {
      ftruncateSync(this.fd, this.size);
      this.dirty = false;
    }
    const line = Buffer.from(`${JSON.stringify(ops)}\n`);
    try {
      writeFully(this.fd, line, this.size);
      if (flush) fsyncSync(this.fd);
    } catch (e) {
      this.dirty = true;
      try {
        ftruncateSync(this.fd, this.size);
        this.dirty = false;
      } catch {
        /* cut before the next write */
      }
      throw e;
    }
    this.size += line.length;
    this.unflushed = !flush;
    return this.size > COMPACT_BYTES;
  }

  /** Factory reset: forget everything the model persisted. */
  wipe(): void {
    this.close();
    rmSync(join(this.dir, SNAPSHOT), { force: true });
    rmSync(join(this.dir, JOURNAL), { force: true });
    this.size = 0;
    this.dirty = false;
  }

  close(): void {
    if (this.fd !== undefined) {
      const fd = this.fd;
      this.fd = undefined;
      try {
        if (this.unflushed) fsyncSync(fd); // a clean stop leaves everything on disk
      } finally {
        this.unflushed = false;
        closeSync(fd);
      }
    }
  }

  /** Test hook: the journal cut at a byte offset, as a crash mid-write leaves it. */
  static truncateJournal(dir: string, size: number): void {
    const fd = openSync(join(dir, JOURNAL), 'r+');
    try {
      ftruncateSync(fd, size);
    } finally {
      closeSync(fd);
    }
  }
}

function isSnapshot(x: unknown): x is Snapshot {
  return (
    isObject(x) &&
    isArrayOf(x.rows, isString) &&
    isStringMap(x.values) &&
    isObject(x.next) &&
    Object.values(x.next).every(Number.isInteger)
  );
}

function isOp(op: unknown): op is PersistOp {
  if (!Array.isArray(op) || typeof op[1] !== 'string') return false;
  switch (op[0]) {
    case 'a':
    case 'd':
      return op.length === 2;
    case 's':
      return op.length === 3 && typeof op[2] === 'string';
    case 'n':
      return op.length === 3 && Number.isInteger(op[2]);
    default:
      return false;
  }
}

/** One journal line's transaction, or undefined when the line is not one. */
function parseLine(line: string): PersistOp[] | undefined {
  let ops: unknown;
  try {
    ops = JSON.parse(line);
  } catch {
    return undefined;
  }
  return Array.isArray(ops) && ops.length > 0 && ops.every(isOp) ? ops : undefined;
}
