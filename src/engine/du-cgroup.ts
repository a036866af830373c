// Per-DU memory and CPU limits (TR-181 Resources.AllocatedMemory / AllocatedCPUPercent of InstallDU): a
// cgroup per DU made below the one its unit's processes run in, whatever the backend: the agent's own for
// a native DU, the container's for a DU in an LXC EE (so the DU's limit sits inside the EE's). Every
// process of a unit is moved in when it starts, and again a moment later for those a launcher forks
// late (lxc-attach starts the service inside the container after it returned). The cgroups made are
// listed in a file per DU, so an uninstall after an agent restart still removes them. A process is taken
// in only where its cgroup lies below the unit's expected one (the container's, or the launched process's
// at its start), never where a path its children chose leads: the agent writes nowhere else.
import { existsSync, mkdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from '../util/logger.js';
import { isWithin, parseCgroupLines } from './cgroup-path.js';
import type { DuResources } from './du-settings.js';

const ROOT = '/sys/fs/cgroup';
const V2 = existsSync(join(ROOT, 'cgroup.controllers'));
/** When the processes a launcher forks late are moved in too (ms after the start). */
const FOLLOW_UPS = [100, 500, 2000];

/** The directory of a DU's cgroup for one controller (cgroup v1) or the unified one (v2). */
type Dir = string;
/** A process's cgroup in one hierarchy: the hierarchy's mount and the path below it. */
interface Place {
  readonly mount: string;
  readonly path: string;
}

export class DuCgroups {
  constructor(
    private readonly listFile: (duid: string) => string,
    private readonly log: Logger,
  ) {}

  /**
   * Moves a unit's process tree into its DU's cgroup (made, with the DU's limits, if need be), below the
   * cgroups `scope` is in (the container's init for a unit in a container; the launched process by default),
   * read now, before the unit's processes could move.
   */
  enter(duid: string, r: DuResources | undefined, pid: number, scope: () => number = () => pid): void {
    if (!r || (r.memoryKiB <= 0 && r.cpuPercent <= 0)) return;
    let bases: Place[];
    try {
      bases = placesOf(scope());
    } catch (e) {
      this.log.warn({ err: e, duid }, 'DU cgroup not applied: the unit has no cgroup to put it below');
      return;
    }
    this.move(duid, r, pid, bases);
    for (const ms of FOLLOW_UPS) setTimeout(() => this.move(duid, r, pid, bases), ms).unref();
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

  private move(duid: string, r: DuResources, pid: number, bases: readonly Place[]): void {
    for (const p of processTree(pid)) {
      for (const at of placesOf(p)) {
        // A process elsewhere (a launcher left on the host, or one that moved out of reach) is left alone.
        const scope = bases.find((b) => b.mount === at.mount && isWithin(b.path, at.path));
        if (!scope) continue;
        const base = join(at.mount, at.path);
        // In the DU's cgroup already: only below the scope, so that its parent (enabled below) is inside too.
        const already = at.path !== scope.path && base.endsWith(`/${name(duid)}`);
        const dir = already ? base : join(base, name(duid));
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

/** Where a process is for the memory and cpu controllers (v1), or in the unified hierarchy (v2). */
export function placesOf(pid: number, root = ROOT, v2 = V2): Place[] {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  } catch {
    return [];
  }
  return placesIn(text, root, v2);
}

/** The places a /proc/<pid>/cgroup text names (none where it is malformed or forged). */
export function placesIn(text: string, root = ROOT, v2 = V2): Place[] {
  const out: Place[] = [];
  for (const { controllers, path } of parseCgroupLines(text) ?? []) {
    if (v2) {
      if (controllers === '') out.push({ mount: root, path });
      continue;
    }
    for (const c of ['memory', 'cpu'])
      if (controllers.split(',').includes(c)) {
        const mount = [join(root, controllers), join(root, c)].find((m) => existsSync(m));
        if (mount && !out.some((o) => o.mount === mount)) out.push({ mount, path });
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
