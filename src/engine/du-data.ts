// A DU's data directory and its own disk: put on the disk its record allows, and removed as the user who owns
// it (an uninstall, an update without RetainData, a failed install that made it): nothing in it is followed
// with host privileges.

import { existsSync } from 'node:fs';
import type { EngineParts } from './context.js';
import { allowanceOf } from './du-disk.js';
import { emptyTree, removeTree } from './ids/as-owner.js';
import type { DURecord, EERecord } from './types.js';

export async function removeData(p: EngineParts, du: DURecord): Promise<void> {
  const dir = p.store.dataDir(du.uuid, du.ee);
  // A data directory of its own disk: emptied as its owner, then the image unmounted and deleted.
  if (existsSync(p.disks.image(du.ee, du.uuid))) {
    await emptyTree(dir, p.identity.ownerOf(du));
    await p.disks.remove(du);
  }
  if (!(await removeTree(dir, p.identity.ownerOf(du))))
    p.log.warn({ duid: du.duid }, "part of the DU's data directory resisted removal");
}

/** The DU's data on the disk its record allows (install, update), where its EE lets such a disk reach its units. */
export async function applyDisk(p: EngineParts, ee: EERecord, du: DURecord): Promise<void> {
  if (allowanceOf(du)) await p.store.backendOf(ee).admitDataDisk?.(ee);
  await p.disks.apply(du);
}
