// The handlers src/model registered, by supported path, and what they say about persistence: a
// live value or a volatile parameter or table is never written to the state directory.
import type { CommandHandler, ObjectHandler, ParamHandler } from './handlers.js';
import { splitParamPath } from './path.js';
import type { Schema } from './schema.js';
import type { ObjectNode } from './tree.js';

export type HandlerKind = 'param' | 'object' | 'command';

export class HandlerRegistry {
  readonly params = new Map<string, ParamHandler>();
  readonly objects = new Map<string, ObjectHandler>();
  readonly commands = new Map<string, CommandHandler>();

  constructor(private readonly schema: Schema) {}

  param(path: string, h: ParamHandler): void {
    this.register(this.params, path, h, 'param');
  }
  object(path: string, h: ObjectHandler): void {
    this.register(this.objects, path, h, 'object');
  }
  command(path: string, h: CommandHandler): void {
    this.register(this.commands, path, h, 'command');
  }

  private register<H>(map: Map<string, H>, path: string, h: H, kind: HandlerKind): void {
    const [objPath, name] = kind === 'object' ? [path, ''] : splitParamPath(path);
    const def = this.schema.get(objPath);
    const ok = def && (kind === 'object' || (kind === 'param' ? def.params.has(name) : def.commands.has(name)));
    if (!ok) throw new Error(`cannot register a ${kind} handler for ${path}: not in the supported data model`);
    map.set(path, h);
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
