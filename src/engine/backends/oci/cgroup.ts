// An OCI EE's own cgroup: the parent of its containers' cgroups (runc makes those), where the EE's memory,
// CPU and pids limits hold for all its EUs together. cgroup v1 controllers where the host has them (runc
// uses v1 on a hybrid host), else the unified v2 tree.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const ROOT = '/sys/fs/cgroup';
/** Below each controller's root: every OCI EE's cgroup is under this one. */
export const CGROUP_PARENT = 'cpe-agent-oci';

export interface CgroupLimits {
  readonly memoryKiB: number;
  readonly cpuPercent: number;
  readonly pidsMax: number;
}

const v1 = (root: string) => existsSync(join(root, 'memory'));

/** A DU's own cgroup below its EE's, holding its Resources limits over all its containers. */
export const duCgroupName = (duid: string): string => `du-${duid}`;

/**
 * The cgroup path runc is given for a container of the EE (relative to each controller's root): below its
 * DU's own cgroup when the DU has limits of its own.
 */
export const containerCgroup = (eeId: string, ctr: string, duid?: string): string =>
  `/${CGROUP_PARENT}/${eeId}/${duid === undefined ? '' : `${duCgroupName(duid)}/`}${ctr}`;

/** An EE's cgroup, or with `sub` a DU's cgroup below it. */
export class EECgroup {
  constructor(
    private readonly eeId: string,
    private readonly root = ROOT,
    private readonly sub?: string,
  ) {}

  private dir(controller: string | undefined): string {
    const base =
      controller === undefined
        ? join(this.root, CGROUP_PARENT, this.eeId)
        : join(this.root, controller, CGROUP_PARENT, this.eeId);
    return this.sub === undefined ? base : join(base, this.sub);
  }

  /** Writes the limits (0 or less: none); made first when absent. */
  apply(l: CgroupLimits): void {
    const mem = l.memoryKiB > 0 ? String(l.memoryKiB * 1024) : undefined;
    const quota = l.cpuPercent > 0 ? Math.max(1000, Math.round(100_000 * (l.cpuPercent / 100))) : undefined;
    if (v1(this.root)) {
      this.write('memory', 'memory.limit_in_bytes', mem ?? '-1');
      this.write('cpu', 'cpu.cfs_period_us', '100000');
      this.write('cpu', 'cpu.cfs_quota_us', quota === undefined ? '-1' : String(quota));
      this.write('pids', 'pids.max', String(l.pidsMax));
      return;
    }
    const parent = join(this.root, CGROUP_PARENT);
    mkdirSync(parent, { recursive: true });
    writeFileSync(join(parent, 'cgroup.subtree_control'), '+memory +cpu +pids');
    // A DU's cgroup: its EE's passes the controllers down too.
    if (this.sub !== undefined)
      writeFileSync(join(dirname(this.dir(undefined)), 'cgroup.subtree_control'), '+memory +cpu +pids');
    this.write(undefined, 'memory.max', mem ?? 'max');
    this.write(undefined, 'cpu.max', `${quota ?? 'max'} 100000`);
    this.write(undefined, 'pids.max', String(l.pidsMax));
  }

  private write(controller: string | undefined, file: string, value: string): void {
    const dir = this.dir(controller);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, file), value);
  }

  /** Memory in use by all the EE's containers, in KiB (0 when it has none yet). */
  memoryKiB(): number {
    const file = v1(this.root)
      ? join(this.dir('memory'), 'memory.usage_in_bytes')
      : join(this.dir(undefined), 'memory.current');
    try {
      return Math.floor(Number(readFileSync(file, 'utf8').trim()) / 1024);
    } catch {
      return 0;
    }
  }

  /**
   * Removes the cgroup in every hierarchy (its containers are gone; runc removed theirs): a DU's alone, or
   * an EE's with its DUs' below it and the common parent when it is left empty.
   */
  remove(): void {
    // runc makes a container's cgroup in every v1 hierarchy it finds (named ones too): all are looked at.
    const controllers = v1(this.root) ? readdirSync(this.root) : [];
    for (const c of [...controllers, undefined]) {
      const own = this.dir(c);
      const dus = this.sub === undefined && existsSync(own) ? readdirSync(own).filter((n) => n.startsWith('du-')) : [];
      const dirs = this.sub === undefined ? [...dus.map((n) => join(own, n)), own, dirname(own)] : [own];
      for (const d of dirs) {
        try {
          rmdirSync(d);
        } catch {
          /* absent, or another EE's cgroup is still below the parent */
        }
      }
    }
  }
}
