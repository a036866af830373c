// GetInstances: the table rows at and below a path, each with its unique keys.

import type { InstanceInfo } from './api-types.js';
import { type Caller, viewOf } from './caller.js';
import { DmError, UspError } from './errors.js';
import type { ModelCore } from './model-core.js';
import { parsePath } from './path.js';
import { subtreeOf } from './resolve.js';
import { visibleIn } from './schema.js';
import type { ObjectNode } from './tree.js';

export function instances(core: ModelCore, path: string, caller: Caller, firstLevelOnly: boolean): InstanceInfo[] {
  const parsed = parsePath(path);
  if (parsed.leaf.kind !== 'object') throw new DmError(UspError.InvalidPath, `'${path}' is not an object path`, path);
  const view = viewOf(caller);
  const { targets } = core.resolver.resolve(parsed, view);
  const out: InstanceInfo[] = [];
  const info = (n: ObjectNode): InstanceInfo => {
    const keys: Record<string, string> = {};
    for (const k of n.def.keys.flat()) {
      const p = n.def.params.get(k);
      if (p && visibleIn(p.only, view)) keys[k] = core.read(n, p);
    }
    return { path: n.path, keys };
  };
  for (const t of targets) {
    if (t.kind === 'node' && t.node.instance === undefined && !t.node.tables.size && !t.node.singles.size) {
      throw new DmError(UspError.NotATable, `${t.node.path} has no tables below it`, path);
    }
    const { base, starts } = subtreeOf(t);
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

/** Table rows on the way from n up to (not including) base. */
function rowsBetween(n: ObjectNode, base: ObjectNode): number {
  let rows = 0;
  for (let x: ObjectNode | undefined = n; x && x !== base; x = x.parent) if (x.instance !== undefined) rows++;
  return rows;
}
