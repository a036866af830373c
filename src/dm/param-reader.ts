// How a parameter is read: a live handler, a table's row counter, or the stored value. Reads are the
// hot path, so each object definition's readers are worked out once, on first use, and worked out
// again after a handler is registered.

import type { Logger } from '../util/logger.js';
import type { HandlerRegistry } from './handler-registry.js';
import type { ObjectDef, ParamDef, View } from './schema.js';
import type { ObjectNode } from './tree.js';

interface Reader {
  p: ParamDef;
  live: ((node: ObjectNode) => string) | undefined;
  counted: string | undefined;
}
interface Readers {
  list: Reader[];
  byName: Map<string, Reader>;
}

export class ParamReader {
  private readers = new WeakMap<ObjectDef, Readers>();
  /** The registry's generation the readers were worked out at. */
  private generation = -1;

  constructor(
    private readonly handlers: HandlerRegistry,
    private readonly log: Logger,
  ) {}

  /** The current value of a parameter of a node: live handler, table counter, or stored value. */
  read(node: ObjectNode, p: ParamDef): string {
    const r = this.readersOf(node.def).byName.get(p.name);
    return r ? this.readWith(node, r) : (node.values.get(p.name) ?? p.zero);
  }

  /** Every parameter of a node the view shows, secured ones blank. */
  paramsOf(node: ObjectNode, view: View): Record<string, string> {
    const params: Record<string, string> = {};
    for (const r of this.readersOf(node.def).list) {
      const p = r.p;
      if (p.only !== undefined && view !== 'all' && p.only !== view) continue;
      params[p.name] = p.secured ? '' : this.readWith(node, r);
    }
    return params;
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
    if (this.generation !== this.handlers.generation) {
      this.readers = new WeakMap();
      this.generation = this.handlers.generation;
    }
    let rs = this.readers.get(def);
    if (!rs) {
      const list = [...def.params.values()].map((p) => ({
        p,
        live: this.handlers.params.get(`${def.path}${p.name}`)?.get,
        counted: def.counters.get(p.name),
      }));
      rs = { list, byName: new Map(list.map((r) => [r.p.name, r])) };
      this.readers.set(def, rs);
    }
    return rs;
  }
}
