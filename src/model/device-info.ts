// Device.DeviceInfo: identity from the defaults file, live uptime, memory and CPU from the OS, and
// which state files this start found corrupt.

import { readFileSync } from 'node:fs';
import { cpus, freemem, hostname, totalmem, uptime } from 'node:os';
import type { DataModel } from '../dm/datamodel.js';
import { packageVersion } from '../util/package-info.js';
import { dateTime } from '../util/time.js';
import { diskKiB } from './disk-space.js';

const DI = 'Device.DeviceInfo.';
const CORRUPT = 'X_CPE-AGENT_CorruptStateFiles';

export interface DeviceInfoOptions {
  stateDir: string | undefined;
}

export function registerDeviceInfo(dm: DataModel, opts: DeviceInfoOptions): void {
  const totalKiB = String(Math.floor(totalmem() / 1024));
  dm.param(`${DI}UpTime`, { get: () => String(Math.floor(uptime())) });
  dm.param(`${DI}MemoryStatus.Total`, { get: () => totalKiB });
  dm.param(`${DI}MemoryStatus.Free`, { get: sampled(() => String(Math.floor(freemem() / 1024))) });
  const disk = (field: 'total' | 'free') =>
    sampled(() => {
      if (!opts.stateDir) return '0';
      return String(diskKiB(opts.stateDir, field));
    });
  dm.param(`${DI}MemoryStatus.TotalPersistent`, { get: disk('total') });
  dm.param(`${DI}MemoryStatus.FreePersistent`, { get: disk('free') });
  dm.param(`${DI}ProcessStatus.CPUUsage`, { get: sampled(cpuUsage()) });
  // What this start found, not what an earlier one did: the next start that finds nothing clears it.
  dm.param(`${DI}${CORRUPT}`, { volatile: true });
}

/**
 * The state files this start moved aside as corrupt (util/quarantine), set before Boot! once the
 * protocols listen: a ValueChange to subscribed controllers, in Boot!'s ParameterMap for those that
 * name it as a BootParameter, a VALUE CHANGE to an ACS that set notification on it.
 */
export function reportCorruptState(dm: DataModel, files: readonly string[]): void {
  if (files.length) dm.update(DI, { [CORRUPT]: files.join(',') }, 'device-info');
}

/**
 * A reading of the system taken at most once a second, however often it is asked for: a controller
 * polling DeviceInfo. in a loop must not turn the agent into a /proc reader (the kernel walks every
 * block device for /proc/meminfo), and a CPU share over less than a second says nothing.
 */
function sampled(read: () => string, periodMs = 1000): () => string {
  let value = '',
    at = -Infinity;
  return () => {
    const now = performance.now();
    if (now - at >= periodMs) {
      value = read();
      at = now;
    }
    return value;
  };
}

/** Fills what the defaults file left empty, once, at start. */
export function initDeviceInfo(dm: DataModel, fresh: boolean): void {
  const fill: Record<string, string> = {};
  if (!dm.value(`${DI}SoftwareVersion`)) fill.SoftwareVersion = packageVersion;
  if (!dm.value(`${DI}HostName`)) fill.HostName = hostname().slice(0, 64);
  if (fresh) fill.FirstUseDate = dateTime();
  if (Object.keys(fill).length) dm.update(DI, fill, 'device-info');
}

/** CPU use in percent, over all CPUs, since the previous read (or since boot on the first). */
function cpuUsage(): () => string {
  let last = cpuTimes();
  return () => {
    const now = cpuTimes();
    const busy = now.busy - last.busy,
      all = now.all - last.all;
    last = now;
    return String(all > 0 ? Math.min(100, Math.round((busy / all) * 100)) : 0);
  };
}

/** Busy and total CPU time of all CPUs: the first line of /proc/stat (os.cpus() also reads and
 *  formats /proc/cpuinfo for every CPU), or os.cpus() where there is no /proc. */
function cpuTimes(): { busy: number; all: number } {
  try {
    const f = readFileSync('/proc/stat', 'latin1')
      .slice(0, 256)
      .split('\n', 1)[0]!
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    // user nice system idle iowait irq softirq steal (guest time is inside user already)
    const all = f.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: all - f[3]! - (f[4] ?? 0), all };
  } catch {
    let busy = 0,
      all = 0;
    for (const c of cpus()) {
      const t = c.times;
      const sum = t.user + t.nice + t.sys + t.idle + t.irq;
      all += sum;
      busy += sum - t.idle;
    }
    return { busy, all };
  }
}
