// A DU's data directory, removed as the user who owns it (an uninstall, an update without RetainData,
// a failed install that made it): nothing in it is followed with host privileges.
import type { EngineParts } from './context.js';
import { removeTree } from './ids/as-owner.js';
import type { DURecord } from './types.js';

export async function removeData(p: EngineParts, du: DURecord): Promise<void> {
  if (!(await removeTree(p.store.dataDir(du.uuid, du.ee), p.identity.ownerOf(du))))
    p.log.warn({ duid: du.duid }, "part of the DU's data directory resisted removal");
}
