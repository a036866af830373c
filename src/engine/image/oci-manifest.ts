// An image manifest or index as a registry or an image layout serves it: parsed strictly, as
// untrusted JSON (its digest already checked by whoever fetched it), into descriptors the pull follows.
// A message never quotes the document: it is a server's content.
import { EngineCode, EngineError } from '../errors.js';
import { CONFIG_TYPES, INDEX_TYPES, LAYER_TYPES, MANIFEST_TYPES } from './media-types.js';
import type { Platform } from './platform.js';
import { DIGEST } from './reference.js';

export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly platform?: Platform | undefined;
  readonly annotations?: Readonly<Record<string, string>> | undefined;
}

export interface ImageIndex {
  readonly kind: 'index';
  readonly manifests: readonly Descriptor[];
}

export interface ImageManifest {
  readonly kind: 'manifest';
  readonly config: Descriptor;
  /** Lowest first, as the spec orders them. */
  readonly layers: readonly Descriptor[];
  readonly annotations: Readonly<Record<string, string>>;
}

const bad = (why: string): never => {
  throw new EngineError(EngineCode.CorruptData, `image refused: ${why}`);
};

const unsupported = (what: string, type: string): never =>
  bad(`unsupported ${what} media type ${type.slice(0, 100).replace(/[^\x20-\x7e]/g, '?')}`);

const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

function annotations(v: unknown, where: string): Record<string, string> | undefined {
  if (v === undefined) return undefined;
  if (!isObject(v) || Object.values(v).some((x) => typeof x !== 'string'))
    return bad(`${where} annotations must map names to strings`);
  return v as Record<string, string>;
}

function descriptor(v: unknown, where: string): Descriptor {
  if (!isObject(v)) return bad(`${where} is not a descriptor`);
  const { mediaType, digest, size, platform } = v;
  if (typeof mediaType !== 'string') return bad(`${where} has no mediaType`);
  if (typeof digest !== 'string' || !DIGEST.test(digest))
    return bad(`${where} digest is not sha256: and 64 hex digits (the only algorithm supported)`);
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) return bad(`${where} size is not a size`);
  let p: Platform | undefined;
  if (platform !== undefined) {
    if (!isObject(platform) || typeof platform.os !== 'string' || typeof platform.architecture !== 'string')
      return bad(`${where} platform needs os and architecture`);
    p = {
      os: platform.os,
      architecture: platform.architecture,
      variant: typeof platform.variant === 'string' ? platform.variant : undefined,
    };
  }
  return { mediaType, digest, size, platform: p, annotations: annotations(v.annotations, where) };
}

/**
 * A manifest or an index. Its media type is the one the server named (Content-Type) unless that is
 * generic; else the document's own mediaType field; else its shape (an OCI document may omit both).
 */
export function parseManifestDocument(
  bytes: Buffer,
  contentType: string | undefined,
  limits: { maxLayers: number },
): ImageIndex | ImageManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString('utf8'));
  } catch {
    return bad('the manifest is not JSON');
  }
  if (!isObject(raw)) return bad('the manifest is not a JSON object');
  if (raw.schemaVersion !== 2) return bad('only manifests of schemaVersion 2 are supported');
  const named = typeof raw.mediaType === 'string' ? raw.mediaType : undefined;
  const served = contentType?.split(';')[0]?.trim();
  const known = [...INDEX_TYPES, ...MANIFEST_TYPES];
  const type =
    (served && known.includes(served) ? served : undefined) ??
    named ??
    (Array.isArray(raw.manifests) ? INDEX_TYPES[0]! : MANIFEST_TYPES[0]!);
  if (INDEX_TYPES.includes(type)) {
    if (!Array.isArray(raw.manifests)) return bad('the index has no manifests');
    if (raw.manifests.length > 256) return bad('the index lists more than 256 manifests');
    return { kind: 'index', manifests: raw.manifests.map((m, i) => descriptor(m, `manifests[${i}]`)) };
  }
  if (!MANIFEST_TYPES.includes(type)) return unsupported('manifest', type);
  const config = descriptor(raw.config, 'config');
  if (!CONFIG_TYPES.includes(config.mediaType)) unsupported('config', config.mediaType);
  if (!Array.isArray(raw.layers)) return bad('the manifest has no layers');
  if (raw.layers.length > limits.maxLayers) return bad(`more than ${limits.maxLayers} layers (the limit)`);
  const layers = raw.layers.map((l, i) => descriptor(l, `layers[${i}]`));
  for (const l of layers) if (!LAYER_TYPES.includes(l.mediaType)) unsupported('layer', l.mediaType);
  return { kind: 'manifest', config, layers, annotations: annotations(raw.annotations, 'manifest') ?? {} };
}
