// Where an image comes from: a registry (by tag or digest) or an oci-archive read in place
// (oci-archive-source.ts). Both serve a root document (the registry's manifest or index for the reference, the
// layout's index.json), manifests by digest and blobs by digest; the pull verifies each digest.
import { MANIFEST_ACCEPT } from './media-types.js';
import type { ImageReference } from './reference.js';
import { type RegistryClient, readAll } from './registry-client.js';

export interface Document {
  readonly bytes: Buffer;
  readonly contentType: string | undefined;
}

export interface ImageSource {
  /** The first document; `digest` is what it must hash to when the reference names one. */
  root(maxBytes: number): Promise<Document & { digest: string | undefined }>;
  manifest(digest: string, maxBytes: number): Promise<Document>;
  blob(digest: string): Promise<AsyncIterable<Buffer>>;
  close(): void;
}

export function registrySource(client: RegistryClient, ref: ImageReference): ImageSource {
  const manifest = async (reference: string, maxBytes: number): Promise<Document> => {
    const a = await client.get('manifests', reference, MANIFEST_ACCEPT);
    return { bytes: await readAll(a.body, maxBytes, 'the manifest'), contentType: a.contentType };
  };
  return {
    root: async (maxBytes) => ({ ...(await manifest(ref.digest ?? ref.tag!, maxBytes)), digest: ref.digest }),
    manifest,
    blob: async (digest) => (await client.get('blobs', digest)).body,
    close: () => client.close(),
  };
}
