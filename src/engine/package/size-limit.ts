// How much a package may unpack to, and what passing that is: past the engine's own cap (a guard against
// unpack bombs) the package is refused as bad; past the EE's disk allowance it is simply too big for where
// it goes, "System Resources Exceeded" (TR-069 9027) rather than "file corrupted" (9018).
import { EngineCode, EngineError } from '../errors.js';

export interface SizeLimits {
  maxBytes: number;
  maxEntries: number;
  /** maxBytes is the EE's disk allowance (smaller than the engine's cap). */
  byAllowance?: boolean;
}

export function overSize(limits: SizeLimits, detail?: string): never {
  if (limits.byAllowance)
    throw new EngineError(
      EngineCode.ResourcesExceeded,
      `the package unpacks to more than the execution environment's ${limits.maxBytes} bytes of disk`,
      undefined,
      detail,
    );
  throw new EngineError(
    EngineCode.CorruptData,
    `package refused: unpacks to more than ${limits.maxBytes} bytes`,
    undefined,
    detail,
  );
}
