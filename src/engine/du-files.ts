// A DU's files and an operation's faults, as the DU operations need them: a root removed (unmounted
// first when it is a mounted image), an error as the fault a result reports.
import { rmSync } from 'node:fs';
import { EngineCode, EngineError } from './errors.js';
import { unmount } from './mounts.js';
import type { DuResult } from './types.js';

/** Removes a DU's root, unmounting it first when it is a mounted image, and the image itself. */
export async function removeRoot(root: string): Promise<void> {
  await unmount(root);
  rmSync(root, { recursive: true, force: true });
  rmSync(`${root}.sqfs`, { force: true });
}

export function faultOf(err: EngineError): NonNullable<DuResult['fault']> {
  return { code: err.code, message: err.message, ...(err.transfer ? { transfer: err.transfer } : {}) };
}

/** Any other error as a fault: its kind (an errno code) in the message; its text, which names host paths, as detail. */
export function asEngineError(e: unknown): EngineError {
  if (e instanceof EngineError) return e;
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  const kind = typeof code === 'string' && /^[A-Z0-9_]{1,40}$/.test(code) ? ` (${code})` : '';
  return new EngineError(EngineCode.InternalError, `internal error${kind}`, undefined, (e as Error | undefined)?.message ?? String(e));
}
