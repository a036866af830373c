// Events of the data model ("Device.Boot!", "...DUStateChange!"): published on the change feed for
// USP Notify and CWMP Inform, once the event is known to exist.
import type { Caller } from './caller.js';
import type { EventDetail } from './change-feed.js';
import { DmError, UspError } from './errors.js';
import type { ModelCore } from './model-core.js';
import { parsePath } from './path.js';

/** Publishes an event ("Device.Boot!") after checking it exists, with its arguments (and in-process detail). */
export function emit(
  core: ModelCore,
  path: string,
  args: Readonly<Record<string, string>>,
  caller: Caller,
  detail?: EventDetail,
): void {
  const parsed = parsePath(path);
  if (parsed.leaf.kind !== 'event') throw new DmError(UspError.InvalidPath, `'${path}' is not an event path`, path);
  const { targets } = core.resolver.resolve(parsed, 'all');
  if (!targets.length) throw new DmError(UspError.InvalidPath, `${path} does not exist`, path);
  core.feed.publish([{ kind: 'event', path, args, cause: caller, ...(detail ? { detail } : {}) }]);
}
