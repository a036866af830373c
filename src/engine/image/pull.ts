// Pulls an image from a source into the image store: the root document, the manifest for this
// machine (chosen from an index by platform), the config, then each layer not yet in the layer store:
// its blob streamed into the blob store (verified, bounded) unless it is there already, unpacked once. Every
// document and blob is checked against its digest before it is used. The layers the image uses stay
// pinned until the caller's install commits or fails (release()).
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IdRange } from '../backends/lxc/policy.js';
import { EngineCode, EngineError } from '../errors.js';
import { type BlobStore, short } from './blob-store.js';
import type { ImageSource } from './image-source.js';
import { type LayerStore, layerKey } from './layer-store.js';
import { type Descriptor, type ImageManifest, parseManifestDocument } from './oci-manifest.js';
import { choosePlatform, type Platform, platformOf } from './platform.js';

export interface ImageBounds {
  readonly maxManifestBytes: number;
  readonly maxLayers: number;
  /** Each blob, and all blobs of one pull together (compressed). */
  readonly maxBlobBytes: number;
  readonly maxTotalBytes: number;
  /** What the new layers may unpack to, and how many entries they may hold, together. */
  readonly maxUnpackedBytes: number;
  readonly maxEntries: number;
}

export const DEFAULT_IMAGE_BOUNDS: ImageBounds = {
  maxManifestBytes: 4 * 1024 * 1024,
  maxLayers: 128,
  maxBlobBytes: 512 * 1024 * 1024,
  maxTotalBytes: 512 * 1024 * 1024,
  maxUnpackedBytes: 2 * 1024 * 1024 * 1024,
  maxEntries: 200_000,
};

export interface PullOptions {
  readonly bounds: ImageBounds;
  /** The EE's ids the layers' owners move into (absent: kept as in the image). */
  readonly ids?: IdRange | undefined;
  readonly platform?: Platform | undefined;
  /** Percent of the blobs to fetch that arrived. */
  readonly progress?: ((percent: number) => void) | undefined;
  /**
   * Refuses the image by its manifest digest (a signature policy) before anything else is fetched or
   * unpacked: a forged image's config and layers are never read.
   */
  readonly verify?: ((manifestDigest: string) => Promise<unknown>) | undefined;
}

export interface PulledImage {
  readonly manifestDigest: string;
  readonly configDigest: string;
  readonly config: Buffer;
  readonly annotations: Readonly<Record<string, string>>;
  /** Layer digests, lowest first, and their keys in the layer store. */
  readonly layers: readonly string[];
  readonly keys: readonly string[];
  /** Bytes the layers this pull unpacked hold; blob bytes it fetched. */
  readonly unpackedBytes: number;
  readonly fetchedBytes: number;
  /** Lets the layers go: a layer no DU names is removed at the next prune. */
  release(): void;
}

export interface ImageStores {
  readonly blobs: BlobStore;
  readonly layers: LayerStore;
}

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

function verified(bytes: Buffer, digest: string | undefined, what: string): string {
  const got = sha256(bytes);
  if (digest && got !== digest)
    throw new EngineError(EngineCode.CorruptData, `image refused: ${what} does not match its digest`);
  return got;
}

export async function pullImage(src: ImageSource, stores: ImageStores, opts: PullOptions): Promise<PulledImage> {
  const { bounds } = opts;
  const root = await src.root(bounds.maxManifestBytes);
  let manifestDigest = verified(root.bytes, root.digest, 'the manifest');
  let doc = parseManifestDocument(root.bytes, root.contentType, bounds);
  if (doc.kind === 'index') {
    const entry = pick(doc.manifests, opts.platform ?? platformOf());
    if (entry.size > bounds.maxManifestBytes)
      throw new EngineError(
        EngineCode.ResourcesExceeded,
        `image refused: its manifest exceeds ${bounds.maxManifestBytes} bytes`,
      );
    const m = await src.manifest(entry.digest, bounds.maxManifestBytes);
    manifestDigest = verified(m.bytes, entry.digest, 'the manifest');
    doc = parseManifestDocument(m.bytes, m.contentType ?? entry.mediaType, bounds);
    if (doc.kind !== 'manifest')
      throw new EngineError(EngineCode.CorruptData, 'image refused: an index inside an index');
  }
  await opts.verify?.(manifestDigest);
  return fetchImage(src, stores, opts, doc, manifestDigest);
}

/** The index entry for this platform; an archive's index of one image often names no platform. */
function pick(entries: readonly Descriptor[], here: Platform): Descriptor {
  if (entries.length === 1 && !entries[0]!.platform) return entries[0]!;
  if (entries.length > 1 && entries.every((e) => !e.platform))
    throw new EngineError(EngineCode.CorruptData, 'image refused: it holds several images and names no platform');
  return choosePlatform(entries, here);
}

async function fetchImage(
  src: ImageSource,
  stores: ImageStores,
  opts: PullOptions,
  m: ImageManifest,
  manifestDigest: string,
): Promise<PulledImage> {
  const { bounds } = opts;
  const { blobs, layers } = stores;
  const keys = m.layers.map((l) => layerKey(l.digest, opts.ids?.base));
  for (const k of keys) layers.pin(k);
  const release = () => {
    for (const k of keys) layers.release(k);
  };
  try {
    let fetched = 0;
    const todo = m.layers.filter((_, i) => !layers.has(keys[i]!));
    const total = m.config.size + todo.reduce((n, l) => n + l.size, 0);
    if (total > bounds.maxTotalBytes)
      throw new EngineError(
        EngineCode.ResourcesExceeded,
        `image refused: its blobs exceed ${bounds.maxTotalBytes} bytes`,
      );
    const count = (n: number) => {
      fetched += n;
      if (fetched > bounds.maxTotalBytes)
        throw new EngineError(
          EngineCode.ResourcesExceeded,
          `image refused: its blobs exceed ${bounds.maxTotalBytes} bytes`,
        );
      if (total) opts.progress?.(Math.floor((fetched / total) * 100));
    };
    const fetchBlob = async (d: Descriptor, maxBytes: number): Promise<string> =>
      blobs.has(d.digest)
        ? blobs.path(d.digest)
        : blobs.put(d.digest, await src.blob(d.digest), { size: d.size, maxBytes, count });
    if (m.config.size > bounds.maxManifestBytes)
      throw new EngineError(
        EngineCode.ResourcesExceeded,
        `image refused: its config exceeds ${bounds.maxManifestBytes} bytes`,
      );
    const config = readFileSync(await fetchBlob(m.config, bounds.maxManifestBytes));
    // Running totals: the bounds hold for the image, not for each of its (up to maxLayers) layers.
    let unpacked = 0,
      entries = 0;
    for (const [i, l] of m.layers.entries()) {
      const key = keys[i]!;
      if (layers.has(key)) continue;
      const blob = await fetchBlob(l, bounds.maxBlobBytes);
      const got = await layers.add(key, blob, opts.ids, {
        maxBytes: bounds.maxUnpackedBytes - unpacked,
        maxEntries: bounds.maxEntries - entries,
      });
      unpacked += got.bytes;
      entries += got.entries;
    }
    return {
      manifestDigest,
      configDigest: m.config.digest,
      config,
      annotations: m.annotations,
      layers: m.layers.map((l) => l.digest),
      keys,
      unpackedBytes: unpacked,
      fetchedBytes: fetched,
      release,
    };
  } catch (e) {
    release();
    throw e;
  }
}

export { short };
