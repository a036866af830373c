// Update: like an install, the new package is fetched and checked before the update takes its turn in
// the queue (operations on one DU keep their order, downloads included). In its turn the old DU's files
// are moved into staging, the new ones put in place, and the records committed; a failure puts the old
// DU back as it was.
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { dateTime as iso } from '../util/time.js';
import { admitDisk, unpackLimits } from './admission.js';
import type { EngineParts } from './context.js';
import { applyDisk, removeData } from './du-data.js';
import {
  asEngineError,
  assertSameDU,
  detachRoot,
  faultOf,
  layoutFor,
  restoreRoot,
  type Unpacked,
  unpackTree,
} from './du-files.js';
import { admitDuDisk, admitResources } from './du-limits.js';
import { admitVersion } from './du-version.js';
import { EngineCode, EngineError } from './errors.js';
import { logDetail, logError } from './fault-log.js';
import type { ImageRecord } from './image/image-record.js';
import { newOpId, resultOf } from './journal.js';
import { mountImage, unmount } from './mounts.js';
import type { Manifest } from './package/manifest.js';
import { mountPackage, type PackageFormat, packageFormat } from './package/unpack.js';
import { checkSignature, imageSignatureCheck } from './signature-check.js';
import { download } from './staging.js';
import type { DURecord, DuResult, EERecord, OpRecord, UpdateRequest } from './types.js';
import type { VolumeRecord } from './volumes.js';

/** Where an update mounts a new SquashFS image in its staging directory to check it. */
export const CHECK_MOUNT = 'image';

/** An update's new package, downloaded and checked before its turn. */
type FetchedUpdate = {
  ee: EERecord;
  url: string;
  creds: { username: string; password: string };
  pkg: string;
  format: PackageFormat;
  layout: 'image' | 'tree';
  manifest: Manifest;
  bytes: number;
  image?: ImageRecord | undefined;
};
/** An update under way: what its failure must put back. */
type UpdateJob = { op: OpRecord; old: DURecord; swapped: boolean; created: VolumeRecord[]; wasActive: string[] };

export async function update(p: EngineParts, duid: string, req: UpdateRequest): Promise<DuResult> {
  const before = p.store.du(duid);
  if (!before) throw new EngineError(EngineCode.InvalidDUState, `deployment unit ${duid} is not installed`);
  const id = newOpId();
  const op: OpRecord = {
    id,
    kind: 'update',
    startTime: iso(),
    uuid: before.uuid,
    duid,
    staging: p.store.stagingDir(before.ee, id),
    requestTag: req.requestTag,
    committed: false,
  };
  const job: UpdateJob = { op, old: before, swapped: false, created: [], wasActive: [] };
  p.events.emit('duStatus', duid, 'Updating');
  let fetched: FetchedUpdate;
  try {
    fetched = await fetchForUpdate(p, req, job);
  } catch (e) {
    return failUpdate(p, req, job, e);
  }
  return p.queue.serial(() => commitUpdate(p, req, job, fetched));
}

async function fetchForUpdate(p: EngineParts, req: UpdateRequest, job: UpdateJob): Promise<FetchedUpdate> {
  const { op, old } = job;
  const ee = p.store.requireEE(old.ee);
  p.records.saveOp(op);
  mkdirSync(op.staging, { recursive: true, mode: 0o700 });
  const url = req.url || old.url;
  const creds = req.url
    ? { username: req.username ?? '', password: req.password ?? '' }
    : { username: old.username, password: old.password };
  const pkg = join(op.staging, 'package');
  const backend = p.store.backendOf(ee);
  const asked = { ...req, ...creds, url };
  // An image's signature is checked on its manifest, before its layers are fetched and unpacked.
  const verify = imageSignatureCheck(p.downloads(), req, op.staging);
  const pulled = await p.ociImages.fromReference(p.downloads(), asked, ee, backend, op.staging, verify);
  if (!pulled) await download(p.downloads(), asked, pkg);
  const image = pulled ?? (await p.ociImages.fromArchive(pkg, asked, ee, backend, op.staging, verify));
  if (!image) await checkSignature(p.downloads(), req, pkg, op.staging);
  if (image) {
    assertSameDU(old, image.manifest, req.uuid);
    const { manifest, bytes } = image;
    return { ee, url, creds, pkg, format: 'oci', layout: 'tree', manifest, bytes, image: image.image };
  }
  // The new package is checked before the old one is touched.
  const format = await packageFormat(pkg);
  const layout = layoutFor(ee, format);
  const limits = unpackLimits(ee, p.opts.maxUnpackedBytes);
  let checked: Unpacked;
  if (layout === 'image') {
    // Checked where nothing uses it: mounted in staging, unmounted again before the swap.
    const at = join(op.staging, CHECK_MOUNT);
    mkdirSync(at);
    try {
      checked = { ...(await mountPackage(pkg, at, limits)), format };
    } finally {
      await unmount(at);
    }
  } else checked = await unpackTree(pkg, join(op.staging, 'root'), ee, limits);
  assertSameDU(old, checked.manifest, req.uuid);
  return { ee, url, creds, pkg, format, layout, manifest: checked.manifest, bytes: checked.bytes };
}

async function commitUpdate(p: EngineParts, req: UpdateRequest, job: UpdateJob, fetched: FetchedUpdate) {
  const { op } = job;
  const { store, supervisor } = p;
  const duid = op.duid!;
  try {
    // The record as it is now (its units' settings may have changed during the download).
    const current = store.du(duid);
    if (!current) throw new EngineError(EngineCode.InvalidDUState, `deployment unit ${duid} was uninstalled meanwhile`);
    const old = (job.old = current);
    const ee = store.requireEE(old.ee);
    if (ee !== fetched.ee)
      throw new EngineError(
        EngineCode.UnknownExecEnv,
        `execution environment ${fetched.ee.name} was removed meanwhile`,
      );
    const { url, creds, pkg, format, layout, bytes, manifest } = fetched;
    admitVersion(store.dus, old, manifest.version, req.allowDowngrade !== false);
    const unpacked = join(op.staging, 'root');
    // Volumes: those named (by the caller, else the new manifest, else the ones it has) must exist.
    let specs = req.appData ?? manifest.data;
    const extra = specs ? p.volumes.newBytes(ee, old.uuid, p.volumes.specs(specs)) : 0;
    const settings = req.settings ? { ...old.settings, ...req.settings } : old.settings;
    admitResources(ee, settings?.resources);
    // A NetworkConfig given replaces the DU's (its own mappings are no conflict); none keeps the one it has.
    const network = req.network ? p.net.admit(ee, req.network, store.dus, duid) : old.network;
    if (settings) p.hostObjects.check(ee, { settings });
    admitDuDisk(settings?.resources, bytes + extra);
    admitDisk(store, ee, bytes - old.diskKiB * 1024 + extra);
    job.wasActive = old.eus.filter((e) => supervisor.isRunning(e.euid)).map((e) => e.service.name);
    for (const eu of old.eus) await supervisor.stop(eu.euid, p.grace);
    if (req.settings?.hostObjects) await p.hostObjects.detach(old);
    await store.backendOf(ee).release?.(ee, old);
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
    const user = p.identity.checkUsers(ee, manifest, old.privileged === true);
    if (!req.retainData) await removeData(p, old);
    const had = store.volumesOf(old);
    specs = p.volumes.specs(req.appData ?? (manifest.data.length ? manifest.data : had));
    job.created = await p.volumes.create(ee, old.uuid, specs, op);
    const keep = new Map(old.eus.map((e) => [e.service.name, e]));
    const du: DURecord = {
      ...old,
      manifest,
      url,
      username: creds.username,
      password: creds.password,
      format,
      layout,
      installedAt: iso(),
      diskKiB: Math.ceil(bytes / 1024),
      ...(user ? { user } : {}),
      image: fetched.image,
      eus: manifest.services.map((s) => ({
        euid: `${duid}-${s.name}`,
        service: s,
        requested: keep.get(s.name)?.requested ?? (s.autostart ? 'Active' : 'Idle'),
        autoStart: s.autostart,
        runLevel: s.runLevel,
        ...(settings?.restart ? { restart: settings.restart } : {}),
      })),
      ...(settings ? { settings } : {}),
      network,
    };
    p.identity.makeDataDir(du);
    await applyDisk(p, ee, du);
    if (req.settings?.hostObjects) await p.hostObjects.attach(du);
    store.commitDUs(store.dus.map((d) => (d.duid === duid ? du : d))); // the commit point
    p.ociImages.settle(op.staging, store.dus);
    p.records.saveOp({ ...op, committed: true });
    // Without RetainData the old volumes' data goes: the ones still named start empty, the others go.
    if (!req.retainData) {
      const named = new Set(specs.map((v) => v.name));
      for (const v of had) if (named.has(v.name)) await p.volumes.wipe(v, du);
      await p.volumes.drop(had.filter((v) => !named.has(v.name)));
    }
    for (const eu of old.eus) if (!du.eus.some((n) => n.euid === eu.euid)) supervisor.remove(eu.euid);
    if (du.network || old.network) await p.net.refresh(store.ees, store.dus);
    for (const eu of du.eus) {
      supervisor.remove(eu.euid);
      p.supervise(du, eu);
    }
    rmSync(op.staging, { recursive: true, force: true });
    const result = resultOf('Update', req.requestTag, du, undefined, op.startTime);
    p.events.emit('duStatus', duid, 'Installed');
    p.journal.finish(op.id, result);
    for (const eu of du.eus)
      if (job.wasActive.includes(eu.service.name) || (eu.autoStart && eu.runLevel <= ee.currentRunLevel))
        supervisor.start(eu.euid);
    return result;
  } catch (e) {
    return failUpdate(p, req, job, e);
  }
}

/** Puts the old DU back as it was and reports the failure; before the update's turn only staging exists. */
async function failUpdate(p: EngineParts, req: UpdateRequest, job: UpdateJob, e: unknown): Promise<DuResult> {
  const { op, old } = job;
  const err = asEngineError(e);
  logDetail(p.log, err, { opId: op.id });
  if (job.swapped) {
    await restoreRoot(old, op.staging);
    // Its data back on the disk it had (a new allowance may have been applied, or half of it).
    await p.disks.apply(old).catch((c) => logError(p.log, c, { duid: old.duid }, "the DU's disk was not restored"));
  }
  rmSync(op.staging, { recursive: true, force: true });
  p.ociImages.settle(op.staging, p.store.dus);
  await p.volumes.drop(job.created);
  for (const eu of old.eus) if (job.wasActive.includes(eu.service.name)) p.supervisor.start(eu.euid);
  if (p.store.du(old.duid)) p.events.emit('duStatus', old.duid, 'Installed');
  const result = resultOf('Update', req.requestTag, old, faultOf(err), op.startTime);
  p.journal.finish(op.id, result);
  return result;
}
