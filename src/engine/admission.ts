// Admission control: what would overcommit an EE's disk, the device's disk or the device's memory is
// refused before anything is placed; and how much a package may unpack to in an EE.
import { statfsSync } from 'node:fs';
import { totalmem } from 'node:os';
import type { UnpackLimits } from './du-files.js';
import type { DuStore } from './du-store.js';
import { EngineCode, EngineError } from './errors.js';
import type { EERecord } from './types.js';

/** What a package may unpack to: the engine's cap, within the EE's disk allowance. */
export function unpackLimits(ee: EERecord, maxUnpackedBytes: number | undefined): UnpackLimits {
  const cap = maxUnpackedBytes ?? 1024 ** 3;
  const allowance = ee.allocatedDiskKiB > 0 ? ee.allocatedDiskKiB * 1024 : Number.POSITIVE_INFINITY;
  return { maxBytes: Math.min(cap, allowance), maxEntries: 100_000, byAllowance: allowance < cap };
}

/** An install or update needing `bytes` more is refused if it would overcommit the EE's disk or the device's. */
export function admitDisk(store: DuStore, ee: EERecord, bytes: number): void {
  if (ee.allocatedDiskKiB > 0) {
    const used =
      store.dusIn(ee.id).reduce((s, d) => s + d.diskKiB, 0) * 1024 +
      store.vols.filter((v) => v.ee === ee.id).reduce((s, v) => s + v.capacityMiB, 0) * 1024 ** 2;
    if (used + bytes > ee.allocatedDiskKiB * 1024)
      throw new EngineError(
        EngineCode.ResourcesExceeded,
        `${ee.name} has ${ee.allocatedDiskKiB} KiB of disk; ${Math.ceil(used / 1024)} KiB are in use and the ` +
          `package needs ${Math.ceil(bytes / 1024)} KiB`,
      );
  }
  const fs = statfsSync(store.records.dir);
  if (bytes > fs.bavail * fs.bsize)
    throw new EngineError(
      EngineCode.ResourcesExceeded,
      `the device has ${fs.bavail * fs.bsize} bytes free and the package needs ${bytes}`,
    );
}

/** Memory allocated to the EEs but `except`, in KiB. */
export function allocatedMemoryKiB(ees: readonly EERecord[], except?: EERecord): number {
  return ees.filter((e) => e !== except).reduce((s, e) => s + Math.max(0, e.allocatedMemoryKiB), 0);
}

/** The device's memory in KiB. */
export const deviceMemoryKiB = (): number => totalmem() / 1024;
