// The engine's LXC backend: each EE an unprivileged system container (host.ts), driven through the
// Backend interface the core asks.
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../../util/logger.js';
import { EngineCode, EngineError } from '../../errors.js';
import { checkPool, delegatePool, type IdPool } from '../../ids/pool.js';
import type { UserIds } from '../../ids/users.js';
import type { Launch } from '../../supervisor.js';
import { type DURecord, type EERecord, type EURecord, hostNetworkOf } from '../../types.js';
import type { Backend, BackendCapabilities, EERef, ExecEnvClass } from '../backend.js';
import { IN_CONTAINER, type LxcLimits, VOLUME_DIR } from './config.js';
import { LxcHost } from './host.js';
import { appArmorEnabled } from './policy.js';
import { requireSeccompLoader, seccompLoader } from './seccomp-loader.js';

/**
 * The engine's LXC backend over LxcHost: each EE an unprivileged system container, its DUs under
 * its du/ (a shared mount), their data inside its disk image, its volumes linked at their AccessPath.
 */
export class LxcBackend implements Backend {
  readonly kind = 'lxc' as const;
  readonly caps: BackendCapabilities = {
    addable: true,
    writableLayer: true,
    constraints: true,
    idRange: true,
    volumeLinks: true,
    hostUsers: false,
    ownNetwork: true,
  };
  readonly execEnvClass: ExecEnvClass = {
    name: 'LXC',
    vendor: 'linuxcontainers.org',
    version: '5',
    formats: ['tar.gz', 'squashfs'],
  };

  constructor(
    readonly host: LxcHost,
    private readonly opts: { pool: () => IdPool; pidsMax: number; log: Logger },
  ) {}

  async available(): Promise<boolean> {
    if (!(await LxcHost.available())) return false;
    const pool = this.opts.pool();
    checkPool(pool);
    for (const f of delegatePool(pool))
      this.opts.log.info(
        { file: f, start: pool.start, size: pool.size },
        'id pool delegated to root for unprivileged containers',
      );
    this.opts.log.info(
      { appArmor: appArmorEnabled() },
      appArmorEnabled()
        ? 'LXC EEs: user namespaces, AppArmor, seccomp, capability allow-list; package owners shifted at install'
        : 'LXC EEs: user namespaces, seccomp, capability allow-list; AppArmor is not enabled on this kernel; ' +
            'package owners shifted at install (no idmapped mounts)',
    );
    const check = seccompLoader();
    if ('missing' in check)
      this.opts.log.warn(
        { missing: check.missing },
        'LXC EEs: units with a NetworkConfig can not get the seccomp list here, so such installs are refused',
      );
    return true;
  }

  /** A networked unit is started by the agent, not LXC: it needs the agent's own seccomp loader. */
  admitNetwork(): void {
    requireSeccompLoader(seccompLoader());
  }

  defaultEE(): undefined {
    return undefined;
  }
  containerOf(id: string): string {
    return `cpe-${id}`;
  }
  create(ee: EERecord): Promise<void> {
    return this.host.create(
      ee.container!,
      { memoryKiB: ee.allocatedMemoryKiB, cpuPercent: ee.allocatedCpuPercent },
      ee.allocatedDiskKiB,
      { ids: ee.ids!, pidsMax: this.opts.pidsMax, netAdmin: false },
    );
  }
  prepare(ee: EERecord): Promise<void> {
    return this.host.prepare(ee.container!);
  }
  start(ee: EERecord): Promise<void> {
    return this.host.start(ee.container!, hostNetworkOf(ee));
  }
  stop(ee: EERecord): Promise<void> {
    return this.host.stop(ee.container!);
  }
  destroy(ee: EERecord): Promise<void> {
    return this.host.destroy(ee.container!);
  }
  reset(ee: EERecord): Promise<void> {
    return this.host.reset(ee.container!);
  }
  async running(ee: EERecord): Promise<boolean> {
    return (await this.host.state(ee.container!)) === 'RUNNING';
  }
  memoryKiB(ee: EERecord): Promise<number> {
    return this.host.memoryKiB(ee.container!);
  }
  disksDir(ee: EERef): string {
    return this.host.disksDir(ee.container!);
  }
  async admitDataDisk(ee: EERecord): Promise<void> {
    if (!(await this.host.dataPropagates(ee.container!)))
      throw new EngineError(
        EngineCode.CommandFailure,
        `${ee.name} was started by an earlier agent without the data propagation a DU's own disk needs: disable and ` +
          `enable it once, then install DUs with Resources.AllocatedDiskSpace there`,
      );
  }
  growDisk(ee: EERecord, diskKiB: number): Promise<void> {
    return this.host.growDisk(ee.container!, diskKiB);
  }
  setLimits(ee: EERecord, limits: LxcLimits): Promise<void> {
    return this.host.setLimits(ee.container!, limits);
  }
  link(ee: EERecord, volumeId: string, target: string): Promise<void> {
    return this.host.link(ee.container!, join(VOLUME_DIR, volumeId), target);
  }
  unlink(ee: EERecord, target: string): Promise<void> {
    return this.host.unlink(ee.container!, target);
  }
  userIn(ee: EERecord, user: string): UserIds {
    return this.host.userIn(ee.container!, user);
  }
  duRoot(ee: EERef, duid: string): string {
    return join(this.host.duDir(ee.container!), duid);
  }
  dataDir(ee: EERef, uuid: string): string {
    return join(this.host.dataDir(ee.container!), uuid);
  }
  stagingDir(ee: EERef, id: string): string {
    return join(this.host.duDir(ee.container!), `.staging-${id}`);
  }
  volumeDir(ee: EERef, volumeId: string): string {
    return join(this.host.duDir(ee.container!), VOLUME_DIR, volumeId);
  }
  sweepStaging(ee: EERecord): void {
    const dir = this.host.duDir(ee.container!);
    for (const f of existsSync(dir) ? readdirSync(dir) : [])
      if (f.startsWith('.staging-')) rmSync(join(dir, f), { recursive: true, force: true });
  }
  launch(ee: EERecord, du: DURecord, eu: EURecord, env: Record<string, string>): Launch {
    return {
      command: eu.service.command,
      args: eu.service.args,
      cwd: `${IN_CONTAINER.du}/${du.duid}`,
      user: eu.service.user,
      privileged: du.privileged === true,
      env: { ...env, CPE_DU_DATA: `${IN_CONTAINER.data}/${du.uuid}` },
      launcher: this.host.launcher(ee.container!),
      // The DU's cgroup lies below the container's, never where a unit's own cgroup names lead.
      cgroupScope: () => this.host.initPid(ee.container!),
    };
  }
}
