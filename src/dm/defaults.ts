// The defaults file applied to an empty model (first start, factory reset): full parameter path ->
// value, the rows it names created with the instance numbers it names, in one transaction.
import { agentCaller } from './caller.js';
import { DmError, UspError } from './errors.js';
import type { ModelCore } from './model-core.js';
import { splitParamPath } from './path.js';
import { toSupportedPath } from './schema.js';
import type { Tx } from './transaction.js';
import type { ObjectNode } from './tree.js';
import { canonicalAt } from './types.js';

export function applyDefaults(core: ModelCore, defaults: Readonly<Record<string, string>>): void {
  const entries = Object.entries(defaults);
  if (!entries.length) return;
  const tx = core.begin(agentCaller('defaults'));
  for (const [path, value] of entries) {
    const [objPath, name] = splitParamPath(path);
    const node = ensureObject(core.root, objPath, tx, path);
    const p = node.def.params.get(name);
    if (!p)
      throw new DmError(
        UspError.UnsupportedParameter,
        `defaults: ${path} is not a parameter of the supported data model`,
        path,
      );
    if (core.handlers.params.get(toSupportedPath(path))?.get)
      throw new DmError(UspError.NotWritable, `defaults: ${path} is a live value and can't be set`, path);
    tx.setValue(node, p, canonicalAt(p, String(value), path, `defaults: ${path}`));
  }
  tx.commit();
}

/** Creates the rows a defaults path names ("Device.X.2.Y.1."), with those instance numbers. */
function ensureObject(root: ObjectNode, objPath: string, tx: Tx, whole: string): ObjectNode {
  const parts = objPath.split('.').filter(Boolean);
  let node = root;
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
