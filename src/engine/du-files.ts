// A DU's files and an operation's faults, as the DU operations need them: a root removed (unmounted
// first when it is a mounted image), an error as the fault a result reports.
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { EngineCode, EngineError } from './errors.js';
import { shiftTree } from './ids/ownership.js';
import type { ImageRecord } from './image/image-record.js';
import { mountImage, unmount } from './mounts.js';
import type { Manifest } from './package/manifest.js';
import type { SizeLimits } from './package/size-limit.js';
import { type PackageFormat, packageFormat, unpackPackage } from './package/unpack.js';
import { duUuid } from './package/uuid.js';
import type { DURecord, DuResult, EERecord } from './types.js';

/** A package unpacked, or an image checked: what it holds. */
export type Unpacked = { manifest: Manifest; bytes: number; format: PackageFormat; image?: ImageRecord };
/** How much a package may unpack to. */
export type UnpackLimits = SizeLimits;

/** A DU whose files are a mounted SquashFS image (records older than `layout` say so by format). */
export const isImage = (du: DURecord): boolean =>
  (du.layout ?? (du.format === 'squashfs' ? 'image' : 'tree')) === 'image';

/** Removes a DU's root, unmounting it first when it is a mounted image, and the image itself. */
export async function removeRoot(root: string): Promise<void> {
  await unmount(root);
  rmSync(root, { recursive: true, force: true });
  rmSync(`${root}.sqfs`, { force: true });
}

export function faultOf(err: EngineError): NonNullable<DuResult['fault']> {
  return { code: err.code, message: err.message, ...(err.transfer ? { transfer: err.transfer } : {}) };
}

/** Any other error as a fault: its kind (an errno code) in the message; its text, which names host paths, as detail. */
export function asEngineError(e: unknown): EngineError {
  if (e instanceof EngineError) return e;
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  const kind = typeof code === 'string' && /^[A-Z0-9_]{1,40}$/.test(code) ? ` (${code})` : '';
  return new EngineError(
    EngineCode.InternalError,
    `internal error${kind}`,
    undefined,
    (e as Error | undefined)?.message ?? String(e),
  );
}

export function assertSameDU(old: DURecord, manifest: Manifest, uuid: string | undefined): void {
  if (duUuid(manifest.name, manifest.vendor) !== old.uuid && !uuid) {
    throw new EngineError(
      EngineCode.ExecEnvMismatch,
      `the package is ${manifest.name} from ${manifest.vendor}, not an update of ${old.manifest.name} from ` +
        `${old.manifest.vendor}`,
    );
  }
}

/** Takes an installed DU's files out of the way (into staging) during an update. */
export async function detachRoot(du: DURecord, staging: string): Promise<void> {
  if (isImage(du)) {
    await unmount(du.root);
    renameSync(`${du.root}.sqfs`, join(staging, 'old.sqfs'));
  } else renameSync(du.root, join(staging, 'old'));
}

/** Puts them back after a failed or interrupted update. */
export async function restoreRoot(du: DURecord, staging: string): Promise<void> {
  await removeRoot(du.root);
  if (existsSync(join(staging, 'old.sqfs'))) {
    renameSync(join(staging, 'old.sqfs'), `${du.root}.sqfs`);
    mkdirSync(du.root, { recursive: true });
    await mountImage(`${du.root}.sqfs`, du.root);
  } else if (existsSync(join(staging, 'old'))) renameSync(join(staging, 'old'), du.root);
}

/**
 * A tar.gz (or a SquashFS an LXC EE needs as files) is unpacked into the operation's staging
 * directory, and for an unprivileged EE given to its ids, before the operation's turn: it touches
 * nothing else, and the commit renames it. Undefined for an image that is mounted as it is.
 */
export async function unpackIfTree(
  pkg: string,
  staging: string,
  ee: EERecord,
  limits: UnpackLimits,
): Promise<Unpacked | undefined> {
  const format = await packageFormat(pkg);
  return layoutFor(ee, format) === 'tree' ? unpackTree(pkg, join(staging, 'root'), ee, limits) : undefined;
}

/**
 * A SquashFS image is mounted as it is only in the native EE: in an unprivileged EE its owners
 * would be host ids the container does not map (its files unreadable there), and SquashFS has no
 * idmapped mounts, so it is unpacked and shifted like a tar.gz.
 */
export function layoutFor(ee: EERecord, format: PackageFormat): 'image' | 'tree' {
  return format === 'squashfs' && !ee.ids ? 'image' : 'tree';
}

export async function unpackTree(pkg: string, root: string, ee: EERecord, limits: UnpackLimits): Promise<Unpacked> {
  mkdirSync(root);
  const unpacked = await unpackPackage(pkg, root, limits);
  if (ee.ids) shiftTree(root, ee.ids);
  return unpacked;
}
