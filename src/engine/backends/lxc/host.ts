// An EE's LXC container on the host, driven through the lxc-* tools: created unprivileged from the base
// rootfs, its writable layer an ext4 image of its disk allowance, started, stopped, reset, grown,
// limited, and reached inside (volume links, users) only through processes of the container itself.
import { execFileSync } from 'node:child_process';
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
import { EngineCode, EngineError } from '../../errors.js';
import { removeTree } from '../../ids/as-owner.js';
import { makePassable, shiftTree } from '../../ids/ownership.js';
import { lookupUser } from '../../ids/users.js';
import { detachLoops, isMounted, makeShared, unmount } from '../../mounts.js';
import type { ProcessLauncher } from '../../supervisor.js';
import { runTool as run, toolDetail } from '../../tool.js';
import { baseRootfs } from './base-rootfs.js';
import {
  containerConfig,
  DEFAULT_DISK_KIB,
  dataLine,
  IN_CONTAINER,
  type LxcLimits,
  limitLines,
  oldDataLine,
  resolvConfLine,
  SECCOMP,
  withLimits,
  withNet,
} from './config.js';
import { lxcLauncher } from './launcher.js';
import { type ContainerPolicy, type IdRange, seccompProfile } from './policy.js';
import { lxcAvailable, lxcTool } from './tool.js';

/**
 * Layout of an EE container under lxcpath/<name>/: its config; upper.img, an ext4 image of the EE's
 * AllocatedDiskSpace mounted on upper/, holding everything its services can write: delta/, the
 * writable layer of an overlay over the shared base rootfs, and data/, its DUs' data directories
 * bound at /var/lib/cpe/data (so no app can fill the host's disk, and Reset() is: empty delta/);
 * du/ on the host, the installed packages, bound read-only at /opt/cpe/du (the agent writes there,
 * services do not). DUs and their data survive a Reset.
 */
export class LxcHost {
  /** rootfsTarball: the operator's own base root file system (tar.gz) instead of LXC's busybox one. */
  constructor(
    readonly lxcpath: string,
    readonly rootfsTarball?: string,
    /** The agent's resolv.conf for units (absent: containers keep their own). */
    readonly resolvConf?: string,
  ) {
    mkdirSync(lxcpath, { recursive: true, mode: 0o700 });
  }

  /** LXC is usable when its tools, a busybox to build the base rootfs from, and ext4 tools are all here. */
  static available(): Promise<boolean> {
    return lxcAvailable();
  }

  /** Host directories of an EE: installed DUs, and their data (inside the EE's disk image). */
  duDir(name: string): string {
    return join(this.lxcpath, name, 'du');
  }
  dataDir(name: string): string {
    return join(this.upper(name), 'data');
  }
  /** The DUs' own disk images: in the EE's disk, the host's (the layer's root is the host's, 0711). */
  disksDir(name: string): string {
    return join(this.upper(name), 'disks');
  }
  private upper(name: string): string {
    return join(this.lxcpath, name, 'upper');
  }
  private image(name: string): string {
    return join(this.lxcpath, name, 'upper.img');
  }

  /**
   * A new unprivileged container: its own copy of the base rootfs shifted into its id range, an ext4
   * image of its disk allowance for everything it can write, and a config that confines it
   * (lxc-policy.ts). Nothing of the host is bound in except its packages, read-only.
   */
  async create(name: string, limits: LxcLimits, diskKiB: number, policy: ContainerPolicy): Promise<void> {
    const base = await baseRootfs(this.lxcpath, this.rootfsTarball);
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
    const mounts = {
      duDir: this.duDir(name),
      dataDir: this.dataDir(name),
      seccomp: join(dir, SECCOMP),
      ...(this.resolvConf ? { resolvConf: this.resolvConf } : {}),
    };
    writeFileSync(
      join(dir, 'config'),
      containerConfig(name, rootfs, join(this.upper(name), 'delta'), mounts, policy, limits),
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
    await unmount(this.dataDir(name));
    await unmount(this.upper(name));
  }

  /**
   * What must be in place before the container starts and before any DU image is mounted in its du/
   * (after a device reboot): the writable layer mounted, and du/ and data/ shared mounts of their own, so
   * that SquashFS DUs and DUs' own disks mounted there later reach inside the running container.
   */
  async prepare(name: string): Promise<void> {
    makePassable(this.lxcpath);
    await this.mount(name);
    await makeShared(this.duDir(name));
    await makeShared(this.dataDir(name));
  }

  /**
   * Whether a disk mounted in data/ now reaches the container's services: it is stopped, or it was started
   * with data/ bound rslave (an agent before DU disks bound it without propagation: restart it once).
   */
  async dataPropagates(name: string): Promise<boolean> {
    return (await this.state(name)) !== 'RUNNING' || existsSync(this.dataMarker(name));
  }
  private dataMarker(name: string): string {
    return join(this.lxcpath, name, 'data-rslave');
  }

  async state(name: string): Promise<'RUNNING' | 'STOPPED' | 'ABSENT' | string> {
    if (!existsSync(join(this.lxcpath, name, 'config'))) return 'ABSENT';
    const r = await lxcTool('lxc-info', ['-P', this.lxcpath, '-n', name, '-s', '-H']);
    return r.exitCode === 0 ? r.stdout.trim() : 'ABSENT';
  }

  /** hostNetwork: the EE's privileged policy gives its units the host's network (hostNetworkOf). */
  async start(name: string, hostNetwork = false): Promise<void> {
    if ((await this.state(name)) === 'RUNNING') return;
    await this.prepare(name);
    this.bindResolvConf(name);
    const cfg = join(this.lxcpath, name, 'config');
    const text = readFileSync(cfg, 'utf8');
    const next = withNet(text, hostNetwork).replace(oldDataLine(this.dataDir(name)), dataLine(this.dataDir(name)));
    if (next !== text) writeFileSync(cfg, next);
    writeFileSync(this.dataMarker(name), '');
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
    // delta/ and the overlay's work directory; data/, the DUs' disks and ext4's lost+found stay. The container is
    // stopped, but what it wrote is still its own: removed with its ids, not host root's.
    const ids = this.ids(name);
    for (const f of readdirSync(this.upper(name))) {
      if (f === 'data' || f === 'disks' || f === 'lost+found') continue;
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
    await detachLoops(this.image(name));
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
    await detachLoops(this.image(name));
    await run('truncate', ['-s', `${diskKiB}K`, this.image(name)]);
    await lxcTool('e2fsck', ['-f', '-y', this.image(name)]);
    await run('resize2fs', [this.image(name)]);
    await this.mount(name);
    if (running) await this.start(name);
  }

  /** A container made by an agent without the units' resolver gets its bind at its next start. */
  private bindResolvConf(name: string): void {
    if (!this.resolvConf) return;
    const cfg = join(this.lxcpath, name, 'config');
    const text = readFileSync(cfg, 'utf8');
    if (!text.includes(resolvConfLine(this.resolvConf)))
      writeFileSync(cfg, `${text.replace(/\n*$/, '\n')}${resolvConfLine(this.resolvConf)}\n`);
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
    writeFileSync(cfg, withLimits(readFileSync(cfg, 'utf8'), limits));
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

  /** The container's init process as the host sees it (lxc-info); throws when it is not running. */
  initPid(name: string): number {
    const out = execFileSync('lxc-info', ['-P', this.lxcpath, '-n', name, '-p', '-H'], { encoding: 'utf8' });
    const pid = Number(out.trim());
    if (!Number.isInteger(pid) || pid <= 0) throw new Error(`container ${name} is not running`);
    return pid;
  }

  /** lxc-attach's arguments to run a command in the container, with a clean environment. */
  attachArgs(name: string): string[] {
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
    return lxcLauncher(this, name);
  }
}
