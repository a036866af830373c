// The RPCs that start something beyond the request: Reboot, FactoryReset, ScheduleInform, Download
// and ChangeDUState answer at once; the work follows (after the session, or in the background with
// its result reported in a later session).

import { UNKNOWN_TIME } from '../../util/time.js';
import { all, arg, el, text$, type Xml } from '../envelope.js';
import { CwmpFault } from '../faults.js';
import type { DuOp } from '../state.js';
import type { RpcContext } from './context.js';

export function reboot(ctx: RpcContext, args: Xml): string {
  ctx.actions.reboot(arg(args, 'CommandKey', false));
  return '<cwmp:RebootResponse/>';
}

export function factoryReset(ctx: RpcContext): string {
  ctx.actions.factoryReset();
  return '<cwmp:FactoryResetResponse/>';
}

export function scheduleInform(ctx: RpcContext, args: Xml): string {
  const delay = Number(arg(args, 'DelaySeconds'));
  if (!Number.isInteger(delay) || delay < 1 || delay > 4294967295)
    throw new CwmpFault(9003, 'DelaySeconds must be a positive integer');
  ctx.actions.scheduleInform(delay, arg(args, 'CommandKey', false));
  return '<cwmp:ScheduleInformResponse/>';
}

/** File types this agent downloads (TR-069 A.3.2.8). */
export const DOWNLOAD_TYPES = ['1 Firmware Upgrade Image', '3 Vendor Configuration File'];

export function download(ctx: RpcContext, args: Xml): string {
  const fileType = arg(args, 'FileType');
  if (!DOWNLOAD_TYPES.includes(fileType))
    throw new CwmpFault(9003, `FileType '${fileType}' is not supported (${DOWNLOAD_TYPES.join(', ')})`);
  const url = arg(args, 'URL');
  if (!/^(https?|file):\/\//i.test(url)) throw new CwmpFault(9013, `unsupported protocol in '${url}'`);
  const delaySeconds = Number(arg(args, 'DelaySeconds', false) || 0);
  const fileSize = Number(arg(args, 'FileSize', false) || 0);
  if (!Number.isInteger(delaySeconds) || delaySeconds < 0 || !Number.isInteger(fileSize) || fileSize < 0)
    throw new CwmpFault(9003, 'DelaySeconds and FileSize must be unsigned integers');
  ctx.actions.download({
    commandKey: arg(args, 'CommandKey', false),
    fileType,
    url,
    username: arg(args, 'Username', false),
    password: arg(args, 'Password', false),
    fileSize,
    delaySeconds,
  });
  // Status 1: the download has not completed yet; TransferComplete reports it.
  return (
    `<cwmp:DownloadResponse>${el('Status', 1)}${el('StartTime', UNKNOWN_TIME)}` +
    `${el('CompleteTime', UNKNOWN_TIME)}</cwmp:DownloadResponse>`
  );
}

/**
 * Checks the request's shape before any operation runs (9003 for the whole request); what is wrong with
 * one operation only (a malformed UUID: 9022, an unknown DU ...) is that operation's result.
 */
export function changeDUState(ctx: RpcContext, args: Xml): string {
  const ops: DuOp[] = operationsOf(args).map(([type, o], i) => {
    const get = (n: string) => text$(o[n] as Xml | undefined);
    const base = {
      url: get('URL'),
      uuid: get('UUID'),
      version: get('Version'),
      username: get('Username'),
      password: get('Password'),
      eeRef: get('ExecutionEnvRef'),
    };
    if (type === 'InstallOpStruct') {
      if (!base.url) throw new CwmpFault(9003, `operation ${i + 1}: Install needs a URL`);
      return { kind: 'Install', ...base };
    }
    if (type === 'UpdateOpStruct') return { kind: 'Update', ...base };
    if (type === 'UninstallOpStruct') {
      if (!base.uuid) throw new CwmpFault(9003, `operation ${i + 1}: Uninstall needs a UUID`);
      return { kind: 'Uninstall', ...base };
    }
    throw new CwmpFault(9003, `operation ${i + 1}: unknown operation type '${type}'`);
  });
  if (!ops.length) throw new CwmpFault(9003, 'ChangeDUState names no operation');
  if (ops.length > 16) throw new CwmpFault(9004, 'at most 16 operations per ChangeDUState');
  ctx.actions.changeDUState(ops, arg(args, 'CommandKey', false));
  return '<cwmp:ChangeDUStateResponse/>';
}

/**
 * The operations with their struct type: the schema's form (Operations xsi:type="cwmp:InstallOpStruct")
 * and the one some ACSs send (an InstallOpStruct element inside Operations).
 */
function operationsOf(args: Xml): [string, Xml][] {
  return all(args.Operations as Xml | Xml[] | undefined).flatMap((o): [string, Xml][] => {
    const type = (o.$?.type ?? '').replace(/^.*:/, '');
    if (type) return [[type, o]];
    const nested = Object.entries(o)
      .filter(([k]) => k.endsWith('OpStruct'))
      .flatMap(([k, v]) => all(v as Xml | Xml[]).map((x): [string, Xml] => [k, x]));
    return nested.length ? nested : [['(none)', o]];
  });
}
