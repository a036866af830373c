// The blob store (verified while streaming, whole or absent) and the layer store (overlayfs lower-layer
// form, package safety, owners moved into an EE's ids, removed when no DU uses a layer).
import assert from 'node:assert/strict';
import { existsSync, lstatSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { EngineCode } from '../../../src/engine/errors.js';
import { BlobStore } from '../../../src/engine/image/blob-store.js';
import type { ImageSource } from '../../../src/engine/image/image-source.js';
import { LayerStore, layerKey } from '../../../src/engine/image/layer-store.js';
import { DEFAULT_IMAGE_BOUNDS, pullImage } from '../../../src/engine/image/pull.js';
import { requireRoot, requireTool, tempDir } from '../../helpers.js';
import { image, layer, sha256 } from './oci-builder.js';

async function* chunks(b: Buffer, size = 7): AsyncIterable<Buffer> {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

const refused = (code: string, re: RegExp) => (e: { code: string; message: string }) =>
  e.code === code && re.test(e.message);

test('a blob is stored only whole and verified; a wrong digest, size or bound leaves nothing', async (t) => {
  const { dir, cleanup } = tempDir('cpe-blobs-');
  t.after(cleanup);
  const store = new BlobStore(dir);
  const data = Buffer.from('the layer bytes, more than one chunk');
  const d = sha256(data);
  const path = await store.put(d, chunks(data), { size: data.length, maxBytes: 1024 });
  assert.deepEqual(readFileSync(path), data);
  assert.ok(store.has(d));
  const other = sha256(Buffer.from('other'));
  await assert.rejects(
    store.put(other, chunks(data), { maxBytes: 1024 }),
    refused(EngineCode.CorruptData, /does not match its digest/),
  );
  await assert.rejects(
    store.put(other, chunks(data), { size: 3, maxBytes: 1024 }),
    refused(EngineCode.CorruptData, /larger than its descriptor/),
  );
  await assert.rejects(
    store.put(other, chunks(data), { size: 99, maxBytes: 1024 }),
    refused(EngineCode.CorruptData, /shorter/),
  );
  await assert.rejects(
    store.put(other, chunks(data), { maxBytes: 10 }),
    refused(EngineCode.ResourcesExceeded, /10 byte limit/),
  );
  assert.equal(store.has(other), false);
  assert.deepEqual(readdirSync(join(dir, 'tmp')), [], 'no temporary file is left by a refusal');
  // A pull killed mid-blob leaves a temporary file: swept at start, the whole blobs kept.
  writeFileSync(join(dir, 'tmp', 'half'), 'half a blob');
  store.sweep();
  assert.equal(existsSync(join(dir, 'tmp')), false);
  assert.deepEqual(store.list(), [d]);
});

test('a layer is unpacked in overlay form: whiteouts as 0:0 devices, owners moved', async (t) => {
  if (!requireRoot(t, 'whiteouts are device nodes and owners are changed')) return;
  const { dir, cleanup } = tempDir('cpe-layers-');
  t.after(cleanup);
  const store = new LayerStore(join(dir, 'layers'));
  const blob = join(dir, 'blob');
  writeFileSync(
    blob,
    layer([
      { name: 'etc/', type: '5', mode: 0o755 },
      { name: 'etc/app.conf', data: 'conf', uid: 1000, gid: 1001 },
      { name: 'etc/.wh.old.conf', data: '' },
      { name: 'bin/sh', type: '2', link: '/bin/busybox' },
    ]).bytes,
  );
  const key = layerKey(sha256(readFileSync(blob)), 100000);
  await store.add(key, blob, { base: 100000, size: 65536 }, { maxBytes: 1 << 20, maxEntries: 100 });
  const root = store.path(key);
  const conf = lstatSync(join(root, 'etc', 'app.conf'));
  assert.deepEqual([conf.uid, conf.gid], [101000, 101001], "owners moved into the EE's ids");
  const wh = lstatSync(join(root, 'etc', 'old.conf'));
  assert.ok(wh.isCharacterDevice() && wh.rdev === 0, 'a whiteout is a 0:0 character device');
  assert.equal(existsSync(join(root, 'etc', '.wh.old.conf')), false);
  assert.equal(lstatSync(join(root, 'bin', 'sh')).isSymbolicLink(), true, 'absolute links kept (they resolve inside)');
});

test('an opaque directory of a layer gets trusted.overlay.opaque=y', async (t) => {
  if (!requireRoot(t, 'trusted xattrs need root')) return;
  if (!requireTool(t, 'setfattr', 'getfattr')) return;
  const { dir, cleanup } = tempDir('cpe-layers-');
  t.after(cleanup);
  const store = new LayerStore(join(dir, 'layers'));
  const blob = join(dir, 'blob');
  writeFileSync(
    blob,
    layer([
      { name: 'var/cache/.wh..wh..opq', data: '' },
      { name: 'var/cache/new', data: 'n' },
    ]).bytes,
  );
  await store.add('opq', blob, undefined, { maxBytes: 1 << 20, maxEntries: 100 });
  const { execFileSync } = await import('node:child_process');
  const at = join(store.path('opq'), 'var', 'cache');
  assert.equal(execFileSync('getfattr', ['--only-values', '-n', 'trusted.overlay.opaque', at]).toString(), 'y');
  assert.equal(existsSync(join(at, '.wh..wh..opq')), false);
});

test('a hostile layer is refused and leaves nothing in the store; unused layers are pruned', async (t) => {
  if (!requireRoot(t, 'layers are unpacked with their owners')) return;
  const { dir, cleanup } = tempDir('cpe-layers-');
  t.after(cleanup);
  const store = new LayerStore(join(dir, 'layers'));
  const hostile: [Parameters<typeof layer>[0], RegExp][] = [
    [[{ name: '../escape', data: 'x' }], /leaves the package/],
    [[{ name: 'a/.wh...', data: '' }], /whiteout entry names no file/],
    [[{ name: 'dev/null', type: '3' }], /device node/],
    [
      [
        { name: 'l', type: '2', link: '../../..' },
        { name: 'l/x', data: 'x' },
      ],
      /leaves the package|symbolic link/,
    ],
  ];
  for (const [entries, why] of hostile) {
    const blob = join(dir, 'blob');
    writeFileSync(blob, layer(entries).bytes);
    const key = layerKey(sha256(readFileSync(blob)), undefined);
    await assert.rejects(
      store.add(key, blob, undefined, { maxBytes: 1 << 20, maxEntries: 100 }),
      refused(EngineCode.CorruptData, why),
    );
    assert.equal(store.has(key), false);
  }
  assert.deepEqual(readdirSync(join(dir, 'layers', 'tmp')), []);
  const blob = join(dir, 'blob');
  for (const n of ['a', 'b']) {
    writeFileSync(blob, layer([{ name: n, data: n }]).bytes);
    await store.add(n, blob, undefined, { maxBytes: 1 << 20, maxEntries: 100 });
  }
  store.pin('b');
  assert.deepEqual(store.prune(new Set()), ['a'], 'a pinned layer stays');
  store.release('b');
  assert.deepEqual(store.prune(new Set(['b'])), [], 'a layer a DU uses stays');
  assert.deepEqual(store.prune(new Set()), ['b']);
});

test("the entry bound holds for an image's layers together, not for each layer", async (t) => {
  if (!requireRoot(t, 'layers are unpacked with their owners')) return;
  const { dir, cleanup } = tempDir('cpe-layers-');
  t.after(cleanup);
  const three = (n: string) => layer(['a', 'b', 'c'].map((f) => ({ name: `${n}/${f}`, data: f })));
  const img = image([three('x'), three('y')]);
  const src: ImageSource = {
    root: async () => ({ bytes: img.manifest.bytes, contentType: img.manifest.mediaType, digest: undefined }),
    manifest: async () => assert.fail('no index here'),
    blob: async (digest) => {
      const b = [img.config, ...img.layers].find((x) => x.digest === digest)!;
      return (async function* () {
        yield b.bytes;
      })();
    },
    close: () => undefined,
  };
  const stores = (d: string) => ({
    blobs: new BlobStore(join(dir, d, 'blobs')),
    layers: new LayerStore(join(dir, d, 'l')),
  });
  // Each layer holds 3 entries (its files; their directory is made, not listed): 6 in all.
  const bounds = (maxEntries: number) => ({ bounds: { ...DEFAULT_IMAGE_BOUNDS, maxEntries } });
  await assert.rejects(pullImage(src, stores('five'), bounds(5)), refused(EngineCode.CorruptData, /more than/));
  assert.deepEqual(readdirSync(join(dir, 'five', 'l', 'sha256')), [img.layers[0]!.digest.slice(7)]);
  const got = await pullImage(src, stores('six'), bounds(6));
  assert.equal(got.layers.length, 2);
  got.release();
});
