// The handlers src/model registered, by supported path, and what they say about persistence: a
// live value or a volatile parameter or table is never written to the state directory, and what a
// mirroring component writes is journalled but not flushed on its own.
import type { Caller } from './caller.js';
import type { CommandHandler, ObjectHandler, ParamHandler } from './handlers.js';
import { splitParamPath } from './path.js';
import type { Schema } from './schema.js';
import type { ObjectNode } from './tree.js';

export type HandlerKind = 'param' | 'object' | 'command';

export class HandlerRegistry {
  private readonly paramMap = new Map<string, ParamHandler>();
  private readonly objectMap = new Map<string, ObjectHandler>();
  private readonly commandMap = new Map<string, CommandHandler>();
  /** Read-only views: a handler gets in through the checks below or not at all. */
  readonly params: ReadonlyMap<string, ParamHandler> = this.paramMap;
  readonly objects: ReadonlyMap<string, ObjectHandler> = this.objectMap;
  readonly commands: ReadonlyMap<string, CommandHandler> = this.commandMap;

  private readonly mirrors = new Set<string>();

  /** Counts registrations: whatever was worked out from the handlers before is stale when it moves. */
  private registrations = 0;

  constructor(private readonly schema: Schema) {}

  get generation(): number {
    return this.registrations;
  }

  param(path: string, h: ParamHandler): void {
    this.register(this.paramMap, path, h, 'param');
  }
  object(path: string, h: ObjectHandler): void {
    this.register(this.objectMap, path, h, 'object');
  }
  command(path: string, h: CommandHandler): void {
    this.register(this.commandMap, path, h, 'command');
  }

  private register<H>(map: Map<string, H>, path: string, h: H, kind: HandlerKind): void {
    const [objPath, name] = kind === 'object' ? [path, ''] : splitParamPath(path);
    const def = this.schema.get(objPath);
    const ok = def && (kind === 'object' || (kind === 'param' ? def.params.has(name) : def.commands.has(name)));
    if (!ok) throw new Error(`cannot register a ${kind} handler for ${path}: not in the supported data model`);
    map.set(path, h);
    this.registrations++;
  }

  /** The agent's component whose writes copy records it keeps elsewhere and writes again at every start. */
  mirror(component: string): void {
    this.mirrors.add(component);
  }

  /**
   * Whether a change by this caller must be on disk (fsynced) before the caller hears it is made. A
   * mirror's need not: a kill -9 keeps it (it is in the journal file), a power cut may lose it, and
   * the next start writes it again from the records; the next change that is flushed flushes it too.
   */
  flushes(caller: Caller): boolean {
    return caller.kind !== 'agent' || !this.mirrors.has(caller.component);
  }

  isVolatile(node: ObjectNode): boolean {
    for (let n: ObjectNode | undefined = node; n; n = n.parent) {
      if (this.objects.get(n.def.path)?.volatile) return true;
    }
    return false;
  }

  persists(node: ObjectNode, name: string): boolean {
    const h = this.params.get(`${node.def.path}${name}`);
    return !h?.volatile && !h?.get && !this.isVolatile(node);
  }
}
