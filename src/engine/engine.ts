// The container engine: execution environments, deployment units installed into them from
// packages, and their services supervised as execution units. It knows nothing of USP, CWMP or
// TR-181 paths; it emits typed events that src/model turns into data model changes.
//
// Every install, update and uninstall is journalled before it starts and committed by one atomic
// write of the DU records; after a kill -9 at any step a restart finishes the cleanup, reports the
// operation exactly once (committed: success, otherwise failed), and adopts running services.
// Operations take turns in one queue, except for what touches only their own staging directory: a
// package's download and unpacking run before the install's or update's turn, so that a stalled
// download server never holds the others (operations on one DU still keep their order).

import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync, renameSync, rmSync, statfsSync } from 'node:fs';
import { totalmem } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../util/logger.js';
import { Quarantine } from '../util/quarantine.js';
import type { Backend } from './backends/backend.js';
import { LxcBackend, LxcHost } from './backends/lxc.js';
import { NativeBackend } from './backends/native.js';
import {
  asEngineError,
  assertSameDU,
  detachRoot,
  faultOf,
  isImage,
  layoutFor,
  removeRoot,
  restoreRoot,
  type Unpacked,
  unpackIfTree,
  unpackTree,
} from './du-files.js';
import { EngineCode, EngineError } from './errors.js';
import { fetchPackage } from './fetch.js';
import { Identities } from './identity.js';
import { emptyTree, removeTree } from './ids/as-owner.js';
import { allocateRange, DEFAULT_POOL, type IdPool } from './ids/pool.js';
import type { UserIds } from './ids/users.js';
import { isMounted, mountImage, unmount } from './mounts.js';
import type { Manifest } from './package/manifest.js';
import { mountPackage, packageFormat } from './package/unpack.js';
import { duUuid } from './package/uuid.js';
import { type DURecord, type EERecord, EngineRecords, type EURecord, type OpRecord } from './records.js';
import { type Launch, memoryKiB, Supervisor, type UnitState } from './supervisor.js';
import type { BackendKind, DuOperation, DuResult, UnitRestart } from './types.js';
import { checkVolumeSpec, VolumeImages, type VolumeRecord, type VolumeSpec, volumeEnvName } from './volumes.js';

export type { DuOperation, DuResult, DuStatus, UnitRestart } from './types.js';

import { dateTime as iso, UNKNOWN_TIME as UNKNOWN } from '../util/time.js';

import type { EngineEvents, EngineOptions, InstallRequest, UpdateRequest } from './types.js';

export type { EngineEvents, EngineOptions, InstallRequest, UpdateRequest } from './types.js';

/** Where an update mounts a new SquashFS image in its staging directory to check it. */
const CHECK_MOUNT = 'image';
const DEFAULT_PIDS_MAX = 1024;

/** An install's package, downloaded (and unpacked unless it is an image to mount) before its turn. */
type Fetched = { ee: EERecord; pkg: string; tree: Unpacked | undefined };
/** An install under way: what its failure must undo and report. */
/** madeData: the DU whose data directory this install made (one kept from before is not its to remove). */
type InstallJob = {
  op: OpRecord;
  uuid: string;
  manifest: Manifest | undefined;
  created: VolumeRecord[];
  madeData?: DURecord;
};
/** An update's new package, downloaded and checked before its turn. */
type FetchedUpdate = {
  ee: EERecord;
  url: string;
  creds: { username: string; password: string };
  pkg: string;
  format: 'tar.gz' | 'squashfs';
  layout: 'image' | 'tree';
  manifest: Manifest;
  bytes: number;
};
/** An update under way: what its failure must put back. */
type UpdateJob = { op: OpRecord; old: DURecord; swapped: boolean; created: VolumeRecord[]; wasActive: string[] };

export class Engine extends EventEmitter<EngineEvents> {
  readonly records: EngineRecords;
  private ees: EERecord[] = [];
  private dus: DURecord[] = [];
  private vols: VolumeRecord[] = [];
  private readonly images: VolumeImages;
  private readonly supervisor: Supervisor;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly detached = new AbortController();
  /** The last operation asked for on each DU (update, uninstall): the next one waits for it. */
  private readonly duQueues = new Map<string, Promise<unknown>>();
  /** Where file: URLs may lead (the operator's setting; '' refuses them all). */
  private fileUrlDirectory = '';
  /** Volumes being emptied after their application stopped. */
  private readonly wipes = new Set<Promise<void>>();
  private readonly log: Logger;
  readonly lxc: LxcHost;
  /** Operations a crash interrupted, reported by reportRecovered() once everyone listens. */
  private recovered: { opId: string; result: DuResult }[] = [];
  /** Which backends work on this machine, found at start. */
  backends: BackendKind[] = ['native'];
  /** The backends this engine knows, by kind; the host's (native) also answers for places without an EE. */
  private readonly host: NativeBackend;
  private readonly byKind: Record<BackendKind, Backend>;
  /** Who DUs' services run as, and who owns their data. */
  private readonly identity: Identities;

  constructor(private readonly opts: EngineOptions) {
    super();
    this.log = opts.logger;
    this.records = new EngineRecords(opts.stateDir, opts.quarantine ?? new Quarantine(opts.stateDir, this.log));
    this.lxc = new LxcHost(this.records.path('lxc'), opts.lxcRootfs);
    this.host = new NativeBackend((...parts) => this.records.path(...parts));
    this.identity = new Identities({
      ees: () => this.ees,
      dus: () => this.dus,
      backendOf: (ee) => this.backendOf(ee),
      pool: () => this.pool,
      dataDir: (uuid, eeId) => this.dataDir(uuid, eeId),
    });
    this.byKind = {
      native: this.host,
      lxc: new LxcBackend(this.lxc, {
        pool: () => this.pool,
        pidsMax: opts.pidsMax ?? DEFAULT_PIDS_MAX,
        log: this.log,
      }),
    };
    this.supervisor = new Supervisor((euid, kind) => this.records.path('eu', `${euid}.${kind}`), this.log);
    this.images = new VolumeImages(this.records.path('appdata'));
    this.supervisor.on('change', (euid, state) => {
      this.emit('eu', euid, state);
      if (state.status === 'Idle') this.wipeIfStopped(euid);
    });
  }

  // ---- life cycle -----------------------------------------------------------------------------

  /** Loads the records, finishes what a crash interrupted, adopts services, autostarts by run level. */
  async start(): Promise<void> {
    const found: BackendKind[] = [];
    for (const b of Object.values(this.byKind)) if (await b.available()) found.push(b.kind);
    this.backends = found;
    this.ees = this.records.loadEEs();
    for (const kind of this.backends) {
      const d = this.byKind[kind].defaultEE();
      if (d && !this.ees.some((e) => e.backend === d.backend)) {
        this.ees.push(d);
        this.records.saveEEs(this.ees);
      }
    }
    this.dus = this.records.loadDUs();
    // After a device reboot nothing is mounted: containers' layers and shared du/ first, then the DU images.
    for (const ee of this.ees.filter((e) => this.backendOf(e).caps.idRange && !e.ids))
      this.log.warn(
        { ee: ee.name },
        'this EE was made by an older agent and runs privileged: remove it and add it again',
      );
    for (const ee of this.ees)
      await this.backendOf(ee)
        .prepare(ee)
        .catch((e) => this.logError(e, { ee: ee.name }, 'container storage could not be prepared'));
    for (const du of this.dus) {
      if (isImage(du) && !isMounted(du.root))
        await mountImage(`${du.root}.sqfs`, du.root).catch((e) =>
          this.logError(e, { duid: du.duid }, 'DU image could not be mounted'),
        );
    }
    this.vols = this.records.loadVolumes();
    for (const v of this.vols)
      await this.images
        .mount(v, this.volumeDir(v))
        .catch((e) => this.logError(e, { volume: v.name }, 'application data volume could not be mounted'));
    for (const du of this.dus)
      for (const eu of du.eus) this.supervisor.add(eu.euid, this.launchOf(du, eu), this.policyOf(eu));
    for (const op of this.records.loadOps()) await this.recover(op);
    // Without a readable volume list, an image no record names may still be someone's data: kept.
    if (!this.records.lost.has('appdata.json')) this.images.sweep(new Set(this.vols.map((v) => v.id)));
    rmSync(this.records.path('tmp'), { recursive: true, force: true });
    mkdirSync(this.records.path('tmp'), { recursive: true, mode: 0o700 });
    for (const ee of this.ees) this.backendOf(ee).sweepStaging(ee);
    for (const ee of this.ees) {
      if (!ee.enabled) continue;
      await this.startEE(ee).catch((e) => this.log.error({ err: e, ee: ee.name }, 'container did not start'));
      this.autostart(ee);
    }
  }

  /** Leaves services running for the next start to adopt. */
  /**
   * Leaves services running for the next start to adopt. Downloads in flight are cancelled and
   * nothing more is committed or reported: what this engine had not finished is the next one's to
   * recover from the journal, exactly as after a crash (it must not write behind the next one's back).
   * Settles once the operation that held the queue is done.
   */
  detach(): Promise<void> {
    this.detached.abort();
    this.supervisor.detach();
    return this.queue.then(() => undefined);
  }

  /** Factory reset: every DU uninstalled, every container destroyed, nothing mounted any more. */
  async factoryReset(): Promise<void> {
    for (const du of [...this.dus]) await this.uninstall(du.duid, 'factory-reset');
    await this.serial(() => this.dropVolumes(this.vols));
    for (const ee of this.ees) await this.backendOf(ee).destroy(ee);
    await this.serial(async () => {
      this.ees = [];
      this.records.saveEEs(this.ees);
    });
  }

  /** Stops every service (factory reset, tests). */
  async stopAll(): Promise<void> {
    for (const du of this.dus) for (const eu of du.eus) await this.supervisor.stop(eu.euid, this.grace);
  }

  private get grace(): number {
    return this.opts.shutdownGraceMs ?? 10_000;
  }
  private get pool(): IdPool {
    return this.opts.idPool ?? DEFAULT_POOL;
  }

  // ---- queries --------------------------------------------------------------------------------

  execEnvs(): readonly EERecord[] {
    return this.ees;
  }
  deploymentUnits(): readonly DURecord[] {
    return this.dus;
  }
  du(duid: string): DURecord | undefined {
    return this.dus.find((d) => d.duid === duid);
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
  /** Where a unit's stdout and stderr are kept (bounded to 256 KiB). */
  unitLogFile(euid: string): string {
    return this.records.path('eu', `${euid}.log`);
  }
  unitOf(euid: string): { du: DURecord; eu: EURecord } | undefined {
    for (const du of this.dus) {
      const eu = du.eus.find((e) => e.euid === euid);
      if (eu) return { du, eu };
    }
    return undefined;
  }

  // ---- deployment units -----------------------------------------------------------------------

  /**
   * The package is fetched, and a tar.gz unpacked into the operation's staging directory, outside the
   * engine's queue: a stalled download server holds its own install, for at most the download
   * limits, never the operations on other DUs and EEs. The journal entry is written before the
   * download as it always was; everything from placing the DU to the commit is one turn of the queue.
   */
  async install(req: InstallRequest): Promise<DuResult> {
    const job = this.installJob(req);
    let fetched: Fetched;
    try {
      fetched = await this.fetchForInstall(req, job);
    } catch (e) {
      return this.failInstall(req, job, e);
    }
    return this.serial(() => this.commitInstall(req, job, fetched));
  }

  private installJob(req: InstallRequest): InstallJob {
    const id = randomBytes(6).toString('hex');
    const eeNow = this.ees.find((e) => e.id === req.ee);
    // The DU's final root is known before anything is fetched: journalled now, recovery can always undo it.
    const op: OpRecord = {
      id,
      kind: 'install',
      startTime: iso(),
      uuid: req.uuid ?? '',
      duid: undefined,
      staging: this.stagingDir(req.ee, id),
      ...(eeNow ? { root: this.duRoot(eeNow, `${eeNow.id}-${id}`) } : {}),
      requestTag: req.requestTag,
      committed: false,
    };
    return { op, uuid: req.uuid ?? '', manifest: undefined, created: [] };
  }

  /** What an install does before it takes its turn: checks, the journal entry, the download, the unpacking. */
  private async fetchForInstall(req: InstallRequest, job: InstallJob): Promise<Fetched> {
    const { op } = job;
    const ee = this.requireEE(req.ee);
    if (this.backendOf(ee).caps.idRange && !ee.ids) {
      throw new EngineError(
        EngineCode.InvalidDUState,
        `${ee.name} was made by an older agent and runs privileged; nothing more is installed there: remove it ` +
          `and add it again`,
      );
    }
    if (req.privileged && !ee.allowPrivileged) {
      throw new EngineError(
        EngineCode.InvalidArguments,
        `privileged deployment units are not allowed in ${ee.name}: the operator has not enabled them for it ` +
          `(AllowPrivileged policy)`,
      );
    }
    mkdirSync(op.staging, { recursive: true, mode: 0o700 });
    // The journal entry is on disk before anything is placed where it would outlive a crash (the
    // staging directory does not: start() clears it); its fsync runs while the package downloads.
    const journalled = this.records.saveOpSoon(op);
    journalled.catch(() => undefined); // awaited below; a failed fetch must not leave it unhandled
    const pkg = join(op.staging, 'package');
    await this.fetch(req, pkg);
    await journalled;
    return { ee, pkg, tree: await unpackIfTree(pkg, op.staging, ee, this.limits(ee)) };
  }

  private async commitInstall(req: InstallRequest, job: InstallJob, fetched: Fetched): Promise<DuResult> {
    const { op } = job;
    try {
      const ee = this.requireEE(req.ee);
      if (ee !== fetched.ee)
        throw new EngineError(
          EngineCode.UnknownExecEnv,
          `execution environment ${fetched.ee.name} was removed meanwhile`,
        );
      const duid = `${ee.id}-${op.id}`;
      const finalRoot = this.duRoot(ee, duid);
      const placed = fetched.tree
        ? { ...fetched.tree, layout: 'tree' as const, root: join(op.staging, 'root') }
        : await this.placeImage(fetched.pkg, finalRoot, ee, { ...op, duid });
      const manifest = (job.manifest = placed.manifest);
      const uuid = (job.uuid = req.uuid || duUuid(manifest.name, manifest.vendor));
      if (this.dus.some((d) => d.uuid === uuid && d.manifest.version === manifest.version && d.ee === ee.id)) {
        throw new EngineError(
          EngineCode.DuplicateDU,
          `${manifest.name} ${manifest.version} (${uuid}) is already installed in ${ee.name}`,
        );
      }
      const user = this.identity.checkUsers(ee, manifest, req.privileged === true);
      const specs = this.volumeSpecs(req.appData ?? manifest.data);
      this.admitDisk(ee, placed.bytes + this.newVolumeBytes(ee, uuid, specs));
      if (placed.layout === 'tree') {
        this.records.saveOp({ ...op, uuid, duid, root: finalRoot }); // recovery must know what the rename creates
        renameSync(placed.root, finalRoot);
      }
      job.created = await this.createVolumes(ee, uuid, specs, { ...op, uuid, duid, root: finalRoot });
      const du: DURecord = {
        duid,
        uuid,
        ee: ee.id,
        manifest,
        url: req.url,
        username: req.username ?? '',
        password: req.password ?? '',
        format: placed.format,
        layout: placed.layout,
        root: finalRoot,
        installedAt: iso(),
        diskKiB: Math.ceil(placed.bytes / 1024),
        privileged: req.privileged === true,
        ...(user ? { user } : {}),
        eus: manifest.services.map((s) => ({
          euid: `${duid}-${s.name}`,
          service: s,
          requested: s.autostart ? 'Active' : 'Idle',
          autoStart: s.autostart,
          runLevel: s.runLevel,
        })),
      };
      if (!existsSync(this.dataDir(du.uuid, du.ee))) job.madeData = du;
      this.identity.makeDataDir(du);
      // The commit point: recovery finds the DU in the records. Known in memory only once it is there.
      const next = [...this.dus, du];
      this.records.saveDUs(next);
      this.dus = next;
      for (const eu of du.eus) this.supervisor.add(eu.euid, this.launchOf(du, eu), this.policyOf(eu));
      rmSync(op.staging, { recursive: true, force: true });
      const result = this.result('Install', req.requestTag, du, undefined, op.startTime);
      this.finish(op.id, result);
      if (ee.enabled)
        for (const eu of du.eus)
          if (eu.autoStart && eu.runLevel <= ee.currentRunLevel) this.supervisor.start(eu.euid, true);
      return result;
    } catch (e) {
      return this.failInstall(req, job, e);
    }
  }

  /**
   * Undoes what a failed install made and reports it. Before the install's turn it made only its
   * staging directory, so this needs the queue only when called from the commit.
   */
  private async failInstall(req: InstallRequest, job: InstallJob, e: unknown): Promise<DuResult> {
    const { op } = job;
    const err = asEngineError(e);
    const duid = `${req.ee}-${op.id}`;
    const ee = this.ees.find((x) => x.id === req.ee);
    this.logDetail(err, { opId: op.id });
    try {
      if (ee && !this.du(duid)) await removeRoot(this.duRoot(ee, duid));
      if (job.madeData) await this.removeData(job.madeData);
      await this.dropVolumes(job.created);
    } catch (c) {
      // The failure is reported whatever the cleanup meets; the log says what it met.
      this.logError(c, { opId: op.id }, 'cleanup after a failed install failed');
    }
    rmSync(op.staging, { recursive: true, force: true });
    const result: DuResult = {
      operation: 'Install',
      requestTag: req.requestTag,
      uuid: job.uuid,
      version: job.manifest?.version ?? '',
      ee: req.ee,
      du: undefined,
      duid: undefined,
      euids: [],
      fault: faultOf(err),
      startTime: op.startTime,
      completeTime: iso(),
    };
    this.finish(op.id, result);
    return result;
  }

  /** Operations on one DU run in the order they were asked for, each download included. */
  update(duid: string, req: UpdateRequest): Promise<DuResult> {
    return this.inOrder(duid, () => this.doUpdate(duid, req));
  }

  /** Like an install, the new package is fetched and checked before the update takes its turn in the queue. */
  private async doUpdate(duid: string, req: UpdateRequest): Promise<DuResult> {
    const before = this.du(duid);
    if (!before) throw new EngineError(EngineCode.InvalidDUState, `deployment unit ${duid} is not installed`);
    const id = randomBytes(6).toString('hex');
    const op: OpRecord = {
      id,
      kind: 'update',
      startTime: iso(),
      uuid: before.uuid,
      duid,
      staging: this.stagingDir(before.ee, id),
      requestTag: req.requestTag,
      committed: false,
    };
    const job: UpdateJob = { op, old: before, swapped: false, created: [], wasActive: [] };
    this.emit('duStatus', duid, 'Updating');
    let fetched: FetchedUpdate;
    try {
      fetched = await this.fetchForUpdate(req, job);
    } catch (e) {
      return this.failUpdate(req, job, e);
    }
    return this.serial(() => this.commitUpdate(req, job, fetched));
  }

  private async fetchForUpdate(req: UpdateRequest, job: UpdateJob): Promise<FetchedUpdate> {
    const { op, old } = job;
    const ee = this.requireEE(old.ee);
    this.records.saveOp(op);
    mkdirSync(op.staging, { recursive: true, mode: 0o700 });
    const url = req.url || old.url;
    const creds = req.url
      ? { username: req.username ?? '', password: req.password ?? '' }
      : { username: old.username, password: old.password };
    const pkg = join(op.staging, 'package');
    await this.fetch({ ...req, ...creds, url, ee: ee.id }, pkg);
    // The new package is checked before the old one is touched.
    const format = await packageFormat(pkg);
    const layout = layoutFor(ee, format);
    let checked: Unpacked;
    if (layout === 'image') {
      // Checked where nothing uses it: mounted in staging, unmounted again before the swap.
      const at = join(op.staging, CHECK_MOUNT);
      mkdirSync(at);
      try {
        checked = { ...(await mountPackage(pkg, at, this.limits(ee))), format };
      } finally {
        await unmount(at);
      }
    } else checked = await unpackTree(pkg, join(op.staging, 'root'), ee, this.limits(ee));
    assertSameDU(old, checked.manifest, req.uuid);
    return { ee, url, creds, pkg, format, layout, manifest: checked.manifest, bytes: checked.bytes };
  }

  private async commitUpdate(req: UpdateRequest, job: UpdateJob, fetched: FetchedUpdate): Promise<DuResult> {
    const { op } = job;
    const duid = op.duid!;
    try {
      // The record as it is now (its units' settings may have changed during the download).
      const current = this.du(duid);
      if (!current)
        throw new EngineError(EngineCode.InvalidDUState, `deployment unit ${duid} was uninstalled meanwhile`);
      const old = (job.old = current);
      const ee = this.requireEE(old.ee);
      if (ee !== fetched.ee)
        throw new EngineError(
          EngineCode.UnknownExecEnv,
          `execution environment ${fetched.ee.name} was removed meanwhile`,
        );
      const { url, creds, pkg, format, layout, bytes } = fetched;
      const manifest = fetched.manifest;
      const unpacked = join(op.staging, 'root');
      // Volumes: those named (by the caller, else the new manifest, else the ones it has) must exist.
      let specs = req.appData ?? manifest.data;
      const extra = specs ? this.newVolumeBytes(ee, old.uuid, this.volumeSpecs(specs)) : 0;
      this.admitDisk(ee, bytes - old.diskKiB * 1024 + extra);
      job.wasActive = old.eus.filter((e) => this.supervisor.isRunning(e.euid)).map((e) => e.service.name);
      for (const eu of old.eus) await this.supervisor.stop(eu.euid, this.grace);
      await detachRoot(old, op.staging);
      job.swapped = true;
      if (layout === 'image') {
        renameSync(pkg, `${old.root}.sqfs`);
        mkdirSync(old.root, { recursive: true });
        await mountImage(`${old.root}.sqfs`, old.root);
      } else {
        rmSync(old.root, { recursive: true, force: true });
        renameSync(unpacked, old.root);
      }
      const user = this.identity.checkUsers(ee, manifest, old.privileged === true);
      if (!req.retainData) await this.removeData(old);
      const had = this.volumesOf(old);
      specs = this.volumeSpecs(req.appData ?? (manifest.data.length ? manifest.data : had));
      job.created = await this.createVolumes(ee, old.uuid, specs, op);
      const keep = new Map(old.eus.map((e) => [e.service.name, e]));
      const du: DURecord = {
        ...old,
        manifest: manifest,
        url,
        username: creds.username,
        password: creds.password,
        format,
        layout,
        installedAt: iso(),
        diskKiB: Math.ceil(bytes / 1024),
        ...(user ? { user } : {}),
        eus: manifest.services.map((s) => ({
          euid: `${duid}-${s.name}`,
          service: s,
          requested: keep.get(s.name)?.requested ?? (s.autostart ? 'Active' : 'Idle'),
          autoStart: s.autostart,
          runLevel: s.runLevel,
        })),
      };
      this.identity.makeDataDir(du);
      const next = this.dus.map((d) => (d.duid === duid ? du : d));
      this.records.saveDUs(next); // the commit point
      this.dus = next;
      this.records.saveOp({ ...op, committed: true });
      // Without RetainData the old volumes' data goes: the ones still named start empty, the others go.
      if (!req.retainData) {
        const named = new Set(specs.map((v) => v.name));
        for (const v of had) if (named.has(v.name)) await this.wipeVolume(v, du);
        await this.dropVolumes(had.filter((v) => !named.has(v.name)));
      }
      for (const eu of old.eus) if (!du.eus.some((n) => n.euid === eu.euid)) this.supervisor.remove(eu.euid);
      for (const eu of du.eus) {
        this.supervisor.remove(eu.euid);
        this.supervisor.add(eu.euid, this.launchOf(du, eu), this.policyOf(eu));
      }
      rmSync(op.staging, { recursive: true, force: true });
      const result = this.result('Update', req.requestTag, du, undefined, op.startTime);
      this.emit('duStatus', duid, 'Installed');
      this.finish(op.id, result);
      for (const eu of du.eus)
        if (job.wasActive.includes(eu.service.name) || (eu.autoStart && eu.runLevel <= ee.currentRunLevel))
          this.supervisor.start(eu.euid);
      return result;
    } catch (e) {
      return this.failUpdate(req, job, e);
    }
  }

  /** Puts the old DU back as it was and reports the failure; before the update's turn only staging exists. */
  private async failUpdate(req: UpdateRequest, job: UpdateJob, e: unknown): Promise<DuResult> {
    const { op, old } = job;
    const err = asEngineError(e);
    this.logDetail(err, { opId: op.id });
    if (job.swapped) await restoreRoot(old, op.staging);
    rmSync(op.staging, { recursive: true, force: true });
    await this.dropVolumes(job.created);
    for (const eu of old.eus) if (job.wasActive.includes(eu.service.name)) this.supervisor.start(eu.euid);
    if (this.du(old.duid)) this.emit('duStatus', old.duid, 'Installed');
    const result = this.result('Update', req.requestTag, old, faultOf(err), op.startTime);
    this.finish(op.id, result);
    return result;
  }

  uninstall(duid: string, requestTag: string, retainData = false): Promise<DuResult> {
    return this.inOrder(duid, () => this.serial(() => this.doUninstall(duid, requestTag, retainData)));
  }

  private async doUninstall(duid: string, requestTag: string, retainData: boolean): Promise<DuResult> {
    const startTime = iso();
    const du = this.du(duid);
    if (!du) throw new EngineError(EngineCode.InvalidDUState, `deployment unit ${duid} is not installed`);
    const id = randomBytes(6).toString('hex');
    const op: OpRecord = {
      id,
      kind: 'uninstall',
      startTime,
      uuid: du.uuid,
      duid,
      staging: du.root,
      requestTag,
      committed: false,
    };
    this.emit('duStatus', duid, 'Uninstalling');
    try {
      this.records.saveOp(op);
      for (const eu of du.eus) await this.supervisor.stop(eu.euid, this.grace);
      const next = this.dus.filter((d) => d.duid !== duid);
      this.records.saveDUs(next); // the commit point
      this.dus = next;
      this.records.saveOp({ ...op, committed: true });
      for (const eu of du.eus) this.supervisor.remove(eu.euid);
      // Committed: the DU is gone whatever the cleanup meets (a restart's recovery finishes it too).
      try {
        await removeRoot(du.root);
        if (!retainData) await this.removeData(du);
        await this.dropVolumes(this.volumesOf(du).filter((v) => !(retainData && v.retain === 'Forever')));
      } catch (e) {
        this.logError(e, { duid }, 'cleanup after an uninstall failed');
      }
      const result = this.result('Uninstall', requestTag, undefined, undefined, startTime, du);
      this.finish(id, result);
      return result;
    } catch (e) {
      const err = asEngineError(e);
      this.logDetail(err, { opId: id });
      this.emit('duStatus', duid, 'Installed');
      const result = this.result('Uninstall', requestTag, du, faultOf(err), startTime);
      this.finish(id, result);
      return result;
    }
  }

  /**
   * Puts a SquashFS image where it will run (the native EE): checked, then mounted read-only at the
   * final root, its image beside it. The journal learns the final root before anything is mounted
   * there, so recovery can undo it.
   */
  private async placeImage(
    pkg: string,
    finalRoot: string,
    ee: EERecord,
    op: OpRecord,
  ): Promise<Unpacked & { layout: 'image'; root: string }> {
    if (op.root !== finalRoot) this.records.saveOp({ ...op, root: finalRoot });
    renameSync(pkg, `${finalRoot}.sqfs`);
    mkdirSync(finalRoot, { recursive: true });
    // Nothing in it runs before the check passes; a refused image is unmounted by the caller.
    return {
      ...(await mountPackage(`${finalRoot}.sqfs`, finalRoot, this.limits(ee))),
      format: 'squashfs',
      layout: 'image',
      root: finalRoot,
    };
  }

  private async removeData(du: DURecord): Promise<void> {
    if (!(await removeTree(this.dataDir(du.uuid, du.ee), this.identity.ownerOf(du))))
      this.log.warn({ duid: du.duid }, "part of the DU's data directory resisted removal");
  }

  private wipeVolume(v: VolumeRecord, du: DURecord): Promise<void> {
    return emptyTree(this.volumeDir(v), this.identity.ownerOf(du));
  }

  /** Who a unit runs as, inside its EE and on the host; undefined when it is unknown or its user is gone. */
  unitUser(euid: string): { inside: UserIds; host: UserIds } | undefined {
    const found = this.unitOf(euid);
    if (!found) return undefined;
    try {
      const host = this.identity.hostUserOf(found.du, found.eu);
      const ids = this.ees.find((e) => e.id === found.du.ee)?.ids;
      return { inside: ids ? { uid: host.uid - ids.base, gid: host.gid - ids.base } : host, host };
    } catch {
      return undefined;
    }
  }

  // ---- execution units ------------------------------------------------------------------------

  /** SetRequestedState(): Active starts, Idle stops; Active while stopping is refused. */
  async setRequestedState(euid: string, state: 'Active' | 'Idle'): Promise<void> {
    const found = this.unitOf(euid);
    if (!found) throw new EngineError(EngineCode.InvalidValue, `execution unit ${euid} does not exist`);
    const ee = this.requireEE(found.du.ee);
    const cur = this.supervisor.state(euid)?.status;
    found.eu.requested = state;
    this.records.saveDUs(this.dus);
    if (state === 'Active') {
      if (!ee.enabled) throw new EngineError(EngineCode.InvalidValue, `execution environment ${ee.name} is disabled`);
      if (cur === 'Stopping')
        throw new EngineError(EngineCode.InvalidValue, `${euid} is stopping; ask again once it is Idle`);
      this.supervisor.start(euid);
    } else {
      await this.supervisor.stop(euid, this.grace);
      await Promise.all(this.wipes); // an UntilStopped volume is empty once the stop is answered
    }
  }

  /**
   * What an operator may change about a unit: AutoStart, RunLevel and the AutoRestart policy. Kept
   * with the DU so that it holds across restarts and until an Update replaces the unit.
   */
  configureUnit(euid: string, c: { autoStart?: boolean; runLevel?: number; restart?: UnitRestart }): void {
    const found = this.unitOf(euid);
    if (!found) throw new EngineError(EngineCode.InvalidValue, `execution unit ${euid} does not exist`);
    if (c.autoStart !== undefined) found.eu.autoStart = c.autoStart;
    if (c.runLevel !== undefined) found.eu.runLevel = c.runLevel;
    if (c.restart !== undefined) found.eu.restart = c.restart;
    this.records.saveDUs(this.dus);
    this.supervisor.setPolicy(euid, this.policyOf(found.eu));
  }

  async restartUnit(euid: string): Promise<void> {
    const found = this.unitOf(euid);
    if (!found) throw new EngineError(EngineCode.InvalidValue, `execution unit ${euid} does not exist`);
    if (this.supervisor.state(euid)?.status === 'Stopping') throw new EngineError(7230, `${euid} is stopping`);
    if (!this.requireEE(found.du.ee).enabled)
      throw new EngineError(EngineCode.InvalidValue, `execution environment ${found.du.ee} is disabled`);
    await this.supervisor.restart(euid);
  }

  // ---- execution environments -----------------------------------------------------------------

  async setEnabled(eeId: string, enabled: boolean): Promise<void> {
    const ee = this.requireEE(eeId, false);
    if (ee.enabled === enabled) return;
    ee.enabled = enabled;
    this.records.saveEEs(this.ees);
    this.emit('ee', ee);
    if (!enabled) {
      for (const du of this.dus.filter((d) => d.ee === eeId))
        for (const eu of du.eus) await this.supervisor.stop(eu.euid, this.grace);
      await this.backendOf(ee).stop(ee);
    } else {
      await this.startEE(ee);
      this.autostart(ee);
    }
  }

  async setRunLevel(eeId: string, level: number): Promise<void> {
    const ee = this.requireEE(eeId, false);
    ee.currentRunLevel = level;
    this.records.saveEEs(this.ees);
    this.emit('ee', ee);
    for (const du of this.dus.filter((d) => d.ee === eeId)) {
      for (const eu of du.eus) {
        if (eu.runLevel > level) await this.supervisor.stop(eu.euid, this.grace);
        else if (eu.autoStart && ee.enabled) this.supervisor.start(eu.euid, true);
      }
    }
  }

  async restartEE(eeId: string, reason: string): Promise<void> {
    const ee = this.requireEE(eeId, false);
    for (const du of this.dus.filter((d) => d.ee === eeId))
      for (const eu of du.eus) await this.supervisor.stop(eu.euid, this.grace);
    await this.backendOf(ee).stop(ee);
    if (ee.enabled) await this.startEE(ee);
    ee.restartCount++;
    ee.lastRestarted = iso();
    ee.restartReason = reason;
    ee.currentRunLevel = ee.initialRunLevel;
    this.records.saveEEs(this.ees);
    this.emit('ee', ee);
    if (ee.enabled) this.autostart(ee);
  }

  /**
   * AddExecEnv(): a new LXC system container with its limits. Admission control refuses an EE whose
   * memory would overcommit the device with the EEs already there (7227).
   */
  createEE(req: {
    name: string;
    enabled: boolean;
    memoryKiB: number;
    cpuPercent: number;
    diskKiB: number;
    initialRunLevel?: number;
    allowPrivileged?: boolean;
  }): Promise<EERecord> {
    return this.serial(async () => {
      const b = this.backends.map((k) => this.byKind[k]).find((x) => x.caps.addable);
      if (!b) throw new EngineError(EngineCode.InvalidValue, 'LXC is not available on this device');
      if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/.test(req.name))
        throw new EngineError(EngineCode.InvalidValue, 'the EE name is not valid (letters, digits, . _ -, at most 32)');
      if (this.ees.some((e) => e.name === req.name))
        throw new EngineError(EngineCode.InvalidValue, `an execution environment named ${req.name} exists`);
      const committed = this.ees.reduce((s, e) => s + Math.max(0, e.allocatedMemoryKiB), 0);
      if (req.memoryKiB > 0 && committed + req.memoryKiB > totalmem() / 1024) {
        throw new EngineError(
          EngineCode.ResourcesExceeded,
          `${req.memoryKiB} KiB more would overcommit the device's ${Math.floor(totalmem() / 1024)} KiB ` +
            `(${committed} KiB allocated already)`,
        );
      }
      const id = `${b.kind}-${randomBytes(4).toString('hex')}`;
      const ids = allocateRange(
        this.pool,
        this.ees.flatMap((e) => (e.ids ? [e.ids] : [])),
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
      };
      await b.create(ee);
      this.ees = [...this.ees, ee];
      this.records.saveEEs(this.ees);
      if (ee.enabled) await this.startEE(ee);
      this.emit('ee', ee);
      return ee;
    });
  }

  /** Remove(): refused while DUs are installed unless forced, which uninstalls them first. */
  async removeEE(eeId: string, force: boolean): Promise<void> {
    const ee = this.requireEE(eeId, false);
    const b = this.backendOf(ee);
    if (!b.caps.addable)
      throw new EngineError(EngineCode.InvalidValue, `the ${ee.name} execution environment can not be removed`);
    const dus = this.dus.filter((d) => d.ee === eeId);
    if (dus.length && !force)
      throw new EngineError(
        EngineCode.InvalidDUState,
        `${ee.name} still has ${dus.length} deployment unit(s); use Force`,
      );
    for (const du of dus) await this.uninstall(du.duid, 'ee-remove');
    await this.serial(async () => {
      await this.dropVolumes(this.vols.filter((v) => v.ee === eeId));
      await b.destroy(ee);
      this.ees = this.ees.filter((e) => e.id !== eeId);
      this.records.saveEEs(this.ees);
    });
  }

  /** Reset(): the EE's writable layer is wiped; installed DUs stay and their services start again. */
  async resetEE(eeId: string): Promise<void> {
    const ee = this.requireEE(eeId, false);
    const b = this.backendOf(ee);
    if (!b.caps.writableLayer)
      throw new EngineError(
        EngineCode.InvalidValue,
        `the ${ee.name} execution environment has no writable layer to reset`,
      );
    for (const du of this.dus.filter((d) => d.ee === eeId))
      for (const eu of du.eus) await this.supervisor.stop(eu.euid, this.grace);
    await b.reset(ee);
    if (ee.enabled) await this.startEE(ee);
    ee.currentRunLevel = ee.initialRunLevel;
    this.records.saveEEs(this.ees);
    this.emit('ee', ee);
    if (ee.enabled) this.autostart(ee);
  }

  /**
   * ModifyConstraints(): only the constraints given change. Memory and CPU apply at once through
   * cgroups; growing the disk grows the EE's image (its services restart around it); shrinking it,
   * or memory below what is in use, is refused (7022) unless forced.
   */
  async modifyConstraints(
    eeId: string,
    c: {
      diskKiB?: number | undefined;
      memoryKiB?: number | undefined;
      cpuPercent?: number | undefined;
      force: boolean;
    },
  ): Promise<void> {
    const ee = this.requireEE(eeId, false);
    const b = this.backendOf(ee);
    if (!b.caps.constraints)
      throw new EngineError(
        EngineCode.InvalidValue,
        `the ${ee.name} execution environment has no constraints to modify`,
      );
    await this.serial(async () => {
      if (c.memoryKiB !== undefined && c.memoryKiB > 0 && !c.force) {
        const used = await b.memoryKiB(ee);
        if (used > c.memoryKiB)
          throw new EngineError(
            EngineCode.CommandFailure,
            `${ee.name} uses ${used} KiB of memory, more than ${c.memoryKiB}; use Force`,
          );
      }
      if (c.memoryKiB !== undefined && c.memoryKiB > 0) {
        const others = this.ees.filter((e) => e !== ee).reduce((s, e) => s + Math.max(0, e.allocatedMemoryKiB), 0);
        if (others + c.memoryKiB > totalmem() / 1024)
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
        const running = this.dus
          .filter((d) => d.ee === eeId)
          .flatMap((d) => d.eus)
          .filter((e) => this.supervisor.isRunning(e.euid));
        for (const eu of running) await this.supervisor.stop(eu.euid, this.grace);
        await b.growDisk(ee, c.diskKiB);
        ee.allocatedDiskKiB = c.diskKiB;
        for (const eu of running) this.supervisor.start(eu.euid);
      }
      if (c.memoryKiB !== undefined) ee.allocatedMemoryKiB = c.memoryKiB;
      if (c.cpuPercent !== undefined) ee.allocatedCpuPercent = c.cpuPercent;
      await b.setLimits(ee, { memoryKiB: ee.allocatedMemoryKiB, cpuPercent: ee.allocatedCpuPercent });
      this.records.saveEEs(this.ees);
      this.emit('ee', ee);
    });
  }

  /** The memory an EE uses now (its container's cgroup), in KiB; -1 for the native EE. */
  async eeMemoryKiB(eeId: string): Promise<number> {
    const ee = this.ees.find((e) => e.id === eeId);
    return ee ? this.backendOf(ee).memoryKiB(ee) : -1;
  }

  // ---- application data volumes ---------------------------------------------------------------

  volumes(): readonly VolumeRecord[] {
    return this.vols;
  }
  /** Where the EE's services reach a volume (its AccessPath in a container, the mount point natively). */
  volumePath(v: VolumeRecord): string {
    return this.backendOf(this.eeOfVolume(v)).caps.volumeLinks ? v.accessPath : this.volumeDir(v);
  }
  volumeUsedMiB(v: VolumeRecord): number {
    return VolumeImages.usedMiB(this.volumeDir(v));
  }
  volumesOf(du: DURecord): VolumeRecord[] {
    return this.vols.filter((v) => v.ee === du.ee && v.appUuid === du.uuid);
  }

  /** ApplicationData.Remove(): refused (7229) while the application that owns it is installed. */
  removeVolume(id: string): Promise<void> {
    return this.serial(async () => {
      const v = this.vols.find((x) => x.id === id);
      if (!v) throw new EngineError(EngineCode.InvalidValue, `application data volume ${id} does not exist`);
      const owner = this.dus.find((d) => d.ee === v.ee && d.uuid === v.appUuid);
      if (owner)
        throw new EngineError(
          EngineCode.InvalidDUState,
          `volume ${v.name} belongs to ${owner.manifest.name}, which is installed; uninstall it first`,
        );
      await this.dropVolumes([v]);
    });
  }

  /** Starts an EE (its container), then gives its volumes their AccessPath (a Reset() took the links). */
  private async startEE(ee: EERecord): Promise<void> {
    const b = this.backendOf(ee);
    // Callers outside the queue (Enable, Restart, Reset) pass the error on: its detail is logged here.
    await b.start(ee).catch((e: unknown) => {
      this.logDetail(e, { ee: ee.name });
      throw e;
    });
    if (!b.caps.volumeLinks) return;
    for (const v of this.vols.filter((x) => x.ee === ee.id)) {
      await b
        .link(ee, v.id, v.accessPath)
        .catch((e) => this.logError(e, { volume: v.name, ee: ee.name }, 'application data volume has no AccessPath'));
    }
  }

  /**
   * The operator's policy for an EE: whether privileged DUs may be installed there (TR-181
   * Privileged; on the native EE that allows services to run as root).
   */
  setPolicy(eeId: string, policy: { allowPrivileged: boolean }): void {
    const ee = this.requireEE(eeId, false);
    if (ee.allowPrivileged === policy.allowPrivileged) return;
    ee.allowPrivileged = policy.allowPrivileged;
    this.records.saveEEs(this.ees);
  }

  private eeOfVolume(v: VolumeRecord): EERecord | undefined {
    return this.ees.find((e) => e.id === v.ee);
  }

  private volumeDir(v: VolumeRecord): string {
    const ee = this.eeOfVolume(v);
    return this.backendOf(ee).volumeDir(ee ?? { id: v.ee }, v.id);
  }

  /** The backend of an EE (by the kind its record keeps); the host's for a place that has none. */
  private backendOf(ee: EERecord | undefined): Backend {
    return ee ? this.byKind[ee.backend] : this.host;
  }

  private volumeSpecs(specs: readonly VolumeSpec[]): VolumeSpec[] {
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
  private newVolumeBytes(ee: EERecord, uuid: string, specs: readonly VolumeSpec[]): number {
    return this.missingVolumes(ee, uuid, specs).reduce((s, v) => s + v.capacityMiB, 0) * 1024 ** 2;
  }

  private missingVolumes(ee: EERecord, uuid: string, specs: readonly VolumeSpec[]): VolumeSpec[] {
    return specs.filter((s) => !this.vols.some((v) => v.ee === ee.id && v.appUuid === uuid && v.name === s.name));
  }

  /** Creates the volumes that do not exist yet; journalled first, so that recovery can take them back. */
  private async createVolumes(
    ee: EERecord,
    uuid: string,
    specs: readonly VolumeSpec[],
    op: OpRecord,
  ): Promise<VolumeRecord[]> {
    const fresh = this.missingVolumes(ee, uuid, specs).map((s) => ({
      ...s,
      id: randomBytes(6).toString('hex'),
      ee: ee.id,
      appUuid: uuid,
    }));
    if (!fresh.length) return [];
    this.records.saveOp({ ...op, volumes: fresh.map((v) => v.id) });
    this.vols = [...this.vols, ...fresh];
    try {
      for (const v of fresh) {
        await this.images.create(v);
        await this.images.mount(v, this.volumeDir(v));
        const b = this.backendOf(ee);
        if (b.caps.volumeLinks && (await b.running(ee))) await b.link(ee, v.id, v.accessPath);
      }
    } catch (e) {
      await this.dropVolumes(fresh);
      throw e;
    }
    this.records.saveVolumes(this.vols);
    this.emit('volumes');
    return fresh;
  }

  private async dropVolumes(list: readonly VolumeRecord[]): Promise<void> {
    if (!list.length) return;
    for (const v of list) {
      const ee = this.eeOfVolume(v);
      if (ee && this.backendOf(ee).caps.volumeLinks)
        await this.backendOf(ee)
          .unlink(ee, v.accessPath)
          .catch((e) => this.log.warn({ err: e }, 'volume link not removed'));
      await this.images.destroy(v, this.volumeDir(v));
    }
    const ids = new Set(list.map((v) => v.id));
    this.vols = this.vols.filter((v) => !ids.has(v.id));
    this.records.saveVolumes(this.vols);
    this.emit('volumes');
  }

  /** Retain=UntilStopped: once none of the application's units runs, its volume starts empty again. */
  private wipeIfStopped(euid: string): void {
    const found = this.unitOf(euid);
    if (!found || found.du.eus.some((e) => this.supervisor.isRunning(e.euid))) return;
    for (const v of this.volumesOf(found.du)) {
      if (v.retain !== 'UntilStopped') continue;
      const wiping = this.wipeVolume(v, found.du).catch((e: unknown) =>
        this.logError(e, { volume: v.name }, 'volume could not be emptied'),
      );
      this.wipes.add(wiping);
      void wiping.finally(() => this.wipes.delete(wiping));
    }
  }

  // ---- internals ------------------------------------------------------------------------------

  private autostart(ee: EERecord): void {
    for (const du of this.dus.filter((d) => d.ee === ee.id)) {
      for (const eu of du.eus) {
        if (this.supervisor.isRunning(eu.euid)) continue;
        if (eu.requested === 'Active' && (eu.autoStart ? eu.runLevel <= ee.currentRunLevel : true))
          this.supervisor.start(eu.euid, eu.autoStart);
      }
    }
  }

  private requireEE(id: string, mustBeEnabled = true): EERecord {
    const ee = this.ees.find((e) => e.id === id);
    if (!ee) throw new EngineError(EngineCode.UnknownExecEnv, `execution environment '${id}' does not exist`);
    if (mustBeEnabled && !ee.enabled)
      throw new EngineError(EngineCode.InvalidValue, `execution environment ${ee.name} is disabled`);
    return ee;
  }

  private limits(ee: EERecord): { maxBytes: number; maxEntries: number } {
    const cap = this.opts.maxUnpackedBytes ?? 1024 ** 3;
    return { maxBytes: ee.allocatedDiskKiB > 0 ? Math.min(cap, ee.allocatedDiskKiB * 1024) : cap, maxEntries: 100_000 };
  }

  /** Admission control: an install that would overcommit the EE's disk or the device's is refused. */
  private admitDisk(ee: EERecord, bytes: number): void {
    if (ee.allocatedDiskKiB > 0) {
      const used =
        this.dus.filter((d) => d.ee === ee.id).reduce((s, d) => s + d.diskKiB, 0) * 1024 +
        this.vols.filter((v) => v.ee === ee.id).reduce((s, v) => s + v.capacityMiB, 0) * 1024 ** 2;
      if (used + bytes > ee.allocatedDiskKiB * 1024)
        throw new EngineError(
          EngineCode.ResourcesExceeded,
          `${ee.name} has ${ee.allocatedDiskKiB} KiB of disk; ${Math.ceil(used / 1024)} KiB are in use and the ` +
            `package needs ${Math.ceil(bytes / 1024)} KiB`,
        );
    }
    const fs = statfsSync(this.records.dir);
    if (bytes > fs.bavail * fs.bsize)
      throw new EngineError(
        EngineCode.ResourcesExceeded,
        `the device has ${fs.bavail * fs.bsize} bytes free and the package needs ${bytes}`,
      );
  }

  private async fetch(req: InstallRequest, dest: string): Promise<void> {
    // Cancelled by the requester, or by the engine detaching (an agent stop or restart).
    const stop = new AbortController();
    const cancel = () => stop.abort();
    for (const s of [req.signal, this.detached.signal]) {
      s?.addEventListener('abort', cancel, { once: true });
      if (s?.aborted) cancel();
    }
    try {
      await fetchPackage(req.url, dest, {
        username: req.username,
        password: req.password,
        maxBytes: this.opts.maxPackageBytes ?? 512 * 1024 * 1024,
        limits: this.opts.download,
        fileDirectory: this.fileUrlDirectory,
        caFile: this.opts.caFile,
        signal: stop.signal,
        progress: (got, total) => {
          if (total) req.progress?.(Math.floor((got / total) * 80));
        },
      });
    } finally {
      for (const s of [req.signal, this.detached.signal]) s?.removeEventListener('abort', cancel);
    }
  }

  /**
   * The one directory file: URLs of packages may lead to (after links are resolved), whoever asks;
   * '' (the default) refuses them: a controller or an ACS must not make the agent read host files.
   */
  setFileUrlDirectory(dir: string): void {
    this.fileUrlDirectory = dir;
  }

  /** A DU's data directory on the host (for LXC EEs inside the EE's disk image, within its allowance). */
  dataDir(uuid: string, eeId: string): string {
    const ee = this.ees.find((e) => e.id === eeId);
    return this.backendOf(ee).dataDir(ee ?? { id: eeId }, uuid);
  }

  /**
   * Where an operation stages its files: on the same mount as the DU's final place, so that the
   * commit is a rename (an LXC EE's du/ is a mount of its own).
   */
  private stagingDir(eeId: string, id: string): string {
    const ee = this.ees.find((e) => e.id === eeId);
    return this.backendOf(ee).stagingDir(ee ?? { id: eeId }, id);
  }

  private duRoot(ee: EERecord, duid: string): string {
    return this.backendOf(ee).duRoot(ee, duid);
  }

  private launchOf(du: DURecord, eu: EURecord): Launch {
    const ee = this.ees.find((e) => e.id === du.ee);
    const env: Record<string, string> = { ...eu.service.env, CPE_EUID: eu.euid };
    for (const v of this.volumesOf(du)) env[volumeEnvName(v.name)] = this.volumePath(v);
    return this.backendOf(ee).launch(ee ?? ({ id: du.ee } as EERecord), du, eu, env, () =>
      this.identity.hostUserOf(du, eu),
    );
  }

  /** The restart policy in force for a unit (what the model shows in AutoRestart). */
  unitPolicy(euid: string) {
    const found = this.unitOf(euid);
    return found ? this.policyOf(found.eu) : undefined;
  }

  private policyOf(eu: EURecord) {
    const r = eu.restart;
    const mode = r
      ? r.enabled
        ? eu.service.restart === 'never'
          ? 'on-failure'
          : eu.service.restart
        : 'never'
      : eu.service.restart;
    // A zero wait or a multiplier below 1 would spin: the TR-181 minimums apply.
    return {
      mode,
      minWait: Math.max(1, r?.minWait ?? 5),
      multiplier: Math.max(1000, r?.multiplier ?? 2000),
      maxWait: Math.max(1, r?.maxWait ?? 3600),
      maxRetries: r?.maxRetries ?? 10,
    } as const;
  }

  private result(
    operation: DuOperation,
    requestTag: string,
    du: DURecord | undefined,
    fault: DuResult['fault'],
    startTime: string,
    gone?: DURecord,
  ): DuResult {
    const d = du ?? gone!;
    return {
      operation,
      requestTag,
      uuid: d.uuid,
      version: d.manifest.version,
      ee: d.ee,
      du: fault ? d : du,
      duid: d.duid,
      euids: d.eus.map((e) => e.euid),
      fault,
      startTime,
      completeTime: iso(),
    };
  }

  /**
   * Reports an operation, then forgets its journal entry. The outcome is journalled first, and the entry
   * goes only after the requester's own completion (an OperationComplete made when the promise it awaits
   * settles) has had its turn: a crash in between reports the same outcome again, which the protocols
   * recognise as a repeat, instead of reporting nothing or something else.
   */
  private finish(opId: string, result: DuResult): void {
    if (this.detached.signal.aborted) return; // the journal entry stays for the next engine to recover
    // Reported even if the outcome can't be journalled (a full disk): a crash before the entry goes
    // would then report it again (a failed install as interrupted), which is better than never.
    if (!result.recovered) {
      try {
        this.records.recordOutcome(opId, result);
      } catch (e) {
        this.log.error({ err: e, opId }, 'the outcome of a DU operation could not be journalled');
      }
    }
    this.log.debug(
      {
        opId,
        operation: result.operation,
        requestTag: result.requestTag,
        recovered: result.recovered === true,
        fault: result.fault?.code,
      },
      'DU operation reported',
    );
    try {
      this.emit('result', result);
    } finally {
      setImmediate(() => this.records.dropOp(opId));
    }
  }

  /**
   * Reports what start() found interrupted. The agent calls it once the protocols listen, so the
   * outcome reaches the controllers and the ACS; the journal entry goes only after the report.
   */
  reportRecovered(): void {
    const list = this.recovered;
    this.recovered = [];
    for (const { opId, result } of list) this.finish(opId, { ...result, recovered: true });
  }

  /** After a crash: a committed operation is reported as done; anything else is undone and failed. */
  private defer(op: OpRecord, result: DuResult): void {
    // Undone or not, an outcome already reached (and perhaps heard) is reported as it was.
    this.recovered.push({ opId: op.id, result: op.outcome ?? result });
  }

  private async recover(op: OpRecord): Promise<void> {
    const du = op.duid ? this.du(op.duid) : undefined;
    const interrupted = { code: EngineCode.InternalError, message: 'interrupted by an agent restart' };
    const base = { requestTag: op.requestTag, uuid: op.uuid, startTime: op.startTime, completeTime: iso() };
    const own = this.vols.filter((v) => op.volumes?.includes(v.id));
    if (op.kind === 'install') {
      // An install is committed exactly when its DU is in the records.
      if (du) return this.defer(op, this.result('Install', op.requestTag, du, undefined, op.startTime));
      await this.dropVolumes(own);
      if (op.root && !du) await removeRoot(op.root);
      rmSync(op.staging, { recursive: true, force: true });
      return this.defer(op, {
        ...base,
        operation: 'Install',
        version: '',
        ee: '',
        du: undefined,
        duid: undefined,
        euids: [],
        fault: interrupted,
      });
    }
    if (op.kind === 'update') {
      if (!op.committed && du && (existsSync(join(op.staging, 'old')) || existsSync(join(op.staging, 'old.sqfs'))))
        await restoreRoot(du, op.staging);
      if (!op.committed) await this.dropVolumes(own);
      await unmount(join(op.staging, CHECK_MOUNT));
      rmSync(op.staging, { recursive: true, force: true });
      return this.defer(
        op,
        du
          ? this.result('Update', op.requestTag, du, op.committed ? undefined : interrupted, op.startTime)
          : {
              ...base,
              operation: 'Update',
              version: '',
              ee: '',
              du: undefined,
              duid: op.duid,
              euids: [],
              fault: interrupted,
            },
      );
    }
    // uninstall: committed means the record is gone; finish the removal. Whether the caller asked to
    // retain data is not journalled: Forever volumes stay (ApplicationData.Remove() takes them).
    if (!du) {
      await removeRoot(op.staging);
      await this.dropVolumes(
        this.vols.filter(
          (v) =>
            v.appUuid === op.uuid &&
            v.retain === 'UntilStopped' &&
            !this.dus.some((d) => d.uuid === v.appUuid && d.ee === v.ee),
        ),
      );
      return this.defer(op, {
        ...base,
        operation: 'Uninstall',
        version: '',
        ee: '',
        du: undefined,
        duid: op.duid,
        euids: [],
        fault: undefined,
      });
    }
    return this.defer(op, this.result('Uninstall', op.requestTag, du, interrupted, op.startTime));
  }

  private inOrder<T>(duid: string, fn: () => Promise<T>): Promise<T> {
    const next = (this.duQueues.get(duid) ?? Promise.resolve()).then(fn, fn);
    const settled = next.catch(() => undefined);
    this.duQueues.set(duid, settled);
    void settled.then(() => {
      if (this.duQueues.get(duid) === settled) this.duQueues.delete(duid);
    });
    return next;
  }

  /** An error for the log: its message at error level, its detail (host paths, a tool's output) at debug only. */
  private logError(e: unknown, fields: Record<string, unknown>, msg: string): void {
    this.log.error({ ...fields, err: e }, msg);
    this.logDetail(e, fields);
  }

  private logDetail(e: unknown, fields: Record<string, unknown> = {}): void {
    if (e instanceof EngineError && e.detail)
      this.log.debug({ ...fields, code: e.code, detail: e.detail }, `the detail of: ${e.message}`);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const turn = () =>
      this.detached.signal.aborted
        ? Promise.reject(new EngineError(EngineCode.InternalError, 'the agent is stopping'))
        : fn();
    const next = this.queue.then(turn, turn);
    next.catch((e: unknown) => this.logDetail(e));
    this.queue = next.catch(() => undefined);
    return next;
  }
}
