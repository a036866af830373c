// The model in the state directory: a snapshot and a journal of committed transactions (state-store.ts).
// Loading rebuilds the tree from them; only what no handler computes or marks volatile is kept.
import type { Logger } from '../util/logger.js';
import type { ModelCore } from './model-core.js';
import { emptySnapshot, type PersistOp, type Snapshot, type StateStore } from './state-store.js';
import { nodeAt, ObjectNode, paramAt, tableAt } from './tree.js';

export class Persistence {
  constructor(
    private readonly core: ModelCore,
    private readonly store: StateStore | undefined,
    private readonly log: Logger,
  ) {}

  /** Loads the persisted model into the (empty) tree; fresh when there was none. */
  load(): { fresh: boolean } {
    if (!this.store) return { fresh: true };
    const { snapshot, fresh, droppedTail } = this.store.load();
    if (droppedTail) this.log.warn('dropped a torn last transaction from the journal (the agent stopped mid-write)');
    this.restore(snapshot);
    return { fresh };
  }

  close(): void {
    this.store?.close();
  }

  /** Forgets everything persisted. */
  wipe(): void {
    this.store?.wipe();
  }

  /** The whole persistent state, as the snapshot file holds it. */
  snapshot(): Snapshot {
    const s = emptySnapshot();
    const handlers = this.core.handlers;
    for (const node of this.core.root.walk()) {
      if (node.instance !== undefined) {
        if (handlers.isVolatile(node)) continue;
        s.rows.push(node.path);
      }
      for (const table of node.tables.values())
        if (table.next > 1 && !handlers.objects.get(table.def.path)?.volatile) s.next[table.path] = table.next;
      for (const [name, v] of node.values) if (handlers.persists(node, name)) s.values[`${node.path}${name}`] = v;
    }
    return s;
  }

  /**
   * Writes a committed transaction to the journal (throws if it can't), flushed to disk or not (see
   * StateStore.commit); compacts when the journal has grown.
   */
  persist(ops: PersistOp[], flush = true): void {
    if (!this.store || !ops.length) return;
    if (this.store.commit(ops, flush)) this.compact('journal');
  }

  /** Compaction only shortens the journal: on a disk without room for a snapshot the journal goes on. */
  compact(when: 'start' | 'journal'): void {
    try {
      this.store?.compact(this.snapshot());
    } catch (e) {
      this.log.warn(
        { err: e, when },
        'could not write a data model snapshot; the journal is kept and grows until one can be written',
      );
    }
  }

  /** A snapshot of the state after a factory reset; its failure is the reset's. */
  rewrite(): void {
    this.store?.compact(this.snapshot());
  }

  private restore(s: Snapshot): void {
    const root = this.core.root;
    for (const rowPath of s.rows) {
      const parentPath = rowPath.replace(/[^.]+\.\d+\.$/, '');
      const parent = nodeAt(root, parentPath);
      const m = /([^.]+)\.(\d+)\.$/.exec(rowPath);
      const table = m && parent?.tables.get(m[1]!);
      if (!table || !m) {
        this.log.warn({ path: rowPath }, 'persisted row no longer in the data model; dropped');
        continue;
      }
      const n = Number(m[2]);
      table.rows.set(n, new ObjectNode(table.def, rowPath, parent, n));
      table.next = Math.max(table.next, n + 1);
    }
    for (const [path, value] of Object.entries(s.values)) {
      const found = paramAt(root, path);
      if (found) found.node.values.set(found.p.name, value);
    }
    for (const [tablePath, next] of Object.entries(s.next)) {
      const table = tableAt(root, tablePath);
      if (table) table.next = Math.max(table.next, next);
    }
  }
}
