// How a parameter is read: a live handler, a table's row counter, or the stored value. Reads are the
// hot path, so each object definition's readers are worked out once, on first use, and worked out
// again after a handler is registered.

import type { Logger } from '../util/logger.js';
import type { HandlerRegistry } from './handler-registry.js';
import { type ObjectDef, type ParamDef, type View, visibleIn } from './schema.js';
import type { ObjectNode } from './tree.js';

interface Reader {
  p: ParamDef;
  live: ((node: ObjectNode) => string) | undefined;
  counted: string | undefined;
}
/**
 * What a view shows of an object: its readers, and an object with their names as keys, in order. A
 * copy of that object is filled in: copying a shape is much cheaper than adding a dozen keys one by one.
 */
interface Shown {
  list: Reader[];
  shape: Record<string, string>;
}
interface Readers {
  list: Reader[];
  byName: Map<string, Reader>;
  /** The readers each view shows, filtered once rather than per parameter of every object read. */
  byView: Map<View, Shown>;
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
    const { list, shape } = this.shown(node.def, view);
    const params = { ...shape };
    const values = node.values;
    for (const r of list) {
      const p = r.p;
      // A stored value is what most parameters are: read inline, without a call per parameter.
      params[p.name] = p.secured
        ? ''
        : r.live === undefined && r.counted === undefined
          ? (values.get(p.name) ?? p.zero)
          : this.readWith(node, r);
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

  private shown(def: ObjectDef, view: View): Shown {
    const rs = this.readersOf(def);
    let shown = rs.byView.get(view);
    if (!shown) {
      const list = rs.list.filter((r) => visibleIn(r.p.only, view));
      shown = { list, shape: Object.fromEntries(list.map((r) => [r.p.name, ''])) };
      rs.byView.set(view, shown);
    }
    return shown;
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
      rs = { list, byName: new Map(list.map((r) => [r.p.name, r])), byView: new Map() };
      this.readers.set(def, rs);
    }
    return rs;
  }
}
