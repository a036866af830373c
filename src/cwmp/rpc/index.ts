// The RPCs the agent answers, one handler each (obuspa keeps one handler per USP message; the same
// here per CWMP method). An ACS request for anything else gets fault 9000.
import { el, soapArray } from '../envelope.js';
import { getParameterAttributes, setParameterAttributes } from './attributes.js';
import type { RpcHandler } from './context.js';
import { changeDUState, download, factoryReset, reboot, scheduleInform } from './control.js';
import { addObject, deleteObject } from './objects.js';
import { getParameterNames, getParameterValues, setParameterValues } from './parameters.js';
import { cancelTransfer, getAllQueuedTransfers, upload } from './transfers.js';

export const RPCS: Readonly<Record<string, RpcHandler>> = {
  GetRPCMethods: () =>
    `<cwmp:GetRPCMethodsResponse>${soapArray(
      'MethodList',
      'xsd:string',
      Object.keys(RPCS).map((m) => el('string', m)),
    )}</cwmp:GetRPCMethodsResponse>`,
  GetParameterNames: getParameterNames,
  GetParameterValues: getParameterValues,
  SetParameterValues: setParameterValues,
  GetParameterAttributes: getParameterAttributes,
  SetParameterAttributes: setParameterAttributes,
  AddObject: addObject,
  DeleteObject: deleteObject,
  Reboot: reboot,
  FactoryReset: factoryReset,
  ScheduleInform: scheduleInform,
  Download: download,
  Upload: upload,
  CancelTransfer: cancelTransfer,
  GetAllQueuedTransfers: getAllQueuedTransfers,
  ChangeDUState: changeDUState,
};
