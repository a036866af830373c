// What an RPC handler may use: the data model as the ACS sees it, the client's persistent state, and
// the actions that outlive the request (they run once the session has ended, as TR-069 wants for
// Reboot, or in the background, reported later, like Download and ChangeDUState).

import type { Caller } from '../../dm/caller.js';
import type { DataModel } from '../../dm/datamodel.js';
import type { ParamDef } from '../../dm/schema.js';
import type { ByteBudget } from '../../util/byte-budget.js';
import { esc, type Xml } from '../envelope.js';
import type { CwmpState, DownloadRequest, DuOp, QueuedTransfer, UploadRequest } from '../state.js';

export type { DownloadRequest, UploadRequest } from '../state.js';

export interface CwmpActions {
  reboot(commandKey: string): void;
  factoryReset(): void;
  scheduleInform(delaySeconds: number, commandKey: string): void;
  download(req: DownloadRequest): void;
  upload(req: UploadRequest): void;
  /** Removes the transfers with this CommandKey not yet started; 9021 if one has started. */
  cancelTransfer(commandKey: string): void;
  /** Transfers accepted and not yet done, oldest first. */
  queuedTransfers(): readonly QueuedTransfer[];
  changeDUState(ops: readonly DuOp[], commandKey: string): void;
  setParameterKey(key: string): void;
}

export interface RpcContext {
  readonly dm: DataModel;
  readonly caller: Caller;
  readonly state: CwmpState;
  readonly actions: CwmpActions;
}

/**
 * Answers one ACS request: the response element (cwmp: prefixed), or throws a fault. A handler whose
 * answer grows with the request or the model charges what it adds to the budget (9004 past it).
 */
export type RpcHandler = (ctx: RpcContext, args: Xml, budget: ByteBudget) => string | Promise<string>;

export const CWMP_CALLER: Caller = { kind: 'cwmp' };

/** The definition of a parameter at a full path, if it exists. */
export function paramDef(dm: DataModel, path: string): ParamDef | undefined {
  const obj = path.slice(0, path.lastIndexOf('.') + 1);
  return dm.node(obj)?.def.params.get(path.slice(obj.length));
}

/** One ParameterValueStruct (GetParameterValues, Inform): the value typed, a secured one sent empty. */
export function valueStruct(path: string, value: string, def: ParamDef | undefined): string {
  return (
    `<ParameterValueStruct><Name>${esc(path)}</Name><Value ` +
    `xsi:type="${xsdType(def)}">${esc(def?.secured ? '' : value)}</Value></ParameterValueStruct>`
  );
}

/** TR-106 type -> the xsi:type a value is sent with. */
export function xsdType(def: ParamDef | undefined): string {
  switch (def?.type) {
    case 'boolean':
    case 'int':
    case 'unsignedInt':
    case 'long':
    case 'unsignedLong':
    case 'dateTime':
    case 'hexBinary':
    case 'decimal':
      return `xsd:${def.type}`;
    case 'base64':
      return 'xsd:base64Binary';
    default:
      return 'xsd:string';
  }
}
