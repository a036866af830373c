// The one data model API both protocols call: get, set, add, delete, operate, instances, supported,
// events and the change feed. Every failure is a DmError with a standard code naming the offending
// part; a set, add or delete is applied whole or not at all, persisted before it returns, and
// published on the change feed once, with its caller. Each call is carried out by the file named
// after it; this class holds the parts together.

import { type Logger, silentLogger } from '../util/logger.js';
import { Quarantine } from '../util/quarantine.js';
import { type AddRequest, addAll, addInstance } from './add.js';
import type {
  AddOutcome,
  AddResult,
  DeleteOutcome,
  InstanceInfo,
  OperateOutcome,
  ParamFailure,
  ParamSetting,
  ResolvedObject,
  SetOutcome,
  SetRequest,
} from './api-types.js';
import { agentCaller, type Caller, viewOf } from './caller.js';
import { ChangeFeed, type EventDetail } from './change-feed.js';
import { applyDefaults } from './defaults.js';
import { deleteAll } from './delete.js';
import { emit } from './events.js';
import { getEach, valueAt } from './get.js';
import { HandlerRegistry } from './handler-registry.js';
import type { CommandHandler, ObjectHandler, ParamHandler } from './handlers.js';
import { instances } from './instances.js';
import { ModelCore } from './model-core.js';
import { CommandRunner, type RequestTracker } from './operate.js';
import { Operations } from './operations.js';
import { parsePath } from './path.js';
import { Persistence } from './persistence.js';
import type { Target } from './resolve.js';
import type { ObjectDef, ParamDef, Schema } from './schema.js';
import { set, setFailures } from './set.js';
import { type Snapshot, StateStore } from './state-store.js';
import { supported } from './supported.js';
import { nodeAt, type ObjectNode } from './tree.js';

export {
  type AddResult,
  DmRequestError,
  type InstanceInfo,
  type OperateOutcome,
  type ParamFailure,
  type ParamSetting,
  type ResolvedObject,
  type SetOutcome,
  type SetRequest,
  type UpdatedObject,
} from './api-types.js';

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

export class DataModel {
  readonly schema: Schema;
  readonly feed = new ChangeFeed();
  readonly operations: Operations;
  private readonly core: ModelCore;
  private readonly handlers: HandlerRegistry;
  private readonly persistence: Persistence;
  private readonly commands: CommandRunner;
  private readonly defaults: Readonly<Record<string, string>>;

  constructor(opts: DataModelOptions) {
    this.schema = opts.schema;
    const log = opts.logger ?? silentLogger;
    this.defaults = opts.defaults ?? {};
    const store = opts.stateDir
      ? new StateStore(opts.stateDir, opts.quarantine ?? new Quarantine(opts.stateDir, log))
      : undefined;
    this.handlers = new HandlerRegistry(this.schema);
    this.core = new ModelCore(this.schema, this.handlers, this.feed, log, (ops, flush) =>
      this.persistence.persist(ops, flush),
    );
    this.persistence = new Persistence(this.core, store, log);
    this.operations = new Operations((c) => this.feed.publish(c));
    this.commands = new CommandRunner(this.core, this.operations);
    this.feed.setErrorHandler((e, c) => log.error({ err: e, path: c.path, kind: c.kind }, 'change listener failed'));
  }

  // ---- registration -------------------------------------------------------------------------

  param(path: string, h: ParamHandler): void {
    this.handlers.param(path, h);
  }
  object(path: string, h: ObjectHandler): void {
    this.handlers.object(path, h);
  }
  command(path: string, h: CommandHandler): void {
    this.handlers.command(path, h);
  }
  /**
   * Declares that what this component of the agent writes copies records kept elsewhere (the engine's)
   * and is written again from them at every start: journalled at once, not flushed on its own.
   */
  mirror(component: string): void {
    this.handlers.mirror(component);
  }
  trackRequests(tracker: RequestTracker): void {
    this.commands.tracker = tracker;
  }

  // ---- life cycle ---------------------------------------------------------------------------

  /** Loads the persisted model, or applies the defaults on first start. */
  open(): { fresh: boolean } {
    const { fresh } = this.persistence.load();
    if (fresh) applyDefaults(this.core, this.defaults);
    this.persistence.compact('start');
    return { fresh };
  }

  close(): void {
    this.persistence.close();
  }

  /** Forgets every configured value and instance and applies the defaults again. */
  factoryReset(): void {
    for (const op of this.operations.list()) this.operations.cancel(op.id);
    this.persistence.wipe();
    this.core.clear();
    applyDefaults(this.core, this.defaults);
    this.persistence.rewrite();
  }

  /** The whole persistent state, as the snapshot file holds it. */
  snapshot(): Snapshot {
    return this.persistence.snapshot();
  }

  isVolatile(node: ObjectNode): boolean {
    return this.handlers.isVolatile(node);
  }

  persists(node: ObjectNode, name: string): boolean {
    return this.handlers.persists(node, name);
  }

  // ---- reading ------------------------------------------------------------------------------

  /** The current value of a parameter of a node: live handler, table counter, or stored value. */
  read(node: ObjectNode, p: ParamDef): string {
    return this.core.read(node, p);
  }

  /** Get of one requested path: one entry per object, parameters relative to it. */
  get(path: string, caller: Caller, maxDepth = 0): ResolvedObject[] {
    const out: ResolvedObject[] = [];
    getEach(this.core, path, caller, maxDepth, (o) => {
      out.push(o);
    });
    return out;
  }

  /** Get, one object at a time, each read only when its turn comes (get.ts). */
  getEach(path: string, caller: Caller, maxDepth: number, each: (o: ResolvedObject) => void): void {
    getEach(this.core, path, caller, maxDepth, each);
  }

  /** One parameter's value by full path, for the agent's own use (secured values included). */
  value(path: string): string {
    return valueAt(this.core, path);
  }

  /** The node at an instantiated object path, for model handlers. */
  node(path: string): ObjectNode | undefined {
    return nodeAt(this.core.root, path);
  }

  /** Resolves any path (searches included) to its objects, for protocol layers and handlers. */
  resolve(path: string, caller: Caller): Target[] {
    return this.core.resolver.resolve(parsePath(path), viewOf(caller)).targets;
  }

  instances(path: string, caller: Caller, firstLevelOnly = false): InstanceInfo[] {
    return instances(this.core, path, caller, firstLevelOnly);
  }

  /** Supported definitions at and below a supported path ("Device.X.{i}." or "Device.X."). */
  supported(path: string, caller: Caller, firstLevelOnly = false): ObjectDef[] {
    return supported(this.schema, path, caller, firstLevelOnly);
  }

  // ---- writing ------------------------------------------------------------------------------

  /**
   * Set over several objects. Without allowPartial the whole request is one transaction: the first
   * failure throws a DmRequestError and nothing is applied. With it, each objPath stands alone.
   */
  set(requests: readonly SetRequest[], caller: Caller, allowPartial = false): SetOutcome[] {
    return set(this.core, requests, caller, allowPartial);
  }

  /** Every parameter a set would refuse, each with its own code, without applying anything. */
  setFailures(requests: readonly SetRequest[], caller: Caller): ParamFailure[] {
    return setFailures(this.core, requests, caller);
  }

  /** Adds a row to each table the path names. Without allowPartial one failure undoes all. */
  add(objPath: string, params: readonly ParamSetting[], caller: Caller, allowPartial = false): AddResult[] {
    const [out] = this.addAll([{ objPath, params }], caller, allowPartial);
    if (!out!.ok) throw out!.error;
    return out!.results;
  }

  /** Several adds in one transaction (USP Add with several create_objs). */
  addAll(requests: readonly AddRequest[], caller: Caller, allowPartial = false): AddOutcome[] {
    return addAll(this.core, requests, caller, allowPartial);
  }

  /** Deletes the rows the paths name. Without allowPartial one failure undoes all. */
  delete(paths: readonly string[], caller: Caller, allowPartial = false): DeleteOutcome[] {
    return deleteAll(this.core, paths, caller, allowPartial);
  }

  /** Writes values as the agent (engine events, live state): no access checks, same validation. */
  update(objPath: string, values: Readonly<Record<string, string>>, component = 'model'): void {
    this.set(
      [{ objPath, params: Object.entries(values).map(([name, value]) => ({ name, value })) }],
      agentCaller(component),
    );
  }

  /** Adds a row as the agent, optionally with a chosen instance number; returns its path. */
  addInstance(
    tablePath: string,
    values: Readonly<Record<string, string>>,
    component = 'model',
    instance?: number,
  ): string {
    return addInstance(this.core, tablePath, values, component, instance);
  }

  // ---- operate / events -----------------------------------------------------------------------

  /**
   * Runs the command at each object the path names. A synchronous command is awaited and answers
   * with its output; an asynchronous one answers at once with its operation, whose end goes out on
   * the change feed.
   */
  operate(
    path: string,
    input: Readonly<Record<string, string>>,
    caller: Caller,
    commandKey = '',
  ): Promise<OperateOutcome[]> {
    return this.commands.operate(path, input, caller, commandKey);
  }

  /** Publishes an event ("Device.Boot!") after checking it exists, with its arguments. */
  emit(path: string, args: Readonly<Record<string, string>>, caller: Caller, detail?: EventDetail): void {
    emit(this.core, path, args, caller, detail);
  }
}
