// Admission of a DU's own limits (TR-181 Resources.* of InstallDU / Update): they must fit in its EE's,
// and its package in its own disk allowance.
import type { DuResources } from './du-settings.js';
import { EngineCode, EngineError } from './errors.js';
import type { EERecord } from './types.js';

/** A DU's own limits must fit in its EE's (a limit of the EE of -1 or 0 is none). */
export function admitResources(ee: EERecord, r: DuResources | undefined): void {
  if (!r) return;
  const over = (mine: number, ees: number) => ees > 0 && mine > ees;
  if (over(r.memoryKiB, ee.allocatedMemoryKiB))
    throw new EngineError(
      EngineCode.ResourcesExceeded,
      `Resources.AllocatedMemory ${r.memoryKiB} KiB exceeds ${ee.name}'s ${ee.allocatedMemoryKiB} KiB`,
    );
  if (over(r.cpuPercent, ee.allocatedCpuPercent))
    throw new EngineError(
      EngineCode.ResourcesExceeded,
      `Resources.AllocatedCPUPercent ${r.cpuPercent} exceeds ${ee.name}'s ${ee.allocatedCpuPercent}`,
    );
  if (over(r.diskKiB, ee.allocatedDiskKiB))
    throw new EngineError(
      EngineCode.ResourcesExceeded,
      `Resources.AllocatedDiskSpace ${r.diskKiB} KiB exceeds ${ee.name}'s ${ee.allocatedDiskKiB} KiB`,
    );
}

/** The package (and its data volumes) must fit in the DU's own disk allowance. */
export function admitDuDisk(r: DuResources | undefined, bytes: number): void {
  if (r && r.diskKiB > 0 && bytes > r.diskKiB * 1024)
    throw new EngineError(
      EngineCode.ResourcesExceeded,
      `the package needs ${Math.ceil(bytes / 1024)} KiB, more than its Resources.AllocatedDiskSpace of ` +
        `${r.diskKiB} KiB`,
    );
}
