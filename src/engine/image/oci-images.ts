// The engine's side of OCI images: an install's or update's image pulled (from a registry reference, or
// an oci-archive already downloaded) into the shared stores, its config made the DU's manifest, and the
// layers no DU uses any more removed. The DU's own root is an empty directory the backend builds its
// root file system on (lowerDirs(image) below it); its files are the layers.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { anyAbort } from '../../util/any-abort.js';
import type { Backend } from '../backends/backend.js';
import type { Unpacked } from '../du-files.js';
import { EngineCode, EngineError } from '../errors.js';
import type { DownloadContext } from '../staging.js';
import type { DURecord, EERecord, InstallRequest } from '../types.js';
import { BlobStore } from './blob-store.js';
import { manifestOfImage } from './image-config.js';
import { type ImageRecord, layerKeys } from './image-record.js';
import { type ImageSource, registrySource } from './image-source.js';
import { LayerStore } from './layer-store.js';
import { archiveSource } from './oci-archive-source.js';
import { isOciArchive } from './oci-layout.js';
import { DEFAULT_IMAGE_BOUNDS, type ImageBounds, type PulledImage, pullImage } from './pull.js';
import { formatReference, type ImageReference, isImageReference, parseReference } from './reference.js';
import { RegistryClient } from './registry-client.js';

/** An image DU's files as an install places them: an empty root, and the image record for the DU. */
export type PulledDU = Unpacked & { format: 'oci'; image: ImageRecord };

type PullRequest = Pick<InstallRequest, 'url' | 'username' | 'password' | 'signal' | 'progress'>;
/** The signature policy, applied to the manifest digest before config and layers are fetched and unpacked. */
type Verify = (manifestDigest: string) => Promise<unknown>;

export class OciImages {
  readonly blobs: BlobStore;
  readonly layers: LayerStore;
  /** Each operation's pull (by its staging directory), its pins let go when it commits or fails. */
  private readonly held = new Map<string, PulledImage>();

  constructor(
    readonly dir: string,
    private readonly bounds: Partial<ImageBounds> = {},
  ) {
    this.blobs = new BlobStore(join(dir, 'blobs'));
    this.layers = new LayerStore(join(dir, 'layers'));
  }

  /**
   * At start (after recovery): temporary files go, and layers no DU uses (an interrupted install's); their
   * verified blobs stay for the install's retry, for a day.
   */
  sweep(dus: readonly DURecord[] | undefined): void {
    this.blobs.sweep();
    this.layers.sweep();
    if (!dus) return;
    this.layers.prune(usedKeys(dus));
    this.blobs.removeOlder(Date.now() - BLOB_RETRY_MS, new Set(dus.flatMap((d) => configOf(d))));
  }

  /** Removes the layers no DU uses and no pull holds, with their blobs (an uninstall). */
  prune(dus: readonly DURecord[]): string[] {
    const gone = this.layers.prune(usedKeys(dus));
    for (const k of gone) this.blobs.remove(`sha256:${k.slice(0, 64)}`);
    return gone;
  }

  /**
   * An operation is over: its pins go. Committed, its layers' blobs are no longer needed (the unpacked
   * layers are what stays); failed, its layers go and their verified blobs stay for a retry.
   */
  settle(staging: string, dus: readonly DURecord[]): void {
    const pulled = this.held.get(staging);
    this.held.delete(staging);
    pulled?.release();
    const used = usedKeys(dus);
    pulled?.keys.forEach((k, i) => {
      if (used.has(k)) this.blobs.remove(pulled.layers[i]!);
    });
    this.layers.prune(used);
  }

  /** The image a registry reference names, pulled for the EE; undefined when the URL is not a reference. */
  async fromReference(
    c: DownloadContext,
    req: PullRequest,
    ee: EERecord,
    backend: Backend,
    staging: string,
    verify?: Verify,
  ): Promise<PulledDU | undefined> {
    if (!isImageReference(req.url)) return undefined;
    accepts(backend, ee);
    const ref = parseReference(req.url);
    const stop = anyAbort([req.signal, c.detached]);
    try {
      const client = await RegistryClient.open(ref, {
        username: req.username,
        password: req.password,
        limits: c.opts.download,
        caFile: c.opts.caFile,
        signal: stop.signal,
        insecure: c.insecureRegistries,
      });
      try {
        return await this.pullInto(registrySource(client, ref), req, ee, staging, ref, ref.registry, verify);
      } finally {
        client.close();
      }
    } finally {
      stop.release();
    }
  }

  /** An oci-archive downloaded as `pkg`, pulled for the EE; undefined when the file is not one. */
  async fromArchive(
    pkg: string,
    req: PullRequest,
    ee: EERecord,
    backend: Backend,
    staging: string,
    verify?: Verify,
  ): Promise<PulledDU | undefined> {
    if (!(await isOciArchive(pkg))) return undefined;
    accepts(backend, ee);
    // Read where it lies: nothing of the archive is written before the pull has checked its manifest.
    const src = await archiveSource(pkg, 10_000);
    // The archive's file name stands for the repository (its last component names the DU).
    const u = URL.canParse(req.url) ? new URL(req.url) : undefined;
    const host = u?.hostname || 'localhost';
    const file = (u?.pathname.split('/').pop() ?? '').replace(/\.(tar|oci|ociarchive)$/i, '').toLowerCase();
    const named = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/.test(file)
      ? { registry: host, repository: file, tag: undefined, digest: undefined }
      : undefined;
    return this.pullInto(src, req, ee, staging, named, host, verify);
  }

  private limits(): ImageBounds {
    return { ...DEFAULT_IMAGE_BOUNDS, ...this.bounds };
  }

  private async pullInto(
    src: ImageSource,
    req: PullRequest,
    ee: EERecord,
    staging: string,
    ref: ImageReference | undefined,
    origin: string,
    verify: Verify | undefined,
  ): Promise<PulledDU> {
    const pulled: PulledImage = await pullImage(src, this, {
      bounds: this.limits(),
      ids: ee.ids,
      progress: (pct) => req.progress?.(Math.floor(pct * 0.8)),
      verify,
    });
    this.held.set(staging, pulled);
    const image: ImageRecord = {
      reference: isImageReference(req.url) && ref ? formatReference(ref) : req.url,
      manifestDigest: pulled.manifestDigest,
      configDigest: pulled.configDigest,
      layers: pulled.layers,
      ...(ee.ids ? { idBase: ee.ids.base } : {}),
      store: this.dir,
    };
    const top = pulled.keys.map((k) => this.layers.path(k)).reverse();
    const manifest = manifestOfImage(pulled.config, top, {
      reference: ref,
      origin,
      manifestDigest: pulled.manifestDigest,
      annotations: pulled.annotations,
    });
    mkdirSync(join(staging, 'root'), { mode: 0o755 });
    return { manifest, bytes: pulled.unpackedBytes, format: 'oci', image };
  }
}

/** How long a verified blob of a failed or interrupted pull waits for the retry. */
const BLOB_RETRY_MS = 24 * 3600_000;

const usedKeys = (dus: readonly DURecord[]): Set<string> =>
  new Set(dus.flatMap((d) => (d.image ? layerKeys(d.image) : [])));

const configOf = (d: DURecord): string[] => (d.image ? [d.image.configDigest] : []);

/** Only an EE whose class runs OCI images takes one. */
function accepts(backend: Backend, ee: EERecord): void {
  if (!backend.execEnvClass.formats.includes('oci'))
    throw new EngineError(
      EngineCode.ExecEnvMismatch,
      `${ee.name} (${backend.execEnvClass.name}) does not run OCI images; ` +
        'install them into an OCI execution environment',
    );
}

/** The image bounds of the engine's options: a blob and a pull as large as a package may be. */
export function imageBounds(opts: { maxPackageBytes?: number; maxUnpackedBytes?: number }): Partial<ImageBounds> {
  return {
    ...(opts.maxPackageBytes ? { maxBlobBytes: opts.maxPackageBytes, maxTotalBytes: opts.maxPackageBytes } : {}),
    ...(opts.maxUnpackedBytes ? { maxUnpackedBytes: opts.maxUnpackedBytes } : {}),
  };
}
