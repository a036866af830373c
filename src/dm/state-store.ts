// Persistence of the data model in the state directory: a snapshot written atomically plus a
// journal of committed transactions, one JSON line each, fsynced before the caller is answered.
// A torn last line (kill -9 mid-write) is a transaction that never committed and is dropped.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, rmSync, writeSync, ftruncateSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic, fsyncDir } from '../util/atomic-file.js';

export type PersistOp =
  | readonly ['a', string]            // row created at this instance path
  | readonly ['d', string]            // row (and everything below it) deleted
  | readonly ['s', string, string]    // parameter value
  | readonly ['n', string, number];   // next instance number of a table ("Device.X.{path}.")

export interface Snapshot {
  next: Record<string, number>;
  rows: string[];                     // in creation order, parents before children
  values: Record<string, string>;
}

const SNAPSHOT = 'datamodel.json';
const JOURNAL = 'datamodel.journal';
/** Compact when the journal grows past this, so start-up replay stays short. */
const COMPACT_BYTES = 4 * 1024 * 1024;

export function emptySnapshot(): Snapshot { return { next: {}, rows: [], values: {} }; }

/** Applies journal operations to a snapshot in memory. */
export function applyOps(s: Snapshot, ops: readonly PersistOp[]): void {
  for (const op of ops) {
    switch (op[0]) {
      case 'a': s.rows.push(op[1]); break;
      case 'd': {
        const prefix = op[1];
        s.rows = s.rows.filter((r) => !r.startsWith(prefix));
        for (const k of Object.keys(s.values)) if (k.startsWith(prefix)) delete s.values[k];
        break;
      }
      case 's': s.values[op[1]] = op[2]; break;
      // Never lower: a journal replayed over a snapshot that already holds it must not hand out numbers again.
      case 'n': s.next[op[1]] = Math.max(op[2], s.next[op[1]] ?? 1); break;
    }
  }
}

export class StateStore {
  private fd: number | undefined;
  private journalBytes = 0;

  constructor(readonly dir: string) {}

  /** Reads the snapshot and replays the journal; fresh is true when the directory held no model yet. */
  load(): { snapshot: Snapshot; fresh: boolean; droppedTail: boolean } {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const snapPath = join(this.dir, SNAPSHOT);
    const journalPath = join(this.dir, JOURNAL);
    const fresh = !existsSync(snapPath) && !existsSync(journalPath);
    const snapshot = existsSync(snapPath) ? parseSnapshot(readFileSync(snapPath, 'utf8'), snapPath) : emptySnapshot();
    let droppedTail = false;
    if (existsSync(journalPath)) {
      const text = readFileSync(journalPath, 'utf8');
      for (const line of text.split('\n')) {
        if (line === '') continue;
        let ops: PersistOp[];
        try { ops = JSON.parse(line) as PersistOp[]; } catch { droppedTail = true; break; }
        if (!Array.isArray(ops)) { droppedTail = true; break; }
        applyOps(snapshot, ops);
      }
    }
    // A crash between writing a snapshot and emptying the journal replays rows already in it.
    snapshot.rows = [...new Set(snapshot.rows)];
    return { snapshot, fresh, droppedTail };
  }

  /** Writes the whole state as the new snapshot and starts an empty journal. */
  compact(snapshot: Snapshot): void {
    this.close();
    writeFileAtomic(join(this.dir, SNAPSHOT), JSON.stringify(snapshot));
    this.fd = openSync(join(this.dir, JOURNAL), 'w', 0o600);
    fsyncSync(this.fd);
    fsyncDir(this.dir);
    this.journalBytes = 0;
  }

  /** Appends one transaction; returns true when the journal is due for compaction. */
  commit(ops: readonly PersistOp[]): boolean {
    if (ops.length === 0) return false;
    if (this.fd === undefined) this.fd = openSync(join(this.dir, JOURNAL), 'a', 0o600);
    const line = Buffer.from(`${JSON.stringify(ops)}\n`);
    writeSync(this.fd, line);
    fsyncSync(this.fd);
    this.journalBytes += line.length;
    return this.journalBytes > COMPACT_BYTES;
  }

  /** Factory reset: forget everything the model persisted. */
  wipe(): void {
    this.close();
    rmSync(join(this.dir, SNAPSHOT), { force: true });
    rmSync(join(this.dir, JOURNAL), { force: true });
  }

  close(): void {
    if (this.fd !== undefined) { closeSync(this.fd); this.fd = undefined; }
  }

  /** Test hook: the journal cut at a byte offset, as a crash mid-write leaves it. */
  static truncateJournal(dir: string, size: number): void {
    const fd = openSync(join(dir, JOURNAL), 'r+');
    try { ftruncateSync(fd, size); } finally { closeSync(fd); }
  }
}

function parseSnapshot(text: string, path: string): Snapshot {
  const s = JSON.parse(text) as Partial<Snapshot>;
  if (!s || typeof s !== 'object' || !Array.isArray(s.rows) || typeof s.values !== 'object' || typeof s.next !== 'object') {
    throw new Error(`${path} is not a data model snapshot`);
  }
  return s as Snapshot;
}
