// A DU's own disk allowance at run time (TR-181 InstallDU/Update Resources.AllocatedDiskSpace): its data
// directory is an ext4 image of that size, mounted loop/nodev/nosuid over it, so its services get ENOSPC at
// the limit and the rest of the EE (or the host, for a native DU) keeps its space. Writes outside the data
// directory (an LXC EE's shared root file system, an OCI DU's writable layer) count against the EE's disk.
//
// The image belongs to the data directory, not to the DU record: it lives as long as the data does (an
// Uninstall that retains data keeps it mounted). apply() makes a DU's data match its record whatever was
// there (no image, an image of another size, an image it no longer wants) and is run with the DU's units
// stopped: at install and update before they start, and at every engine start (a reboot unmounted it, or
// a crash came in the middle of a change). When an image exists it holds the data: what a plain directory
// under it still holds is a half-finished move's copy, and goes.
//
// Every step that touches the data directory is made so that the EE can't redirect it: the image is
// prepared (owner, mode) in a private staging mount of the agent's, and moved onto the data directory as
// opened without following a link (the directory's parent may be the container's). Data is copied and
// removed as its owner (ids/as-owner.ts), never by host root.
import {
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  rmSync,
  statfsSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { EngineCode, EngineError } from './errors.js';
import { clearStaging, openExact } from './host-bind.js';
import { copyTree, emptyTree, type Owner } from './ids/as-owner.js';
import { makePassable } from './ids/ownership.js';
import type { UserIds } from './ids/users.js';
import { detachLoops, isMounted, unmount } from './mounts.js';
import { runTool as run, tool } from './tool.js';
import type { DURecord } from './types.js';

/** What the disks need to know of a DU: where its data is, and who owns it; and where an EE keeps them. */
export interface DuDiskDeps {
  /**
   * Where an EE's DU disk images live: inside the EE's own disk where it has one (so that they count against
   * it, a DU's limit below the EE's); undefined: in the engine's directory (the native EE).
   */
  imagesDir(eeId: string): string | undefined;
  dataDir(du: DURecord): string;
  owner(du: DURecord): Owner;
  /** The ids the data directory's root belongs to (its mode is 0700). */
  rootIds(du: DURecord): UserIds;
}

/**
 * Makes an empty ext4 file system at `img` whose services get at least `allowanceKiB` and little more
 * (ext4's journal, inode tables and the clusters it keeps back for itself come on top, in proportions that
 * vary with the size): a few trials, measured. Returns the image's size in KiB. Sparse: only what is
 * written takes space.
 */
export async function makeSizedImage(img: string, allowanceKiB: number): Promise<number> {
  let kib = allowanceKiB + Math.ceil(allowanceKiB * 0.08) + 1536;
  for (let i = 0; i < 8; i++) {
    rmSync(img, { force: true });
    await run('truncate', ['-s', `${kib}K`, img]);
    await run('mkfs.ext4', ['-q', '-F', '-m', '0', '-E', 'root_owner=0:0', img]);
    const short = allowanceKiB - (await availableKiB(img));
    // Within 1% (at least 64 KiB) above the allowance: done; after a few trials, any fit will do.
    if (short <= 0 && (i >= 3 || -short <= Math.max(64, allowanceKiB / 100))) return kib;
    kib += short > 0 ? short + 32 : Math.floor(short / 2);
  }
  throw new EngineError(EngineCode.InternalError, `no file system of ${allowanceKiB} KiB could be made`);
}

/** What a mounted ext4 image gives its users (statfs f_bavail): its free blocks less those ext4 keeps back. */
async function availableKiB(img: string): Promise<number> {
  const head = (await tool('dumpe2fs', ['-h', img])).stdout;
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(head)?.[1] ?? 0);
  const blocks = field('Block count');
  // The kernel keeps min(2 %, 4096) clusters back for metadata it may need (ext4_calculate_resv_clusters).
  const kept = Math.min(Math.floor(blocks / 50), 4096);
  return ((field('Free blocks') - kept - field('Reserved block count')) * field('Block size')) / 1024;
}

/** A DU's allowance from its record: 0 for none. */
export const allowanceOf = (du: DURecord) => Math.max(0, du.settings?.resources?.diskKiB ?? 0);

/** One data directory and its image, as the steps below need them. */
interface Disk {
  readonly img: string;
  readonly data: string;
  readonly staging: string;
  /** Who copies and removes the data; undefined: data retained by an uninstall (only mounted again). */
  readonly owner: Owner | undefined;
  /** The ids the image's root is given (undefined: it keeps those it has). */
  readonly rootIds: UserIds | undefined;
  /** For faults: the DU's name (never a path). */
  readonly name: string;
}

export class DuDisks {
  constructor(
    readonly dir: string,
    private readonly deps: DuDiskDeps,
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o711 });
  }

  private imagesDir(eeId: string): string {
    return this.deps.imagesDir(eeId) ?? join(this.dir, eeId);
  }
  /** A private mount point of the agent's, outside any EE (nothing propagates to or from it). */
  private stagingOf(eeId: string, uuid: string): string {
    return join(this.dir, eeId, `.staging-${uuid}`);
  }
  image(eeId: string, uuid: string): string {
    return join(this.imagesDir(eeId), `${uuid}.img`);
  }

  private disk(du: DURecord): Disk {
    return {
      img: this.image(du.ee, du.uuid),
      data: this.deps.dataDir(du),
      staging: this.stagingOf(du.ee, du.uuid),
      owner: this.deps.owner(du),
      rootIds: this.deps.rootIds(du),
      name: du.manifest.name,
    };
  }

  /** The data of the DU matches its record's allowance (run with its units stopped). */
  async apply(du: DURecord): Promise<void> {
    const want = allowanceOf(du);
    // The common case, cheap at every start (no owner looked up): no allowance, no image, nothing staged.
    if (!want && !existsSync(this.image(du.ee, du.uuid)) && !existsSync(this.stagingOf(du.ee, du.uuid))) return;
    const d = this.disk(du);
    await clearStaging(d.staging);
    rmSync(`${d.img}.new`, { force: true }); // an image a crash left half-made
    requireDir(d);
    const have = existsSync(d.img);
    if (!want && !have) return;
    if (want && !have) return create(d, want);
    if (!want) return release(d);
    if (allowanceOnDisk(d) !== want) {
      await unmount(d.data);
      await resize(d, want);
    }
    if (!isMounted(d.data)) {
      if (d.owner) await emptyTree(d.data, d.owner);
      await mountOver(d);
    }
  }

  /** After the DU's data was emptied (an uninstall, an update without RetainData): its image goes. */
  async remove(du: DURecord): Promise<void> {
    const d = this.disk(du);
    if (!existsSync(d.img)) return;
    await unmount(d.data);
    await clearStaging(d.staging);
    await deleteImage(d.img);
  }

  /**
   * At start, for an image no DU has (an uninstall retained its data): mounted again where its data directory
   * still is, removed where that is gone.
   */
  private async restoreRetained(eeId: string, uuid: string, data: string): Promise<void> {
    const img = this.image(eeId, uuid);
    const d: Disk = {
      img,
      data,
      staging: this.stagingOf(eeId, uuid),
      owner: undefined,
      rootIds: undefined,
      name: uuid,
    };
    await clearStaging(d.staging);
    if (!existsSync(data)) await deleteImage(img);
    else if (!isMounted(data)) await mountOver(d);
  }

  /**
   * An EE's DUs' data on the disks their records say, and data retained on a disk of its own mounted again
   * (at start, and after the EE's own disk was unmounted to grow). dataDir: where the EE keeps a DU's data.
   */
  async mountEE(eeId: string, dus: readonly DURecord[], dataDir: (uuid: string) => string): Promise<void> {
    // One that fails does not keep the others off their disks: the first failure is thrown after all were tried.
    const failed: unknown[] = [];
    const attempt = (p: Promise<void>) => p.catch((e: unknown) => void failed.push(e));
    for (const du of dus) await attempt(this.apply(du));
    for (const uuid of this.imagesOf(eeId))
      if (!dus.some((d) => d.uuid === uuid)) await attempt(this.restoreRetained(eeId, uuid, dataDir(uuid)));
    if (failed.length) throw failed[0];
  }

  /** KiB the DU's data takes in its image (0 without one). */
  usedKiB(du: DURecord): number {
    if (!allowanceOf(du)) return 0;
    try {
      const s = statfsSync(this.deps.dataDir(du));
      return Math.ceil(((s.blocks - s.bfree) * s.bsize) / 1024);
    } catch {
      return 0;
    }
  }

  /** Every disk of an EE unmounted from where its data is (dataDir): its units are stopped, its storage changes. */
  async unmountEE(eeId: string, dataDir?: (uuid: string) => string): Promise<void> {
    for (const uuid of this.imagesOf(eeId)) {
      if (dataDir) await unmount(dataDir(uuid));
      await clearStaging(this.stagingOf(eeId, uuid));
      await detachLoops(this.image(eeId, uuid));
    }
  }

  /** The images of an EE that goes (its data with them). */
  async dropEE(eeId: string, dataDir?: (uuid: string) => string): Promise<void> {
    await this.unmountEE(eeId, dataDir);
    rmSync(this.imagesDir(eeId), { recursive: true, force: true });
    rmSync(join(this.dir, eeId), { recursive: true, force: true });
  }

  /** The uuids an EE has images for (retained data included). */
  imagesOf(eeId: string): string[] {
    const d = this.imagesDir(eeId);
    return existsSync(d) ? readdirSync(d).flatMap((f) => (f.endsWith('.img') ? [f.slice(0, -4)] : [])) : [];
  }

  /** The EEs that have images or staging in the engine's directory. */
  eesWithImages(): string[] {
    return readdirSync(this.dir);
  }
}

/** A first allowance: a new image, the data copied in as its owner, then the image mounted over it. */
async function create(d: Disk, want: number): Promise<void> {
  const fresh = `${d.img}.new`;
  // The host's alone: in an EE's disk the container's root must not reach the images (0700, host root's).
  mkdirSync(dirname(d.img), { recursive: true, mode: 0o700 });
  await makeSizedImage(fresh, want);
  const held = await stage(d, fresh);
  try {
    if (d.owner && !(await copyTree(d.data, held, d.owner))) {
      await clearStaging(d.staging);
      rmSync(fresh, { force: true });
      throw new EngineError(
        EngineCode.ResourcesExceeded,
        `the data of ${d.name} does not fit in Resources.AllocatedDiskSpace ${want} KiB (or could not be copied)`,
      );
    }
  } finally {
    await clearStaging(d.staging);
  }
  recordAllowance(d, want);
  renameSync(fresh, d.img); // from here the image holds the data
  if (d.owner) await emptyTree(d.data, d.owner);
  await mountOver(d);
}

/** The allowance taken away: the data copied back into the plain directory as its owner, the image deleted. */
async function release(d: Disk): Promise<void> {
  await unmount(d.data);
  if (d.owner) await emptyTree(d.data, d.owner);
  const held = await stage(d, d.img);
  try {
    // A copy that fails (the EE's disk is full) keeps the image: the data stays where it is whole.
    if (d.owner && !(await copyTree(held, d.data, d.owner)))
      throw new EngineError(
        EngineCode.ResourcesExceeded,
        `the data of ${d.name} does not fit outside its Resources.AllocatedDiskSpace in its execution environment`,
      );
  } finally {
    await clearStaging(d.staging);
  }
  await deleteImage(d.img);
}

async function deleteImage(img: string): Promise<void> {
  await detachLoops(img);
  rmSync(img, { force: true });
  rmSync(allowanceFile(img), { force: true });
}

/** Another allowance: the file system grown or shrunk offline; data that does not fit is refused, left as it was. */
async function resize(d: Disk, want: number): Promise<void> {
  const trial = `${d.img}.size`;
  const bytes = (await makeSizedImage(trial, want)) * 1024;
  rmSync(trial, { force: true });
  await detachLoops(d.img);
  await tool('e2fsck', ['-f', '-p', d.img]);
  const bigger = bytes > statSync(d.img).size;
  if (bigger) await run('truncate', ['-s', `${bytes}`, d.img]);
  const r = await tool('resize2fs', [d.img, ...(bigger ? [] : [`${bytes / 1024}K`])]);
  if (r.exitCode !== 0)
    throw new EngineError(
      EngineCode.ResourcesExceeded,
      `the data of ${d.name} does not fit in Resources.AllocatedDiskSpace ${want} KiB`,
    );
  if (!bigger) await run('truncate', ['-s', `${bytes}`, d.img]);
  recordAllowance(d, want);
}

/** The allowance an image was made for, kept beside it (its size says it only with ext4's overhead). */
const allowanceFile = (img: string) => img.replace(/\.img$/, '.kib');
function allowanceOnDisk(d: Disk): number {
  try {
    return Number(readFileSync(allowanceFile(d.img), 'utf8'));
  } catch {
    return -1;
  }
}
function recordAllowance(d: Disk, kib: number): void {
  writeFileSync(`${allowanceFile(d.img)}.tmp`, String(kib));
  renameSync(`${allowanceFile(d.img)}.tmp`, allowanceFile(d.img));
}

/**
 * The image mounted in a private staging mount of its own (nothing propagates to or from it, and it may be
 * moved), its root given to the data's owner: returns where. The owner must pass through to it to copy.
 */
async function stage(d: Disk, img: string): Promise<string> {
  const held = join(d.staging, 'object');
  mkdirSync(d.staging, { recursive: true, mode: 0o711 });
  await run('mount', ['--bind', d.staging, d.staging]);
  await run('mount', ['--make-private', d.staging]);
  mkdirSync(held, { mode: 0o700 });
  await run('mount', ['-o', 'loop,nodev,nosuid', img, held]);
  await run('mount', ['--make-private', held]);
  // held is the file system's root, in the agent's staging: no link of anyone's is followed here.
  if (d.rootIds) {
    chownSync(held, d.rootIds.uid, d.rootIds.gid);
    chmodSync(held, 0o700);
  }
  // mkfs and e2fsck make it, root's own: the data's owner could neither copy nor remove it. Only if empty
  // (rmdir follows no link, and leaves what is in a directory).
  try {
    rmdirSync(join(held, 'lost+found'));
  } catch {
    /* absent, or not an empty directory: not ext4's own any more */
  }
  makePassable(d.staging);
  return held;
}

/** The image moved over the data directory as it was opened: a link planted there is refused. */
async function mountOver(d: Disk): Promise<void> {
  const held = await stage(d, d.img);
  try {
    let fd: number;
    try {
      fd = openExact(d.data);
    } catch {
      throw notADirectory(d);
    }
    try {
      // -c: the descriptor's directory itself, not a path mount would resolve it back into.
      await run('mount', ['-c', '--move', held, `/proc/${process.pid}/fd/${fd}`]);
    } finally {
      closeSync(fd);
    }
  } finally {
    await clearStaging(d.staging);
  }
}

const notADirectory = (d: Disk) =>
  new EngineError(
    EngineCode.CommandFailure,
    `the data directory of ${d.name} in its execution environment is not a directory; remove what is there`,
  );

/** The data directory is a real one (the EE may have planted a link there): checked before anything moves. */
function requireDir(d: Disk): void {
  if (!lstatSync(d.data, { throwIfNoEntry: false })?.isDirectory()) throw notADirectory(d);
}
