// Who a DU's services run as and who owns what they write: a check of the users a manifest names,
// a native DU's own host user, the host ids of a unit's process, its data directory's owner.
import { dirname } from 'node:path';
import type { Backend } from './backends/backend.js';
import { HOST_PASSWD } from './backends/native/launcher.js';
import { EngineCode, EngineError } from './errors.js';
import { type Owner, ownDir } from './ids/as-owner.js';
import { hostId, makePassable } from './ids/ownership.js';
import { allocateUser, type IdPool } from './ids/pool.js';
import { lookupUser, type UserIds } from './ids/users.js';
import type { Manifest } from './package/manifest.js';
import { duUuid } from './package/uuid.js';
import type { DURecord, EERecord, EURecord } from './types.js';

const NOBODY: UserIds = { uid: 65534, gid: 65534 };

/** What the identity helpers read of the engine. */
export interface IdentityContext {
  ees(): readonly EERecord[];
  dus(): readonly DURecord[];
  backendOf(ee: EERecord | undefined): Backend;
  pool(): IdPool;
  dataDir(uuid: string, eeId: string): string;
}

export class Identities {
  constructor(private readonly c: IdentityContext) {}

  /**
   * The host user a native DU's services run as unless one names its own, and a check of every
   * user the manifest names: it must exist (in the host's or the EE's passwd), and root on the
   * host only for a privileged DU. Returns the DU's own user (native EE only).
   */
  checkUsers(ee: EERecord, manifest: Manifest, privileged: boolean): UserIds | undefined {
    for (const s of manifest.services) {
      if (s.user === undefined) continue;
      if (!this.c.backendOf(ee).caps.hostUsers) {
        this.c.backendOf(ee).userIn(ee, s.user);
        continue;
      }
      const u = lookupUser(HOST_PASSWD, s.user);
      if (!u)
        throw new EngineError(
          EngineCode.InvalidArguments,
          `service ${s.name} asks for user '${s.user}', who does not exist on this device`,
        );
      if ((u.uid === 0 || u.gid === 0) && !privileged)
        throw new EngineError(
          EngineCode.InvalidArguments,
          `service ${s.name} asks to run as root, which only a privileged deployment unit may, where its EE's ` +
            `policy allows it`,
        );
    }
    if (!this.c.backendOf(ee).caps.hostUsers) return undefined;
    const taken = this.c.dus().flatMap((d) => (d.user ? [d.user.uid] : []));
    const existing = this.c
      .dus()
      .find((d) => d.ee === ee.id && d.uuid === duUuid(manifest.name, manifest.vendor))?.user;
    const uid = existing?.uid ?? allocateUser(this.c.pool(), taken);
    return { uid, gid: uid };
  }

  /**
   * A DU's data directory: private to the user its services run as (the first service's). Its
   * parent is the agent's; the entry itself may have been planted by the EE (a link to a host
   * directory): it is taken only if it is a real directory.
   */
  makeDataDir(du: DURecord): void {
    const dir = this.c.dataDir(du.uuid, du.ee);
    try {
      ownDir(dir, this.hostUserOf(du, du.eus[0]), 0o700);
    } catch {
      throw new EngineError(
        EngineCode.CommandFailure,
        `the data directory of ${du.manifest.name} in its execution environment is not a directory; remove what ` +
          `is there`,
      );
    }
    if (!this.c.ees().find((e) => e.id === du.ee)?.ids) {
      makePassable(dirname(dir));
      makePassable(dirname(du.root));
    }
  }

  /** Who may write a DU's data and volumes: its EE's id range, or a native DU's own user. */
  ownerOf(du: DURecord): Owner {
    const ids = this.c.ees().find((e) => e.id === du.ee)?.ids;
    return ids ? { range: ids } : { user: du.user ?? { uid: 0, gid: 0 } };
  }

  /** The host ids a unit's process runs with. */
  hostUserOf(du: DURecord, eu: EURecord | undefined): UserIds {
    const ee = this.c.ees().find((e) => e.id === du.ee);
    const name = eu?.service.user;
    if (ee?.ids) {
      const inside = name === undefined ? { uid: 0, gid: 0 } : this.c.backendOf(ee).userIn(ee, name, du);
      return { uid: hostId(ee.ids, inside.uid), gid: hostId(ee.ids, inside.gid) };
    }
    if (name !== undefined) return lookupUser(HOST_PASSWD, name) ?? du.user ?? NOBODY;
    return du.user ?? { uid: 0, gid: 0 };
  }
}
