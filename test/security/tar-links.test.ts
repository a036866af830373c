// A layer or package that plants a link and then names it again as a directory (`x -> /etc`, then `x/`
// with mode 0777) must be refused, and the host directory keep its mode and owner: mkdir accepts an
// existing link to a directory, and a chmod through it would open the host's /etc to everyone. An
// entry that is not a file but declares data (1 GiB of zeros, compressed to almost nothing) is refused
// at its header, before any of that data is read.
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { EngineCode, EngineError } from '../../src/engine/errors.js';
import { LayerStore, layerKey } from '../../src/engine/image/layer-store.js';
import { extractTarGz } from '../../src/engine/package/tar-extract.js';
import { layer, sha256 } from '../engine/image/oci-builder.js';
import { header, tarGz } from '../engine/tar-builder.js';
import { requireRoot, requireTool, tempDir } from '../helpers.js';

const limits = { maxBytes: 1 << 20, maxEntries: 100 };

const corrupt = (re: RegExp) => (e: unknown) =>
  e instanceof EngineError && e.code === EngineCode.CorruptData && re.test(e.message);

/** A host directory with a known mode, and the entries that try to chmod it through a link. */
function hostDir(dir: string): { host: string; entries: Parameters<typeof tarGz>[0] } {
  const host = join(dir, 'host-etc');
  mkdirSync(host);
  chmodSync(host, 0o750);
  writeFileSync(join(host, 'passwd'), 'root:x:0:0::/root:/bin/sh\n');
  return {
    host,
    entries: [
      { name: 'x', type: '2', link: host },
      { name: 'x/', type: '5', mode: 0o777 },
    ],
  };
}

test('a directory entry over a link to a host directory is refused (rootfs package)', async (t) => {
  const { dir, cleanup } = tempDir('cpe-tar-links-');
  t.after(cleanup);
  const { host, entries } = hostDir(dir);
  const pkg = join(dir, 'rootfs.tar.gz');
  writeFileSync(pkg, tarGz(entries));
  const target = join(dir, 'target');
  mkdirSync(target);
  await assert.rejects(extractTarGz(pkg, target, { ...limits, kind: 'rootfs' }), corrupt(/directory entry/));
  assert.equal(statSync(host).mode & 0o7777, 0o750, "the host directory's mode is unchanged");
  // A file entry under the link is refused as before, and the host directory still holds only its file.
  writeFileSync(pkg, tarGz([entries[0]!, { name: 'x/evil', data: 'x' }]));
  await assert.rejects(extractTarGz(pkg, join(dir, 't2'), { ...limits, kind: 'rootfs' }), corrupt(/symbolic link/));
  assert.deepEqual(readdirSync(host), ['passwd']);
});

test('a directory entry over a link to a host directory is refused (OCI layer); nothing is stored', async (t) => {
  if (!requireRoot(t, 'layers are unpacked with their owners')) return;
  if (!requireTool(t, 'mknod', 'setfattr')) return;
  const { dir, cleanup } = tempDir('cpe-tar-links-');
  t.after(cleanup);
  const { host, entries } = hostDir(dir);
  const before = statSync(host);
  const store = new LayerStore(join(dir, 'layers'));
  const blob = join(dir, 'blob');
  const ids = { base: 100000, size: 65536 };
  for (const form of [undefined, ids]) {
    writeFileSync(blob, layer(entries).bytes);
    const key = layerKey(sha256(layer(entries).bytes), form?.base);
    await assert.rejects(store.add(key, blob, form, limits), corrupt(/directory entry/));
    assert.equal(store.has(key), false);
    const after = statSync(host);
    assert.equal(after.mode & 0o7777, 0o750, "the host directory's mode is unchanged");
    assert.deepEqual([after.uid, after.gid], [before.uid, before.gid], "the host directory's owner is unchanged");
  }
  assert.deepEqual(readdirSync(join(dir, 'layers', 'tmp')), []);
});

/** A gzip tar whose first entry is `type` declaring `size` bytes of zeros, compressed member by member. */
function declaring(type: '5' | '2' | '0', name: string, size: number): Buffer {
  const mib = gzipSync(Buffer.alloc(1 << 20), { level: 1 });
  const parts = [gzipSync(header({ name, type, ...(type === '2' ? { link: 'y' } : {}) }, size))];
  for (let i = 0; i < size / (1 << 20); i++) parts.push(mib);
  parts.push(gzipSync(Buffer.alloc(1024)));
  return Buffer.concat(parts);
}

test('a directory or link declaring 1 GiB of data is refused at its header, without reading it', async (t) => {
  const { dir, cleanup } = tempDir('cpe-tar-links-');
  t.after(cleanup);
  const pkg = join(dir, 'bomb.tar.gz');
  for (const [type, name] of [
    ['5', 'd/'],
    ['2', 'l'],
  ] as const) {
    writeFileSync(pkg, declaring(type, name, 1 << 30));
    const rss = process.memoryUsage().rss;
    const start = Date.now();
    await assert.rejects(
      extractTarGz(pkg, join(dir, `t${type}`), { maxBytes: 1 << 30, maxEntries: 10, kind: 'rootfs' }),
      corrupt(/not a file declares data/),
    );
    assert.ok(Date.now() - start < 2000, `refused in ${Date.now() - start} ms`);
    assert.ok(process.memoryUsage().rss - rss < 64 << 20, 'no memory grew by the declared size');
  }
});

test("a layer's whiteout declaring data is refused at its header", async (t) => {
  if (!requireRoot(t, 'layers are unpacked with their owners')) return;
  const { dir, cleanup } = tempDir('cpe-tar-links-');
  t.after(cleanup);
  const blob = join(dir, 'blob');
  writeFileSync(blob, declaring('0', 'a/.wh.b', 64 << 20));
  const store = new LayerStore(join(dir, 'layers'));
  await assert.rejects(
    store.add('w', blob, undefined, { maxBytes: 1 << 20, maxEntries: 10 }),
    corrupt(/declares data/),
  );
  assert.equal(store.has('w'), false);
});
