// Upload, CancelTransfer and GetAllQueuedTransfers: the transfer queue as the ACS sees it. Download,
// which fills it too, is with the other requests whose work follows the session (control.ts).
import { UNKNOWN_TIME } from '../../util/time.js';
import { arg, el, soapArray, type Xml } from '../envelope.js';
import { CwmpFault } from '../faults.js';
import { UPLOAD_TYPES } from '../upload.js';
import type { RpcContext } from './context.js';

export function upload(ctx: RpcContext, args: Xml): string {
  const fileType = arg(args, 'FileType');
  if (!UPLOAD_TYPES.includes(fileType))
    throw new CwmpFault(9003, `FileType '${fileType}' is not supported (${UPLOAD_TYPES.join(', ')})`);
  const url = arg(args, 'URL');
  if (!/^https?:\/\//i.test(url)) throw new CwmpFault(9013, `unsupported protocol in '${url}'`);
  const delaySeconds = Number(arg(args, 'DelaySeconds', false) || 0);
  if (!Number.isInteger(delaySeconds) || delaySeconds < 0)
    throw new CwmpFault(9003, 'DelaySeconds must be an unsigned integer');
  ctx.actions.upload({
    commandKey: arg(args, 'CommandKey', false),
    fileType,
    url,
    username: arg(args, 'Username', false),
    password: arg(args, 'Password', false),
    delaySeconds,
  });
  // Status 1: not done yet; TransferComplete reports it.
  return (
    `<cwmp:UploadResponse>${el('Status', 1)}${el('StartTime', UNKNOWN_TIME)}` +
    `${el('CompleteTime', UNKNOWN_TIME)}</cwmp:UploadResponse>`
  );
}

export function cancelTransfer(ctx: RpcContext, args: Xml): string {
  ctx.actions.cancelTransfer(arg(args, 'CommandKey', false));
  return '<cwmp:CancelTransferResponse/>';
}

/** Every transfer not yet done, whoever asked (this agent has one ACS). */
export function getAllQueuedTransfers(ctx: RpcContext): string {
  const items = ctx.actions
    .queuedTransfers()
    .map(
      (t) =>
        `<AllQueuedTransferStruct>${el('CommandKey', t.request.commandKey)}${el('State', t.state)}` +
        `${el('IsDownload', Number(t.request.kind === 'download'))}${el('FileType', t.request.fileType)}` +
        `${el('FileSize', t.request.kind === 'download' ? t.request.fileSize : 0)}${el('TargetFileName', '')}` +
        `</AllQueuedTransferStruct>`,
    );
  return (
    `<cwmp:GetAllQueuedTransfersResponse>${soapArray('TransferList', 'cwmp:AllQueuedTransferStruct', items)}` +
    `</cwmp:GetAllQueuedTransfersResponse>`
  );
}
