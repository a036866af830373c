// Application data volumes as DU operations use them: checked, created for an application (journalled
// first, so recovery can take them back), linked at their AccessPath, emptied once their application
// stops (Retain=UntilStopped), dropped. The images themselves are volumes.ts's.
import { randomBytes } from 'node:crypto';
import type { Logger } from '../util/logger.js';
import type { DuStore } from './du-store.js';
import { EngineCode, EngineError } from './errors.js';
import { logError } from './fault-log.js';
import type { Identities } from './identity.js';
import { emptyTree } from './ids/as-owner.js';
import type { Supervisor } from './supervisor.js';
import type { DURecord, EERecord, OpRecord } from './types.js';
import { checkVolumeSpec, VolumeImages, type VolumeRecord, type VolumeSpec } from './volumes.js';

export interface AppVolumesContext {
  readonly store: DuStore;
  readonly images: VolumeImages;
  readonly identity: Identities;
  readonly supervisor: Supervisor;
  readonly log: Logger;
  /** Volumes were created or removed. */
  readonly changed: () => void;
}

export class AppVolumes {
  /** Volumes being emptied after their application stopped. */
  private readonly wipes = new Set<Promise<void>>();

  constructor(private readonly c: AppVolumesContext) {}

  /** After a device reboot: every volume mounted again. */
  async mountAll(): Promise<void> {
    for (const v of this.c.store.vols)
      await this.c.images
        .mount(v, this.c.store.volumeDir(v))
        .catch((e) => logError(this.c.log, e, { volume: v.name }, 'application data volume could not be mounted'));
  }

  /** Where the EE's services reach a volume (its AccessPath in a container, the mount point natively). */
  path(v: VolumeRecord): string {
    const { store } = this.c;
    return store.backendOf(store.eeOfVolume(v)).caps.volumeLinks ? v.accessPath : store.volumeDir(v);
  }

  usedMiB(v: VolumeRecord): number {
    return VolumeImages.usedMiB(this.c.store.volumeDir(v));
  }

  /** Checks what an application asks for: each spec valid, no name twice. */
  specs(specs: readonly VolumeSpec[]): VolumeSpec[] {
    const names = new Set<string>();
    for (const s of specs) {
      checkVolumeSpec(s);
      if (names.has(s.name))
        throw new EngineError(EngineCode.InvalidArguments, `two application data volumes are named ${s.name}`);
      names.add(s.name);
    }
    return specs.map(({ name, capacityMiB, retain, accessPath }) => ({ name, capacityMiB, retain, accessPath }));
  }

  /** Bytes the volumes an application asks for need beyond the ones it has (kept from earlier). */
  newBytes(ee: EERecord, uuid: string, specs: readonly VolumeSpec[]): number {
    return this.missing(ee, uuid, specs).reduce((s, v) => s + v.capacityMiB, 0) * 1024 ** 2;
  }

  private missing(ee: EERecord, uuid: string, specs: readonly VolumeSpec[]): VolumeSpec[] {
    return specs.filter(
      (s) => !this.c.store.vols.some((v) => v.ee === ee.id && v.appUuid === uuid && v.name === s.name),
    );
  }

  /** Creates the volumes that do not exist yet; journalled first, so that recovery can take them back. */
  async create(ee: EERecord, uuid: string, specs: readonly VolumeSpec[], op: OpRecord): Promise<VolumeRecord[]> {
    const { store } = this.c;
    const fresh = this.missing(ee, uuid, specs).map((s) => ({
      ...s,
      id: randomBytes(6).toString('hex'),
      ee: ee.id,
      appUuid: uuid,
    }));
    if (!fresh.length) return [];
    store.records.saveOp({ ...op, volumes: fresh.map((v) => v.id) });
    store.vols = [...store.vols, ...fresh];
    try {
      for (const v of fresh) {
        await this.c.images.create(v);
        await this.c.images.mount(v, store.volumeDir(v));
        const b = store.backendOf(ee);
        if (b.caps.volumeLinks && (await b.running(ee))) await b.link(ee, v.id, v.accessPath);
      }
    } catch (e) {
      await this.drop(fresh);
      throw e;
    }
    store.saveVolumes();
    this.c.changed();
    return fresh;
  }

  async drop(list: readonly VolumeRecord[]): Promise<void> {
    if (!list.length) return;
    const { store } = this.c;
    for (const v of list) {
      const ee = store.eeOfVolume(v);
      if (ee && store.backendOf(ee).caps.volumeLinks)
        await store
          .backendOf(ee)
          .unlink(ee, v.accessPath)
          .catch((e) => this.c.log.warn({ err: e }, 'volume link not removed'));
      await this.c.images.destroy(v, store.volumeDir(v));
    }
    const ids = new Set(list.map((v) => v.id));
    store.vols = store.vols.filter((v) => !ids.has(v.id));
    store.saveVolumes();
    this.c.changed();
  }

  /** ApplicationData.Remove(): refused while the application that owns it is installed. */
  async remove(id: string): Promise<void> {
    const { store } = this.c;
    const v = store.vols.find((x) => x.id === id);
    if (!v) throw new EngineError(EngineCode.InvalidValue, `application data volume ${id} does not exist`);
    const owner = store.dus.find((d) => d.ee === v.ee && d.uuid === v.appUuid);
    if (owner)
      throw new EngineError(
        EngineCode.InvalidDUState,
        `volume ${v.name} belongs to ${owner.manifest.name}, which is installed; uninstall it first`,
      );
    await this.drop([v]);
  }

  /** Empties a volume, as the application that owns it (nothing in it is followed with host privileges). */
  wipe(v: VolumeRecord, du: DURecord): Promise<void> {
    return emptyTree(this.c.store.volumeDir(v), this.c.identity.ownerOf(du));
  }

  /** Retain=UntilStopped: once none of the application's units runs, its volume starts empty again. */
  wipeIfStopped(euid: string): void {
    const found = this.c.store.unitOf(euid);
    if (!found || found.du.eus.some((e) => this.c.supervisor.isRunning(e.euid))) return;
    for (const v of this.c.store.volumesOf(found.du)) {
      if (v.retain !== 'UntilStopped') continue;
      const wiping = this.wipe(v, found.du).catch((e: unknown) =>
        logError(this.c.log, e, { volume: v.name }, 'volume could not be emptied'),
      );
      this.wipes.add(wiping);
      void wiping.finally(() => this.wipes.delete(wiping));
    }
  }

  /** Settles once the volumes being emptied are empty. */
  async wiped(): Promise<void> {
    await Promise.all(this.wipes);
  }
}
