// Unique keys of table rows: no two rows of a table may share one (7025), and a row added without
// them gets generated ones, so that it is addressable (USP R-ADD.5).
import type { ParamSetting } from './api-types.js';
import { DmError, UspError } from './errors.js';
import type { ObjectNode } from './tree.js';

/** 7025 when the pending values would give two rows the same unique key. */
export function checkKeys(node: ObjectNode, pending: ReadonlyMap<string, string>): void {
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

/** Unique key values the caller did not give, so that the new row is addressable (R-ADD.5). */
export function generateKeys(node: ObjectNode, params: readonly ParamSetting[]): ParamSetting[] {
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
