// What the engine holds in memory of its records: execution environments, deployment units and their
// units, application data volumes; the backend each EE belongs to; and the host places of its DUs.
// Lists are replaced, never changed in place, so that a list handed out stays as it was.
import type { Backend } from './backends/backend.js';
import type { Backends } from './backends/registry.js';
import { EngineCode, EngineError } from './errors.js';
import type { EngineRecords } from './records.js';
import type { BackendKind, DURecord, EERecord, EURecord } from './types.js';
import type { VolumeRecord } from './volumes.js';

export class DuStore {
  ees: EERecord[] = [];
  private dus_: DURecord[] = [];
  vols: VolumeRecord[] = [];
  /** Which backends work on this machine, found at start (before: the host's). */
  available: BackendKind[];

  constructor(
    readonly records: EngineRecords,
    readonly backends: Backends,
  ) {
    this.available = [backends.host.kind];
  }

  get dus(): readonly DURecord[] {
    return this.dus_;
  }

  /** Loads the DU records (at start). */
  loadDUs(): void {
    this.dus_ = this.records.loadDUs();
  }

  /** The DU list becomes `next`: on disk first (the commit point of an operation), then in memory. */
  commitDUs(next: DURecord[]): void {
    this.records.saveDUs(next);
    this.dus_ = next;
  }

  /** Records a change made to a DU's units in place (requested state, AutoStart ...). */
  saveDUs(): void {
    this.records.saveDUs(this.dus_);
  }

  saveEEs(): void {
    this.records.saveEEs(this.ees);
  }

  saveVolumes(): void {
    this.records.saveVolumes(this.vols);
  }

  /** The backend of an EE (by the kind its record keeps); the host's for a place that has none. */
  backendOf(ee: EERecord | undefined): Backend {
    return ee ? this.backends.byKind[ee.backend] : this.backends.host;
  }

  /** The backends that work here. */
  availableBackends(): Backend[] {
    return this.available.map((k) => this.backends.byKind[k]);
  }

  ee(id: string): EERecord | undefined {
    return this.ees.find((e) => e.id === id);
  }

  requireEE(id: string, mustBeEnabled = true): EERecord {
    const ee = this.ee(id);
    if (!ee) throw new EngineError(EngineCode.UnknownExecEnv, `execution environment '${id}' does not exist`);
    if (mustBeEnabled && !ee.enabled)
      throw new EngineError(EngineCode.InvalidValue, `execution environment ${ee.name} is disabled`);
    return ee;
  }

  du(duid: string): DURecord | undefined {
    return this.dus_.find((d) => d.duid === duid);
  }

  dusIn(eeId: string): DURecord[] {
    return this.dus_.filter((d) => d.ee === eeId);
  }

  /** Every unit of the DUs in an EE. */
  unitsIn(eeId: string): EURecord[] {
    return this.dusIn(eeId).flatMap((d) => d.eus);
  }

  unitOf(euid: string): { du: DURecord; eu: EURecord } | undefined {
    for (const du of this.dus_) {
      const eu = du.eus.find((e) => e.euid === euid);
      if (eu) return { du, eu };
    }
    return undefined;
  }

  volumesOf(du: DURecord): VolumeRecord[] {
    return this.vols.filter((v) => v.ee === du.ee && v.appUuid === du.uuid);
  }

  eeOfVolume(v: VolumeRecord): EERecord | undefined {
    return this.ee(v.ee);
  }

  /** A DU's data directory on the host (for LXC EEs inside the EE's disk image, within its allowance). */
  dataDir(uuid: string, eeId: string): string {
    const ee = this.ee(eeId);
    return this.backendOf(ee).dataDir(ee ?? { id: eeId }, uuid);
  }

  /**
   * Where an operation stages its files: on the same mount as the DU's final place, so that the
   * commit is a rename (an LXC EE's du/ is a mount of its own).
   */
  stagingDir(eeId: string, id: string): string {
    const ee = this.ee(eeId);
    return this.backendOf(ee).stagingDir(ee ?? { id: eeId }, id);
  }

  duRoot(ee: EERecord, duid: string): string {
    return this.backendOf(ee).duRoot(ee, duid);
  }

  volumeDir(v: VolumeRecord): string {
    const ee = this.eeOfVolume(v);
    return this.backendOf(ee).volumeDir(ee ?? { id: v.ee }, v.id);
  }
}
