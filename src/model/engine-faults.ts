// The USP code of each kind of engine failure: the one table the model uses wherever an engine error
// becomes a DmError (Operate results, OperationComplete) or a DUStateChange! Fault.FaultCode,
// whether the engine threw it or reported it as a DU operation's fault.
import { DmError, UspError } from '../dm/errors.js';
import { EngineError, type EngineFaultKind, type TransferFailure } from '../engine/errors.js';

export const USP_CODE_OF: Readonly<Record<EngineFaultKind, number>> = {
  'invalid-arguments': UspError.InvalidArguments,
  'invalid-value': UspError.InvalidValue,
  'command-failure': UspError.CommandFailure,
  canceled: UspError.CommandCanceled,
  'unknown-exec-env': 7223,
  'exec-env-mismatch': 7225,
  'duplicate-du': 7226,
  'resources-exceeded': 7227,
  'invalid-du-state': 7229,
  // USP has no codes of its own for these two (TR-069 has 9032 and 9030): vendor codes, so that an ACS
  // gets its own and a controller can tell them apart.
  'version-exists': 7832,
  'downgrade-refused': 7830,
  // What the agent has always answered for a unit that is stopping.
  'invalid-unit-state': 7230,
  // TR-181 SoftwareModules: file transfer failures.
  'server-unreachable': 7033,
  'server-insecure': 7034,
  'corrupt-data': 7035,
  'bad-signature': 7036,
  internal: UspError.InternalError,
};

export function uspCodeOf(kind: EngineFaultKind): number {
  return USP_CODE_OF[kind];
}

/** An engine failure as the data model's error. */
export function dmErrorOf(f: {
  readonly code: EngineFaultKind;
  readonly message: string;
  readonly transfer?: TransferFailure | undefined;
}): DmError {
  return new DmError(uspCodeOf(f.code), f.message, undefined, f.transfer);
}

/** Throws an engine error as the data model's error; anything else as it is. */
export function rethrow(e: unknown): never {
  if (e instanceof EngineError) throw dmErrorOf(e);
  throw e;
}
