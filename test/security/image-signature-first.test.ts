// An EE that requires signed DUs must never unpack an unsigned or forged image: the signature is
// checked on the manifest digest before the config and layers are fetched (a registry) or unpacked
// (an oci-archive), so nothing of such an image lands in the shared layer or blob store.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Backend } from '../../src/engine/backends/backend.js';
import { EngineCode, EngineError } from '../../src/engine/errors.js';
import { BlobStore } from '../../src/engine/image/blob-store.js';
import type { ImageSource } from '../../src/engine/image/image-source.js';
import { LayerStore } from '../../src/engine/image/layer-store.js';
import { OciImages } from '../../src/engine/image/oci-images.js';
import { DEFAULT_IMAGE_BOUNDS, pullImage } from '../../src/engine/image/pull.js';
import { signDigest } from '../../src/engine/package/signature.js';
import { imageSignatureCheck } from '../../src/engine/signature-check.js';
import type { DownloadContext } from '../../src/engine/staging.js';
import type { EERecord } from '../../src/engine/types.js';
import { type Image, image, index, layer, ociArchive } from '../engine/image/oci-builder.js';
import { header } from '../engine/tar-builder.js';
import { requireRoot, tempDir, which } from '../helpers.js';
import { makeSigner } from '../signing-certs.js';

const EE = { id: 'oci-1', name: 'oci-1' } as EERecord;
const OCI = { execEnvClass: { name: 'T', vendor: 't', version: '1', formats: ['oci'] } } as unknown as Backend;
/** Signatures here are data: URLs: nothing is downloaded. */
const NO_DOWNLOADS = {} as DownloadContext;
const badSignature = (e: unknown) => e instanceof EngineError && e.code === EngineCode.BadSignature;

const img = (): Image => image([layer([{ name: 'bin/app', data: 'app', mode: 0o755 }])], { Cmd: ['/bin/app'] });

/** A registry as the pull sees it, counting what it is asked for. */
function registry(root: { bytes: Buffer; contentType: string }, manifests: Image[]) {
  const asked: string[] = [];
  const src: ImageSource = {
    root: async () => ({ ...root, digest: undefined }),
    manifest: async (digest) => {
      asked.push(`manifest ${digest}`);
      const m = manifests.find((i) => i.manifest.digest === digest)!;
      return { bytes: m.manifest.bytes, contentType: m.manifest.mediaType };
    },
    blob: async (digest) => {
      asked.push(`blob ${digest}`);
      const b = manifests.flatMap((i) => [i.config, ...i.layers]).find((x) => x.digest === digest)!;
      return (async function* () {
        yield b.bytes;
      })();
    },
    close: () => undefined,
  };
  return { src, asked };
}

const stored = (dir: string) =>
  ['layers/sha256', 'blobs/sha256'].flatMap((d) => (existsSync(join(dir, d)) ? readdirSync(join(dir, d)) : []));

test('a registry image refused by its signature: no blob fetched beyond the manifest, nothing stored', async (t) => {
  const { dir, cleanup } = tempDir('cpe-sig-first-');
  t.after(cleanup);
  const stores = { blobs: new BlobStore(join(dir, 'blobs')), layers: new LayerStore(join(dir, 'layers')) };
  const one = img();
  const arm = image([layer([{ name: 'bin/arm', data: 'arm' }])], {}, { architecture: 'arm64' });
  const idx = index([
    { image: one, architecture: 'amd64' },
    { image: arm, architecture: 'arm64' },
  ]);
  for (const [root, what] of [
    [{ bytes: one.manifest.bytes, contentType: one.manifest.mediaType }, 'a manifest'],
    [{ bytes: idx.bytes, contentType: idx.mediaType }, 'an index'],
  ] as const) {
    const { src, asked } = registry(root, [one, arm]);
    const seen: string[] = [];
    const verify = async (digest: string) => {
      seen.push(digest);
      throw new EngineError(EngineCode.BadSignature, 'refused');
    };
    const opts = { bounds: DEFAULT_IMAGE_BOUNDS, platform: { os: 'linux', architecture: 'amd64' }, verify };
    await assert.rejects(pullImage(src, stores, opts), badSignature, what);
    assert.deepEqual(seen, [one.manifest.digest], `${what}: the signature is checked on the image's manifest`);
    assert.ok(!asked.some((a) => a.startsWith('blob ')), `${what}: no blob fetched (${asked})`);
    assert.deepEqual(stored(dir), [], `${what}: nothing stored`);
  }
  // The same pull, allowed, fetches and stores the image: the refusal above was the signature's.
  if (!requireRoot(t, 'layers keep their owners')) return;
  const { src } = registry({ bytes: one.manifest.bytes, contentType: one.manifest.mediaType }, [one]);
  const got = await pullImage(src, stores, { bounds: DEFAULT_IMAGE_BOUNDS, verify: async () => undefined });
  assert.equal(got.manifestDigest, one.manifest.digest);
  got.release();
});

test('an oci-archive unsigned, or signed by nobody trusted, is refused before its layers are unpacked', async (t) => {
  if (!requireRoot(t, 'layers keep their owners')) return;
  const { dir, cleanup } = tempDir('cpe-sig-first-');
  t.after(cleanup);
  const one = img();
  const images = new OciImages(join(dir, 'images'));
  const signer = which('openssl') ? makeSigner(dir, 'trusted', 'ec') : undefined;
  const stranger = which('openssl') ? makeSigner(dir, 'stranger', 'ec') : undefined;
  const digest = Buffer.from(one.manifest.digest.slice(7), 'hex');
  const dataUrl = (s: string) => `data:;base64,${Buffer.from(s).toString('base64')}`;
  const trust = { required: true, signers: signer ? [signer.cert] : [] };
  const cases: [string, { signature?: string }][] = [['unsigned', {}]];
  if (signer && stranger) {
    cases.push(['signed by a stranger', { signature: dataUrl(signDigest(digest, stranger.key, stranger.cert)) }]);
    const other = Buffer.from(img().layers[0]!.digest.slice(7), 'hex');
    cases.push(['signed over another digest', { signature: dataUrl(signDigest(other, signer.key, signer.cert)) }]);
  } else t.diagnostic('openssl missing: only the unsigned case runs');
  for (const [what, sig] of cases) {
    const staging = join(dir, `staging-${cases.findIndex((c) => c[0] === what)}`);
    mkdirSync(staging);
    writeFileSync(join(staging, 'package'), ociArchive(one));
    const req = { url: 'https://files.example.com/app.tar', trust, ...sig };
    const verify = imageSignatureCheck(NO_DOWNLOADS, req, staging);
    await assert.rejects(
      images.fromArchive(join(staging, 'package'), req, EE, OCI, staging, verify),
      badSignature,
      what,
    );
    assert.deepEqual(stored(join(dir, 'images')), [], `${what}: nothing in the layer or blob store`);
    assert.deepEqual(readdirSync(staging), ['package'], `${what}: nothing of the archive extracted`);
  }
  if (!signer) return;
  const staging = join(dir, 'staging-good');
  mkdirSync(staging);
  writeFileSync(join(staging, 'package'), ociArchive(one));
  const req = {
    url: 'https://files.example.com/app.tar',
    trust,
    signature: dataUrl(signDigest(digest, signer.key, signer.cert)),
  };
  const got = await images.fromArchive(
    join(staging, 'package'),
    req,
    EE,
    OCI,
    staging,
    imageSignatureCheck(NO_DOWNLOADS, req, staging),
  );
  assert.equal(got?.image.manifestDigest, one.manifest.digest, 'a well signed archive installs');
});

test('an oci-archive is read where it lies: a link in it is no file, a truncated one is refused', async (t) => {
  const { dir, cleanup } = tempDir('cpe-sig-first-');
  t.after(cleanup);
  const host = join(dir, 'host-index.json');
  writeFileSync(host, '{"schemaVersion":2,"manifests":[]}');
  const one = img();
  const layout = ociArchive(one);
  const staging = join(dir, 'staging');
  mkdirSync(staging);
  const pkg = join(staging, 'package');
  const images = new OciImages(join(dir, 'images'));
  const req = { url: 'https://files.example.com/app.tar' };
  // index.json replaced by a link to a host file: the archive has no index.json.
  const linked = Buffer.from(layout);
  const at = linked.indexOf(Buffer.from('index.json\0'));
  linked.set(header({ name: 'index.json', type: '2', link: host }, 0), at);
  const next = at + 512 + Math.ceil(tarSize(layout, at) / 512) * 512;
  writeFileSync(pkg, Buffer.concat([linked.subarray(0, at + 512), layout.subarray(next)]));
  await assert.rejects(images.fromArchive(pkg, req, EE, OCI, staging), /has no index\.json/);
  writeFileSync(pkg, layout.subarray(0, layout.length - 4096));
  await assert.rejects(images.fromArchive(pkg, req, EE, OCI, staging), /truncated|lacks|has no/);
  assert.deepEqual(readdirSync(staging), ['package']);
  assert.deepEqual(stored(join(dir, 'images')), []);
});

/** The size field of the tar header at `at`. */
const tarSize = (tar: Buffer, at: number): number => parseInt(tar.toString('ascii', at + 124, at + 135), 8);
