// Where an engine failure becomes the data model's: a DmError with the engine's code, whether the
// engine threw it or reported it as a DU operation's fault.
import { DmError } from '../../dm/errors.js';
import type { DuResult } from '../../engine/engine.js';
import { EngineError } from '../../engine/errors.js';

export function rethrow(e: unknown): never {
  if (e instanceof EngineError) throw new DmError(e.code, e.message);
  throw e;
}

type Fault = NonNullable<DuResult['fault']>;

/** The USP code of a DU operation's fault (DUStateChange! Fault.FaultCode, an orphan's OperationComplete). */
export function faultCode(f: Fault): number {
  return f.code;
}

/** The error an InstallDU(), Update() or Uninstall() fails with when the engine reports a fault. */
export function faultError(f: Fault): DmError {
  return new DmError(faultCode(f), f.message);
}
