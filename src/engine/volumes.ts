// Application data volumes (TR-181 ExecEnv.{i}.ApplicationData): each one an ext4 image of its
// Capacity, mounted loop/nodev/nosuid, so an application can never use more than it was given. In an
// LXC EE the volume is mounted under the EE's shared du/ tree and bound at its AccessPath inside the
// container; in the native EE services find it at its host mount point (CPE_APPDATA_<NAME>).
import { existsSync, mkdirSync, readdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { EngineCode, EngineError } from './errors.js';
import { makePassable } from './ids/ownership.js';
import { isMounted, unmount } from './mounts.js';
import { runTool as run } from './tool.js';

export type Retain = 'UntilStopped' | 'Forever';

/** What an application asks for (InstallDU/Update ApplicationData.{i}., or its manifest). */
export interface VolumeSpec {
  readonly name: string;
  readonly capacityMiB: number;
  readonly retain: Retain;
  readonly accessPath: string;
}

export interface VolumeRecord extends VolumeSpec {
  readonly id: string;
  readonly ee: string;
  /** The UUID of the DU it was created for; kept after an Uninstall that retained it. */
  readonly appUuid: string;
}

/** Directories an application volume may not be placed over inside an EE. */
const VOLUME_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const RESERVED = ['/proc', '/sys', '/dev', '/opt/cpe', '/var/lib/cpe', '/bin', '/sbin', '/lib', '/usr', '/etc'];

/**
 * Checks a request; a bad one is refused as invalid arguments, naming the field. Values are not
 * quoted back (a package's manifest may carry anything in them), except a name found valid.
 */
export function checkVolumeSpec(s: VolumeSpec): void {
  const named = VOLUME_NAME.test(s.name);
  const bad = (m: string): never => {
    throw new EngineError(EngineCode.InvalidArguments, `ApplicationData${named ? ` ${s.name}` : ''}: ${m}`);
  };
  if (!named) bad('Name must be 1-64 letters, digits, . _ - (starting with a letter or digit)');
  if (!Number.isInteger(s.capacityMiB) || s.capacityMiB < 1 || s.capacityMiB > 1024 * 1024)
    bad('Capacity must be 1 MiB or more');
  if (s.retain !== 'UntilStopped' && s.retain !== 'Forever') bad('Retain must be UntilStopped or Forever');
  const p = s.accessPath;
  if (
    !p.startsWith('/') ||
    p.length > 256 ||
    posix.normalize(p) !== p ||
    p.endsWith('/') ||
    p.split('/').includes('..')
  )
    bad('AccessPath must be an absolute, normalized path of at most 256 characters');
  const reserved = RESERVED.find((r) => p === r || p.startsWith(`${r}/`));
  if (reserved) bad(`AccessPath is inside ${reserved}, which the EE owns`);
}

/** The environment variable a service finds a volume's path in. */
export const volumeEnvName = (name: string) => `CPE_APPDATA_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;

/** The image files; where each is mounted is the engine's business (it knows the EE). */
export class VolumeImages {
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  image(id: string): string {
    return join(this.dir, `${id}.img`);
  }

  /**
   * A new empty file system that holds at least the volume's capacity: the image is larger by what
   * ext4 keeps for itself (journal, inode tables). Sparse: only what is written takes space.
   */
  async create(v: VolumeRecord): Promise<void> {
    const img = this.image(v.id);
    writeFileSync(img, '', { mode: 0o600 });
    await run('truncate', ['-s', `${Math.ceil(v.capacityMiB * 1.1 * 1024) + 4096}K`, img]);
    await run('mkfs.ext4', ['-q', '-F', '-m', '0', '-E', 'root_owner=0:0', img]);
  }

  async mount(v: VolumeRecord, at: string): Promise<void> {
    mkdirSync(at, { recursive: true, mode: 0o755 });
    if (isMounted(at)) return;
    await run('mount', ['-o', 'loop,nodev,nosuid', this.image(v.id), at]);
    // Services may run as any user of the EE: the volume is theirs (the image is still 0600 on the host).
    await run('chmod', ['1777', at]);
    makePassable(dirname(at));
  }

  /** Unmounts and deletes the volume with everything in it. */
  async destroy(v: VolumeRecord, at: string): Promise<void> {
    await unmount(at);
    rmSync(at, { recursive: true, force: true });
    rmSync(this.image(v.id), { force: true });
  }

  /** Removes image files no record knows of (a crash between creating one and recording it). */
  sweep(known: ReadonlySet<string>): void {
    for (const f of readdirSync(this.dir))
      if (f.endsWith('.img') && !known.has(f.slice(0, -4))) rmSync(join(this.dir, f), { force: true });
  }

  /** MiB stored in a mounted volume. */
  static usedMiB(at: string): number {
    if (!existsSync(at) || !isMounted(at)) return 0;
    const s = statfsSync(at);
    return Math.ceil(((s.blocks - s.bfree) * s.bsize) / 1024 ** 2);
  }
}
