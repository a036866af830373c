// Builds OCI images for tests, byte by byte: layers (gzip tars from tar-builder, hostile ones
// included), a config, a manifest, an index; pushes them to a registry with the distribution API
// (POST an upload, PUT its bytes with the digest, PUT the manifest) or writes them as an oci-archive.
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { type Entry, tarGz } from '../tar-builder.js';

export const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export interface Blob {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly bytes: Buffer;
}

const blob = (mediaType: string, bytes: Buffer): Blob => ({
  mediaType,
  digest: sha256(bytes),
  size: bytes.length,
  bytes,
});

export const layer = (entries: Entry[]): Blob => blob('application/vnd.oci.image.layer.v1.tar+gzip', tarGz(entries));

export interface Image {
  readonly manifest: Blob;
  readonly config: Blob;
  readonly layers: readonly Blob[];
}

export function image(
  layers: Blob[],
  config: Record<string, unknown> = { Cmd: ['/bin/run.sh'] },
  opts: { annotations?: Record<string, string>; architecture?: string } = {},
): Image {
  const cfg = blob(
    'application/vnd.oci.image.config.v1+json',
    Buffer.from(
      JSON.stringify({
        architecture: opts.architecture ?? 'amd64',
        os: 'linux',
        config,
        rootfs: { type: 'layers', diff_ids: layers.map((l) => sha256(gunzipSync(l.bytes))) },
      }),
    ),
  );
  const desc = (b: Blob) => ({ mediaType: b.mediaType, digest: b.digest, size: b.size });
  const manifest = blob(
    'application/vnd.oci.image.manifest.v1+json',
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: desc(cfg),
        layers: layers.map(desc),
        ...(opts.annotations ? { annotations: opts.annotations } : {}),
      }),
    ),
  );
  return { manifest, config: cfg, layers };
}

/** An index of images, each for its platform. */
export function index(entries: { image: Image; architecture: string; variant?: string }[]): Blob {
  return blob(
    'application/vnd.oci.image.index.v1+json',
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: entries.map((e) => ({
          mediaType: e.image.manifest.mediaType,
          digest: e.image.manifest.digest,
          size: e.image.manifest.size,
          platform: { os: 'linux', architecture: e.architecture, ...(e.variant ? { variant: e.variant } : {}) },
        })),
      }),
    ),
  );
}

/** Pushes blobs, then a manifest (or index) under a tag, to a registry at base (http://host:port). */
export async function push(
  base: string,
  repo: string,
  tag: string,
  images: readonly Image[],
  top?: Blob,
  authorization?: string,
): Promise<void> {
  const auth: Record<string, string> = authorization ? { authorization } : {};
  for (const b of images.flatMap((i) => [i.config, ...i.layers])) {
    const start = await fetch(`${base}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers: auth });
    if (start.status !== 202) throw new Error(`upload start: HTTP ${start.status}`);
    const loc = new URL(start.headers.get('location')!, base);
    loc.searchParams.set('digest', b.digest);
    const put = await fetch(loc, {
      method: 'PUT',
      headers: { ...auth, 'content-type': 'application/octet-stream' },
      body: new Uint8Array(b.bytes),
    });
    if (put.status !== 201) throw new Error(`upload: HTTP ${put.status} ${await put.text()}`);
  }
  const manifests = top ? [...images.map((i) => i.manifest), top] : images.map((i) => i.manifest);
  for (const [n, m] of manifests.entries()) {
    const last = n === manifests.length - 1;
    const res = await fetch(`${base}/v2/${repo}/manifests/${last ? tag : m.digest}`, {
      method: 'PUT',
      headers: { ...auth, 'content-type': m.mediaType },
      body: new Uint8Array(m.bytes),
    });
    if (res.status !== 201) throw new Error(`manifest: HTTP ${res.status} ${await res.text()}`);
  }
}

/** An OCI image layout as a plain tar (an oci-archive), one image, tagged. */
export function ociArchive(img: Image, tag = 'latest'): Buffer {
  const hex = (d: string) => d.slice('sha256:'.length);
  const files: Entry[] = [
    { name: 'oci-layout', data: JSON.stringify({ imageLayoutVersion: '1.0.0' }) },
    {
      name: 'index.json',
      data: JSON.stringify({
        schemaVersion: 2,
        manifests: [
          {
            mediaType: img.manifest.mediaType,
            digest: img.manifest.digest,
            size: img.manifest.size,
            annotations: { 'org.opencontainers.image.ref.name': tag },
          },
        ],
      }),
    },
    { name: 'blobs/', type: '5', mode: 0o755 },
    { name: 'blobs/sha256/', type: '5', mode: 0o755 },
    ...[img.manifest, img.config, ...img.layers].map((b) => ({ name: `blobs/sha256/${hex(b.digest)}`, data: b.bytes })),
  ];
  return gunzipSync(tarGz(files));
}
