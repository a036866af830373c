// The USP Error message body for a failed request, from a data model error.

import { DmRequestError } from '../../dm/datamodel.js';
import { DmError } from '../../dm/errors.js';
import type { UspErrorBody } from '../context.js';

export function errorResult(e: unknown, path?: string): { error: UspErrorBody } {
  const err = e instanceof DmError ? e : new DmError(7003, (e as Error)?.message ?? String(e));
  const failures =
    err instanceof DmRequestError
      ? err.failures
      : [{ path: err.path ?? path ?? '', code: err.code, message: err.message }];
  return {
    error: {
      err_code: err.code,
      err_msg: err.message,
      param_errs: failures
        .filter((f) => f.path)
        .map((f) => ({ param_path: f.path, err_code: f.code, err_msg: f.message })),
    },
  };
}

export const denied = (path: string, what: string) => new DmError(7006, `permission denied: ${what} ${path}`, path);
