// Device.DeviceInfo: identity from the defaults file (else from the host), live uptime, memory and
// CPU from the OS, and which state files this start found corrupt.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { cpus, freemem, hostname, totalmem, uptime } from 'node:os';
import { join } from 'node:path';
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
  dm.param(`${DI}UpTime`, { get: upTime() });
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
 * The system's uptime in seconds without a read of /proc/uptime on every Get (a tenth of the agent's
 * CPU for a Get of DeviceInfo.): read once a minute and carried forward by the monotonic clock in
 * between, never going back.
 */
function upTime(periodMs = 60_000): () => string {
  let base = 0,
    at = -Infinity,
    last = 0;
  return () => {
    const now = performance.now();
    if (now - at >= periodMs) {
      base = uptime() - now / 1000;
      at = now;
    }
    last = Math.max(last, Math.floor(base + now / 1000));
    return String(last);
  };
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
  // The Inform's DeviceId needs both: the host's own identity stands in where the defaults gave none.
  if (!dm.value(`${DI}ManufacturerOUI`) || !dm.value(`${DI}SerialNumber`)) {
    const id = hostIdentity();
    if (!dm.value(`${DI}ManufacturerOUI`) && id.oui) fill.ManufacturerOUI = id.oui;
    if (!dm.value(`${DI}SerialNumber`) && id.serialNumber) fill.SerialNumber = id.serialNumber;
  }
  if (!dm.value(`${DI}SoftwareVersion`)) fill.SoftwareVersion = packageVersion;
  if (!dm.value(`${DI}HostName`)) fill.HostName = hostname().slice(0, 64);
  if (fresh) fill.FirstUseDate = dateTime();
  if (Object.keys(fill).length) dm.update(DI, fill, 'device-info');
}

export interface HostIdentity {
  /** The first 3 bytes of the first Ethernet interface's MAC, 6 upper-case hex digits; '' without one. */
  readonly oui: string;
  /** The machine id (systemd's /etc/machine-id), else that MAC's 12 hex digits; '' without either. */
  readonly serialNumber: string;
}

/**
 * The host's identity. Interfaces come from /sys (os.networkInterfaces() leaves out those with no
 * address): non-loopback Ethernet ones (type 1) with a MAC, physical ones (with a device) first, then by
 * index, so that bridges and veths made later (the EE network's among them) do not move the choice.
 */
export function hostIdentity(sysNet = '/sys/class/net', machineIdFile = '/etc/machine-id'): HostIdentity {
  const read = (f: string) => {
    try {
      return readFileSync(f, 'utf8').trim();
    } catch {
      return '';
    }
  };
  let names: string[] = [];
  try {
    names = readdirSync(sysNet);
  } catch {}
  const macs = names
    .filter((n) => n !== 'lo' && read(join(sysNet, n, 'type')) === '1')
    .map((n) => ({
      mac: read(join(sysNet, n, 'address')).toUpperCase(),
      physical: existsSync(join(sysNet, n, 'device')),
      index: Number(read(join(sysNet, n, 'ifindex'))) || Number.MAX_SAFE_INTEGER,
    }))
    .filter((i) => /^([0-9A-F]{2}:){5}[0-9A-F]{2}$/.test(i.mac) && i.mac !== '00:00:00:00:00:00')
    .sort((a, b) => Number(b.physical) - Number(a.physical) || a.index - b.index);
  const mac = macs[0]?.mac.replaceAll(':', '') ?? '';
  const machineId = read(machineIdFile);
  return {
    oui: mac.slice(0, 6),
    serialNumber: /^[0-9a-zA-Z-]{1,64}$/.test(machineId) ? machineId : mac,
  };
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
