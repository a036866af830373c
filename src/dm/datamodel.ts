// The one data model API both protocols call: get, set, add, delete, operate, instances, supported,
// events and the change feed. Every failure is a DmError with a standard code naming the offending
// part; a set, add or delete is applied whole or not at all, persisted before it returns, and
// published on the change feed once, with its caller.

import { isDiskFull } from '../util/atomic-file.js';
import { type Logger, silentLogger } from '../util/logger.js';
import { Quarantine } from '../util/quarantine.js';
import type { Caller } from './caller.js';
import { viewOf } from './caller.js';
import { type Change, ChangeFeed, type EventDetail } from './change-feed.js';
import { validateArgs } from './command-args.js';
import { asDmError, DmError, UspError } from './errors.js';
import type { CommandHandler, ObjectHandler, ParamHandler } from './handlers.js';
import { type Operation, type OperationOutcome, Operations } from './operations.js';
import { parsePath } from './path.js';
import { Resolver, type Target } from './resolve.js';
import { type ObjectDef, type ParamDef, type Schema, toSupportedPath, type View, visibleIn } from './schema.js';
import { emptySnapshot, type PersistOp, type Snapshot, StateStore } from './state-store.js';
import { nodeAt, ObjectNode, type Table } from './tree.js';
import { canonicalValue } from './types.js';

export interface ResolvedObject {
  readonly path: string;
  readonly params: Record<string, string>;
}
export interface ParamSetting {
  readonly name: string;
  readonly value: string;
  readonly required?: boolean;
}
export interface ParamFailure {
  readonly path: string;
  readonly code: number;
  readonly message: string;
}
export interface SetRequest {
  readonly objPath: string;
  readonly params: readonly ParamSetting[];
}
export interface UpdatedObject {
  readonly path: string;
  readonly updated: Record<string, string>;
  readonly failures: ParamFailure[];
}
export type SetOutcome =
  | { readonly objPath: string; readonly ok: true; readonly objects: UpdatedObject[] }
  | { readonly objPath: string; readonly ok: false; readonly error: DmError };
export interface AddResult {
  readonly path: string;
  readonly keys: Record<string, string>;
  readonly failures: ParamFailure[];
}
export interface InstanceInfo {
  readonly path: string;
  readonly keys: Record<string, string>;
}
export type OperateOutcome =
  | { readonly path: string; readonly kind: 'sync'; readonly output: Record<string, string> }
  | {
      readonly path: string;
      readonly kind: 'async';
      readonly operation: Operation;
      readonly done: Promise<OperationOutcome>;
    }
  | { readonly path: string; readonly kind: 'error'; readonly error: DmError };

/** A DmError for a whole request, with the per-parameter failures that caused it. */
export class DmRequestError extends DmError {
  constructor(
    code: number,
    message: string,
    readonly failures: ParamFailure[],
    path?: string,
  ) {
    super(code, message, path);
  }
}

export interface DataModelOptions {
  readonly schema: Schema;
  /** Where the model persists; without it the model lives in memory only. */
  readonly stateDir?: string;
  /** Applied on first start and on factory reset: full parameter path -> value. */
  readonly defaults?: Readonly<Record<string, string>>;
  readonly logger?: Logger;
  /** Where corrupt state files are reported (the agent's, for all its state); else the model's own. */
  readonly quarantine?: Quarantine;
}

interface Reader {
  p: ParamDef;
  live: ((node: ObjectNode) => string) | undefined;
  counted: string | undefined;
}
interface Readers {
  list: Reader[];
  byName: Map<string, Reader>;
}

export class DataModel {
  readonly schema: Schema;
  readonly feed = new ChangeFeed();
  readonly operations: Operations;
  private root: ObjectNode;
  private resolver: Resolver;
  private readonly store: StateStore | undefined;
  private readonly log: Logger;
  private readonly defaults: Readonly<Record<string, string>>;
  private readonly paramHandlers = new Map<string, ParamHandler>();
  private readonly objectHandlers = new Map<string, ObjectHandler>();
  private readonly commandHandlers = new Map<string, CommandHandler>();
  /** Per object definition, how to read each parameter; built on first use (reads are the hot path). */
  private readers = new WeakMap<ObjectDef, Readers>();
  /** Tracks async operations in the model (the LocalAgent Request table); returns the row path. */
  private requestTracker: ((op: Operation) => string | undefined) | undefined;

  constructor(opts: DataModelOptions) {
    this.schema = opts.schema;
    this.log = opts.logger ?? silentLogger;
    this.defaults = opts.defaults ?? {};
    this.store = opts.stateDir
      ? new StateStore(opts.stateDir, opts.quarantine ?? new Quarantine(opts.stateDir, this.log))
      : undefined;
    this.root = new ObjectNode(this.schema.root, `${this.schema.root.name}.`, undefined, undefined);
    this.resolver = new Resolver(this.root, (n, p) => this.read(n, p));
    this.operations = new Operations((c) => this.feed.publish(c));
    this.feed.setErrorHandler((e, c) =>
      this.log.error({ err: e, path: c.path, kind: c.kind }, 'change listener failed'),
    );
  }

  // ---- registration -------------------------------------------------------------------------

  param(path: string, h: ParamHandler): void {
    this.register(this.paramHandlers, path, h, 'param');
  }
  object(path: string, h: ObjectHandler): void {
    this.register(this.objectHandlers, path, h, 'object');
  }
  command(path: string, h: CommandHandler): void {
    this.register(this.commandHandlers, path, h, 'command');
  }
  trackRequests(tracker: (op: Operation) => string | undefined): void {
    this.requestTracker = tracker;
  }

  private register<H>(map: Map<string, H>, path: string, h: H, kind: 'param' | 'object' | 'command'): void {
    this.readers = new WeakMap();
    const objPath = kind === 'object' ? path : path.slice(0, path.lastIndexOf('.') + 1);
    const def = this.schema.get(objPath);
    const name = path.slice(objPath.length);
    const ok = def && (kind === 'object' || (kind === 'param' ? def.params.has(name) : def.commands.has(name)));
    if (!ok) throw new Error(`cannot register a ${kind} handler for ${path}: not in the supported data model`);
    map.set(path, h);
  }

  // ---- life cycle ---------------------------------------------------------------------------

  /** Loads the persisted model, or applies the defaults on first start. */
  open(): { fresh: boolean } {
    if (!this.store) {
      this.applyDefaults();
      return { fresh: true };
    }
    const { snapshot, fresh, droppedTail } = this.store.load();
    if (droppedTail) this.log.warn('dropped a torn last transaction from the journal (the agent stopped mid-write)');
    this.restore(snapshot);
    if (fresh) this.applyDefaults();
    this.compact('start');
    return { fresh };
  }

  close(): void {
    this.store?.close();
  }

  /** Forgets every configured value and instance and applies the defaults again. */
  factoryReset(): void {
    for (const op of this.operations.list()) this.operations.cancel(op.id);
    this.store?.wipe();
    this.root = new ObjectNode(this.schema.root, `${this.schema.root.name}.`, undefined, undefined);
    this.resolver = new Resolver(this.root, (n, p) => this.read(n, p));
    this.applyDefaults();
    this.store?.compact(this.snapshot());
  }

  private applyDefaults(): void {
    const entries = Object.entries(this.defaults);
    if (!entries.length) return;
    const tx = new Tx(this, { kind: 'agent', component: 'defaults' });
    for (const [path, value] of entries) {
      const objPath = path.slice(0, path.lastIndexOf('.') + 1);
      const name = path.slice(objPath.length);
      const node = this.ensureObject(objPath, tx, path);
      const p = node.def.params.get(name);
      if (!p)
        throw new DmError(
          UspError.UnsupportedParameter,
          `defaults: ${path} is not a parameter of the supported data model`,
          path,
        );
      if (this.paramHandlers.get(toSupportedPath(path))?.get)
        throw new DmError(UspError.NotWritable, `defaults: ${path} is a live value and can't be set`, path);
      let v: string;
      try {
        v = canonicalValue(p, String(value));
      } catch (e) {
        throw new DmError(
          (e as DmError).code ?? UspError.InvalidValue,
          `defaults: ${path}: ${(e as Error).message}`,
          path,
        );
      }
      tx.setValue(node, p, v);
    }
    tx.commit();
  }

  /** Creates the rows a defaults path names ("Device.X.2.Y.1."), with those instance numbers. */
  private ensureObject(objPath: string, tx: Tx, whole: string): ObjectNode {
    const parts = objPath.split('.').filter(Boolean);
    let node = this.root;
    for (let i = 1; i < parts.length; i++) {
      const part = parts[i]!;
      const table = node.tables.get(part);
      if (table) {
        const n = Number(parts[++i]);
        if (!Number.isInteger(n) || n < 1)
          throw new DmError(UspError.InvalidPath, `defaults: ${whole} lacks an instance number after ${part}`, whole);
        node = table.rows.get(n) ?? tx.addRow(table, n);
        continue;
      }
      const single = node.singles.get(part);
      if (!single)
        throw new DmError(
          UspError.InvalidPath,
          `defaults: ${whole} names '${part}', which is not an object of ${node.def.path}`,
          whole,
        );
      node = single;
    }
    return node;
  }

  private restore(s: Snapshot): void {
    for (const rowPath of s.rows) {
      const parentPath = rowPath.replace(/[^.]+\.\d+\.$/, '');
      const parent = nodeAt(this.root, parentPath);
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
      const objPath = path.slice(0, path.lastIndexOf('.') + 1);
      const node = nodeAt(this.root, objPath);
      const p = node?.def.params.get(path.slice(objPath.length));
      if (node && p) node.values.set(p.name, value);
    }
    for (const [tablePath, next] of Object.entries(s.next)) {
      const m = /^(.*\.)([^.]+)\.$/.exec(tablePath);
      const table = m && nodeAt(this.root, m[1]!)?.tables.get(m[2]!);
      if (table) table.next = Math.max(table.next, next);
    }
  }

  /** The whole persistent state, as the snapshot file holds it. */
  snapshot(): Snapshot {
    const s = emptySnapshot();
    for (const node of this.root.walk()) {
      if (node.instance !== undefined) {
        if (this.isVolatile(node)) continue;
        s.rows.push(node.path);
      }
      for (const table of node.tables.values())
        if (table.next > 1 && !this.objectHandlers.get(table.def.path)?.volatile) s.next[table.path] = table.next;
      for (const [name, v] of node.values) if (this.persists(node, name)) s.values[`${node.path}${name}`] = v;
    }
    return s;
  }

  isVolatile(node: ObjectNode): boolean {
    for (let n: ObjectNode | undefined = node; n; n = n.parent) {
      if (this.objectHandlers.get(n.def.path)?.volatile) return true;
    }
    return false;
  }

  persists(node: ObjectNode, name: string): boolean {
    const h = this.paramHandlers.get(`${node.def.path}${name}`);
    return !h?.volatile && !h?.get && !this.isVolatile(node);
  }

  /** Writes a committed transaction to the journal (throws if it can't); compacts when the journal has grown. */
  persist(ops: PersistOp[]): void {
    if (!this.store || !ops.length) return;
    if (this.store.commit(ops)) this.compact('journal');
  }

  /** Compaction only shortens the journal: on a disk without room for a snapshot the journal goes on. */
  private compact(when: 'start' | 'journal'): void {
    try {
      this.store?.compact(this.snapshot());
    } catch (e) {
      this.log.warn(
        { err: e, when },
        'could not write a data model snapshot; the journal is kept and grows until one can be written',
      );
    }
  }

  // ---- reading ------------------------------------------------------------------------------

  /** The current value of a parameter of a node: live handler, table counter, or stored value. */
  read(node: ObjectNode, p: ParamDef): string {
    const r = this.readersOf(node.def).byName.get(p.name);
    return r ? this.readWith(node, r) : (node.values.get(p.name) ?? p.zero);
  }

  private readWith(node: ObjectNode, r: Reader): string {
    if (r.live) {
      try {
        return r.live(node);
      } catch (e) {
        this.log.warn({ err: e, path: `${node.path}${r.p.name}` }, 'live value failed');
        return r.p.zero;
      }
    }
    if (r.counted !== undefined) return String(node.tables.get(r.counted)?.rows.size ?? 0);
    return node.values.get(r.p.name) ?? r.p.zero;
  }

  private readersOf(def: ObjectDef): Readers {
    let rs = this.readers.get(def);
    if (!rs) {
      const list = [...def.params.values()].map((p) => ({
        p,
        live: this.paramHandlers.get(`${def.path}${p.name}`)?.get,
        counted: def.counters.get(p.name),
      }));
      rs = { list, byName: new Map(list.map((r) => [r.p.name, r])) };
      this.readers.set(def, rs);
    }
    return rs;
  }

  /** Get of one requested path: one entry per object, parameters relative to it. */
  get(path: string, caller: Caller, maxDepth = 0): ResolvedObject[] {
    const out: ResolvedObject[] = [];
    this.getEach(path, caller, maxDepth, (o) => {
      out.push(o);
    });
    return out;
  }

  /**
   * Get, one object at a time, each read only when its turn comes: a reader that stops (by throwing,
   * say for an answer grown past what its transport carries) never builds the rest. The path is
   * resolved before the first call, so a path that names nothing throws without any.
   */
  getEach(path: string, caller: Caller, maxDepth: number, each: (o: ResolvedObject) => void): void {
    const parsed = parsePath(path);
    if (parsed.leaf.kind === 'command' || parsed.leaf.kind === 'event') {
      throw new DmError(UspError.InvalidPath, `'${path}' is a ${parsed.leaf.kind}, not an object or parameter`, path);
    }
    const view = viewOf(caller);
    const { targets } = this.resolver.resolve(parsed, view);
    const leaf = parsed.leaf;
    if (leaf.kind === 'param') {
      for (const t of targets) {
        const node = (t as { node: ObjectNode }).node;
        const p = node.def.params.get(leaf.name)!;
        each({ path: node.path, params: { [leaf.name]: p.secured ? '' : this.read(node, p) } });
      }
      return;
    }
    for (const t of targets) {
      const start = t.kind === 'node' ? [t.node] : [...t.table.rows.values()];
      const base = t.kind === 'node' ? t.node : t.table.parent;
      for (const s of start) {
        for (const node of s.walk()) {
          if (maxDepth > 0 && node.depthBelow(base) + (t.kind === 'node' ? 1 : 0) > maxDepth) continue;
          if (!visibleIn(node.def.spec.only, view)) continue;
          each({ path: node.path, params: this.paramsOf(node, view) });
        }
      }
    }
  }

  private paramsOf(node: ObjectNode, view: View): Record<string, string> {
    const params: Record<string, string> = {};
    for (const r of this.readersOf(node.def).list) {
      const p = r.p;
      if (p.only !== undefined && view !== 'all' && p.only !== view) continue;
      params[p.name] = p.secured ? '' : this.readWith(node, r);
    }
    return params;
  }

  /** One parameter's value by full path, for the agent's own use (secured values included). */
  value(path: string): string {
    const objPath = path.slice(0, path.lastIndexOf('.') + 1);
    const node = nodeAt(this.root, objPath);
    const p = node?.def.params.get(path.slice(objPath.length));
    if (!node || !p) throw new DmError(UspError.InvalidPath, `${path} does not exist`, path);
    return this.read(node, p);
  }

  /** The node at an instantiated object path, for model handlers. */
  node(path: string): ObjectNode | undefined {
    return nodeAt(this.root, path);
  }

  /** Resolves any path (searches included) to its objects, for protocol layers and handlers. */
  resolve(path: string, caller: Caller): Target[] {
    return this.resolver.resolve(parsePath(path), viewOf(caller)).targets;
  }

  // ---- set ----------------------------------------------------------------------------------

  /**
   * Set over several objects. Without allowPartial the whole request is one transaction: the first
   * failure throws a DmRequestError and nothing is applied. With it, each objPath stands alone.
   */
  set(requests: readonly SetRequest[], caller: Caller, allowPartial = false): SetOutcome[] {
    const tx = new Tx(this, caller);
    const outcomes: SetOutcome[] = [];
    for (const req of requests) {
      const mark = tx.mark();
      try {
        outcomes.push({ objPath: req.objPath, ok: true, objects: this.setOne(req, tx, caller) });
      } catch (e) {
        const err = asDmError(e, req.objPath);
        if (!allowPartial) {
          tx.rollback(0);
          throw err;
        }
        tx.rollback(mark);
        outcomes.push({ objPath: req.objPath, ok: false, error: err });
      }
    }
    tx.commit();
    return outcomes;
  }

  /**
   * Every parameter a set would refuse, each with its own code, without applying anything: CWMP's
   * SetParameterValuesFault lists them all, where set() stops at the first.
   */
  setFailures(requests: readonly SetRequest[], caller: Caller): ParamFailure[] {
    const tx = new Tx(this, caller);
    const failures: ParamFailure[] = [];
    for (const req of requests) {
      try {
        for (const o of this.setOne(
          { objPath: req.objPath, params: req.params.map((p) => ({ ...p, required: false })) },
          tx,
          caller,
        ))
          failures.push(...o.failures);
      } catch (e) {
        const err = asDmError(e, req.objPath);
        failures.push(
          ...(err instanceof DmRequestError
            ? err.failures
            : [{ path: err.path ?? req.objPath, code: err.code, message: err.message }]),
        );
      }
    }
    tx.rollback(0);
    return failures;
  }

  private setOne(req: SetRequest, tx: Tx, caller: Caller): UpdatedObject[] {
    const parsed = parsePath(req.objPath);
    if (parsed.leaf.kind !== 'object')
      throw new DmError(UspError.InvalidPath, `'${req.objPath}' is not an object path`, req.objPath);
    const { targets } = this.resolver.resolve(parsed, viewOf(caller));
    if (targets.some((t) => t.kind === 'table'))
      throw new DmError(
        UspError.ObjectNotUpdated,
        `'${req.objPath}' names a table, not an object instance`,
        req.objPath,
      );
    if (!req.params.length)
      throw new DmError(UspError.InvalidArguments, `set of '${req.objPath}' names no parameter`, req.objPath);
    const results: UpdatedObject[] = [];
    for (const t of targets) {
      const node = (t as { node: ObjectNode }).node;
      results.push(this.writeParams(node, req.params, tx, caller, 'set'));
    }
    return results;
  }

  /** Validates and stages params on one node; a required failure throws, others are reported. */
  private writeParams(
    node: ObjectNode,
    params: readonly ParamSetting[],
    tx: Tx,
    caller: Caller,
    verb: 'set' | 'add',
  ): UpdatedObject {
    const view = viewOf(caller);
    const privileged = caller.kind === 'agent';
    const failures: ParamFailure[] = [];
    const pending = new Map<string, string>();
    for (const s of params) {
      const path = `${node.path}${s.name}`;
      try {
        const p = node.def.params.get(s.name);
        if (!p || !visibleIn(p.only, view))
          throw new DmError(UspError.UnsupportedParameter, `${path} is not a parameter of ${node.def.path}`, path);
        const h = this.paramHandlers.get(`${node.def.path}${s.name}`);
        const writeOnceDone = p.access === 'writeOnceReadOnly' && verb === 'set' && node.values.has(p.name);
        if (!privileged && (!p.writable || writeOnceDone))
          throw new DmError(UspError.NotWritable, `${path} is not writable`, path);
        if (h?.get || node.def.counters.has(p.name))
          throw new DmError(UspError.NotWritable, `${path} is computed by the agent and can't be written`, path);
        if (!privileged && verb === 'set' && node.def.spec.table?.fixedKeys?.includes(p.name)) {
          throw new DmError(
            UspError.NotWritable,
            `${path} is a unique key and can't change after the object is created`,
            path,
          );
        }
        if (typeof s.value !== 'string')
          throw new DmError(UspError.InvalidType, `${path}: value must be a string`, path);
        let v: string;
        try {
          v = canonicalValue(p, s.value);
        } catch (e) {
          throw new DmError((e as DmError).code ?? UspError.InvalidValue, `${path}: ${(e as Error).message}`, path);
        }
        h?.validate?.(v, node, caller);
        pending.set(p.name, v);
      } catch (e) {
        const err = asDmError(e, path);
        const failure = { path: err.path ?? path, code: err.code, message: err.message };
        if (s.required ?? true) {
          throw new DmRequestError(
            verb === 'set' ? UspError.ObjectNotUpdated : UspError.ObjectNotCreated,
            `${verb} of ${node.path} failed: ${err.message}`,
            [failure],
            node.path,
          );
        }
        failures.push(failure);
      }
    }
    try {
      this.objectHandlers.get(node.def.path)?.validate?.(node, pending, caller);
      this.checkKeys(node, pending);
    } catch (e) {
      const err = asDmError(e, node.path);
      throw new DmRequestError(
        err.code,
        err.message,
        [{ path: err.path ?? node.path, code: err.code, message: err.message }],
        node.path,
      );
    }
    const updated: Record<string, string> = {};
    for (const [name, v] of pending) {
      tx.setValue(node, node.def.params.get(name)!, v);
      updated[name] = node.def.params.get(name)!.secured ? '' : v;
    }
    return { path: node.path, updated, failures };
  }

  /** 7025 when the pending values would give two rows the same unique key. */
  private checkKeys(node: ObjectNode, pending: ReadonlyMap<string, string>): void {
    const table = node.table;
    if (!table || !node.def.keys.length) return;
    for (const key of node.def.keys) {
      if (!key.some((k) => pending.has(k))) continue;
      const mine = key.map((k) => pending.get(k) ?? node.stored(k) ?? '');
      if (mine.every((v, i) => v === node.def.params.get(key[i]!)?.zero)) continue; // not yet given by the device
      // The rows sharing the rarest of the key's values are the only ones that can share all of them.
      let fewest = table.keys.rowsWith(key[0]!, mine[0]!);
      key.forEach((k, i) => {
        const rows = table.keys.rowsWith(k, mine[i]!);
        if (rows.size < fewest.size) fewest = rows;
      });
      for (const row of fewest) {
        if (row === node) continue;
        if (key.every((k, i) => row.stored(k) === mine[i])) {
          throw new DmError(
            UspError.DuplicateKey,
            `${row.path} already has ${key.map((k, i) => `${k}=${mine[i]}`).join(', ')}`,
            `${node.path}${key[0]}`,
          );
        }
      }
    }
  }

  // ---- add / delete -------------------------------------------------------------------------

  /** Adds a row to each table the path names. Without allowPartial one failure undoes all. */
  add(objPath: string, params: readonly ParamSetting[], caller: Caller, allowPartial = false): AddResult[] {
    const [out] = this.addAll([{ objPath, params }], caller, allowPartial);
    if (!out!.ok) throw out!.error;
    return out!.results;
  }

  /**
   * Several adds in one transaction (USP Add with several create_objs): without allowPartial the
   * first failure throws and nothing is created; with it, each request stands alone.
   */
  addAll(
    requests: readonly { objPath: string; params: readonly ParamSetting[] }[],
    caller: Caller,
    allowPartial = false,
  ): ({ objPath: string; ok: true; results: AddResult[] } | { objPath: string; ok: false; error: DmError })[] {
    const tx = new Tx(this, caller);
    const out: (
      | { objPath: string; ok: true; results: AddResult[] }
      | { objPath: string; ok: false; error: DmError }
    )[] = [];
    for (const { objPath, params } of requests) {
      const mark = tx.mark();
      try {
        const parsed = parsePath(objPath);
        if (parsed.leaf.kind !== 'object')
          throw new DmError(UspError.InvalidPath, `'${objPath}' is not an object path`, objPath);
        const { targets } = this.resolver.resolve(parsed, viewOf(caller));
        if (!targets.length && !parsed.isSearch)
          throw new DmError(UspError.ObjectDoesNotExist, `${objPath} does not exist`, objPath);
        const results: AddResult[] = [];
        for (const t of targets) {
          if (t.kind !== 'table')
            throw new DmError(
              UspError.NotATable,
              `${objPath} is not a multi-instance object (ends with the table name and '.')`,
              objPath,
            );
          results.push(this.addRow(t.table, params, tx, caller));
        }
        out.push({ objPath, ok: true, results });
      } catch (e) {
        const err = asDmError(e, objPath);
        if (!allowPartial) {
          tx.rollback(0);
          throw err;
        }
        tx.rollback(mark);
        out.push({ objPath, ok: false, error: err });
      }
    }
    tx.commit();
    return out;
  }

  private addRow(table: Table, params: readonly ParamSetting[], tx: Tx, caller: Caller, instance?: number): AddResult {
    const def = table.def;
    if (caller.kind !== 'agent') {
      if (!def.creatable)
        throw new DmError(UspError.NotCreatable, `${table.path} can't be added to by a controller`, table.path);
      this.objectHandlers.get(def.path)?.canAdd?.(table.path, caller);
    }
    const max = def.spec.table?.max;
    if (max !== null && max !== undefined && table.rows.size >= max) {
      throw new DmError(UspError.ResourcesExceeded, `${table.path} holds at most ${max} instances`, table.path);
    }
    const node = tx.addRow(table, instance);
    const given = new Set(params.map((p) => p.name));
    const initial = Object.entries(this.objectHandlers.get(def.path)?.initial?.(caller) ?? {})
      .filter(([name]) => !given.has(name))
      .map(([name, value]) => ({ name, value }));
    // Initial values are the agent's (a Recipient is read-only to the controller that gets it).
    if (initial.length) this.writeParams(node, initial, tx, { kind: 'agent', component: 'initial' }, 'add');
    const generated = this.generateKeys(node, [...initial, ...params]);
    const res = this.writeParams(node, [...generated, ...params], tx, caller, 'add');
    const keys: Record<string, string> = {};
    for (const k of def.keys.flat()) keys[k] = res.updated[k] ?? this.read(node, def.params.get(k)!);
    return { path: node.path, keys, failures: res.failures };
  }

  /** Unique key values the caller did not give, so that the new row is addressable (R-ADD.5). */
  private generateKeys(node: ObjectNode, params: readonly ParamSetting[]): ParamSetting[] {
    const given = new Set(params.map((p) => p.name));
    const out: ParamSetting[] = [];
    const table = node.table!;
    for (const name of new Set(node.def.keys.flat())) {
      const p = node.def.params.get(name);
      if (!p || given.has(name) || !p.writable) continue;
      const taken = (v: string) => [...table.keys.rowsWith(name, v)].some((r) => r !== node);
      if (p.type === 'string' && !p.enum && !p.patterns?.length) {
        // Alias takes the TR-181 "cpe-" form; other keys their own name, so no two keys look alike.
        const base = name === 'Alias' ? `cpe-${node.instance}` : `${name.toLowerCase()}-${node.instance}`;
        let v = base;
        for (let i = 2; taken(v); i++) v = `${base}-${i}`;
        out.push({ name, value: v });
      } else if (p.type === 'unsignedInt' || p.type === 'int') {
        let n = 1;
        for (const r of table.rows.values()) if (r !== node) n = Math.max(n, Number(r.stored(name)) + 1);
        out.push({ name, value: String(n) });
      }
    }
    return out;
  }

  /** Deletes the rows the paths name. Without allowPartial one failure undoes all. */
  delete(
    paths: readonly string[],
    caller: Caller,
    allowPartial = false,
  ): { requested: string; deleted: string[]; error?: DmError }[] {
    const tx = new Tx(this, caller);
    const out: { requested: string; deleted: string[]; error?: DmError }[] = [];
    for (const path of paths) {
      const mark = tx.mark();
      try {
        const parsed = parsePath(path);
        if (parsed.leaf.kind !== 'object')
          throw new DmError(UspError.InvalidPath, `'${path}' is not an object instance path`, path);
        // An instance that is already gone is a success with nothing deleted (USP R-DEL.2a).
        const { targets } = this.resolver.resolve(parsed, viewOf(caller), true);
        const deleted: string[] = [];
        for (const t of targets) {
          if (t.kind !== 'node' || t.node.instance === undefined)
            throw new DmError(UspError.InvalidPath, `'${path}' is not an object instance`, path);
          const node = t.node;
          if (caller.kind !== 'agent') {
            if (!node.def.creatable)
              throw new DmError(UspError.DeleteFailure, `${node.path} can't be deleted by a controller`, node.path);
            this.objectHandlers.get(node.def.path)?.canDelete?.(node, caller);
          }
          const min = node.def.spec.table?.min ?? 0;
          if (caller.kind !== 'agent' && node.table!.rows.size <= min)
            throw new DmError(
              UspError.DeleteFailure,
              `${node.table!.path} must keep at least ${min} instances`,
              node.path,
            );
          deleted.push(node.path);
          tx.deleteRow(node);
        }
        out.push({ requested: path, deleted });
      } catch (e) {
        const err = asDmError(e, path);
        if (!allowPartial) {
          tx.rollback(0);
          throw err;
        }
        tx.rollback(mark);
        out.push({ requested: path, deleted: [], error: err });
      }
    }
    tx.commit();
    return out;
  }

  // ---- the agent's own writes -----------------------------------------------------------------

  /** Writes values as the agent (engine events, live state): no access checks, same validation. */
  update(objPath: string, values: Readonly<Record<string, string>>, component = 'model'): void {
    this.set([{ objPath, params: Object.entries(values).map(([name, value]) => ({ name, value })) }], {
      kind: 'agent',
      component,
    });
  }

  /** Adds a row as the agent, optionally with a chosen instance number; returns its path. */
  addInstance(
    tablePath: string,
    values: Readonly<Record<string, string>>,
    component = 'model',
    instance?: number,
  ): string {
    const caller: Caller = { kind: 'agent', component };
    const m = /^(.*\.)([^.]+)\.$/.exec(tablePath);
    const table = m && nodeAt(this.root, m[1]!)?.tables.get(m[2]!);
    if (!table) throw new DmError(UspError.ObjectDoesNotExist, `${tablePath} is not a table`, tablePath);
    if (instance !== undefined && table.rows.has(instance))
      throw new DmError(UspError.DuplicateKey, `${tablePath}${instance}. exists`, tablePath);
    const tx = new Tx(this, caller);
    const res = this.addRow(
      table,
      Object.entries(values).map(([name, value]) => ({ name, value, required: true })),
      tx,
      caller,
      instance,
    );
    tx.commit();
    return res.path;
  }

  // ---- instances / supported ----------------------------------------------------------------

  instances(path: string, caller: Caller, firstLevelOnly = false): InstanceInfo[] {
    const parsed = parsePath(path);
    if (parsed.leaf.kind !== 'object') throw new DmError(UspError.InvalidPath, `'${path}' is not an object path`, path);
    const view = viewOf(caller);
    const { targets } = this.resolver.resolve(parsed, view);
    const out: InstanceInfo[] = [];
    const info = (n: ObjectNode): InstanceInfo => {
      const keys: Record<string, string> = {};
      for (const k of n.def.keys.flat()) {
        const p = n.def.params.get(k);
        if (p && visibleIn(p.only, view)) keys[k] = this.read(n, p);
      }
      return { path: n.path, keys };
    };
    for (const t of targets) {
      if (t.kind === 'node' && t.node.instance === undefined && !t.node.tables.size && !t.node.singles.size) {
        throw new DmError(UspError.NotATable, `${t.node.path} has no tables below it`, path);
      }
      const base = t.kind === 'table' ? t.table.parent : t.node;
      const starts = t.kind === 'table' ? [...t.table.rows.values()] : [t.node];
      for (const s of starts) {
        for (const n of s.walk()) {
          if (n.instance === undefined || !visibleIn(n.def.spec.only, view)) continue;
          if (firstLevelOnly && n !== base && rowsBetween(n, base) > 1) continue;
          out.push(info(n));
        }
      }
    }
    return out;
  }

  /** Supported definitions at and below a supported path ("Device.X.{i}." or "Device.X."). */
  supported(path: string, caller: Caller, firstLevelOnly = false): ObjectDef[] {
    const view = viewOf(caller);
    const norm = toSupportedPath(path.endsWith('.') ? path : `${path}.`);
    const def = this.schema.get(norm) ?? this.schema.get(norm.replace(/\.$/, '.{i}.'));
    if (!def || !visibleIn(def.spec.only, view))
      throw new DmError(UspError.InvalidPath, `${path} is not in the supported data model`, path);
    const out: ObjectDef[] = [];
    const visit = (d: ObjectDef, depth: number): void => {
      if (!visibleIn(d.spec.only, view)) return;
      out.push(d);
      if (firstLevelOnly && depth >= 1) return;
      for (const c of d.children.values()) visit(c, depth + 1);
    };
    visit(def, 0);
    return out;
  }

  // ---- operate / events -----------------------------------------------------------------------

  /**
   * Runs the command at each object the path names. A synchronous command is awaited and answers
   * with its output; an asynchronous one answers at once with its operation, whose end goes out on
   * the change feed.
   */
  async operate(
    path: string,
    input: Readonly<Record<string, string>>,
    caller: Caller,
    commandKey = '',
  ): Promise<OperateOutcome[]> {
    const parsed = parsePath(path);
    if (parsed.leaf.kind !== 'command')
      throw new DmError(UspError.InvalidPath, `'${path}' is not a command path (it ends with '()')`, path);
    const name = parsed.leaf.name;
    const { targets } = this.resolver.resolve(parsed, viewOf(caller));
    if (!targets.length && !parsed.isSearch)
      throw new DmError(UspError.ObjectDoesNotExist, `${path} does not exist`, path);
    const out: OperateOutcome[] = [];
    for (const t of targets)
      out.push(await this.operateOne((t as { node: ObjectNode }).node, name, input, caller, commandKey));
    return out;
  }

  private async operateOne(
    node: ObjectNode,
    name: string,
    input: Readonly<Record<string, string>>,
    caller: Caller,
    commandKey: string,
  ): Promise<OperateOutcome> {
    const path = `${node.path}${name}`;
    const spec = node.def.commands.get(name)!;
    const handler = this.commandHandlers.get(`${node.def.path}${name}`);
    if (!handler)
      return {
        path,
        kind: 'error',
        error: new DmError(UspError.CommandFailure, `${path} is defined but this agent does not implement it`, path),
      };
    let args: Record<string, string>;
    try {
      args = validateArgs(spec.input, input, path);
    } catch (e) {
      return { path, kind: 'error', error: asDmError(e, path) };
    }
    if (!spec.async) {
      try {
        const output = await handler({
          path,
          node,
          input: args,
          caller,
          commandKey,
          signal: new AbortController().signal,
          progress: () => {},
        });
        return { path, kind: 'sync', output };
      } catch (e) {
        return { path, kind: 'error', error: asDmError(e, path) };
      }
    }
    const op = this.operations.start(path, commandKey, caller);
    op.requestPath = this.requestTracker?.(op);
    const done = this.operations.run(op, async () =>
      handler({
        path,
        node,
        input: args,
        caller,
        commandKey,
        signal: op.abort.signal,
        progress: (pct, msg) => this.operations.progress(op, pct, msg),
      }),
    );
    return { path, kind: 'async', operation: op, done };
  }

  /** Publishes an event ("Device.Boot!") after checking it exists, with its arguments (and in-process detail). */
  emit(path: string, args: Readonly<Record<string, string>>, caller: Caller, detail?: EventDetail): void {
    const parsed = parsePath(path);
    if (parsed.leaf.kind !== 'event') throw new DmError(UspError.InvalidPath, `'${path}' is not an event path`, path);
    const { targets } = this.resolver.resolve(parsed, 'all');
    if (!targets.length) throw new DmError(UspError.InvalidPath, `${path} does not exist`, path);
    this.feed.publish([{ kind: 'event', path, args, cause: caller, ...(detail ? { detail } : {}) }]);
  }

  // ---- internals for Tx ---------------------------------------------------------------------

  /** @internal */ rootNode(): ObjectNode {
    return this.root;
  }
  /** @internal */ publish(changes: Change[]): void {
    // The audit trail at debug level: who changed what; a secured value is never written out.
    if (this.log.isLevelEnabled('debug')) {
      for (const c of changes) {
        if (c.kind === 'value')
          this.log.debug(
            { path: c.path, value: this.isSecured(c.path) ? '***' : c.value, by: c.cause.kind },
            'changed',
          );
        else if (c.kind === 'add' || c.kind === 'delete')
          this.log.debug({ path: c.path, by: c.cause.kind }, c.kind === 'add' ? 'created' : 'deleted');
      }
    }
    this.feed.publish(changes);
  }

  private isSecured(path: string): boolean {
    const dot = path.lastIndexOf('.') + 1;
    return Boolean(nodeAt(this.root, path.slice(0, dot))?.def.params.get(path.slice(dot))?.secured);
  }
  /** @internal */ logger(): Logger {
    return this.log;
  }
}

/** Table rows on the way from n up to (not including) base. */
function rowsBetween(n: ObjectNode, base: ObjectNode): number {
  let rows = 0;
  for (let x: ObjectNode | undefined = n; x && x !== base; x = x.parent) if (x.instance !== undefined) rows++;
  return rows;
}

type Undo = () => void;

/**
 * A transaction: staged writes applied to the tree at once with an undo log, so a failure can roll
 * back to a mark; commit persists one journal line and then publishes the changes.
 */
class Tx {
  private readonly undo: Undo[] = [];
  private readonly created = new Set<ObjectNode>();
  private ops: PersistOp[] = [];
  private changes: Change[] = [];

  constructor(
    private readonly dm: DataModel,
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
      this.dm.persist(this.ops);
    } catch (e) {
      for (const undo of undos) undo();
      this.rollback(0);
      // Refused, not acknowledged and lost later: a full disk is a resource limit (7005, CWMP 9004),
      // a read-only or failing one an internal error (7003, CWMP 9002).
      this.dm
        .logger()
        .error(
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
    const node = nodeAt(this.dm.rootNode(), path);
    const keys: Record<string, string> = {};
    if (!node) return keys;
    for (const k of node.def.keys.flat()) {
      const p = node.def.params.get(k);
      if (p) keys[k] = this.dm.read(node, p);
    }
    return keys;
  }
}
