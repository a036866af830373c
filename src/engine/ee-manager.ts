// Execution environments: AddExecEnv() (admission of its memory), Remove(), Reset(), Enable,
// RequestedRunLevel, Restart(), ModifyConstraints(), the operator's policy, and starting an EE with
// its units (autostart by run level). What an EE's backend can do is asked of its capabilities.
import { randomBytes } from 'node:crypto';
import { dateTime as iso, UNKNOWN_TIME as UNKNOWN } from '../util/time.js';
import { allocatedMemoryKiB, deviceMemoryKiB } from './admission.js';
import type { EngineParts } from './context.js';
import { EngineCode, EngineError } from './errors.js';
import { logDetail, logError } from './fault-log.js';
import { allocateRange, DEFAULT_POOL } from './ids/pool.js';
import type { DuResult, EERecord } from './types.js';

export interface NewEE {
  name: string;
  enabled: boolean;
  memoryKiB: number;
  cpuPercent: number;
  diskKiB: number;
  initialRunLevel?: number;
  allowPrivileged?: boolean;
  /** Its units share the host's network (in force only with allowPrivileged). */
  hostNetwork?: boolean;
  /** The ExecEnvClass (its Name) the EE is of; absent: the first available one that makes EEs. */
  execEnvClass?: string;
}

export interface Constraints {
  diskKiB?: number | undefined;
  memoryKiB?: number | undefined;
  cpuPercent?: number | undefined;
  force: boolean;
}

export class EEManager {
  /** uninstall: the engine's own (in order, in the queue), for Remove() with Force. */
  constructor(
    private readonly p: EngineParts,
    private readonly uninstall: (duid: string, requestTag: string) => Promise<DuResult>,
  ) {}

  /** Starts an EE (its container), then gives its volumes their AccessPath (a Reset() took the links). */
  async startEE(ee: EERecord): Promise<void> {
    const b = this.p.store.backendOf(ee);
    // Callers outside the queue (Enable, Restart, Reset) pass the error on: its detail is logged here.
    await b.start(ee).catch((e: unknown) => {
      logDetail(this.p.log, e, { ee: ee.name });
      throw e;
    });
    if (!b.caps.volumeLinks) return;
    for (const v of this.p.store.vols.filter((x) => x.ee === ee.id)) {
      await b
        .link(ee, v.id, v.accessPath)
        .catch((e) =>
          logError(this.p.log, e, { volume: v.name, ee: ee.name }, 'application data volume has no AccessPath'),
        );
    }
    await this.p.hostObjects.linkAll(ee);
  }

  /** Starts the units that should run at the EE's current run level. */
  autostart(ee: EERecord): void {
    for (const eu of this.p.store.unitsIn(ee.id)) {
      if (this.p.supervisor.isRunning(eu.euid)) continue;
      if (eu.requested === 'Active' && (eu.autoStart ? eu.runLevel <= ee.currentRunLevel : true))
        this.p.supervisor.start(eu.euid, eu.autoStart);
    }
  }

  private async stopUnits(eeId: string): Promise<void> {
    for (const eu of this.p.store.unitsIn(eeId)) await this.p.supervisor.stop(eu.euid, this.p.grace);
  }

  private changed(ee: EERecord): void {
    this.p.store.saveEEs();
    this.p.events.emit('ee', ee);
  }

  async setEnabled(eeId: string, enabled: boolean): Promise<void> {
    const ee = this.p.store.requireEE(eeId, false);
    if (ee.enabled === enabled) return;
    ee.enabled = enabled;
    this.changed(ee);
    if (!enabled) {
      await this.stopUnits(eeId);
      await this.p.store.backendOf(ee).stop(ee);
    } else {
      await this.startEE(ee);
      this.autostart(ee);
    }
  }

  async setRunLevel(eeId: string, level: number): Promise<void> {
    const ee = this.p.store.requireEE(eeId, false);
    ee.currentRunLevel = level;
    this.changed(ee);
    for (const eu of this.p.store.unitsIn(eeId)) {
      if (eu.runLevel > level) await this.p.supervisor.stop(eu.euid, this.p.grace);
      else if (eu.autoStart && ee.enabled) this.p.supervisor.start(eu.euid, true);
    }
  }

  async restartEE(eeId: string, reason: string): Promise<void> {
    const ee = this.p.store.requireEE(eeId, false);
    await this.stopUnits(eeId);
    await this.p.store.backendOf(ee).stop(ee);
    if (ee.enabled) await this.startEE(ee);
    // Launched afresh: what the EE's policy decides at a start (its units' network) holds from now on.
    for (const du of this.p.store.dus.filter((d) => d.ee === ee.id)) for (const eu of du.eus) this.p.relaunch(du, eu);
    ee.restartCount++;
    ee.lastRestarted = iso();
    ee.restartReason = reason;
    ee.currentRunLevel = ee.initialRunLevel;
    this.changed(ee);
    if (ee.enabled) this.autostart(ee);
  }

  /**
   * AddExecEnv(): a new EE of the first available backend that makes them, with its limits. Admission
   * control refuses an EE whose memory would overcommit the device with the EEs already there.
   */
  createEE(req: NewEE): Promise<EERecord> {
    const { store } = this.p;
    return this.p.queue.serial(async () => {
      const b = store
        .availableBackends()
        .find((x) => x.caps.addable && (req.execEnvClass === undefined || x.execEnvClass.name === req.execEnvClass));
      if (!b)
        throw new EngineError(
          EngineCode.InvalidValue,
          `no container backend (${req.execEnvClass ?? 'LXC'}) is available on this device`,
        );
      if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/.test(req.name))
        throw new EngineError(EngineCode.InvalidValue, 'the EE name is not valid (letters, digits, . _ -, at most 32)');
      if (store.ees.some((e) => e.name === req.name))
        throw new EngineError(EngineCode.InvalidValue, `an execution environment named ${req.name} exists`);
      const committed = allocatedMemoryKiB(store.ees);
      if (req.memoryKiB > 0 && committed + req.memoryKiB > deviceMemoryKiB()) {
        throw new EngineError(
          EngineCode.ResourcesExceeded,
          `${req.memoryKiB} KiB more would overcommit the device's ${Math.floor(deviceMemoryKiB())} KiB ` +
            `(${committed} KiB allocated already)`,
        );
      }
      const id = `${b.kind}-${randomBytes(4).toString('hex')}`;
      const ids = allocateRange(
        this.p.opts.idPool ?? DEFAULT_POOL,
        store.ees.flatMap((e) => (e.ids ? [e.ids] : [])),
      );
      const container = b.containerOf(id);
      const ee: EERecord = {
        id,
        name: req.name,
        backend: b.kind,
        ...(container ? { container } : {}),
        enabled: req.enabled,
        initialRunLevel: req.initialRunLevel ?? 0,
        currentRunLevel: req.initialRunLevel ?? 0,
        allocatedDiskKiB: req.diskKiB,
        allocatedMemoryKiB: req.memoryKiB,
        allocatedCpuPercent: req.cpuPercent,
        createdAt: iso(),
        restartCount: 0,
        lastRestarted: UNKNOWN,
        restartReason: '',
        ids,
        allowPrivileged: req.allowPrivileged === true,
        ...(req.hostNetwork ? { hostNetwork: true } : {}),
      };
      await b.create(ee);
      store.ees = [...store.ees, ee];
      store.saveEEs();
      if (ee.enabled) await this.startEE(ee);
      this.p.events.emit('ee', ee);
      return ee;
    });
  }

  /** Remove(): refused while DUs are installed unless forced, which uninstalls them first. */
  async removeEE(eeId: string, force: boolean): Promise<void> {
    const { store } = this.p;
    const ee = store.requireEE(eeId, false);
    const b = store.backendOf(ee);
    if (!b.caps.addable)
      throw new EngineError(EngineCode.InvalidValue, `the ${ee.name} execution environment can not be removed`);
    const dus = store.dusIn(eeId);
    if (dus.length && !force)
      throw new EngineError(
        EngineCode.InvalidDUState,
        `${ee.name} still has ${dus.length} deployment unit(s); use Force`,
      );
    for (const du of dus) await this.uninstall(du.duid, 'ee-remove');
    await this.p.queue.serial(async () => {
      await this.p.volumes.drop(store.vols.filter((v) => v.ee === eeId));
      await this.p.disks.dropEE(eeId, (uuid) => store.dataDir(uuid, eeId));
      await b.destroy(ee);
      store.ees = store.ees.filter((e) => e.id !== eeId);
      store.saveEEs();
    });
  }

  /** Reset(): the EE's writable layer is wiped; installed DUs stay and their services start again. */
  async resetEE(eeId: string): Promise<void> {
    const ee = this.p.store.requireEE(eeId, false);
    const b = this.p.store.backendOf(ee);
    if (!b.caps.writableLayer)
      throw new EngineError(
        EngineCode.InvalidValue,
        `the ${ee.name} execution environment has no writable layer to reset`,
      );
    await this.stopUnits(eeId);
    await b.reset(ee);
    if (ee.enabled) await this.startEE(ee);
    ee.currentRunLevel = ee.initialRunLevel;
    this.changed(ee);
    if (ee.enabled) this.autostart(ee);
  }

  /**
   * ModifyConstraints(): only the constraints given change. Memory and CPU apply at once through
   * cgroups; growing the disk grows the EE's image (its services restart around it); shrinking it,
   * or memory below what is in use, is refused unless forced.
   */
  async modifyConstraints(eeId: string, c: Constraints): Promise<void> {
    const { store, supervisor } = this.p;
    const ee = store.requireEE(eeId, false);
    const b = store.backendOf(ee);
    if (!b.caps.constraints)
      throw new EngineError(
        EngineCode.InvalidValue,
        `the ${ee.name} execution environment has no constraints to modify`,
      );
    await this.p.queue.serial(async () => {
      if (c.memoryKiB !== undefined && c.memoryKiB > 0 && !c.force) {
        const used = await b.memoryKiB(ee);
        if (used > c.memoryKiB)
          throw new EngineError(
            EngineCode.CommandFailure,
            `${ee.name} uses ${used} KiB of memory, more than ${c.memoryKiB}; use Force`,
          );
      }
      if (c.memoryKiB !== undefined && c.memoryKiB > 0) {
        if (allocatedMemoryKiB(store.ees, ee) + c.memoryKiB > deviceMemoryKiB())
          throw new EngineError(
            EngineCode.ResourcesExceeded,
            `${c.memoryKiB} KiB would overcommit the device's memory`,
          );
      }
      if (c.diskKiB !== undefined && c.diskKiB > 0 && c.diskKiB !== ee.allocatedDiskKiB) {
        const cur = ee.allocatedDiskKiB > 0 ? ee.allocatedDiskKiB : 256 * 1024;
        if (c.diskKiB < cur)
          throw new EngineError(
            EngineCode.CommandFailure,
            `shrinking ${ee.name}'s disk from ${cur} to ${c.diskKiB} KiB is not possible while it runs; Reset() ` +
              `after changing it, or grow it`,
          );
        const running = store.unitsIn(eeId).filter((e) => supervisor.isRunning(e.euid));
        for (const eu of running) await supervisor.stop(eu.euid, this.p.grace);
        // The DUs' own disks are mounted inside the EE's: off while it is unmounted, on again after.
        await this.p.disks.unmountEE(eeId, (uuid) => store.dataDir(uuid, eeId));
        await b.growDisk(ee, c.diskKiB);
        ee.allocatedDiskKiB = c.diskKiB;
        await this.p.disks.mountEE(eeId, store.dusIn(eeId), (uuid) => store.dataDir(uuid, eeId));
        for (const eu of running) supervisor.start(eu.euid);
      }
      if (c.memoryKiB !== undefined) ee.allocatedMemoryKiB = c.memoryKiB;
      if (c.cpuPercent !== undefined) ee.allocatedCpuPercent = c.cpuPercent;
      await b.setLimits(ee, { memoryKiB: ee.allocatedMemoryKiB, cpuPercent: ee.allocatedCpuPercent });
      this.changed(ee);
    });
  }

  /**
   * The operator's policy for an EE: whether privileged DUs may be installed there (TR-181
   * Privileged; on the native EE that allows services to run as root), and whether its units share the
   * host's network (only while privileged DUs are allowed too; from the EE's next start).
   */
  setPolicy(eeId: string, policy: { allowPrivileged?: boolean; hostNetwork?: boolean }): void {
    const ee = this.p.store.requireEE(eeId, false);
    const next = { allowPrivileged: ee.allowPrivileged === true, hostNetwork: ee.hostNetwork === true, ...policy };
    if (next.allowPrivileged === (ee.allowPrivileged === true) && next.hostNetwork === (ee.hostNetwork === true))
      return;
    ee.allowPrivileged = next.allowPrivileged;
    ee.hostNetwork = next.hostNetwork;
    this.p.store.saveEEs();
  }

  /** The memory an EE uses now (its container's cgroup), in KiB; -1 where the backend has no constraints. */
  async memoryKiB(eeId: string): Promise<number> {
    const ee = this.p.store.ee(eeId);
    return ee ? this.p.store.backendOf(ee).memoryKiB(ee) : -1;
  }
}
