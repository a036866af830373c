// A transaction: staged writes applied to the tree at once with an undo log, so a failure can roll
// back to a mark; commit persists one journal line and then publishes the changes.
import { isDiskFull } from '../util/atomic-file.js';
import type { Logger } from '../util/logger.js';
import type { Caller } from './caller.js';
import type { Change, ChangeFeed } from './change-feed.js';
import { asDmError, DmError, UspError } from './errors.js';
import type { ParamDef } from './schema.js';
import type { PersistOp } from './state-store.js';
import { nodeAt, ObjectNode, type Table } from './tree.js';

/** What a transaction needs of the model it writes to. */
export interface TxHost {
  readonly root: ObjectNode;
  readonly feed: ChangeFeed;
  readonly log: Logger;
  read(node: ObjectNode, p: ParamDef): string;
  persists(node: ObjectNode, name: string): boolean;
  isVolatile(node: ObjectNode): boolean;
  /** Writes a committed transaction to the journal (flushed unless `by` mirrors); throws if it can't. */
  persist(ops: PersistOp[], by: Caller): void;
  publish(changes: Change[]): void;
}

type Undo = () => void;

export class Tx {
  private readonly undo: Undo[] = [];
  private readonly created = new Set<ObjectNode>();
  private ops: PersistOp[] = [];
  private changes: Change[] = [];

  constructor(
    private readonly dm: TxHost,
    private readonly caller: Caller,
  ) {}

  mark(): number {
    return this.undo.length;
  }

  rollback(mark: number): void {
    while (this.undo.length > mark) this.undo.pop()!();
  }

  setValue(node: ObjectNode, p: ParamDef, v: string): void {
    const had = node.values.has(p.name);
    const prev = node.values.get(p.name);
    const old = this.dm.read(node, p);
    node.values.set(p.name, v);
    const opsLen = this.ops.length,
      chLen = this.changes.length;
    // A value stored and unchanged is on disk already: the agent's syncs at start write nothing (and
    // work on a full disk).
    if (this.dm.persists(node, p.name) && !(had && prev === v)) this.ops.push(['s', `${node.path}${p.name}`, v]);
    // A new row's initial values are part of its creation, not value changes.
    if (old !== v && !this.created.has(node))
      this.changes.push({ kind: 'value', path: `${node.path}${p.name}`, value: v, old, cause: this.caller });
    this.undo.push(() => {
      if (had) node.values.set(p.name, prev!);
      else node.values.delete(p.name);
      this.ops.length = opsLen;
      this.changes.length = chLen;
    });
  }

  addRow(table: Table, instance?: number): ObjectNode {
    const n = instance ?? table.next;
    const prevNext = table.next;
    const node = new ObjectNode(table.def, `${table.path}${n}.`, table.parent, n);
    table.rows.set(n, node);
    table.next = Math.max(table.next, n + 1);
    this.created.add(node);
    const opsLen = this.ops.length,
      chLen = this.changes.length;
    if (!this.dm.isVolatile(node)) {
      this.ops.push(['a', node.path], ['n', table.path, table.next]);
    }
    this.changes.push({ kind: 'add', path: node.path, keys: {}, cause: this.caller });
    this.undo.push(() => {
      table.rows.delete(n);
      table.next = prevNext;
      this.created.delete(node);
      this.ops.length = opsLen;
      this.changes.length = chLen;
    });
    return node;
  }

  deleteRow(node: ObjectNode): void {
    const table = node.table!;
    const n = node.instance!;
    table.rows.delete(n);
    const opsLen = this.ops.length,
      chLen = this.changes.length;
    if (!this.dm.isVolatile(node)) this.ops.push(['d', node.path]);
    for (const gone of node.walk())
      if (gone.instance !== undefined) this.changes.push({ kind: 'delete', path: gone.path, cause: this.caller });
    this.undo.push(() => {
      // Back in its place, not at the end: rows are listed in instance order.
      const later = [...table.rows].filter(([k]) => k > n);
      for (const [k] of later) table.rows.delete(k);
      table.rows.set(n, node);
      for (const [k, row] of later) table.rows.set(k, row);
      this.ops.length = opsLen;
      this.changes.length = chLen;
    });
  }

  commit(): void {
    // Object creation notifications carry the unique keys as they are after the whole transaction.
    const changes = this.changes.map((c) => (c.kind === 'add' ? { ...c, keys: this.keysOf(c.path) } : c));
    const undos = this.dm.feed.beforeCommit(changes);
    try {
      this.dm.persist(this.ops, this.caller);
    } catch (e) {
      for (const undo of undos) undo();
      this.rollback(0);
      // Refused, not acknowledged and lost later: a full disk is a resource limit (7005, CWMP 9004),
      // a read-only or failing one an internal error (7003, CWMP 9002).
      this.dm.log.error(
        { err: e, by: this.caller.kind },
        'a change could not be written to the state directory; refused and undone',
      );
      throw new DmError(
        isDiskFull(e) ? UspError.ResourcesExceeded : UspError.InternalError,
        `could not persist the change: ${(e as Error).message}`,
      );
    }
    this.undo.length = 0;
    this.created.clear();
    this.ops = [];
    this.changes = [];
    this.dm.publish(changes);
  }

  private keysOf(path: string): Record<string, string> {
    const node = nodeAt(this.dm.root, path);
    const keys: Record<string, string> = {};
    if (!node) return keys;
    for (const k of node.def.keys.flat()) {
      const p = node.def.params.get(k);
      if (p) keys[k] = this.dm.read(node, p);
    }
    return keys;
  }
}

/**
 * Applies each request of a Set, Add or Delete in one transaction and commits it. Without
 * allowPartial the first failure undoes them all and throws; with it, only that request is undone
 * and it is answered with its error.
 */
export function applyEach<R, O>(
  tx: Tx,
  requests: readonly R[],
  allowPartial: boolean,
  pathOf: (r: R) => string,
  apply: (r: R) => O,
  failed: (r: R, err: DmError) => O,
): O[] {
  const out: O[] = [];
  for (const r of requests) {
    const mark = tx.mark();
    try {
      out.push(apply(r));
    } catch (e) {
      const err = asDmError(e, pathOf(r));
      if (!allowPartial) {
        tx.rollback(0);
        throw err;
      }
      tx.rollback(mark);
      out.push(failed(r, err));
    }
  }
  tx.commit();
  return out;
}
