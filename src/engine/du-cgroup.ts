// Per-DU memory and CPU limits (TR-181 Resources.AllocatedMemory / AllocatedCPUPercent of InstallDU): a
// cgroup per DU made below the one its unit's processes run in, whatever the backend: the agent's own for
// a native DU, the container's for a DU in an LXC EE (so the DU's limit sits inside the EE's). Every
// process of a unit is moved in when it starts, and again a moment later for those a launcher forks
// late (lxc-attach starts the service inside the container after it returned). The cgroups made are
// listed in a file per DU, so an uninstall after an agent restart still removes them.
import { existsSync, mkdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from '../util/logger.js';
import type { DuResources } from './du-settings.js';

const ROOT = '/sys/fs/cgroup';
const V2 = existsSync(join(ROOT, 'cgroup.controllers'));
/** When the processes a launcher forks late are moved in too (ms after the start). */
const FOLLOW_UPS = [100, 500, 2000];

/** The directory of a DU's cgroup for one controller (cgroup v1) or the unified one (v2). */
type Dir = string;

export class DuCgroups {
  constructor(
    private readonly listFile: (duid: string) => string,
    private readonly log: Logger,
  ) {}

  /** Moves a unit's process tree into its DU's cgroup (made, with the DU's limits, if need be). */
  enter(duid: string, r: DuResources | undefined, pid: number): void {
    if (!r || (r.memoryKiB <= 0 && r.cpuPercent <= 0)) return;
    this.move(duid, r, pid);
    for (const ms of FOLLOW_UPS) setTimeout(() => this.move(duid, r, pid), ms).unref();
  }

  /** Removes a DU's cgroups once its units have stopped. */
  remove(duid: string): void {
    const file = this.listFile(duid);
    for (const dir of this.made(duid).reverse()) {
      try {
        rmdirSync(dir);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') this.log.warn({ err: e, dir }, 'a DU cgroup stays');
      }
    }
    rmSync(file, { force: true });
  }

  private move(duid: string, r: DuResources, pid: number): void {
    for (const p of processTree(pid)) {
      for (const base of cgroupsOf(p)) {
        const dir = base.endsWith(`/${name(duid)}`) ? base : join(base, name(duid));
        try {
          if (!existsSync(dir)) {
            if (V2) tryWrite(join(dirname(dir), 'cgroup.subtree_control'), '+memory +cpu');
            mkdirSync(dir);
            this.remember(duid, dir);
          }
          limit(dir, r);
          writeFileSync(join(dir, 'cgroup.procs'), String(p));
        } catch (e) {
          // The unit runs without its DU's limit (an EE's own limit still holds): said, not fatal.
          if ((e as NodeJS.ErrnoException).code !== 'ESRCH')
            this.log.warn({ err: e, duid, dir }, 'DU cgroup not applied');
        }
      }
    }
  }

  private made(duid: string): Dir[] {
    try {
      return JSON.parse(readFileSync(this.listFile(duid), 'utf8')) as Dir[];
    } catch {
      return [];
    }
  }

  private remember(duid: string, dir: Dir): void {
    const list = this.made(duid);
    if (list.includes(dir)) return;
    mkdirSync(dirname(this.listFile(duid)), { recursive: true });
    writeFileSync(this.listFile(duid), JSON.stringify([...list, dir]));
  }
}

const name = (duid: string) => `cpe-du-${duid}`;

function limit(dir: Dir, r: DuResources): void {
  const has = (f: string) => existsSync(join(dir, f));
  if (r.memoryKiB > 0) {
    if (has('memory.limit_in_bytes')) writeFileSync(join(dir, 'memory.limit_in_bytes'), String(r.memoryKiB * 1024));
    if (has('memory.max')) writeFileSync(join(dir, 'memory.max'), String(r.memoryKiB * 1024));
  }
  if (r.cpuPercent > 0) {
    // A share of one core, as the EE's AllocatedCPUPercent (lxc/config.ts).
    const quota = r.cpuPercent * 1000;
    if (has('cpu.cfs_quota_us')) {
      writeFileSync(join(dir, 'cpu.cfs_period_us'), '100000');
      writeFileSync(join(dir, 'cpu.cfs_quota_us'), String(quota));
    }
    if (has('cpu.max')) writeFileSync(join(dir, 'cpu.max'), `${quota} 100000`);
  }
}

/** The cgroup directories a process is in for the memory and cpu controllers (v1), or its unified one (v2). */
function cgroupsOf(pid: number): Dir[] {
  let lines: string[];
  try {
    lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n');
  } catch {
    return [];
  }
  const out: Dir[] = [];
  for (const l of lines) {
    const [, ctrls = '', path = ''] = l.split(':');
    if (V2) {
      if (ctrls === '') out.push(join(ROOT, path));
      continue;
    }
    for (const c of ['memory', 'cpu'])
      if (ctrls.split(',').includes(c)) {
        const mount = [join(ROOT, ctrls), join(ROOT, c)].find((m) => existsSync(m));
        if (mount) out.push(join(mount, path));
      }
  }
  return out;
}

/** A process and its descendants. */
function processTree(pid: number, depth = 0): number[] {
  if (depth > 16) return [];
  let children: number[] = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
  return [pid, ...children.flatMap((c) => processTree(c, depth + 1))];
}

function tryWrite(file: string, value: string): void {
  try {
    writeFileSync(file, value);
  } catch {
    /* the controllers are enabled already, or cannot be: the writes of the limits say which */
  }
}
