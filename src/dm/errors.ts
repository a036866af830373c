// Errors carry the standard code of the layer that raised them. The data model speaks USP codes
// (7xxx); CWMP maps them to its 9xxx in a table of its own (src/cwmp/faults.ts).
import type { TransferFailure } from '../util/download.js';

export const UspError = {
  MessageFailed: 7000,
  MessageNotSupported: 7001,
  RequestDenied: 7002,
  InternalError: 7003,
  InvalidArguments: 7004,
  ResourcesExceeded: 7005,
  PermissionDenied: 7006,
  InvalidConfiguration: 7007,
  InvalidPathSyntax: 7008,
  ParameterActionFailed: 7009,
  UnsupportedParameter: 7010,
  InvalidType: 7011,
  InvalidValue: 7012,
  NotWritable: 7013,
  ValueConflict: 7014,
  OperationError: 7015,
  ObjectDoesNotExist: 7016,
  ObjectNotCreated: 7017,
  NotATable: 7018,
  NotCreatable: 7019,
  ObjectNotUpdated: 7020,
  RequiredParameterFailed: 7021,
  CommandFailure: 7022,
  CommandCanceled: 7023,
  DeleteFailure: 7024,
  DuplicateKey: 7025,
  InvalidPath: 7026,
  InvalidCommandArguments: 7027,
} as const;
export type UspErrorCode = (typeof UspError)[keyof typeof UspError] | number;

export class DmError extends Error {
  readonly code: number;
  readonly path: string | undefined;
  /**
   * A failed file transfer's kind, which USP's codes do not tell apart and CWMP's do (9012..9017).
   * In-process only: no USP message carries it.
   */
  readonly transfer: TransferFailure | undefined;

  constructor(code: number, message: string, path?: string, transfer?: TransferFailure) {
    super(message);
    this.name = 'DmError';
    this.code = code;
    this.path = path;
    this.transfer = transfer;
  }
}

/** Anything thrown below the API becomes a DmError, so callers never see raw exceptions. */
export function asDmError(e: unknown, path?: string): DmError {
  if (e instanceof DmError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new DmError(UspError.InternalError, msg, path);
}
