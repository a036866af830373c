// After a crash or kill -9, for each journal entry left: a committed operation is reported as done;
// anything else is undone (its root, its staging, the volumes it made; an update's old DU put back) and
// reported failed. The report waits for Journal.reportRecovered(), once everyone listens.
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { dateTime as iso } from '../util/time.js';
import type { AppVolumes } from './app-volumes.js';
import { removeRoot, restoreRoot } from './du-files.js';
import type { DuStore } from './du-store.js';
import { CHECK_MOUNT } from './du-update.js';
import { EngineCode } from './errors.js';
import type { HostObjects } from './host-objects.js';
import { type Journal, resultOf } from './journal.js';
import { unmount } from './mounts.js';
import type { DuResult, OpRecord } from './types.js';

export interface RecoveryContext {
  readonly store: DuStore;
  readonly volumes: AppVolumes;
  readonly journal: Journal;
  readonly hostObjects: HostObjects;
}

export async function recover(c: RecoveryContext, op: OpRecord): Promise<void> {
  const { store, volumes, journal } = c;
  const du = op.duid ? store.du(op.duid) : undefined;
  const interrupted = { code: EngineCode.InternalError, message: 'interrupted by an agent restart' };
  const own = store.vols.filter((v) => op.volumes?.includes(v.id));
  /** A result for a DU the records do not have. */
  const without = (operation: DuResult['operation'], duid: string | undefined, fault: DuResult['fault']) => ({
    operation,
    requestTag: op.requestTag,
    uuid: op.uuid,
    version: '',
    ee: '',
    du: undefined,
    duid,
    euids: [],
    fault,
    startTime: op.startTime,
    completeTime: iso(),
  });
  if (op.kind === 'install') {
    // An install is committed exactly when its DU is in the records.
    if (du) return journal.defer(op, resultOf('Install', op.requestTag, du, undefined, op.startTime));
    await volumes.drop(own);
    if (op.duid) await c.hostObjects.sweep(op.duid);
    if (op.root) await removeRoot(op.root);
    rmSync(op.staging, { recursive: true, force: true });
    return journal.defer(op, without('Install', undefined, interrupted));
  }
  if (op.kind === 'update') {
    if (!op.committed && du && (existsSync(join(op.staging, 'old')) || existsSync(join(op.staging, 'old.sqfs'))))
      await restoreRoot(du, op.staging);
    if (!op.committed) await volumes.drop(own);
    await unmount(join(op.staging, CHECK_MOUNT));
    rmSync(op.staging, { recursive: true, force: true });
    return journal.defer(
      op,
      du
        ? resultOf('Update', op.requestTag, du, op.committed ? undefined : interrupted, op.startTime)
        : without('Update', op.duid, interrupted),
    );
  }
  // uninstall: committed means the record is gone; finish the removal. Whether the caller asked to
  // retain data is not journalled: Forever volumes stay (ApplicationData.Remove() takes them).
  if (!du) {
    if (op.duid) await c.hostObjects.sweep(op.duid);
    await removeRoot(op.staging);
    await volumes.drop(
      store.vols.filter(
        (v) =>
          v.appUuid === op.uuid &&
          v.retain === 'UntilStopped' &&
          !store.dus.some((d) => d.uuid === v.appUuid && d.ee === v.ee),
      ),
    );
    return journal.defer(op, without('Uninstall', op.duid, undefined));
  }
  return journal.defer(op, resultOf('Uninstall', op.requestTag, du, interrupted, op.startTime));
}
