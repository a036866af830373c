// Uninstall: the DU's units stop, the records drop it (the commit point), then its files, its data
// (unless retained) and its volumes (but Forever ones retained) go. Runs in its turn of the queue.
import { dateTime as iso } from '../util/time.js';
import type { EngineParts } from './context.js';
import { removeData } from './du-data.js';
import { asEngineError, faultOf, removeRoot } from './du-files.js';
import { EngineCode, EngineError } from './errors.js';
import { logDetail, logError } from './fault-log.js';
import { newOpId, resultOf } from './journal.js';
import type { DuResult, OpRecord } from './types.js';

export async function uninstall(
  p: EngineParts,
  duid: string,
  requestTag: string,
  retainData: boolean,
): Promise<DuResult> {
  const { store, supervisor } = p;
  const startTime = iso();
  const du = store.du(duid);
  if (!du) throw new EngineError(EngineCode.InvalidDUState, `deployment unit ${duid} is not installed`);
  const id = newOpId();
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
  p.events.emit('duStatus', duid, 'Uninstalling');
  try {
    p.records.saveOp(op);
    for (const eu of du.eus) await supervisor.stop(eu.euid, p.grace);
    const ee = store.ee(du.ee);
    if (ee) await store.backendOf(ee).release?.(ee, du);
    store.commitDUs(store.dus.filter((d) => d.duid !== duid)); // the commit point
    p.records.saveOp({ ...op, committed: true });
    for (const eu of du.eus) supervisor.remove(eu.euid);
    p.cgroups.remove(duid);
    if (du.network) await p.net.refresh(store.ees, store.dus);
    // Committed: the DU is gone whatever the cleanup meets (a restart's recovery finishes it too).
    try {
      await p.hostObjects.detach(du);
      await removeRoot(du.root);
      if (!retainData) await removeData(p, du);
      await p.volumes.drop(store.volumesOf(du).filter((v) => !(retainData && v.retain === 'Forever')));
      p.ociImages.prune(store.dus);
    } catch (e) {
      logError(p.log, e, { duid }, 'cleanup after an uninstall failed');
    }
    const result = resultOf('Uninstall', requestTag, undefined, undefined, startTime, du);
    p.journal.finish(id, result);
    return result;
  } catch (e) {
    const err = asEngineError(e);
    logDetail(p.log, err, { opId: id });
    p.events.emit('duStatus', duid, 'Installed');
    const result = resultOf('Uninstall', requestTag, du, faultOf(err), startTime);
    p.journal.finish(id, result);
    return result;
  }
}
