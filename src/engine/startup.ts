// An engine's start: the records loaded, what a device reboot unmounted mounted again, units adopted,
// what a crash interrupted finished from the journal, leftovers swept, EEs started with their units.
import { mkdirSync, rmSync } from 'node:fs';
import type { EngineParts } from './context.js';
import { isImage } from './du-files.js';
import type { EEManager } from './ee-manager.js';
import { logError } from './fault-log.js';
import { isMounted, mountImage } from './mounts.js';
import { recover } from './recovery.js';
import type { BackendKind } from './types.js';
import type { VolumeImages } from './volumes.js';

export async function startEngine(p: EngineParts, ees: EEManager, images: VolumeImages): Promise<void> {
  const { store, records, log } = p;
  const found: BackendKind[] = [];
  for (const b of Object.values(store.backends.byKind)) if (await b.available()) found.push(b.kind);
  store.available = found;
  store.ees = records.loadEEs();
  for (const b of store.availableBackends()) {
    const d = b.defaultEE();
    if (d && !store.ees.some((e) => e.backend === d.backend)) {
      store.ees.push(d);
      store.saveEEs();
    }
  }
  store.loadDUs();
  // After a device reboot nothing is mounted: containers' layers and shared du/ first, then the DU images.
  for (const ee of store.ees.filter((e) => store.backendOf(e).caps.idRange && !e.ids))
    log.warn({ ee: ee.name }, 'this EE was made by an older agent and runs privileged: remove it and add it again');
  for (const ee of store.ees)
    await store
      .backendOf(ee)
      .prepare(ee)
      .catch((e) => logError(log, e, { ee: ee.name }, 'container storage could not be prepared'));
  for (const du of store.dus) {
    if (isImage(du) && !isMounted(du.root))
      await mountImage(`${du.root}.sqfs`, du.root).catch((e) =>
        logError(log, e, { duid: du.duid }, 'DU image could not be mounted'),
      );
  }
  await mountDuDisks(p);
  store.vols = records.loadVolumes();
  await p.volumes.mountAll();
  await p.hostObjects.mountAll();
  // Links, namespaces and the ruleset made again, exactly once, before any unit starts (a reboot lost them).
  await p.net.refresh(store.ees, store.dus);
  for (const du of store.dus) for (const eu of du.eus) p.supervise(du, eu);
  for (const op of records.loadOps()) await recover(p, op);
  // Without a readable DU list, a layer no record names may still be a DU's: kept.
  p.ociImages.sweep(records.lost.has('dus.json') ? undefined : store.dus);
  // Without a readable volume list, an image no record names may still be someone's data: kept.
  if (!records.lost.has('appdata.json')) images.sweep(new Set(store.vols.map((v) => v.id)));
  rmSync(records.path('tmp'), { recursive: true, force: true });
  mkdirSync(records.path('tmp'), { recursive: true, mode: 0o700 });
  for (const ee of store.ees) store.backendOf(ee).sweepStaging(ee);
  for (const ee of store.ees) {
    if (!ee.enabled) continue;
    await ees.startEE(ee).catch((e) => log.error({ err: e, ee: ee.name }, 'container did not start'));
    ees.autostart(ee);
  }
}

/**
 * The DUs' own disks as their records say (a reboot unmounted them, a crash stopped a change half-way), and
 * data an uninstall retained on its own disk mounted again; the images of EEs no record knows go.
 */
async function mountDuDisks(p: EngineParts): Promise<void> {
  const { store, disks, log } = p;
  for (const ee of store.ees)
    await disks
      .mountEE(ee.id, store.dusIn(ee.id), (uuid) => store.dataDir(uuid, ee.id))
      .catch((e) => logError(log, e, { ee: ee.name }, "DUs' own disks could not all be mounted"));
  if (p.records.lost.has('ees.json')) return;
  for (const eeId of disks.eesWithImages())
    if (!store.ee(eeId))
      await disks.dropEE(eeId).catch((e) => logError(log, e, { ee: eeId }, 'the disks of a removed EE stay'));
}
