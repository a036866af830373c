// InstallDU: the package is fetched, and a tar.gz unpacked into the operation's staging directory,
// outside the engine's queue: a stalled download server holds its own install, for at most the download
// limits, never the operations on other DUs and EEs. The journal entry is written before the download;
// everything from placing the DU to the commit (the DU in the records) is one turn of the queue.
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { dateTime as iso } from '../util/time.js';
import { admitDisk, unpackLimits } from './admission.js';
import type { EngineParts } from './context.js';
import { applyDisk, removeData } from './du-data.js';
import { asEngineError, faultOf, removeRoot, type Unpacked, unpackIfTree } from './du-files.js';
import { admitDuDisk, admitResources } from './du-limits.js';
import { EngineCode, EngineError } from './errors.js';
import { logDetail, logError } from './fault-log.js';
import { newOpId, resultOf } from './journal.js';
import type { Manifest } from './package/manifest.js';
import { duUuid } from './package/uuid.js';
import { checkSignature, imageSignatureCheck } from './signature-check.js';
import { download, placeImage } from './staging.js';
import type { DURecord, DuResult, EERecord, InstallRequest, OpRecord } from './types.js';
import type { VolumeRecord } from './volumes.js';

/** An install's package, downloaded (and unpacked unless it is an image to mount) before its turn. */
type Fetched = { ee: EERecord; pkg: string; tree: Unpacked | undefined };
/**
 * An install under way: what its failure must undo and report. madeData: the DU whose data directory this
 * install made (one kept from before is not its to remove).
 */
type InstallJob = {
  op: OpRecord;
  uuid: string;
  manifest: Manifest | undefined;
  created: VolumeRecord[];
  madeData?: DURecord;
};

export async function install(p: EngineParts, req: InstallRequest): Promise<DuResult> {
  const job = installJob(p, req);
  let fetched: Fetched;
  try {
    fetched = await fetchForInstall(p, req, job);
  } catch (e) {
    return failInstall(p, req, job, e);
  }
  return p.queue.serial(() => commitInstall(p, req, job, fetched));
}

function installJob(p: EngineParts, req: InstallRequest): InstallJob {
  const id = newOpId();
  const eeNow = p.store.ee(req.ee);
  const duid = eeNow && `${eeNow.id}-${id}`;
  // The DU's id and final root are known before anything is fetched: journalled now, recovery can
  // always undo what the install made, and knows it committed once the records have that DU.
  const op: OpRecord = {
    id,
    kind: 'install',
    startTime: iso(),
    uuid: req.uuid ?? '',
    duid,
    staging: p.store.stagingDir(req.ee, id),
    ...(eeNow && duid ? { root: p.store.duRoot(eeNow, duid) } : {}),
    requestTag: req.requestTag,
    committed: false,
  };
  return { op, uuid: req.uuid ?? '', manifest: undefined, created: [] };
}

/** What an install does before it takes its turn: checks, the journal entry, the download, the unpacking. */
async function fetchForInstall(p: EngineParts, req: InstallRequest, job: InstallJob): Promise<Fetched> {
  const { op } = job;
  const ee = p.store.requireEE(req.ee);
  if (p.store.backendOf(ee).caps.idRange && !ee.ids) {
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
  admitResources(ee, req.settings?.resources);
  p.hostObjects.check(ee, req);
  mkdirSync(op.staging, { recursive: true, mode: 0o700 });
  // The journal entry is on disk before anything is placed where it would outlive a crash (the
  // staging directory does not: start() clears it); its fsync runs while the package downloads.
  const journalled = p.records.saveOpSoon(op);
  journalled.catch(() => undefined); // awaited below; a failed fetch must not leave it unhandled
  const pkg = join(op.staging, 'package');
  const backend = p.store.backendOf(ee);
  // An image's signature is checked on its manifest, before its layers are fetched and unpacked.
  const verify = imageSignatureCheck(p.downloads(), req, op.staging);
  const pulled = await p.ociImages.fromReference(p.downloads(), req, ee, backend, op.staging, verify);
  if (!pulled) await download(p.downloads(), req, pkg);
  await journalled;
  const image = pulled ?? (await p.ociImages.fromArchive(pkg, req, ee, backend, op.staging, verify));
  if (!image) await checkSignature(p.downloads(), req, pkg, op.staging);
  const tree = image ?? (await unpackIfTree(pkg, op.staging, ee, unpackLimits(ee, p.opts.maxUnpackedBytes)));
  return { ee, pkg, tree };
}

async function commitInstall(p: EngineParts, req: InstallRequest, job: InstallJob, fetched: Fetched) {
  const { op } = job;
  const { store } = p;
  try {
    const ee = store.requireEE(req.ee);
    if (ee !== fetched.ee)
      throw new EngineError(
        EngineCode.UnknownExecEnv,
        `execution environment ${fetched.ee.name} was removed meanwhile`,
      );
    const duid = `${ee.id}-${op.id}`;
    const finalRoot = store.duRoot(ee, duid);
    const placed = fetched.tree
      ? { ...fetched.tree, layout: 'tree' as const, root: join(op.staging, 'root') }
      : await placeImage(p.records, fetched.pkg, finalRoot, { ...op, duid }, unpackLimits(ee, p.opts.maxUnpackedBytes));
    const manifest = (job.manifest = placed.manifest);
    const uuid = (job.uuid = req.uuid || duUuid(manifest.name, manifest.vendor));
    if (store.dus.some((d) => d.uuid === uuid && d.manifest.version === manifest.version && d.ee === ee.id)) {
      throw new EngineError(
        EngineCode.DuplicateDU,
        `${manifest.name} ${manifest.version} (${uuid}) is already installed in ${ee.name}`,
      );
    }
    const user = p.identity.checkUsers(ee, manifest, req.privileged === true);
    const network = p.net.admit(ee, req.network, store.dus);
    if (network) store.backendOf(ee).admitNetwork?.();
    const specs = p.volumes.specs(req.appData ?? manifest.data);
    admitDuDisk(req.settings?.resources, placed.bytes + p.volumes.newBytes(ee, uuid, specs));
    admitDisk(store, ee, placed.bytes + p.volumes.newBytes(ee, uuid, specs));
    if (placed.layout === 'tree') {
      // Recovery must know what the rename creates: the entry on disk says so since it was made (the DU's
      // root and id follow from the operation's); the uuid is for the report and needs no flush.
      p.records.saveOp({ ...op, uuid, duid, root: finalRoot }, op.root !== finalRoot || op.duid !== duid);
      renameSync(placed.root, finalRoot);
    }
    job.created = await p.volumes.create(ee, uuid, specs, { ...op, uuid, duid, root: finalRoot });
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
      ...(placed.image ? { image: placed.image } : {}),
      ...(network ? { network } : {}),
      eus: manifest.services.map((s) => ({
        euid: `${duid}-${s.name}`,
        service: s,
        requested: s.autostart ? 'Active' : 'Idle',
        autoStart: s.autostart,
        runLevel: s.runLevel,
        ...(req.settings?.restart ? { restart: req.settings.restart } : {}),
      })),
      ...(req.settings ? { settings: req.settings } : {}),
      ...(req.factory ? { factoryUrl: req.url } : {}),
    };
    try {
      await p.hostObjects.attach(du);
    } catch (e) {
      await p.hostObjects.detach(du);
      throw e;
    }
    if (!existsSync(store.dataDir(du.uuid, du.ee))) job.madeData = du;
    p.identity.makeDataDir(du);
    await applyDisk(p, ee, du);
    // The commit point: recovery finds the DU in the records. Known in memory only once it is there.
    store.commitDUs([...store.dus, du]);
    p.ociImages.settle(op.staging, store.dus);
    if (network) await p.net.refresh(store.ees, store.dus);
    for (const eu of du.eus) p.supervise(du, eu);
    rmSync(op.staging, { recursive: true, force: true });
    const result = resultOf('Install', req.requestTag, du, undefined, op.startTime);
    p.journal.finish(op.id, result);
    if (ee.enabled)
      for (const eu of du.eus) if (eu.autoStart && eu.runLevel <= ee.currentRunLevel) p.supervisor.start(eu.euid, true);
    return result;
  } catch (e) {
    return failInstall(p, req, job, e);
  }
}

/**
 * Undoes what a failed install made and reports it. Before the install's turn it made only its
 * staging directory, so this needs the queue only when called from the commit.
 */
async function failInstall(p: EngineParts, req: InstallRequest, job: InstallJob, e: unknown): Promise<DuResult> {
  const { op } = job;
  const err = asEngineError(e);
  const duid = `${req.ee}-${op.id}`;
  const ee = p.store.ee(req.ee);
  logDetail(p.log, err, { opId: op.id });
  try {
    if (ee && !p.store.du(duid)) await removeRoot(p.store.duRoot(ee, duid));
    if (job.madeData) await removeData(p, job.madeData);
    await p.volumes.drop(job.created);
  } catch (c) {
    // The failure is reported whatever the cleanup meets; the log says what it met.
    logError(p.log, c, { opId: op.id }, 'cleanup after a failed install failed');
  }
  rmSync(op.staging, { recursive: true, force: true });
  p.ociImages.settle(op.staging, p.store.dus);
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
  p.journal.finish(op.id, result);
  return result;
}
