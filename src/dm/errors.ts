// Errors carry the standard code of the layer that raised them. The data model speaks USP codes
// (7xxx); CWMP code (9xxx) comes from the one table below, so both protocols agree on every failure.

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

/** USP code -> CWMP fault code (TR-069 Table 61), for the faults the CWMP client returns. */
const CWMP_OF: Record<number, number> = {
  7000: 9002,
  7001: 9000,
  7002: 9001,
  7003: 9002,
  7004: 9003,
  7005: 9004,
  7006: 9001,
  7007: 9003,
  7008: 9005,
  7009: 9002,
  7010: 9005,
  7011: 9006,
  7012: 9007,
  7013: 9008,
  7014: 9007,
  7015: 9002,
  7016: 9005,
  7017: 9004,
  7018: 9005,
  7019: 9005,
  7020: 9002,
  7021: 9003,
  7022: 9002,
  7023: 9002,
  7024: 9001,
  7025: 9007,
  7026: 9005,
  7027: 9003,
};

export function cwmpFaultOf(usp: number): number {
  if (usp >= 9000 && usp < 10000) return usp; // already a CWMP fault (e.g. ChangeDUState 9022-9032)
  return CWMP_OF[usp] ?? 9002;
}

export class DmError extends Error {
  readonly code: number;
  readonly path: string | undefined;
  /** A CWMP-specific fault when it differs from the table (e.g. 9009 for notification on a forced parameter). */
  readonly cwmpOverride: number | undefined;

  constructor(code: number, message: string, path?: string, cwmp?: number) {
    super(message);
    this.name = 'DmError';
    this.code = code;
    this.path = path;
    this.cwmpOverride = cwmp;
  }

  get cwmp(): number {
    return this.cwmpOverride ?? cwmpFaultOf(this.code);
  }
}

/** Anything thrown below the API becomes a DmError, so callers never see raw exceptions. */
export function asDmError(e: unknown, path?: string): DmError {
  if (e instanceof DmError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new DmError(UspError.InternalError, msg, path);
}
