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

export function getParameterNames(ctx: RpcContext, args: Xml, budget: ByteBudget): string {
  const path = arg(args, 'ParameterPath', false);
  const next = /^(1|true)$/.test(arg(args, 'NextLevel'));
  const view = 'cwmp' as const;
  const info = (name: string, writable: boolean) =>
    `<ParameterInfoStruct>${el('Name', name)}${el('Writable', writable ? '1' : '0')}</ParameterInfoStruct>`;
  const out: string[] = [];
  const add = (items: readonly string[]) => {
    for (const i of items) {
      budget.charge(i.length);
      out.push(i);
    }
  };
  if (path === '') {
    add([info(ROOT, false)]);
    if (!next)
      for (const t of ctx.dm.resolve(ROOT, ctx.caller))
        if (t.kind === 'node') for (const n of t.node.walk()) add(describe(n, false));
    return respond(out);
  }
  if (!path.endsWith('.')) {
    if (next) throw new CwmpFault(9003, 'NextLevel must be false for a parameter name');
    ctx.dm.get(path, ctx.caller); // throws 9005 for a name that does not exist
    add([info(path, paramDef(ctx.dm, path)?.writable ?? false)]);
    return respond(out);
  }
  for (const t of ctx.dm.resolve(path, ctx.caller)) {
    if (t.kind === 'table') {
      if (!next) add([info(t.table.path, t.table.def.creatable)]);
      for (const row of t.table.rows.values()) {
        if (next) add([info(row.path, t.table.def.creatable)]);
        else for (const n of row.walk()) add(describe(n, true));
      }
    } else if (next) {
      add([...describe(t.node, false).slice(1), ...children(t.node)]);
    } else {
      for (const n of t.node.walk()) add(describe(n, true));
    }
  }
  return respond(out);

  /** An object (itself, then its parameters), and for a full walk its tables' names too. */
  function describe(n: ObjectNode, withTables: boolean): string[] {
    if (!visibleIn(n.def.spec.only, view)) return [];
    const rows = [info(n.path, n.instance !== undefined && n.def.creatable)];
    for (const p of n.def.params.values()) if (visibleIn(p.only, view)) rows.push(info(n.path + p.name, p.writable));
    if (withTables)
      for (const t of n.tables.values()) if (visibleIn(t.def.spec.only, view)) rows.push(info(t.path, t.def.creatable));
    return rows;
  }
  function children(n: ObjectNode): string[] {
    const rows: string[] = [];
    for (const c of n.singles.values()) if (visibleIn(c.def.spec.only, view)) rows.push(info(c.path, false));
    for (const t of n.tables.values()) if (visibleIn(t.def.spec.only, view)) rows.push(info(t.path, t.def.creatable));
    return rows;
  }
  function respond(items: string[]): string {
    return (
      `<cwmp:GetParameterNamesResponse>` +
      `${soapArray('ParameterList', 'cwmp:ParameterInfoStruct', items)}</cwmp:GetParameterNamesResponse>`
    );
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
