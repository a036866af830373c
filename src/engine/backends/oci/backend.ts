// The engine's OCI backend: EEs of the ExecEnvClass "OCI", each EU one runc container (launcher.ts) whose
// root is an overlay of its DU's layers (storage.ts) and whose spec (spec.ts) confines it as the LXC EEs
// are confined: the EE's own id range, a minimal capability set, the same seccomp list, a pids limit, and
// the EE's memory and CPU limits on a cgroup above all its containers (cgroup.ts).
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../../util/logger.js';
import { EngineCode, EngineError } from '../../errors.js';
import { checkPool, type IdPool } from '../../ids/pool.js';
import type { UserIds } from '../../ids/users.js';
import type { UnitNetwork } from '../../net/types.js';
import type { Launch } from '../../supervisor.js';
import { type DURecord, type EERecord, type EURecord, hostNetworkOf } from '../../types.js';
import type { Backend, BackendCapabilities, EERef, ExecEnvClass } from '../backend.js';
import type { IdRange } from '../lxc/policy.js';
import { containerCgroup, duCgroupName, EECgroup } from './cgroup.js';
import { runcLauncher } from './launcher.js';
import { layersOf } from './layers.js';
import { Runc } from './runc.js';
import { type BindMount, ociSpec } from './spec.js';
import { OciStorage } from './storage.js';
import { imageUser } from './users.js';

/** Where a DU's data directory is bound in its containers (CPE_DU_DATA), as in the LXC EEs. */
export const DATA_IN_CONTAINER = '/var/lib/cpe/data';

export class OciBackend implements Backend {
  readonly kind = 'oci' as const;
  readonly caps: BackendCapabilities = {
    addable: true,
    writableLayer: true,
    constraints: true,
    idRange: true,
    volumeLinks: true,
    hostUsers: false,
    // runc gives a unit without NetworkConfig a network namespace of its own with only lo up.
    ownNetwork: true,
  };
  readonly execEnvClass: ExecEnvClass = {
    name: 'OCI',
    vendor: 'opencontainers.org',
    version: '1.0',
    formats: ['oci', 'tar.gz', 'squashfs'],
  };
  readonly runc: Runc;
  /** Each EE's volume links (volume id -> AccessPath), bound into the containers it starts next. */
  private readonly links = new Map<string, Map<string, string>>();

  constructor(
    private readonly base: string,
    /** resolvConf: the agent's (net/resolv-conf.ts), bound over a networked unit's /etc/resolv.conf. */
    private readonly opts: { pool: () => IdPool; pidsMax: number; log: Logger; resolvConf?: string },
  ) {
    this.runc = new Runc(join(base, 'runc'));
  }

  async available(): Promise<boolean> {
    if (!(await this.runc.works())) return false;
    checkPool(this.opts.pool());
    this.opts.log.info('OCI EEs: runc containers in user namespaces, seccomp, capability allow-list');
    return true;
  }

  defaultEE(): undefined {
    return undefined;
  }
  containerOf(): undefined {
    return undefined;
  }
  private store(ee: EERef): OciStorage {
    return new OciStorage(this.base, ee.id);
  }
  private ids(ee: EERecord): IdRange {
    if (!ee.ids) throw new EngineError(EngineCode.InternalError, `execution environment ${ee.name} has no id range`);
    return ee.ids;
  }
  private cgroup(ee: EERecord): EECgroup {
    return new EECgroup(ee.id);
  }
  private limits(ee: EERecord) {
    return { memoryKiB: ee.allocatedMemoryKiB, cpuPercent: ee.allocatedCpuPercent, pidsMax: this.opts.pidsMax };
  }

  async create(ee: EERecord): Promise<void> {
    await this.store(ee).create(ee.allocatedDiskKiB);
    this.cgroup(ee).apply(this.limits(ee));
  }

  /**
   * After a device reboot or an agent restart: the EE's image mounted, its cgroup limits set, and runc
   * containers no unit can be adopted with removed (stopped ones, and those whose `runc run` is gone).
   * A "created" one whose `runc run` lives is kept: that run is between create and start (a restart
   * right after a unit's launch), and deleting it would kill the unit the supervisor adopts.
   */
  async prepare(ee: EERecord): Promise<void> {
    await this.store(ee).mount();
    this.cgroup(ee).apply(this.limits(ee));
    for (const c of await this.containers(ee))
      if (c.status === 'stopped' || !ownedByRunc(c.pid)) await this.runc.delete(c.id);
  }
  private async containers(ee: EERef) {
    return (await this.runc.list()).filter((c) => c.id.startsWith(`${ee.id}-`));
  }

  start(ee: EERecord): Promise<void> {
    return this.prepare(ee);
  }
  /** Its units were stopped by the core: what may be left of their containers goes, and the DUs' roots. */
  async stop(ee: EERecord): Promise<void> {
    for (const c of await this.containers(ee)) await this.runc.delete(c.id);
    await this.store(ee).dropAllRootfs(this.ids(ee), false);
  }
  async destroy(ee: EERecord): Promise<void> {
    await this.stop(ee);
    await this.store(ee).destroy(this.ids(ee));
    this.cgroup(ee).remove();
    this.links.delete(ee.id);
  }
  /** Reset(): every DU's writes gone (their upper layers); DUs and their data stay. */
  async reset(ee: EERecord): Promise<void> {
    for (const c of await this.containers(ee)) await this.runc.delete(c.id);
    await this.store(ee).dropAllRootfs(this.ids(ee), true);
  }
  async running(ee: EERecord): Promise<boolean> {
    return this.store(ee).mounted();
  }
  async memoryKiB(ee: EERecord): Promise<number> {
    return this.cgroup(ee).memoryKiB();
  }
  growDisk(ee: EERecord, diskKiB: number): Promise<void> {
    return this.store(ee).grow(this.ids(ee), diskKiB);
  }
  async setLimits(ee: EERecord, limits: { memoryKiB: number; cpuPercent: number }): Promise<void> {
    this.cgroup(ee).apply({ ...limits, pidsMax: this.opts.pidsMax });
  }

  async link(ee: EERecord, volumeId: string, target: string): Promise<void> {
    const own = this.links.get(ee.id) ?? new Map<string, string>();
    own.set(volumeId, target);
    this.links.set(ee.id, own);
  }
  async unlink(ee: EERecord, target: string): Promise<void> {
    const own = this.links.get(ee.id);
    for (const [v, t] of own ?? []) if (t === target) own?.delete(v);
  }

  /** Without its DU, a name can't be checked yet (its image says who exists): it is when the DU is given. */
  userIn(_ee: EERecord, user: string, du?: DURecord): UserIds {
    if (!du) return /^\d+$/.test(user) ? { uid: Number(user), gid: Number(user) } : { uid: 0, gid: 0 };
    return imageUser(layersOf(du), user);
  }

  duRoot(ee: EERef, duid: string): string {
    return join(this.store(ee).duDir, duid);
  }
  dataDir(ee: EERef, uuid: string): string {
    return join(this.store(ee).dataDir, uuid);
  }
  disksDir(ee: EERef): string {
    return this.store(ee).disksDir;
  }
  stagingDir(ee: EERef, id: string): string {
    return join(this.store(ee).duDir, `.staging-${id}`);
  }
  volumeDir(ee: EERef, volumeId: string): string {
    return join(this.store(ee).volumesDir, volumeId);
  }
  sweepStaging(ee: EERecord): void {
    const dir = this.store(ee).duDir;
    for (const f of existsSync(dir) ? readdirSync(dir) : [])
      if (f.startsWith('.staging-')) rmSync(join(dir, f), { recursive: true, force: true });
  }

  /** A DU's writes go with it (uninstall) or with its old files (update: a new image starts clean). */
  async release(ee: EERecord, du: DURecord): Promise<void> {
    await this.store(ee).dropRootfs(du.duid, this.ids(ee), true);
    new EECgroup(ee.id, undefined, duCgroupName(du.duid)).remove();
  }

  launch(ee: EERecord, du: DURecord, eu: EURecord, env: Record<string, string>): Launch {
    const store = this.store(ee);
    const ids = this.ids(ee);
    const ctr = eu.euid;
    const s = eu.service;
    const launch = {
      command: s.command.startsWith('/') ? s.command : `/${s.command}`,
      args: s.args,
      cwd: s.workingDir ?? '/',
      user: s.user,
      env: { ...env, CPE_DU_DATA: DATA_IN_CONTAINER },
    };
    // The DU's own memory and CPU limits (InstallDU Resources.*): its cgroup below the EE's, above its
    // containers, written before each start (runc makes the containers' cgroups below it).
    const r = du.settings?.resources;
    const limits = r && (r.memoryKiB > 0 || r.cpuPercent > 0) ? r : undefined;
    const spec = (network: UnitNetwork | undefined) => {
      if (limits)
        new EECgroup(ee.id, undefined, duCgroupName(du.duid)).apply({
          memoryKiB: limits.memoryKiB,
          cpuPercent: limits.cpuPercent,
          pidsMax: this.opts.pidsMax,
        });
      return ociSpec({
        rootfs: store.mountRootfs(du.duid, layersOf(du), ids),
        hostname: s.name,
        args: [launch.command, ...launch.args],
        env: launch.env,
        cwd: launch.cwd,
        user: s.user === undefined ? { uid: 0, gid: 0 } : imageUser(layersOf(du), s.user),
        ids,
        pidsMax: this.opts.pidsMax,
        cgroupsPath: containerCgroup(ee.id, ctr, limits ? du.duid : undefined),
        binds: this.binds(ee, du),
        privileged: du.privileged === true,
        ...(typeof network === 'object' ? { networkNamespacePath: network.join } : {}),
        ...(typeof network === 'object' && this.opts.resolvConf ? { resolvConf: this.opts.resolvConf } : {}),
        ...(typeof network !== 'object' && hostNetworkOf(ee) ? { hostNetwork: true } : {}),
      });
    };
    return {
      ...launch,
      ownLimits: true,
      launcher: runcLauncher(this.runc, { id: ctr, bundle: store.bundle(ctr), spec }),
    };
  }

  /** The only host directories a container sees: its DU's data, and the EE's volumes at their AccessPath. */
  private binds(ee: EERecord, du: DURecord): BindMount[] {
    const data = { source: this.dataDir(ee, du.uuid), destination: DATA_IN_CONTAINER };
    const vols = [...(this.links.get(ee.id) ?? [])].map(([v, target]) => ({
      source: this.volumeDir(ee, v),
      destination: target,
    }));
    return [data, ...vols];
  }
}

/** Whether a container's init is still the child of the `runc run` that made it (a unit adopts that). */
function ownedByRunc(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    return readFileSync(`/proc/${ppid}/comm`, 'utf8').trim() === 'runc';
  } catch {
    return false;
  }
}
