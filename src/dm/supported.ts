// GetSupportedDM: the object definitions at and below a supported path, as a protocol view shows them.
import { type Caller, viewOf } from './caller.js';
import { DmError, UspError } from './errors.js';
import { type ObjectDef, type Schema, toSupportedPath, visibleIn } from './schema.js';

/** Supported definitions at and below a supported path ("Device.X.{i}." or "Device.X."). */
export function supported(schema: Schema, path: string, caller: Caller, firstLevelOnly: boolean): ObjectDef[] {
  const view = viewOf(caller);
  const norm = toSupportedPath(path.endsWith('.') ? path : `${path}.`);
  const def = schema.get(norm) ?? schema.get(norm.replace(/\.$/, '.{i}.'));
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
