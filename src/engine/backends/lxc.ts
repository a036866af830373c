// The LXC backend: an execution environment is an LXC system container (busybox rootfs, no
// network device unless configured, memory and CPU limits through cgroups), driven through the
// lxc-* tools with execa; services run inside it through lxc-attach, in their own session.
import { spawn } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statfsSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../util/logger.js';
import { EngineCode, EngineError } from '../errors.js';
import { removeTree } from '../ids/as-owner.js';
import { makePassable, shiftTree } from '../ids/ownership.js';
import { checkPool, delegatePool, type IdPool } from '../ids/pool.js';
import type { UserIds } from '../ids/users.js';
import { lookupUser } from '../ids/users.js';
import { isMounted, makeShared, unmount } from '../mounts.js';
import { extractTarGz } from '../package/tar-extract.js';
import type { Launch, ProcessLauncher } from '../supervisor.js';
import { runTool as run, toolDetail } from '../tool.js';
import type { DURecord, EERecord, EURecord } from '../types.js';
import type { Backend, BackendCapabilities, EERef } from './backend.js';
import { appArmorEnabled, type ContainerPolicy, confinementLines, type IdRange, seccompProfile } from './lxc-policy.js';

export interface LxcLimits {
  memoryKiB: number;
  cpuPercent: number;
}

/** Where packages and data live inside a container. */
export const IN_CONTAINER = { du: '/opt/cpe/du', data: '/var/lib/cpe/data' } as const;
/** Under an LXC EE's du/ (a shared mount), where its volumes are mounted, so containers see them. */
export const VOLUME_DIR = '.appdata';

/**
 * Layout of an EE container under lxcpath/<name>/: its config; upper.img, an ext4 image of the EE's
 * AllocatedDiskSpace mounted on upper/, holding everything its services can write: delta/, the
 * writable layer of an overlay over the shared base rootfs, and data/, its DUs' data directories
 * bound at /var/lib/cpe/data (so no app can fill the host's disk, and Reset() is: empty delta/);
 * du/ on the host, the installed packages, bound read-only at /opt/cpe/du (the agent writes there,
 * services do not). DUs and their data survive a Reset.
 */
/** One lxc-* (or other) tool run, its exit code returned, not thrown. execa and what it loads (~5 MB
 *  resident) come in with the first call: an agent on a device without LXC never pays for them. */
async function lxcTool(cmd: string, args: string[]) {
  const { execa } = await import('execa');
  return execa(cmd, args, { reject: false });
}

export class LxcHost {
  /** rootfsTarball: the operator's own base root file system (tar.gz) instead of LXC's busybox one. */
  constructor(
    readonly lxcpath: string,
    readonly rootfsTarball?: string,
  ) {
    mkdirSync(lxcpath, { recursive: true, mode: 0o700 });
  }

  /** LXC is usable when its tools, a busybox to build the base rootfs from, and ext4 tools are all here. */
  static async available(): Promise<boolean> {
    const ok = async (cmd: string, args: string[]) => (await lxcTool(cmd, args)).exitCode === 0;
    return (
      (await ok('lxc-create', ['--version'])) && (await ok('busybox', ['true'])) && (await ok('mkfs.ext4', ['-V']))
    );
  }

  /** Host directories of an EE: installed DUs, and their data (inside the EE's disk image). */
  duDir(name: string): string {
    return join(this.lxcpath, name, 'du');
  }
  dataDir(name: string): string {
    return join(this.upper(name), 'data');
  }
  private upper(name: string): string {
    return join(this.lxcpath, name, 'upper');
  }
  private image(name: string): string {
    return join(this.lxcpath, name, 'upper.img');
  }

  /**
   * The base root file system every EE starts from: LXC's busybox template (static busybox, no host
   * library binds) or the operator's tarball, built once and never given to a container as it is:
   * each EE runs on its own copy, owned by its id range.
   */
  private async baseRootfs(): Promise<string> {
    if (this.rootfsTarball) return this.customBase(this.rootfsTarball);
    const rootfs = join(this.lxcpath, BASE, 'rootfs');
    if (existsSync(join(rootfs, 'bin', 'busybox'))) return rootfs;
    await lxcTool('lxc-destroy', ['-P', this.lxcpath, '-n', BASE, '-f']);
    const args = ['-P', this.lxcpath, '-n', BASE, '-t', 'busybox', '-f', '/dev/null'];
    const r = await lxcTool('lxc-create', args);
    if (r.exitCode !== 0)
      throw new EngineError(
        EngineCode.InternalError,
        'building the base root file system for EEs failed',
        undefined,
        toolDetail('lxc-create', args, r),
      );
    return rootfs;
  }

  /**
   * The operator's rootfs, unpacked once with the safe extractor (links may be absolute inside it, devices are LXC's
   * business).
   */
  private async customBase(tarball: string): Promise<string> {
    const dir = join(this.lxcpath, CUSTOM_BASE);
    const rootfs = join(dir, 'rootfs');
    if (existsSync(join(dir, 'complete'))) return rootfs;
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(rootfs, { recursive: true, mode: 0o755 });
    try {
      await extractTarGz(tarball, rootfs, { maxBytes: 8 * 1024 ** 3, maxEntries: 1_000_000, kind: 'rootfs' });
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      // The tarball's path is the host's: in the detail only, with the extractor's own.
      const [why, detail] =
        e instanceof EngineError ? [e.message, e.detail] : ['it could not be unpacked', (e as Error).message];
      throw new EngineError(
        EngineCode.CorruptData,
        `the operator's EE root file system can not be used: ${why}`,
        undefined,
        `${tarball}: ${detail ?? ''}`,
      );
    }
    writeFileSync(join(dir, 'complete'), '');
    return rootfs;
  }

  /**
   * A new unprivileged container: its own copy of the base rootfs shifted into its id range, an ext4
   * image of its disk allowance for everything it can write, and a config that confines it
   * (lxc-policy.ts). Nothing of the host is bound in except its packages, read-only.
   */
  async create(name: string, limits: LxcLimits, diskKiB: number, policy: ContainerPolicy): Promise<void> {
    const base = await this.baseRootfs();
    const dir = join(this.lxcpath, name);
    // The container's root (a host id of its range) opens its layers itself: it must be able to pass
    // through these directories, and it can read nothing in them but what is its own.
    for (const d of [dir, this.upper(name)]) mkdirSync(d, { recursive: true, mode: 0o711 });
    makePassable(this.lxcpath);
    mkdirSync(this.duDir(name), { recursive: true, mode: 0o755 });
    const rootfs = join(dir, 'rootfs');
    rmSync(rootfs, { recursive: true, force: true });
    await run('cp', ['-a', base, rootfs]);
    for (const d of [IN_CONTAINER.du, IN_CONTAINER.data]) mkdirSync(join(rootfs, d), { recursive: true, mode: 0o755 });
    shiftTree(rootfs, policy.ids, true);
    writeFileSync(join(dir, SECCOMP), seccompProfile(), { mode: 0o644 });
    writeFileSync(
      join(dir, 'config'),
      [
        `lxc.rootfs.path = overlay:${rootfs}:${join(this.upper(name), 'delta')}`,
        `lxc.uts.name = ${name}`,
        'lxc.signal.halt = SIGUSR1',
        'lxc.autodev = 1',
        'lxc.tty.max = 1',
        'lxc.pty.max = 16',
        'lxc.net.0.type = empty',
        'lxc.mount.auto = cgroup:mixed proc:mixed sys:ro',
        'lxc.mount.entry = shm dev/shm tmpfs nosuid,nodev,noexec,create=dir 0 0',
        `lxc.mount.entry = ${this.duDir(name)} ${IN_CONTAINER.du.slice(1)} none ` +
          `rbind,rslave,ro,nosuid,nodev,create=dir 0 0`,
        `lxc.mount.entry = ${this.dataDir(name)} ${IN_CONTAINER.data.slice(1)} none bind,nosuid,nodev,create=dir 0 0`,
        ...confinementLines(policy, join(dir, SECCOMP), { cgroupV1: CGROUP_V1, appArmor: appArmorEnabled() }),
        ...limitLines(limits),
        '',
      ].join('\n'),
    );
    await this.freshImage(name, diskKiB > 0 ? diskKiB : DEFAULT_DISK_KIB);
    await this.prepare(name);
  }

  /**
   * The id range a container's config maps (the agent wrote it; the container can't touch it);
   * undefined for a container an agent made before EEs were unprivileged.
   */
  ids(name: string): IdRange | undefined {
    const m = /^lxc\.idmap = u 0 (\d+) (\d+)$/m.exec(readFileSync(join(this.lxcpath, name, 'config'), 'utf8'));
    return m ? { base: Number(m[1]), size: Number(m[2]) } : undefined;
  }

  /** A new, empty writable layer: an ext4 image of the EE's disk allocation, mounted. */
  private async freshImage(name: string, diskKiB: number): Promise<void> {
    await this.unmount(name);
    const img = this.image(name);
    writeFileSync(img, '');
    await run('truncate', ['-s', `${diskKiB}K`, img]);
    await run('mkfs.ext4', ['-q', '-F', '-m', '0', '-E', 'root_owner=0:0', img]);
    await this.mount(name);
  }

  private async mount(name: string): Promise<void> {
    if (!isMounted(this.upper(name)))
      await run('mount', ['-o', 'loop,nodev,nosuid', this.image(name), this.upper(name)]);
    this.layers(name);
  }

  /**
   * The overlay's writable layer and work directory, and the DUs' data directories: owned by the
   * container's root, inside the image root that stays the host's (0711: passable, not listable).
   */
  private layers(name: string): void {
    const root = this.ids(name)?.base ?? 0;
    chmodSync(this.upper(name), 0o711);
    for (const d of ['delta', 'work', 'data']) {
      const p = join(this.upper(name), d);
      if (existsSync(p)) continue;
      mkdirSync(p, { mode: 0o755 });
      chownSync(p, root, root);
    }
  }

  private async unmount(name: string): Promise<void> {
    await unmount(this.upper(name));
  }

  /**
   * What must be in place before the container starts and before any DU image is mounted in its du/
   * (after a device reboot): the writable layer mounted, and du/ a shared mount of its own, so that
   * SquashFS DUs mounted there later reach inside the running container.
   */
  async prepare(name: string): Promise<void> {
    makePassable(this.lxcpath);
    await this.mount(name);
    await makeShared(this.duDir(name));
  }

  async state(name: string): Promise<'RUNNING' | 'STOPPED' | 'ABSENT' | string> {
    if (!existsSync(join(this.lxcpath, name, 'config'))) return 'ABSENT';
    const r = await lxcTool('lxc-info', ['-P', this.lxcpath, '-n', name, '-s', '-H']);
    return r.exitCode === 0 ? r.stdout.trim() : 'ABSENT';
  }

  async start(name: string): Promise<void> {
    if ((await this.state(name)) === 'RUNNING') return;
    await this.prepare(name);
    const args = ['-P', this.lxcpath, '-n', name, '-d'];
    const r = await lxcTool('lxc-start', args);
    if (r.exitCode !== 0)
      throw new EngineError(
        EngineCode.InternalError,
        `container ${name} did not start`,
        undefined,
        toolDetail('lxc-start', args, r),
      );
    const w = await lxcTool('lxc-wait', ['-P', this.lxcpath, '-n', name, '-s', 'RUNNING', '-t', '10']);
    if (w.exitCode !== 0) throw new EngineError(EngineCode.InternalError, `container ${name} did not reach RUNNING`);
  }

  async stop(name: string): Promise<void> {
    if ((await this.state(name)) !== 'RUNNING') return;
    await lxcTool('lxc-stop', ['-P', this.lxcpath, '-n', name, '-t', '5']);
  }

  /**
   * Reset(): everything the services changed in the rootfs goes; DUs and their data stay. The container is left
   * stopped.
   */
  async reset(name: string): Promise<void> {
    await lxcTool('lxc-stop', ['-P', this.lxcpath, '-n', name, '-k']);
    await this.mount(name);
    // delta/ and the overlay's work directory; data/ and ext4's lost+found stay. The container is
    // stopped, but what it wrote is still its own: removed with its ids, not host root's.
    const ids = this.ids(name);
    for (const f of readdirSync(this.upper(name))) {
      if (f === 'data' || f === 'lost+found') continue;
      const p = join(this.upper(name), f);
      if (ids) await removeTree(p, { range: ids });
      else rmSync(p, { recursive: true, force: true });
    }
    this.layers(name);
  }

  async destroy(name: string): Promise<void> {
    await lxcTool('lxc-stop', ['-P', this.lxcpath, '-n', name, '-k']);
    await this.unmount(name).catch(() => undefined);
    await unmount(this.duDir(name));
    rmSync(join(this.lxcpath, name), { recursive: true, force: true });
  }

  /**
   * Grows the writable layer's image and its ext4 file system. Online resizing is not allowed in
   * every sandbox, so the container stops for the moment it takes and starts again if it ran.
   */
  async growDisk(name: string, diskKiB: number): Promise<void> {
    const running = (await this.state(name)) === 'RUNNING';
    if (running) await lxcTool('lxc-stop', ['-P', this.lxcpath, '-n', name, '-t', '5']);
    await this.unmount(name);
    await run('truncate', ['-s', `${diskKiB}K`, this.image(name)]);
    await lxcTool('e2fsck', ['-f', '-y', this.image(name)]);
    await run('resize2fs', [this.image(name)]);
    await this.mount(name);
    if (running) await this.start(name);
  }

  /** Bytes free in the EE's writable layer, in KiB. */
  freeKiB(name: string): number {
    try {
      const s = statfsSync(this.upper(name));
      return Math.floor((s.bavail * s.bsize) / 1024);
    } catch {
      return -1;
    }
  }

  /** Applies new limits to the running container and to its configuration for the next start. */
  async setLimits(name: string, limits: LxcLimits): Promise<void> {
    const cfg = join(this.lxcpath, name, 'config');
    const kept = readFileSync(cfg, 'utf8')
      .split('\n')
      .filter((l) => !/^lxc\.cgroup2?\.(memory|cpu)\./.test(l));
    writeFileSync(cfg, [...kept.filter((l) => l !== ''), ...limitLines(limits), ''].join('\n'));
    if ((await this.state(name)) !== 'RUNNING') return;
    // memsw may not be below memory: raising needs memsw first, lowering memory first. Two passes
    // settle either order.
    let pending = limitLines(limits);
    for (let pass = 0; pass < 2 && pending.length; pass++) {
      const failed: string[] = [];
      for (const l of pending) {
        const m = /^lxc\.cgroup2?\.(\S+) = (.+)$/.exec(l);
        if (m && (await lxcTool('lxc-cgroup', ['-P', this.lxcpath, '-n', name, m[1]!, m[2]!])).exitCode !== 0)
          failed.push(l);
      }
      pending = failed;
    }
    if (pending.length) throw new EngineError(EngineCode.CommandFailure, `the container refused ${pending.join(', ')}`);
  }

  /**
   * Makes `target` inside a running container lead to du/<rel> (a volume mounted there on the host
   * reaches the container through du/'s shared propagation): a symbolic link made by a process of
   * the container itself (lxc-attach with its namespaces, ids, capabilities and seccomp), so no
   * file of the container is ever run, opened or followed with host privileges. An existing file
   * or directory at target is left alone (the link is not made, and the caller hears why).
   */
  async link(name: string, rel: string, target: string): Promise<void> {
    const r = await lxcTool('lxc-attach', [
      ...this.attachArgs(name),
      '--',
      '/bin/sh',
      '-c',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion, not a template
      'mkdir -p "${1%/*}" && { [ ! -e "$1" ] || [ -L "$1" ]; } && ln -sfn "$0" "$1"',
      `${IN_CONTAINER.du}/${rel}`,
      target,
    ]);
    if (r.exitCode !== 0)
      throw new EngineError(
        EngineCode.CommandFailure,
        'an AccessPath could not be made in the execution environment (it exists, or the container refused)',
        undefined,
        `${target}: ${r.stderr}`,
      );
  }

  async unlink(name: string, target: string): Promise<void> {
    if ((await this.state(name)) !== 'RUNNING') return;
    await lxcTool('lxc-attach', [
      ...this.attachArgs(name),
      '--',
      '/bin/sh',
      '-c',
      '[ ! -L "$0" ] || rm -f "$0"',
      target,
    ]);
  }

  private attachArgs(name: string): string[] {
    return ['-P', this.lxcpath, '-n', name, '--clear-env', '--set-var', 'PATH=/usr/sbin:/usr/bin:/sbin:/bin'];
  }

  /**
   * A user of the EE's base rootfs (its /etc/passwd as the agent installed it, read without
   * following links; users a service adds at run time are not looked up), or a numeric id.
   */
  userIn(name: string, user: string): { uid: number; gid: number } {
    const found = lookupUser(join(this.lxcpath, name, 'rootfs', 'etc/passwd'), user);
    if (!found)
      throw new EngineError(EngineCode.InvalidArguments, `user '${user}' does not exist in the execution environment`);
    const size = this.ids(name)?.size ?? 2 ** 32;
    if (found.uid >= size || found.gid >= size)
      throw new EngineError(
        EngineCode.InvalidArguments,
        `user '${user}' is outside the execution environment's ${size} ids`,
      );
    return found;
  }

  /** Memory the container uses now, from its cgroup. */
  async memoryKiB(name: string): Promise<number> {
    const r = await lxcTool('lxc-cgroup', ['-P', this.lxcpath, '-n', name, 'memory.usage_in_bytes']);
    return r.exitCode === 0 ? Math.floor(Number(r.stdout.trim()) / 1024) : 0;
  }

  /** Runs services inside the container: lxc-attach with a clean environment, cd to the DU. */
  launcher(name: string): ProcessLauncher {
    const host = this;
    return {
      spawn(_euid: string, launch: Launch, logFd: number) {
        const args = host.attachArgs(name);
        for (const [k, v] of Object.entries(launch.env)) args.push('--set-var', `${k}=${v}`);
        const uid = launch.user === undefined ? undefined : host.userIn(name, launch.user);
        if (uid !== undefined) args.push('-u', String(uid.uid), '-g', String(uid.gid));
        // A privileged DU (allowed by its EE's policy) keeps every capability of the container's user
        // namespace (network administration, tracing ... inside the EE): still no host privilege, and
        // the seccomp list (mounts included) still holds.
        if (launch.privileged) args.push('--elevated-privileges=CAP');
        args.push('--', '/bin/sh', '-c', 'cd "$0" && exec "$@"', launch.cwd, launch.command, ...launch.args);
        const child = spawn('lxc-attach', args, { stdio: ['ignore', logFd, logFd], detached: true });
        const exited = new Promise<number | null>((resolve) => {
          child.once('exit', (code) => resolve(code));
          child.once('error', () => resolve(127));
        });
        if (child.pid === undefined) throw new Error('lxc-attach could not be executed');
        child.unref();
        return { pid: child.pid, exited };
      },
    };
  }
}

/** cgroup v1 (this machine) or v2 keys for a memory limit in KiB and a CPU share of one core in percent. */
function limitLines(l: LxcLimits): string[] {
  const v1 = CGROUP_V1;
  const out: string[] = [];
  if (l.memoryKiB > 0)
    out.push(
      v1
        ? `lxc.cgroup.memory.limit_in_bytes = ${l.memoryKiB * 1024}`
        : `lxc.cgroup2.memory.max = ${l.memoryKiB * 1024}`,
    );
  if (l.memoryKiB > 0 && v1) out.push(`lxc.cgroup.memory.memsw.limit_in_bytes = ${l.memoryKiB * 1024}`);
  if (l.cpuPercent > 0) {
    const quota = Math.max(1000, Math.round(100_000 * (l.cpuPercent / 100)));
    out.push(
      ...(v1
        ? ['lxc.cgroup.cpu.cfs_period_us = 100000', `lxc.cgroup.cpu.cfs_quota_us = ${quota}`]
        : [`lxc.cgroup2.cpu.max = ${quota} 100000`]),
    );
  }
  return out;
}

const BASE = 'cpe-base';
const SECCOMP = 'seccomp';
const CGROUP_V1 = existsSync('/sys/fs/cgroup/memory');
const CUSTOM_BASE = 'cpe-base-custom';
const DEFAULT_DISK_KIB = 256 * 1024;

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
    return true;
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
    return this.host.start(ee.container!);
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
    };
  }
}
