// An OCI EE's places on the host, under <base>/<ee id>/: du/ (installed DUs: the agent's, read-only to
// containers as overlay lower layers), upper.img (an ext4 image of the EE's AllocatedDiskSpace) mounted on
// upper/, which holds everything its containers can write (layers/<duid>/ each DU's overlay upper and work
// directory, data/ the DUs' data directories), rootfs/<duid> each DU's overlay mount (its containers'
// root), bundles/<container> each EU's runtime spec, volumes/ the application data volumes.
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { removeTree } from '../../ids/as-owner.js';
import { makePassable } from '../../ids/ownership.js';
import { detachLoops, isMounted, unmount } from '../../mounts.js';
import { runTool as run, tool } from '../../tool.js';
import type { IdRange } from '../lxc/policy.js';

/** An EE's disk when AddExecEnv() names none (as the LXC EEs). */
export const DEFAULT_DISK_KIB = 256 * 1024;

export class OciStorage {
  constructor(
    readonly base: string,
    readonly eeId: string,
  ) {}

  get dir(): string {
    return join(this.base, this.eeId);
  }
  get duDir(): string {
    return join(this.dir, 'du');
  }
  private get upper(): string {
    return join(this.dir, 'upper');
  }
  private get image(): string {
    return join(this.dir, 'upper.img');
  }
  get dataDir(): string {
    return join(this.upper, 'data');
  }
  /** The DUs' own disk images, in the EE's disk (the host's: upper/ is 0711). */
  get disksDir(): string {
    return join(this.upper, 'disks');
  }
  get volumesDir(): string {
    return join(this.dir, 'volumes');
  }
  rootfs(duid: string): string {
    return join(this.dir, 'rootfs', duid);
  }
  bundle(ctr: string): string {
    return join(this.dir, 'bundles', ctr);
  }
  private layer(duid: string): string {
    return join(this.upper, 'layers', duid);
  }

  /** A new EE: its directories, and an empty writable image of its disk allowance, mounted. */
  async create(diskKiB: number): Promise<void> {
    for (const d of [this.dir, this.duDir, this.upper, this.volumesDir, join(this.dir, 'rootfs')])
      mkdirSync(d, { recursive: true, mode: 0o711 });
    writeFileSync(this.image, '');
    await run('truncate', ['-s', `${diskKiB > 0 ? diskKiB : DEFAULT_DISK_KIB}K`, this.image]);
    await run('mkfs.ext4', ['-q', '-F', '-m', '0', '-E', 'root_owner=0:0', this.image]);
    await this.mount();
  }

  /**
   * The writable image mounted (after a device reboot), its layers/ and data/ the agent's (each DU's entries
   * below are owned by the range); containers (host ids of the range) must pass through the agent's
   * directories to their roots and volumes, and can list none of them.
   */
  async mount(): Promise<void> {
    if (!isMounted(this.upper)) await run('mount', ['-o', 'loop,nodev,nosuid', this.image, this.upper]);
    chmodSync(this.upper, 0o711);
    for (const d of ['layers', 'data']) {
      const p = join(this.upper, d);
      if (existsSync(p)) continue;
      mkdirSync(p, { mode: 0o711 });
    }
    // Every directory above (up to /) must be: the first that is passable does not mean those above it are.
    makePassable(this.dir);
  }

  mounted(): boolean {
    return isMounted(this.upper);
  }

  /**
   * A DU's container root: an overlay of its layers (lowest first) under its own upper layer in the EE's
   * image, mounted by the agent (never inside a container) when its first EU starts. Synchronous: a unit's
   * launch is. nodev: a device node in an image opens nothing.
   */
  mountRootfs(duid: string, layers: readonly string[], ids: IdRange): string {
    const target = this.rootfs(duid);
    if (isMounted(target)) return target;
    const layer = this.layer(duid);
    mkdirSync(layer, { recursive: true, mode: 0o711 });
    // diff/ is the container's (its root, /, inside); work/ is the overlay's own, never seen inside.
    if (!existsSync(join(layer, 'diff'))) {
      mkdirSync(join(layer, 'diff'), { mode: 0o755 });
      chownSync(join(layer, 'diff'), ids.base, ids.base);
    }
    mkdirSync(join(layer, 'work'), { recursive: true, mode: 0o700 });
    mkdirSync(target, { recursive: true, mode: 0o755 });
    const lower = [...layers].reverse().join(':');
    const opts = `lowerdir=${lower},upperdir=${join(layer, 'diff')},workdir=${join(layer, 'work')},nodev`;
    execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', opts, target], { stdio: ['ignore', 'ignore', 'pipe'] });
    return target;
  }

  /** A DU's container root unmounted, and with wipe its writes too (the container's own, removed as it). */
  async dropRootfs(duid: string, ids: IdRange, wipe: boolean): Promise<void> {
    await unmount(this.rootfs(duid));
    rmSync(this.rootfs(duid), { recursive: true, force: true });
    if (!wipe || !existsSync(this.layer(duid))) return;
    // What the container wrote goes as the container's root; the rest (the overlay's work/) is the agent's.
    if (await removeTree(join(this.layer(duid), 'diff'), { range: ids }))
      rmSync(this.layer(duid), { recursive: true, force: true });
  }

  /** Every DU's container root unmounted (the EE stops, is reset or removed). */
  async dropAllRootfs(ids: IdRange, wipe: boolean): Promise<void> {
    const mounted = existsSync(join(this.dir, 'rootfs')) ? readdirSync(join(this.dir, 'rootfs')) : [];
    const written = existsSync(join(this.upper, 'layers')) ? readdirSync(join(this.upper, 'layers')) : [];
    for (const duid of new Set([...mounted, ...(wipe ? written : [])])) await this.dropRootfs(duid, ids, wipe);
  }

  /** Grows the image and its file system (no container runs: the caller stopped its units). */
  async grow(ids: IdRange, diskKiB: number): Promise<void> {
    await this.dropAllRootfs(ids, false);
    await unmount(this.upper);
    await detachLoops(this.image);
    await run('truncate', ['-s', `${diskKiB}K`, this.image]);
    await tool('e2fsck', ['-f', '-y', this.image]);
    await run('resize2fs', [this.image]);
    await this.mount();
  }

  /** Everything gone: mounts first (volumes were dropped by the core before). */
  async destroy(ids: IdRange): Promise<void> {
    await this.dropAllRootfs(ids, false);
    for (const v of existsSync(this.volumesDir) ? readdirSync(this.volumesDir) : [])
      await unmount(join(this.volumesDir, v));
    await unmount(this.upper);
    await detachLoops(this.image);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
