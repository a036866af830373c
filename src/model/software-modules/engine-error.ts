// Where an engine failure becomes the data model's: a DmError with the engine's code.
import { DmError } from '../../dm/errors.js';
import { EngineError } from '../../engine/errors.js';

export function rethrow(e: unknown): never {
  if (e instanceof EngineError) throw new DmError(e.code, e.message);
  throw e;
}
