// How the engine logs a failure: its message at the level asked, its detail (host paths, a tool's
// output) at debug only, so that controllers' and ACSes' logs never hold what only the device should.
import type { Logger } from '../util/logger.js';
import { EngineError } from './errors.js';

export function logError(log: Logger, e: unknown, fields: Record<string, unknown>, msg: string): void {
  log.error({ ...fields, err: e }, msg);
  logDetail(log, e, fields);
}

export function logDetail(log: Logger, e: unknown, fields: Record<string, unknown> = {}): void {
  if (e instanceof EngineError && e.detail)
    log.debug({ ...fields, code: e.code, detail: e.detail }, `the detail of: ${e.message}`);
}
