// GetParameterAttributes and SetParameterAttributes: notification (0 off, 1 passive, 2 active) and the
// access list of each parameter, kept in the client's state. Parameters the definitions force active
// can not be turned off; forced-inform and "canDeny" ones refuse active notification (9009). A name
// given more than once is answered once, and the answer is charged to the envelope's budget.
import type { DataModel } from '../../dm/datamodel.js';
import type { ByteBudget } from '../../util/byte-budget.js';
import { arg, arrayItems, el, esc, soapArray, text$, type Xml } from '../envelope.js';
import { CwmpFault } from '../faults.js';
import type { CwmpState, Notification } from '../state.js';
import { paramDef, type RpcContext } from './context.js';
import { namesOf } from './parameters.js';

/** The notification in force for a parameter: the ACS's setting, else what its definition asks. */
export function notificationOf(state: CwmpState, dm: DataModel, path: string): Notification {
  const set = state.data.attributes[path];
  if (set) return set.n;
  const def = paramDef(dm, path);
  return def?.activeNotify === 'forceEnabled' || def?.activeNotify === 'forceDefaultEnabled' ? 2 : 0;
}

/** Full parameter paths named by a parameter or partial path. */
function paramsNamed(dm: DataModel, ctx: RpcContext, name: string): string[] {
  return dm
    .get(name === '' ? 'Device.' : name, ctx.caller)
    .flatMap((o) => Object.keys(o.params).map((k) => o.path + k));
}

export function getParameterAttributes(ctx: RpcContext, args: Xml, budget: ByteBudget): string {
  const items: string[] = [];
  for (const name of namesOf(args)) {
    for (const path of paramsNamed(ctx.dm, ctx, name)) {
      const access = ctx.state.data.attributes[path]?.access ?? [];
      const item =
        `<ParameterAttributeStruct><Name>${esc(path)}</Name>` +
        `${el('Notification', notificationOf(ctx.state, ctx.dm, path))}${soapArray(
          'AccessList',
          'xsd:string',
          access.map((a) => el('string', a)),
        )}</ParameterAttributeStruct>`;
      budget.charge(item.length);
      items.push(item);
    }
  }
  return (
    `<cwmp:GetParameterAttributesResponse>` +
    `${soapArray('ParameterList', 'cwmp:ParameterAttributeStruct', items)}</cwmp:GetParameterAttributesResponse>`
  );
}

/** All or nothing: every struct is checked before any attribute changes. */
export function setParameterAttributes(ctx: RpcContext, args: Xml): string {
  const bool = (s: string) => s === '1' || s === 'true';
  const changes: { path: string; n?: Notification; access?: string[] }[] = [];
  for (const s of arrayItems(args, 'ParameterList', 'SetParameterAttributesStruct')) {
    const name = arg(s, 'Name');
    const nChange = bool(arg(s, 'NotificationChange'));
    const n = Number(arg(s, 'Notification'));
    const aChange = bool(arg(s, 'AccessListChange'));
    const access = arrayItems(s, 'AccessList', 'string').map((x) => text$(x));
    if (nChange && ![0, 1, 2].includes(n))
      throw new CwmpFault(9003, `Notification ${arg(s, 'Notification')} is not 0, 1 or 2`);
    if (aChange && access.some((a) => a !== 'Subscriber'))
      throw new CwmpFault(9007, "AccessList may only hold 'Subscriber'");
    for (const path of paramsNamed(ctx.dm, ctx, name)) {
      const def = paramDef(ctx.dm, path);
      if (nChange && n === 2 && (def?.forcedInform || def?.activeNotify === 'canDeny'))
        throw new CwmpFault(9009, `active notification on ${path} is not allowed`);
      if (nChange && n !== 2 && def?.activeNotify === 'forceEnabled')
        throw new CwmpFault(9009, `${path} always notifies actively`);
      changes.push({ path, ...(nChange ? { n: n as Notification } : {}), ...(aChange ? { access } : {}) });
    }
  }
  const attrs = ctx.state.data.attributes;
  for (const c of changes) {
    const cur = attrs[c.path] ?? { n: notificationOf(ctx.state, ctx.dm, c.path), access: [] };
    attrs[c.path] = { n: c.n ?? cur.n, access: c.access ?? cur.access };
    // From now on, changes are measured against the value the ACS could read now.
    if (attrs[c.path]!.n === 0) delete ctx.state.data.reported[c.path];
    else ctx.state.data.reported[c.path] ??= ctx.dm.value(c.path);
  }
  ctx.state.save();
  return '<cwmp:SetParameterAttributesResponse/>';
}
