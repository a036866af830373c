// What every part of the data model shares: the instantiated tree and how to find and read in it,
// the registered handlers, the change feed and the journal a transaction commits to.
import type { Logger } from '../util/logger.js';
import type { Caller } from './caller.js';
import type { Change, ChangeFeed } from './change-feed.js';
import type { HandlerRegistry } from './handler-registry.js';
import { ParamReader } from './param-reader.js';
import { Resolver } from './resolve.js';
import type { ParamDef, Schema } from './schema.js';
import type { PersistOp } from './state-store.js';
import { Tx, type TxHost } from './transaction.js';
import { ObjectNode, paramAt } from './tree.js';

export class ModelCore implements TxHost {
  readonly reader: ParamReader;
  private tree!: { root: ObjectNode; resolver: Resolver };

  constructor(
    readonly schema: Schema,
    readonly handlers: HandlerRegistry,
    readonly feed: ChangeFeed,
    readonly log: Logger,
    private readonly journal: (ops: PersistOp[], flush: boolean) => void,
  ) {
    this.reader = new ParamReader(handlers, log);
    this.clear();
  }

  /** An empty tree: at start, and on factory reset. */
  clear(): void {
    const root = new ObjectNode(this.schema.root, `${this.schema.root.name}.`, undefined, undefined);
    this.tree = { root, resolver: new Resolver(root, (n, p) => this.read(n, p)) };
  }

  get root(): ObjectNode {
    return this.tree.root;
  }

  get resolver(): Resolver {
    return this.tree.resolver;
  }

  begin(caller: Caller): Tx {
    return new Tx(this, caller);
  }

  read(node: ObjectNode, p: ParamDef): string {
    return this.reader.read(node, p);
  }

  persists(node: ObjectNode, name: string): boolean {
    return this.handlers.persists(node, name);
  }

  isVolatile(node: ObjectNode): boolean {
    return this.handlers.isVolatile(node);
  }

  persist(ops: PersistOp[], by: Caller): void {
    // A row's deletion is flushed whoever makes it: its instance number (journalled with its creation,
    // perhaps not flushed yet) must not be handed out again if a power cut took both.
    this.journal(ops, this.handlers.flushes(by) || ops.some((op) => op[0] === 'd'));
  }

  publish(changes: Change[]): void {
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
    return Boolean(paramAt(this.root, path)?.p.secured);
  }
}
