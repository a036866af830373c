// What an install or update does in its staging directory before or while it places a DU: the package
// downloaded there (cancelled by its requester or by the engine detaching), and a SquashFS image put
// where it will run, the journal told first.

import { mkdirSync, renameSync } from 'node:fs';
import { anyAbort } from '../util/any-abort.js';
import type { Unpacked, UnpackLimits } from './du-files.js';
import { fetchPackage } from './fetch.js';
import { mountPackage } from './package/unpack.js';
import type { EngineRecords } from './records.js';
import type { EngineOptions, InstallRequest, OpRecord } from './types.js';

/** What a download needs beyond its request. */
export interface DownloadContext {
  readonly opts: EngineOptions;
  /** Aborted when the engine detaches (an agent stop or restart). */
  readonly detached: AbortSignal;
  /** Where file: URLs may lead ('' refuses them all). */
  readonly fileUrlDirectory: string;
  /** Image registries reached over plain http besides loopback ones (absent: none). */
  readonly insecureRegistries?: readonly string[];
}

type DownloadRequest = Pick<InstallRequest, 'url' | 'username' | 'password' | 'signal' | 'progress'>;

/** Downloads a package to dest: up to 80% of the operation's progress. */
export async function download(c: DownloadContext, req: DownloadRequest, dest: string): Promise<void> {
  // Cancelled by the requester, or by the engine detaching (an agent stop or restart).
  const stop = anyAbort([req.signal, c.detached]);
  try {
    await fetchPackage(req.url, dest, {
      username: req.username,
      password: req.password,
      maxBytes: c.opts.maxPackageBytes ?? 512 * 1024 * 1024,
      limits: c.opts.download,
      fileDirectory: c.fileUrlDirectory,
      caFile: c.opts.caFile,
      signal: stop.signal,
      progress: (got, total) => {
        if (total) req.progress?.(Math.floor((got / total) * 80));
      },
    });
  } finally {
    stop.release();
  }
}

/**
 * Puts a SquashFS image where it will run (the native EE): checked, then mounted read-only at the
 * final root, its image beside it. The journal learns the final root before anything is mounted
 * there, so recovery can undo it.
 */
export async function placeImage(
  records: EngineRecords,
  pkg: string,
  finalRoot: string,
  op: OpRecord,
  limits: UnpackLimits,
): Promise<Unpacked & { layout: 'image'; root: string }> {
  if (op.root !== finalRoot) records.saveOp({ ...op, root: finalRoot });
  renameSync(pkg, `${finalRoot}.sqfs`);
  mkdirSync(finalRoot, { recursive: true });
  // Nothing in it runs before the check passes; a refused image is unmounted by the caller.
  return {
    ...(await mountPackage(`${finalRoot}.sqfs`, finalRoot, limits)),
    format: 'squashfs',
    layout: 'image',
    root: finalRoot,
  };
}
