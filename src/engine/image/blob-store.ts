// Content-addressed blobs (blobs/sha256/<hex>) under the engine's image directory. A blob is written
// to a temporary file while its sha256 is computed, checked against the digest it was asked for (and
// the size its descriptor gave), fsynced and renamed into place: a blob in the store is always whole
// and verified, so a pull killed at any instant leaves only temporary files (swept at start) and the
// blobs it had finished, which the next pull does not fetch again.
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { EngineCode, EngineError } from '../errors.js';
import { DIGEST } from './reference.js';

/** What may be written for one blob: its descriptor's size when known, and the pull's bounds. */
export interface BlobBounds {
  /** The descriptor's size: more or fewer bytes are a corrupt blob. */
  readonly size?: number | undefined;
  /** The most one blob may hold. */
  readonly maxBytes: number;
  /** Called with each chunk's length: the pull's total bound throws from it. */
  readonly count?: ((bytes: number) => void) | undefined;
}

export const hexOf = (digest: string): string => {
  if (!DIGEST.test(digest)) throw new EngineError(EngineCode.CorruptData, 'image refused: a digest is not sha256');
  return digest.slice('sha256:'.length);
};

export class BlobStore {
  private readonly tmp: string;
  constructor(readonly dir: string) {
    this.tmp = join(dir, 'tmp');
  }

  path(digest: string): string {
    return join(this.dir, 'sha256', hexOf(digest));
  }

  has(digest: string): boolean {
    return existsSync(this.path(digest));
  }

  /** At start: what an interrupted pull was writing goes (whole blobs stay). */
  sweep(): void {
    rmSync(this.tmp, { recursive: true, force: true });
  }

  /**
   * Writes a blob from its bytes as they arrive: refused as soon as it passes its size or bound, and
   * unless its sha256 is the digest. Returns its path in the store.
   */
  async put(digest: string, body: AsyncIterable<Buffer>, bounds: BlobBounds): Promise<string> {
    const final = this.path(digest);
    mkdirSync(this.tmp, { recursive: true, mode: 0o700 });
    mkdirSync(join(this.dir, 'sha256'), { recursive: true, mode: 0o700 });
    const temp = join(this.tmp, randomBytes(8).toString('hex'));
    const limit = Math.min(bounds.size ?? Number.POSITIVE_INFINITY, bounds.maxBytes);
    const hash = createHash('sha256');
    let got = 0;
    const fd = openSync(temp, 'wx', 0o600);
    try {
      try {
        for await (const chunk of body) {
          got += chunk.length;
          if (got > limit) {
            if (bounds.size !== undefined && got > bounds.size)
              throw new EngineError(
                EngineCode.CorruptData,
                `image refused: blob ${short(digest)} is larger than its descriptor says`,
              );
            throw new EngineError(
              EngineCode.ResourcesExceeded,
              `image refused: a blob exceeds the ${bounds.maxBytes} byte limit`,
            );
          }
          bounds.count?.(chunk.length);
          hash.update(chunk);
          writeSync(fd, chunk);
        }
        if (bounds.size !== undefined && got !== bounds.size)
          throw new EngineError(
            EngineCode.CorruptData,
            `image refused: blob ${short(digest)} is shorter than its descriptor says`,
          );
        if (`sha256:${hash.digest('hex')}` !== digest)
          throw new EngineError(
            EngineCode.CorruptData,
            `image refused: blob ${short(digest)} does not match its digest`,
          );
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(temp, final);
      syncDir(join(this.dir, 'sha256'));
      return final;
    } catch (e) {
      rmSync(temp, { force: true });
      throw e;
    }
  }

  remove(digest: string): void {
    rmSync(this.path(digest), { force: true });
  }

  /** Removes the blobs last written before `before` (ms), but those kept. */
  removeOlder(before: number, keep: ReadonlySet<string>): void {
    for (const d of this.list()) {
      if (keep.has(d)) continue;
      const st = statSync(this.path(d), { throwIfNoEntry: false });
      if (st && st.mtimeMs < before) this.remove(d);
    }
  }

  /** Every blob's digest in the store. */
  list(): string[] {
    const d = join(this.dir, 'sha256');
    return existsSync(d) ? readdirSync(d).map((h) => `sha256:${h}`) : [];
  }
}

export const short = (digest: string): string => digest.slice(7, 19);

function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
