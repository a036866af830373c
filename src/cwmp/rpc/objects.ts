// AddObject and DeleteObject: one row each, ParameterKey set only when they succeed.
import { arg, el, type Xml } from '../envelope.js';
import { CwmpFault } from '../faults.js';
import type { RpcContext } from './context.js';

export function addObject(ctx: RpcContext, args: Xml): string {
  const name = arg(args, 'ObjectName');
  if (!name.endsWith('.')) throw new CwmpFault(9005, `${name} is not an object name (it must end with '.')`);
  const [added] = ctx.dm.add(name, [], ctx.caller);
  if (!added) throw new CwmpFault(9002, `${name}: nothing was created`);
  ctx.actions.setParameterKey(arg(args, 'ParameterKey', false));
  const instance = /\.(\d+)\.$/.exec(added.path)?.[1] ?? '0';
  return `<cwmp:AddObjectResponse>${el('InstanceNumber', instance)}${el('Status', 0)}</cwmp:AddObjectResponse>`;
}

export function deleteObject(ctx: RpcContext, args: Xml): string {
  const name = arg(args, 'ObjectName');
  if (!/\.\d+\.$/.test(name)) throw new CwmpFault(9005, `${name} is not an object instance`);
  const [r] = ctx.dm.delete([name], ctx.caller);
  if (r?.error) throw r.error;
  if (!r?.deleted.length) throw new CwmpFault(9005, `${name} does not exist`);
  ctx.actions.setParameterKey(arg(args, 'ParameterKey', false));
  return `<cwmp:DeleteObjectResponse>${el('Status', 0)}</cwmp:DeleteObjectResponse>`;
}
