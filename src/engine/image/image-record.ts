// What a DU record keeps of its OCI image, and the one function a backend asks for the directories
// to stack: the layers' unpacked trees in the shared store, lowest first (overlayfs' lowerdir lists
// them the other way round, top first). The backend receives the DU record and needs nothing else.
import { join } from 'node:path';
import { layerKey } from './layer-store.js';

export interface ImageRecord {
  /** docker://... as installed, or the archive's URL. */
  readonly reference: string;
  readonly manifestDigest: string;
  readonly configDigest: string;
  /** Layer digests, lowest first. */
  readonly layers: readonly string[];
  /** The id base the layers' owners were moved by (the EE's subordinate ids); absent: as in the image. */
  readonly idBase?: number;
  /** The image store (the engine's <state>/images), where layers/sha256/<key> lie. */
  readonly store: string;
}

/** The image's layer directories, lowest first. */
export function lowerDirs(image: ImageRecord): string[] {
  return image.layers.map((d) => join(image.store, 'layers', 'sha256', layerKey(d, image.idBase)));
}

/** The layer store keys a DU record uses. */
export const layerKeys = (image: ImageRecord): string[] => image.layers.map((d) => layerKey(d, image.idBase));
