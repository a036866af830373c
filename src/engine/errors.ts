// Engine failures carry the TR-181 / USP code that describes them (7223 unknown EE, 7226 duplicate
// DU, 7227 resources exceeded, 7229 invalid DU state, 7033 server unreachable, 7034 server insecure,
// 7035 corrupt data ...);
// the model passes them to DUStateChange! and Operate results unchanged.
import type { TransferFailure } from '../util/download.js';

export const EngineCode = {
  InvalidArguments: 7004,
  InvalidValue: 7012,
  CommandFailure: 7022,
  UnknownExecEnv: 7223,
  ExecEnvMismatch: 7225,
  DuplicateDU: 7226,
  ResourcesExceeded: 7227,
  InvalidDUState: 7229,
  ServerUnreachable: 7033,
  /** TR-181: the server "fails security checks (e.g. by not presenting a valid certificate)". */
  ServerInsecure: 7034,
  CorruptData: 7035,
  InternalError: 7003,
} as const;

/** What went wrong in a file transfer beyond USP's codes for it (util/download tells them apart for CWMP). */
export type { TransferFailure };

/**
 * The longest message an engine error carries. Messages become faults that controllers, ACSes and
 * their logs keep (FaultString, DUStateChange! Fault.FaultString, err_msg): short, and in our words.
 */
export const MAX_MESSAGE = 256;

export class EngineError extends Error {
  /**
   * What only the debug log hears: host paths, a tool's command line and output, an entry's name.
   * Not enumerable, so that an error logged whole (pino's `err`) at any other level leaves it out.
   */
  declare readonly detail: string | undefined;

  constructor(
    readonly code: number,
    message: string,
    readonly transfer?: TransferFailure,
    detail?: string,
  ) {
    super(message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE - 3)}...` : message);
    this.name = 'EngineError';
    Object.defineProperty(this, 'detail', { value: detail, enumerable: false });
  }
}
