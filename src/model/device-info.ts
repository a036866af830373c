// Device.DeviceInfo: identity from the defaults file, live uptime, memory and CPU from the OS.
import { hostname, uptime, totalmem, freemem, cpus } from 'node:os';
import { statfsSync } from 'node:fs';
import type { DataModel } from '../dm/datamodel.js';
import { packageVersion } from '../util/package-info.js';
import { dateTime } from '../util/time.js';

const DI = 'Device.DeviceInfo.';

export interface DeviceInfoOptions { stateDir: string | undefined }

export function registerDeviceInfo(dm: DataModel, opts: DeviceInfoOptions): void {
  dm.param(`${DI}UpTime`, { get: () => String(Math.floor(uptime())) });
  dm.param(`${DI}MemoryStatus.Total`, { get: () => String(Math.floor(totalmem() / 1024)) });
  dm.param(`${DI}MemoryStatus.Free`, { get: () => String(Math.floor(freemem() / 1024)) });
  const disk = (field: 'total' | 'free') => () => {
    if (!opts.stateDir) return '0';
    const s = statfsSync(opts.stateDir);
    return String(Math.floor(((field === 'total' ? s.blocks : s.bavail) * s.bsize) / 1024));
  };
  dm.param(`${DI}MemoryStatus.TotalPersistent`, { get: disk('total') });
  dm.param(`${DI}MemoryStatus.FreePersistent`, { get: disk('free') });
  dm.param(`${DI}ProcessStatus.CPUUsage`, { get: cpuUsage() });
}

/** Fills what the defaults file left empty, once, at start. */
export function initDeviceInfo(dm: DataModel, fresh: boolean): void {
  const fill: Record<string, string> = {};
  if (!dm.value(`${DI}SoftwareVersion`)) fill.SoftwareVersion = packageVersion;
  if (!dm.value(`${DI}HostName`)) fill.HostName = hostname().slice(0, 64);
  if (fresh) fill.FirstUseDate = dateTime();
  if (Object.keys(fill).length) dm.update(DI, fill, 'device-info');
}

/** CPU use in percent since the previous read (or since boot on the first). */
function cpuUsage(): () => string {
  let last = totals();
  return () => {
    const now = totals();
    const busy = now.busy - last.busy, all = now.all - last.all;
    last = now;
    return String(all > 0 ? Math.min(100, Math.round((busy / all) * 100)) : 0);
  };
}

function totals(): { busy: number; all: number } {
  let busy = 0, all = 0;
  for (const c of cpus()) {
    const t = c.times;
    const sum = t.user + t.nice + t.sys + t.idle + t.irq;
    all += sum;
    busy += sum - t.idle;
  }
  return { busy, all };
}
