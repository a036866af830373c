// GetParameterNames, GetParameterValues and SetParameterValues. A name given more than once is
// answered once, and what the answers hold is charged to the envelope's budget as it is built.

import { visibleIn } from '../../dm/schema.js';
import type { ObjectNode } from '../../dm/tree.js';
import { setRequestsOf } from '../../dm/values-file.js';
import type { ByteBudget } from '../../util/byte-budget.js';
import { arg, arrayItems, el, soapArray, text$, type Xml } from '../envelope.js';
import { CwmpFault, cwmpFaultOf } from '../faults.js';
import { paramDef, type RpcContext, valueStruct } from './context.js';

const ROOT = 'Device.';
const VIEW = 'cwmp';

/** Every parameter at or below the given names, with its value and type, in model order. */
function collectValues(ctx: RpcContext, names: readonly string[], budget: ByteBudget): string[] {
  const items: string[] = [];
  for (const name of names) {
    ctx.dm.getEach(name, ctx.caller, 0, (o) => {
      const node = ctx.dm.node(o.path);
      for (const [k, v] of Object.entries(o.params)) {
        const item = valueStruct(o.path + k, v, node?.def.params.get(k));
        budget.charge(item.length);
        items.push(item);
      }
    });
  }
  return items;
}

/** The names of a ParameterNames argument, each once ("" is Device.). */
export function namesOf(args: Xml): string[] {
  return [...new Set(arrayItems(args, 'ParameterNames', 'string').map((x) => text$(x) || ROOT))];
}

export function getParameterValues(ctx: RpcContext, args: Xml, budget: ByteBudget): string {
  const list = soapArray('ParameterList', 'cwmp:ParameterValueStruct', collectValues(ctx, namesOf(args), budget));
  return `<cwmp:GetParameterValuesResponse>${list}</cwmp:GetParameterValuesResponse>`;
}

/**
 * TR-069 A.3.2.3: "" is the top of the hierarchy; NextLevel lists only the direct children (a
 * table's are its instances), otherwise the object itself and everything below it, tables included,
 * each once. Writable on a table or an instance says whether AddObject or DeleteObject may be used.
 */
export function getParameterNames(ctx: RpcContext, args: Xml, budget: ByteBudget): string {
  const path = arg(args, 'ParameterPath', false);
  const next = /^(1|true)$/.test(arg(args, 'NextLevel'));
  const out: string[] = [];
  const add = (name: string, writable: boolean) => {
    const item = `<ParameterInfoStruct>${el('Name', name)}${el('Writable', Number(writable))}</ParameterInfoStruct>`;
    budget.charge(item.length);
    out.push(item);
  };
  if (path === '' && next) add(ROOT, false);
  else if (!path.endsWith('.') && path !== '') {
    if (next) throw new CwmpFault(9003, 'NextLevel must be false for a parameter name');
    ctx.dm.get(path, ctx.caller); // throws 9005 for a name that does not exist
    add(path, paramDef(ctx.dm, path)?.writable ?? false);
  } else
    for (const t of ctx.dm.resolve(path || ROOT, ctx.caller)) {
      if (t.kind === 'table') {
        if (!next) add(t.table.path, t.table.def.creatable);
        for (const row of t.table.rows.values()) {
          if (next) add(row.path, row.def.creatable);
          else walk(row);
        }
      } else if (next) children(t.node);
      else walk(t.node);
    }
  return (
    `<cwmp:GetParameterNamesResponse>` +
    `${soapArray('ParameterList', 'cwmp:ParameterInfoStruct', out)}</cwmp:GetParameterNamesResponse>`
  );

  /** An object, its parameters, then each child object or table with what is below it; hidden subtrees skipped. */
  function walk(n: ObjectNode): void {
    if (!visibleIn(n.def.spec.only, VIEW)) return;
    add(n.path, n.instance !== undefined && n.def.creatable);
    params(n);
    for (const child of n.def.children.values()) {
      if (!visibleIn(child.spec.only, VIEW)) continue;
      const table = n.tables.get(child.name);
      if (!table) walk(n.singles.get(child.name)!);
      else {
        add(table.path, child.creatable);
        for (const row of table.rows.values()) walk(row);
      }
    }
  }
  function params(n: ObjectNode): void {
    for (const p of n.def.params.values()) if (visibleIn(p.only, VIEW)) add(n.path + p.name, p.writable);
  }
  function children(n: ObjectNode): void {
    params(n);
    for (const child of n.def.children.values())
      if (visibleIn(child.spec.only, VIEW)) add(`${n.path}${child.name}.`, child.multi && child.creatable);
  }
}

/** Atomic: every parameter is applied, or none and the fault lists each one refused. */
export function setParameterValues(ctx: RpcContext, args: Xml): string {
  const list = arrayItems(args, 'ParameterList', 'ParameterValueStruct').map((x) => ({
    name: arg(x, 'Name'),
    value: text$(x.Value as Xml),
  }));
  const key = arg(args, 'ParameterKey', false);
  const seen = new Set<string>();
  for (const { name } of list) {
    if (seen.has(name)) throw new CwmpFault(9003, `${name} is named twice`);
    seen.add(name);
    if (!name.includes('.') || name.endsWith('.'))
      throw new CwmpFault(9003, 'invalid arguments', [
        { name, code: 9005, message: `${name} is not a parameter name` },
      ]);
  }
  const requests = setRequestsOf(list.map((p) => [p.name, p.value] as const));
  try {
    ctx.dm.set(requests, ctx.caller);
  } catch (e) {
    const failures = ctx.dm.setFailures(requests, ctx.caller);
    if (!failures.length) throw e;
    // A failure on a whole object (it does not exist) is reported on each parameter named in it.
    throw new CwmpFault(
      9003,
      'invalid arguments',
      failures.flatMap((f) =>
        (f.path.endsWith('.')
          ? (requests.find((r) => r.objPath === f.path)?.params ?? [{ name: '' }]).map((p) => f.path + p.name)
          : [f.path]
        ).map((name) => ({ name, code: cwmpFaultOf(f.code), message: f.message })),
      ),
    );
  }
  ctx.actions.setParameterKey(key);
  return `<cwmp:SetParameterValuesResponse>${el('Status', 0)}</cwmp:SetParameterValuesResponse>`;
}
