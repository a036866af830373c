// Validation of command input arguments against their definition: missing mandatory arguments and
// badly typed values are 7027 naming the argument; unknown names are dropped (TR-369 R-OPR.6).
// Arguments of argument objects are flattened as "Obj.{i}.Param" / "Obj.Param" keys, as USP Operate carries them.
import type { ArgsSpec, ParamSpec } from './definition-format.js';
import { DmError, UspError } from './errors.js';
import { canonicalValue } from './types.js';

function findArg(spec: ArgsSpec, key: string): ParamSpec | undefined {
  const direct = spec.params.find((p) => p.name === key);
  if (direct) return direct;
  const dot = key.lastIndexOf('.');
  if (dot < 0) return undefined;
  const objPart = key.slice(0, dot + 1);
  const name = key.slice(dot + 1);
  const supported = objPart.replace(/\.\d+\./g, '.{i}.');
  const obj = spec.objects.find((o) => o.path === supported);
  return obj?.params.find((p) => p.name === name);
}

export function validateArgs(
  spec: ArgsSpec,
  input: Readonly<Record<string, string>>,
  command: string,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, raw] of Object.entries(input)) {
    const p = findArg(spec, key);
    if (!p) continue;
    try {
      out[key] = canonicalValue(p, raw);
    } catch (e) {
      throw new DmError(UspError.InvalidCommandArguments, `${command} argument '${key}': ${(e as Error).message}`);
    }
  }
  for (const p of spec.params) {
    if (p.mandatory && !(p.name in out))
      throw new DmError(UspError.InvalidCommandArguments, `${command} needs the argument '${p.name}'`);
  }
  return out;
}

/** The instance numbers used by argument objects: "Capability.2.Name" -> table "Capability.", 2. */
export function argRows(input: Readonly<Record<string, string>>, table: string): Map<number, Record<string, string>> {
  const rows = new Map<number, Record<string, string>>();
  for (const [key, v] of Object.entries(input)) {
    if (!key.startsWith(table)) continue;
    const m = /^(\d+)\.(.+)$/.exec(key.slice(table.length));
    if (!m) continue;
    const n = Number(m[1]);
    const row = rows.get(n) ?? {};
    row[m[2]!] = v;
    rows.set(n, row);
  }
  return rows;
}
