// Layers unpacked once, in a content-addressed store shared by every DU: layers/sha256/<hex> (and
// <hex>-<base> for an EE whose files belong to its subordinate ids from <base>). A layer is written
// into tmp/ and renamed into place whole. Who uses a layer is what the DU records say (their image's
// layer list): a layer no DU names is removed, unless a pull under way holds it (pinned in memory
// until its install commits or fails).
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { IdRange } from '../backends/lxc/policy.js';
import { hexOf } from './blob-store.js';
import { unpackLayer } from './layer-unpack.js';

/** A layer as the store keys it: its digest, and the id base its owners were moved by (none: as in the image). */
export const layerKey = (digest: string, idBase: number | undefined): string =>
  idBase === undefined ? hexOf(digest) : `${hexOf(digest)}-${idBase}`;

export class LayerStore {
  private readonly pins = new Map<string, number>();
  constructor(readonly dir: string) {}

  path(key: string): string {
    return join(this.dir, 'sha256', key);
  }

  has(key: string): boolean {
    return existsSync(this.path(key));
  }

  /** Holds a layer against pruning while a pull uses it; release() lets it go. */
  pin(key: string): void {
    this.pins.set(key, (this.pins.get(key) ?? 0) + 1);
  }

  release(key: string): void {
    const n = (this.pins.get(key) ?? 1) - 1;
    if (n > 0) this.pins.set(key, n);
    else this.pins.delete(key);
  }

  /**
   * Unpacks a verified blob as the layer `key`; a layer that appeared meanwhile (another pull) is kept.
   * Returns what the unpacking held (nothing when the layer was there).
   */
  async add(
    key: string,
    blob: string,
    ids: IdRange | undefined,
    limits: { maxBytes: number; maxEntries: number },
  ): Promise<{ bytes: number; entries: number }> {
    if (this.has(key)) return { bytes: 0, entries: 0 };
    const tmp = join(this.dir, 'tmp');
    mkdirSync(tmp, { recursive: true, mode: 0o700 });
    mkdirSync(join(this.dir, 'sha256'), { recursive: true, mode: 0o711 });
    const at = join(tmp, randomBytes(8).toString('hex'));
    try {
      const got = await unpackLayer(blob, at, ids, limits);
      if (!this.has(key)) renameSync(at, this.path(key));
      return got;
    } finally {
      rmSync(at, { recursive: true, force: true });
    }
  }

  /** Removes every layer that no DU uses (keys in `used`) and no pull holds; returns the keys removed. */
  prune(used: ReadonlySet<string>): string[] {
    const d = join(this.dir, 'sha256');
    if (!existsSync(d)) return [];
    const gone = readdirSync(d).filter((k) => !used.has(k) && !this.pins.has(k));
    for (const k of gone) rmSync(this.path(k), { recursive: true, force: true });
    return gone;
  }

  /** At start: what an interrupted unpacking left. */
  sweep(): void {
    rmSync(join(this.dir, 'tmp'), { recursive: true, force: true });
  }
}
