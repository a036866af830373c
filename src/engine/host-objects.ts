// TR-181 HostObject of InstallDU: a host path bound into the EE for a DU's units, the way application data
// volumes reach a container: bind-mounted on the host under the EE's shared du/ directory, then linked at
// its Destination inside the EE by a process of the container (backend link()). The model has checked
// the path against the EE's allow-list; here it is checked again just before the mount, and the bind is
// made of the object opened then, staged outside du/ with its flags set before it appears there
// (host-bind.ts). Read-only unless the DU was allowed read-write; never devices or set-id programs.
import { closeSync, existsSync, readdirSync, rmdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from '../util/logger.js';
import type { DuStore } from './du-store.js';
import { EngineCode, EngineError } from './errors.js';
import { logError } from './fault-log.js';
import { bindOpened, clearStaging, openExact } from './host-bind.js';
import { isMounted, unmount } from './mounts.js';
import type { DURecord, EERecord } from './types.js';

export class HostObjects {
  constructor(private readonly c: { store: DuStore; log: Logger }) {}

  /** Refuses host objects where the EE has no way to give them (the native EE shares the host's files). */
  check(ee: EERecord, du: Pick<DURecord, 'settings'>): void {
    if (du.settings?.hostObjects?.length && !this.c.store.backendOf(ee).caps.volumeLinks)
      throw new EngineError(
        EngineCode.InvalidArguments,
        `HostObject: ${ee.name} has no file system of its own to bind host paths into (an LXC EE has)`,
      );
  }

  /** Binds a DU's host objects and, where its EE runs, links them at their Destination. */
  async attach(du: DURecord): Promise<void> {
    const ee = this.c.store.requireEE(du.ee, false);
    const b = this.c.store.backendOf(ee);
    const objs = du.settings?.hostObjects ?? [];
    if (!objs.length || !b.caps.volumeLinks) return;
    const running = await b.running(ee);
    for (const [i, h] of objs.entries()) {
      const at = b.volumeDir(ee, idOf(du, i));
      await bind(h.source, at, h.readOnly, this.c.store.records.path('host-staging', idOf(du, i)));
      if (running) await b.link(ee, idOf(du, i), h.destination);
    }
  }

  /** After a device reboot: every DU's binds again (the links are made when the EE starts). */
  async mountAll(): Promise<void> {
    for (const du of this.c.store.dus)
      await this.attach(du).catch((e) => logError(this.c.log, e, { duid: du.duid }, 'a host object was not bound'));
  }

  /** The links of an EE's DUs at their Destination (an EE start or a Reset() took them). */
  async linkAll(ee: EERecord): Promise<void> {
    const b = this.c.store.backendOf(ee);
    if (!b.caps.volumeLinks) return;
    for (const du of this.c.store.dusIn(ee.id))
      for (const [i, h] of (du.settings?.hostObjects ?? []).entries())
        await b
          .link(ee, idOf(du, i), h.destination)
          .catch((e) => logError(this.c.log, e, { duid: du.duid }, 'a host object has no Destination'));
  }

  /** What a crash left of a DU no record has (an install not committed, an uninstall committed): unmounted. */
  async sweep(duid: string): Promise<void> {
    for (const ee of this.c.store.ees) {
      const b = this.c.store.backendOf(ee);
      if (!b.caps.volumeLinks) continue;
      const dir = dirname(b.volumeDir(ee, 'x'));
      const left = existsSync(dir) ? readdirSync(dir).filter((n) => n.startsWith(`host-${duid}-`)) : [];
      for (const n of left) await removeMountPoint(join(dir, n));
    }
    const staging = this.c.store.records.path('host-staging');
    for (const n of existsSync(staging) ? readdirSync(staging) : [])
      if (n.startsWith(`host-${duid}-`)) await clearStaging(join(staging, n));
  }

  /** Takes a DU's host objects away (uninstall, or before an update gives others). */
  async detach(du: DURecord): Promise<void> {
    const ee = this.c.store.ee(du.ee);
    if (!ee) return;
    const b = this.c.store.backendOf(ee);
    if (!b.caps.volumeLinks) return;
    for (const [i, h] of (du.settings?.hostObjects ?? []).entries()) {
      await b.unlink(ee, h.destination).catch(() => undefined);
      await removeMountPoint(b.volumeDir(ee, idOf(du, i)));
    }
  }
}

async function removeMountPoint(at: string): Promise<void> {
  await unmount(at);
  try {
    rmdirSync(at);
  } catch {
    rmSync(at, { force: true }); // a file's mount point
  }
}

const idOf = (du: DURecord, i: number) => `host-${du.duid}-${i + 1}`;

async function bind(source: string, at: string, readOnly: boolean, staging: string): Promise<void> {
  if (isMounted(at)) return;
  let fd: number | undefined;
  try {
    fd = openExact(source);
    await bindOpened(fd, at, { readOnly, staging });
  } catch (e) {
    await unmount(at).catch(() => undefined);
    throw new EngineError(
      EngineCode.InvalidArguments,
      `HostObject ${source} could not be bound into the execution environment`,
      undefined,
      (e as Error).message,
    );
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
