// The container engine: execution environments, deployment units installed into them from
// packages, and their services supervised as execution units. It knows nothing of USP, CWMP or
// TR-181 paths; it emits typed events that src/model turns into data model changes.
//
// This file is the façade: it makes the parts (du-store, op-queue, journal, app-volumes, ee-manager,
// units, the backends) and answers for them. Every install, update and uninstall is journalled before
// it starts and committed by one atomic write of the DU records; after a kill -9 at any step a restart
// finishes the cleanup, reports the operation exactly once, and adopts running services (journal.ts,
// recovery.ts). Operations hold the agent's busy signal (util/work.ts) for as long as they run.
import { EventEmitter } from 'node:events';
import { Quarantine } from '../util/quarantine.js';
import { asWork } from '../util/work.js';
import { AppVolumes } from './app-volumes.js';
import type { Backend, ExecEnvClass } from './backends/backend.js';
import { makeBackends } from './backends/registry.js';
import type { EngineParts } from './context.js';
import { DuCgroups } from './du-cgroup.js';
import { DuDisks } from './du-disk.js';
import { install } from './du-install.js';
import { graceOf } from './du-settings.js';
import { DuStore } from './du-store.js';
import { uninstall } from './du-uninstall.js';
import { update } from './du-update.js';
import { type Constraints, EEManager, type NewEE } from './ee-manager.js';
import { installFactoryDUs, type ResetOps, resetToFactory } from './ee-reset.js';
import { logDetail } from './fault-log.js';
import { HostObjects } from './host-objects.js';
import { Identities } from './identity.js';
import { DEFAULT_POOL } from './ids/pool.js';
import type { UserIds } from './ids/users.js';
import { imageBounds, OciImages } from './image/oci-images.js';
import { Journal } from './journal.js';
import { Network } from './net/network.js';
import { DEFAULT_NET, type UnitLink } from './net/types.js';
import { OpQueue } from './op-queue.js';
import { type DURecord, type EERecord, EngineRecords, type EURecord } from './records.js';
import { startEngine } from './startup.js';
import { memoryKiB, Supervisor, type UnitState } from './supervisor.js';
import type { BackendKind, DuResult, EngineEvents, EngineOptions, InstallRequest, UpdateRequest } from './types.js';
import { launchOf, policyOf } from './unit-launch.js';
import { type UnitConfig, Units } from './units.js';
import { VolumeImages, type VolumeRecord } from './volumes.js';

export type {
  DuOperation,
  DuResult,
  DuStatus,
  EngineEvents,
  EngineOptions,
  InstallRequest,
  UnitRestart,
  UpdateRequest,
} from './types.js';

const DEFAULT_PIDS_MAX = 1024;

export class Engine extends EventEmitter<EngineEvents> {
  readonly records: EngineRecords;
  private readonly store: DuStore;
  private readonly queue: OpQueue;
  private readonly journal: Journal;
  private readonly supervisor: Supervisor;
  private readonly vols: AppVolumes;
  private readonly images: VolumeImages;
  private readonly eeManager: EEManager;
  private readonly units: Units;
  private readonly parts: EngineParts;
  /** Where file: URLs may lead (the operator's setting; '' refuses them all). */
  private fileUrlDirectory = '';
  /** Image registries (host or host:port) reached over plain http besides loopback ones. */
  private insecureRegistries: readonly string[] = [];

  constructor(opts: EngineOptions) {
    super();
    const log = opts.logger;
    const records = (this.records = new EngineRecords(
      opts.stateDir,
      opts.quarantine ?? new Quarantine(opts.stateDir, log),
    ));
    const pool = () => opts.idPool ?? DEFAULT_POOL;
    const backends = makeBackends({
      path: (...parts) => records.path(...parts),
      rootfs: opts.lxcRootfs,
      pool,
      pidsMax: opts.pidsMax ?? DEFAULT_PIDS_MAX,
      log,
    });
    const store = (this.store = new DuStore(records, backends));
    const queue = (this.queue = new OpQueue((e) => logDetail(log, e)));
    this.journal = new Journal({ records, log, detached: queue.detached, report: (r) => this.emit('result', r) });
    const identity = new Identities({
      ees: () => store.ees,
      dus: () => store.dus,
      backendOf: (ee) => store.backendOf(ee),
      pool,
      dataDir: (uuid, eeId) => store.dataDir(uuid, eeId),
    });
    const supervisor = (this.supervisor = new Supervisor((euid, kind) => records.path('eu', `${euid}.${kind}`), log));
    this.images = new VolumeImages(records.path('appdata'));
    const volumes = (this.vols = new AppVolumes({
      store,
      images: this.images,
      identity,
      supervisor,
      log,
      changed: () => this.emit('volumes'),
    }));
    this.parts = {
      opts,
      log,
      records,
      store,
      queue,
      journal: this.journal,
      volumes,
      supervisor,
      identity,
      events: this,
      grace: opts.shutdownGraceMs ?? 10_000,
      downloads: () => ({
        opts,
        detached: queue.detached,
        fileUrlDirectory: this.fileUrlDirectory,
        insecureRegistries: [...(opts.insecureRegistries ?? []), ...this.insecureRegistries],
      }),
      ociImages: new OciImages(records.path('images'), imageBounds(opts)),
      hostObjects: new HostObjects({ store, log }),
      disks: new DuDisks(records.path('du-disks'), {
        imagesDir: (eeId) => {
          const ee = store.ee(eeId);
          return ee ? store.backendOf(ee).disksDir?.(ee) : undefined;
        },
        dataDir: (du) => store.dataDir(du.uuid, du.ee),
        owner: (du) => identity.ownerOf(du),
        rootIds: (du) => identity.hostUserOf(du, du.eus[0]),
      }),
      cgroups: new DuCgroups((duid) => records.path('cgroups', `${duid}.json`), log),
      supervise: (du, eu) =>
        supervisor.add(
          eu.euid,
          launchOf(this.parts, du, eu),
          policyOf(eu),
          graceOf(du.settings, this.parts.grace, eu.shutdownDelayS),
        ),
      relaunch: (du, eu) => supervisor.setLaunch(eu.euid, launchOf(this.parts, du, eu)),
      net: new Network(
        // An empty setting (a data model without the vendor parameters) is the default.
        { bridge: opts.network?.bridge || DEFAULT_NET.bridge, subnet: opts.network?.subnet || DEFAULT_NET.subnet },
        records.dir,
        log.child({ part: 'net' }),
      ),
    };
    this.eeManager = new EEManager(this.parts, (duid, tag) => this.uninstall(duid, tag));
    this.units = new Units(this.parts);
    supervisor.on('change', (euid, state) => {
      this.emit('eu', euid, state);
      if (state.status === 'Idle') volumes.wipeIfStopped(euid);
    });
  }

  // ---- life cycle -----------------------------------------------------------------------------

  /** Loads the records, finishes what a crash interrupted, adopts services, autostarts by run level. */
  start(): Promise<void> {
    return asWork(() => startEngine(this.parts, this.eeManager, this.images));
  }

  /**
   * Leaves services running for the next start to adopt. Downloads in flight are cancelled and
   * nothing more is committed or reported: what this engine had not finished is the next one's to
   * recover from the journal, exactly as after a crash (it must not write behind the next one's back).
   * Settles once the operation that held the queue is done.
   */
  detach(): Promise<void> {
    const settled = this.queue.detach();
    this.supervisor.detach();
    this.parts.net.close();
    return settled;
  }

  /** Factory reset: every DU uninstalled, every container destroyed, nothing mounted any more. */
  factoryReset(): Promise<void> {
    return asWork(async () => {
      for (const du of [...this.store.dus]) await this.uninstall(du.duid, 'factory-reset');
      await this.queue.serial(() => this.vols.drop(this.store.vols));
      for (const ee of this.store.ees) {
        await this.parts.disks.dropEE(ee.id, (uuid) => this.store.dataDir(uuid, ee.id));
        await this.store.backendOf(ee).destroy(ee);
      }
      await this.queue.serial(async () => {
        this.store.ees = [];
        this.store.saveEEs();
      });
    });
  }

  /** Stops every service (factory reset, tests). */
  async stopAll(): Promise<void> {
    for (const du of this.store.dus) for (const eu of du.eus) await this.supervisor.stop(eu.euid, this.parts.grace);
  }

  /**
   * Reports what start() found interrupted. The agent calls it once the protocols listen, so the
   * outcome reaches the controllers and the ACS; the journal entry goes only after the report.
   */
  reportRecovered(): void {
    this.journal.reportRecovered();
  }

  // ---- queries --------------------------------------------------------------------------------

  /** Which backends work on this machine, found at start. */
  get backends(): readonly BackendKind[] {
    return this.store.available;
  }
  /** The ExecEnvClass of each backend that works here. */
  classes(): readonly ExecEnvClass[] {
    return this.store.availableBackends().map((b) => b.execEnvClass);
  }
  /** The ExecEnvClass an EE belongs to. */
  classOf(ee: EERecord): ExecEnvClass {
    return this.store.backendOf(ee).execEnvClass;
  }
  /** The backend of a kind, for tests and tools that look inside its EEs. */
  backend(kind: BackendKind): Backend {
    return this.store.backends.byKind[kind];
  }
  execEnvs(): readonly EERecord[] {
    return this.store.ees;
  }
  deploymentUnits(): readonly DURecord[] {
    return this.store.dus;
  }
  du(duid: string): DURecord | undefined {
    return this.store.du(duid);
  }
  unitOf(euid: string): { du: DURecord; eu: EURecord } | undefined {
    return this.store.unitOf(euid);
  }
  unitState(euid: string): Readonly<UnitState> | undefined {
    return this.supervisor.state(euid);
  }
  unitLog(euid: string): string {
    return this.supervisor.logText(euid);
  }
  /** Resident memory of a unit's process tree, in KiB (0 when it is not running). */
  unitMemoryKiB(euid: string): number {
    return memoryKiB(this.supervisor.state(euid)?.pid);
  }
  /** KiB of its DU's package, and of its data on the DU's own disk if it has one. */
  unitDiskKiB(euid: string): number {
    const du = this.store.unitOf(euid)?.du;
    return du ? du.diskKiB + this.parts.disks.usedKiB(du) : 0;
  }
  /** Where a unit's stdout and stderr are kept (bounded to 256 KiB). */
  unitLogFile(euid: string): string {
    return this.records.path('eu', `${euid}.log`);
  }
  /** The restart policy in force for a unit (what the model shows in AutoRestart). */
  unitPolicy(euid: string) {
    return this.units.policy(euid);
  }
  /** Who a unit runs as, inside its EE and on the host; undefined when it is unknown or its user is gone. */
  unitUser(euid: string): { inside: UserIds; host: UserIds } | undefined {
    return this.units.user(euid);
  }
  /** A DU's data directory on the host (for LXC EEs inside the EE's disk image, within its allowance). */
  dataDir(uuid: string, eeId: string): string {
    return this.store.dataDir(uuid, eeId);
  }

  /**
   * The one directory file: URLs of packages may lead to (after links are resolved), whoever asks;
   * '' (the default) refuses them: a controller or an ACS must not make the agent read host files.
   */
  setFileUrlDirectory(dir: string): void {
    this.fileUrlDirectory = dir;
  }

  /** Image registries reached over plain http besides loopback ones (the operator's list). */
  setInsecureRegistries(list: readonly string[]): void {
    this.insecureRegistries = list;
  }

  // ---- deployment units -----------------------------------------------------------------------

  install(req: InstallRequest): Promise<DuResult> {
    return asWork(() => install(this.parts, req));
  }

  /** Operations on one DU run in the order they were asked for, each download included. */
  update(duid: string, req: UpdateRequest): Promise<DuResult> {
    return asWork(() => this.queue.inOrder(duid, () => update(this.parts, duid, req)));
  }

  uninstall(duid: string, requestTag: string, retainData = false): Promise<DuResult> {
    return asWork(() =>
      this.queue.inOrder(duid, () => this.queue.serial(() => uninstall(this.parts, duid, requestTag, retainData))),
    );
  }

  // ---- execution units ------------------------------------------------------------------------

  /** SetRequestedState(): Active starts, Idle stops; Active while stopping is refused. */
  setRequestedState(euid: string, state: 'Active' | 'Idle'): Promise<void> {
    return asWork(() => this.units.setRequestedState(euid, state));
  }

  /**
   * What an operator may change about a unit: AutoStart, RunLevel and the AutoRestart policy. Kept
   * with the DU so that it holds across restarts and until an Update replaces the unit.
   */
  configureUnit(euid: string, c: UnitConfig): void {
    this.units.configure(euid, c);
  }

  restartUnit(euid: string): Promise<void> {
    return asWork(() => this.units.restart(euid));
  }

  // ---- execution environments -----------------------------------------------------------------

  setEnabled(eeId: string, enabled: boolean): Promise<void> {
    return asWork(() => this.eeManager.setEnabled(eeId, enabled));
  }

  setRunLevel(eeId: string, level: number): Promise<void> {
    return asWork(() => this.eeManager.setRunLevel(eeId, level));
  }

  restartEE(eeId: string, reason: string): Promise<void> {
    return asWork(() => this.eeManager.restartEE(eeId, reason));
  }

  /** AddExecEnv(): refused (resources-exceeded) where its memory would overcommit the device. */
  createEE(req: NewEE): Promise<EERecord> {
    return asWork(() => this.eeManager.createEE(req));
  }

  /** Remove(): refused while DUs are installed unless forced, which uninstalls them first. */
  removeEE(eeId: string, force: boolean): Promise<void> {
    return asWork(() => this.eeManager.removeEE(eeId, force));
  }

  /** Reset(): the EE's writable layer is wiped; installed DUs stay and their services start again. */
  resetEE(eeId: string): Promise<void> {
    return asWork(() => this.eeManager.resetEE(eeId));
  }

  /**
   * ExecEnv.Reset() as TR-181 defines it: DUs installed since the factory reset removed, factory DUs
   * restored to their factory version, the EE restarted (see ee-reset.ts). resetEE() is its last step.
   */
  resetToFactory(eeId: string): Promise<void> {
    return asWork(() => resetToFactory(this.resetOps(), eeId));
  }

  /** Installs an EE's factory DUs (the defaults file's) unless it has had them already. */
  installFactoryDUs(eeId: string, urls: readonly string[]): Promise<DuResult[]> {
    return asWork(() => installFactoryDUs(this.resetOps(), eeId, urls));
  }

  private resetOps(): ResetOps {
    return {
      store: this.store,
      install: (req) => this.install(req),
      update: (duid, req) => this.update(duid, req),
      uninstall: (duid, tag) => this.uninstall(duid, tag),
      restart: (ee) =>
        this.store.backendOf(ee).caps.writableLayer
          ? this.eeManager.resetEE(ee.id)
          : this.eeManager.restartEE(ee.id, 'Reset()'),
    };
  }

  /** ModifyConstraints(): only the constraints given change; see EEManager.modifyConstraints. */
  modifyConstraints(eeId: string, c: Constraints): Promise<void> {
    return asWork(() => this.eeManager.modifyConstraints(eeId, c));
  }

  /** Whether privileged DUs may be installed in an EE (TR-181 Privileged). */
  setPolicy(eeId: string, policy: { allowPrivileged?: boolean; hostNetwork?: boolean }): void {
    this.eeManager.setPolicy(eeId, policy);
  }

  /**
   * ModifyAvailableAccessInterfaces(): the host interfaces the EE's DUs may be networked through. Units
   * installed with an interface no longer listed lose it (rules rebuilt now); installs naming it are refused.
   */
  setAccessInterfaces(eeId: string, names: readonly string[]): Promise<void> {
    return asWork(() =>
      this.queue.serial(async () => {
        const ee = this.store.requireEE(eeId, false);
        ee.accessInterfaces = [...new Set(names)];
        this.store.saveEEs();
        this.emit('ee', ee);
        await this.parts.net.refresh(this.store.ees, this.store.dus);
      }),
    );
  }

  /** A networked unit's address, access interfaces and port mappings as applied (undefined: not networked). */
  unitNetwork(euid: string): UnitLink | undefined {
    return this.parts.net.link(euid);
  }

  /** The memory an EE uses now (its container's cgroup), in KiB; -1 for the native EE. */
  eeMemoryKiB(eeId: string): Promise<number> {
    return this.eeManager.memoryKiB(eeId);
  }

  // ---- application data volumes ---------------------------------------------------------------

  volumes(): readonly VolumeRecord[] {
    return this.store.vols;
  }
  /** Where the EE's services reach a volume (its AccessPath in a container, the mount point natively). */
  volumePath(v: VolumeRecord): string {
    return this.vols.path(v);
  }
  volumeUsedMiB(v: VolumeRecord): number {
    return this.vols.usedMiB(v);
  }
  volumesOf(du: DURecord): VolumeRecord[] {
    return this.store.volumesOf(du);
  }

  /** ApplicationData.Remove(): refused (invalid-du-state) while the application that owns it is installed. */
  removeVolume(id: string): Promise<void> {
    return asWork(() => this.queue.serial(() => this.vols.remove(id)));
  }
}
