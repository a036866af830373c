// OCI images pulled from a real registry (Debian's docker-registry on loopback), pushed there by the
// test with the distribution API: layers stored once and shared, platform choice from an index, Basic
// and Bearer auth (the token flow through a small endpoint of the test's), credentials that never leave
// the registry's origin, digests verified, hostile layers refused, and the engine's install path.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Backend } from '../../src/engine/backends/backend.js';
import { Engine } from '../../src/engine/engine.js';
import { EngineCode } from '../../src/engine/errors.js';
import { lowerDirs } from '../../src/engine/image/image-record.js';
import { OciImages } from '../../src/engine/image/oci-images.js';
import { platformOf } from '../../src/engine/image/platform.js';
import type { DownloadContext } from '../../src/engine/staging.js';
import type { DURecord, EERecord } from '../../src/engine/types.js';
import { silentLogger } from '../../src/util/logger.js';
import { image, index, layer, push, sha256 } from '../engine/image/oci-builder.js';
import { requireRoot, requireTool, sleep, tempDir, waitFor } from '../helpers.js';
import { DockerRegistry, RegistryFront } from './docker-registry.js';

const HERE = platformOf().architecture;
const OTHER = HERE === 's390x' ? 'riscv64' : 's390x';
const OCI_BACKEND = {
  execEnvClass: { name: 'OCI', vendor: 't', version: '1', formats: ['oci'] },
} as unknown as Backend;
const EE = { id: 'oci-1', name: 'oci-1' } as EERecord;

const base = layer([
  { name: 'bin/', type: '5', mode: 0o755 },
  { name: 'bin/run.sh', data: '#!/bin/sh\necho base\n', mode: 0o755 },
  { name: 'etc/os-release', data: 'ID=test\n' },
]);
const app1 = layer([{ name: 'srv/app1', data: 'one' }]);
const app2 = layer([
  { name: 'srv/app2', data: 'two' },
  { name: 'etc/.wh.os-release', data: '' },
]);

function context(dir: string, signal = new AbortController().signal): DownloadContext {
  return { opts: { stateDir: dir, logger: silentLogger }, detached: signal, fileUrlDirectory: '' };
}

const refused =
  (code: string, re: RegExp, transfer?: string) => (e: { code: string; message: string; transfer?: string }) =>
    e.code === code && re.test(e.message) && (transfer === undefined || e.transfer === transfer);

function setup(t: import('node:test').TestContext, prefix: string) {
  const { dir, cleanup } = tempDir(prefix);
  const images = new OciImages(join(dir, 'images'));
  let n = 0;
  // What DUs use: each image pulled, as if its install committed (a failed pull settles without it).
  const used: DURecord[] = [];
  const pull = async (url: string, creds: { username?: string; password?: string } = {}) => {
    const staging = join(dir, `staging-${++n}`);
    mkdirSync(staging, { recursive: true });
    try {
      const got = await images.fromReference(context(dir), { url, ...creds }, EE, OCI_BACKEND, staging);
      if (got) used.push({ image: got.image } as DURecord);
      return got;
    } finally {
      images.settle(staging, used);
    }
  };
  t.after(cleanup);
  return { dir, images, pull };
}

test('a 2-layer image is pulled; a second image sharing the base layer fetches only its new layer', async (t) => {
  if (!requireTool(t, 'docker-registry') || !requireRoot(t, 'layers keep their owners')) return;
  const { dir, images, pull } = setup(t, 'cpe-oci-pull-');
  const registry = new DockerRegistry(join(dir, 'registry'));
  await registry.start();
  const front = new RegistryFront(registry.url);
  await front.start();
  t.after(async () => {
    await front.stop();
    await registry.stop();
  });
  const one = image([base, app1], { Cmd: ['/bin/run.sh', 'one'], Env: ['PATH=/bin'] });
  const two = image(
    [base, app2],
    { Entrypoint: ['run.sh'], Env: ['PATH=/bin'] },
    {
      annotations: { 'org.opencontainers.image.version': '2.0.1' },
    },
  );
  await push(registry.url, 'apps/one', 'v1', [one]);
  await push(registry.url, 'apps/two', 'latest', [two]);

  const a = await pull(`docker://${front.host}/apps/one:v1`);
  assert.ok(a);
  assert.equal(a.format, 'oci');
  assert.equal(a.manifest.name, 'one');
  assert.equal(a.manifest.version, 'v1');
  assert.equal(a.manifest.vendor, '127.0.0.1', 'the registry host is the vendor when no annotation names one');
  assert.deepEqual(a.manifest.services[0]!.args, ['one']);
  assert.equal(a.image.manifestDigest, one.manifest.digest);
  assert.deepEqual(a.image.layers, [base.digest, app1.digest], 'lowest first');
  const [low, up] = lowerDirs(a.image);
  assert.equal(readFileSync(join(low!, 'bin', 'run.sh'), 'utf8'), '#!/bin/sh\necho base\n');
  assert.equal(readFileSync(join(up!, 'srv', 'app1'), 'utf8'), 'one');
  assert.deepEqual(front.blobGets().sort(), [one.config.digest, base.digest, app1.digest].sort());
  assert.deepEqual(images.blobs.list().sort(), [one.config.digest], 'layer blobs go once unpacked');

  front.seen.length = 0;
  const b = await pull(`docker://${front.host}/apps/two`);
  assert.ok(b);
  assert.equal(b.manifest.version, '2.0.1', 'the annotation names the version');
  assert.equal(b.manifest.services[0]!.command, '/bin/run.sh', 'found on the image PATH');
  assert.deepEqual(
    front.blobGets().sort(),
    [two.config.digest, app2.digest].sort(),
    'the base layer is not fetched again',
  );
  const wh = lstatSync(join(lowerDirs(b.image)[1]!, 'etc', 'os-release'));
  assert.ok(wh.isCharacterDevice() && wh.rdev === 0, 'the whiteout in overlay form');

  // By digest, the same image: nothing fetched but the manifest.
  front.seen.length = 0;
  const c = await pull(`docker://${front.host}/apps/one@${one.manifest.digest}`);
  assert.equal(c?.manifest.version, one.manifest.digest.slice(7, 19), 'a digest reference: the short digest');
  assert.deepEqual(front.blobGets(), []);

  // No DU uses the layers: pruned; one DU using image two keeps its two.
  const used = [{ image: b.image }] as DURecord[];
  assert.deepEqual(images.prune(used), [app1.digest.slice(7)]);
  assert.equal(images.prune([]).length, 2);
  await assert.rejects(
    pull(`docker://${front.host}/apps/none:v1`),
    refused(EngineCode.ServerUnreachable, /not found/, 'not-found'),
  );
});

test('a pull broken off mid-layer restarts cleanly: verified blobs are not fetched again', async (t) => {
  if (!requireTool(t, 'docker-registry') || !requireRoot(t, 'layers keep their owners')) return;
  const { dir, images, pull } = setup(t, 'cpe-oci-resume-');
  const registry = new DockerRegistry(join(dir, 'registry'));
  await registry.start();
  const big = layer([{ name: 'srv/big', data: Buffer.alloc(256 * 1024, 7) }]);
  const front = new RegistryFront(registry.url, { cutOnce: big.digest });
  await front.start();
  t.after(async () => {
    await front.stop();
    await registry.stop();
  });
  const img = image([base, app1, big]);
  await push(registry.url, 'apps/big', 'v1', [img]);
  const url = `docker://${front.host}/apps/big:v1`;
  await assert.rejects(pull(url), refused(EngineCode.ServerUnreachable, /broke off|could not/));
  assert.equal(readdirSync(join(dir, 'images', 'layers', 'sha256')).length, 0, 'the failed pull leaves no layer');
  assert.ok(images.blobs.has(base.digest) && images.blobs.has(app1.digest), 'verified blobs stay for the retry');
  // What a kill -9 leaves (a temporary blob, a half-unpacked layer) goes at the next start.
  mkdirSync(join(dir, 'images', 'layers', 'tmp', 'x'), { recursive: true });
  mkdirSync(join(dir, 'images', 'blobs', 'tmp'), { recursive: true });
  images.sweep([]);
  assert.equal(existsSync(join(dir, 'images', 'layers', 'tmp')), false);
  assert.equal(existsSync(join(dir, 'images', 'blobs', 'tmp')), false);
  front.seen.length = 0;
  const got = await pull(url);
  assert.equal(got?.image.layers.length, 3);
  assert.deepEqual(front.blobGets(), [big.digest], 'only the blob that broke off is fetched again');
  assert.deepEqual(images.blobs.list().sort(), [img.config.digest], 'committed: the layer blobs go');
});

test('a puller killed by SIGKILL mid-blob: leftovers swept at start, the retry fetches the rest', async (t) => {
  if (!requireTool(t, 'docker-registry') || !requireRoot(t, 'layers keep their owners')) return;
  const { dir, images, pull } = setup(t, 'cpe-oci-kill-');
  const registry = new DockerRegistry(join(dir, 'registry'));
  await registry.start();
  const big = layer([{ name: 'srv/big', data: randomBytes(512 * 1024) }]);
  const front = new RegistryFront(registry.url, { slowOnce: big.digest });
  await front.start();
  t.after(async () => {
    await front.stop();
    await registry.stop();
  });
  const img = image([base, app1, big]);
  await push(registry.url, 'apps/killed', 'v1', [img]);
  const url = `docker://${front.host}/apps/killed:v1`;
  // The same pull in a process of its own, over the same image store, killed once the big blob trickles.
  const mod = (p: string) => JSON.stringify(new URL(`../../src/engine/image/${p}`, import.meta.url).href);
  const script = `
    import { mkdirSync } from 'node:fs';
    import { OciImages } from ${mod('oci-images.js')};
    const staging = ${JSON.stringify(join(dir, 'staging-child'))};
    mkdirSync(staging, { recursive: true });
    const backend = { execEnvClass: { name: 'OCI', formats: ['oci'] } };
    await new OciImages(${JSON.stringify(join(dir, 'images'))}).fromReference(
      { opts: {}, detached: new AbortController().signal, fileUrlDirectory: '' },
      { url: ${JSON.stringify(url)} }, { id: 'oci-1', name: 'oci-1' }, backend, staging);
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'ignore' });
  t.after(() => child.kill('SIGKILL'));
  const tmp = join(dir, 'images', 'blobs', 'tmp');
  const trickling = () => front.seen.some((s) => s.path.endsWith(big.digest));
  await waitFor(() => existsSync(tmp) && readdirSync(tmp).length > 0 && trickling(), 20_000);
  await sleep(300);
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  assert.ok(readdirSync(join(dir, 'images', 'blobs', 'tmp')).length > 0, 'a half-written blob is left');
  images.sweep([]);
  assert.equal(existsSync(join(dir, 'images', 'blobs', 'tmp')), false, 'swept at start');
  assert.deepEqual(readdirSync(join(dir, 'images', 'layers', 'sha256')), [], 'layers no DU names are removed');
  front.seen.length = 0;
  const got = await pull(url);
  assert.deepEqual(got?.image.layers, [base.digest, app1.digest, big.digest]);
  assert.deepEqual(front.blobGets(), [big.digest], 'the verified blobs are not downloaded again');
  assert.equal(readFileSync(join(lowerDirs(got!.image)[2]!, 'srv', 'big')).length, 512 * 1024);
});

test('an index gives the manifest for this machine; an index without it is refused', async (t) => {
  if (!requireTool(t, 'docker-registry') || !requireRoot(t, 'layers keep their owners')) return;
  const { dir, pull } = setup(t, 'cpe-oci-index-');
  const registry = new DockerRegistry(join(dir, 'registry'));
  await registry.start();
  t.after(() => registry.stop());
  const mine = image([base], { Cmd: ['/bin/run.sh'] }, { architecture: HERE });
  const theirs = image([app1], { Cmd: ['/bin/other'] }, { architecture: OTHER });
  const both = index([
    { image: theirs, architecture: OTHER },
    { image: mine, architecture: HERE, ...(HERE === 'arm' ? { variant: platformOf().variant! } : {}) },
  ]);
  await push(registry.url, 'multi', 'v1', [theirs, mine], both);
  const got = await pull(`docker://${registry.host}/multi:v1`);
  assert.equal(got?.image.manifestDigest, mine.manifest.digest);
  const only = index([{ image: theirs, architecture: OTHER }]);
  await push(registry.url, 'foreign', 'v1', [theirs], only);
  await assert.rejects(
    pull(`docker://${registry.host}/foreign:v1`),
    refused(EngineCode.ExecEnvMismatch, new RegExp(`no manifest for linux/${HERE}.*linux/${OTHER}`)),
  );
});

test('htpasswd registry: Basic with the right credentials; wrong or none are an auth fault', async (t) => {
  if (!requireTool(t, 'docker-registry', 'htpasswd') || !requireRoot(t, 'layers keep their owners')) return;
  const { dir, pull } = setup(t, 'cpe-oci-basic-');
  const registry = new DockerRegistry(join(dir, 'registry'), { user: 'op', password: 's3cret' });
  await registry.start();
  t.after(() => registry.stop());
  const img = image([base]);
  await push(registry.url, 'private/app', 'v1', [img], undefined, registry.basic());
  const url = `docker://${registry.host}/private/app:v1`;
  const got = await pull(url, { username: 'op', password: 's3cret' });
  assert.equal(got?.manifest.name, 'app');
  await assert.rejects(
    pull(url, { username: 'op', password: 'wrong' }),
    refused(EngineCode.ServerUnreachable, /authentication failed/, 'auth'),
  );
  await assert.rejects(pull(url), refused(EngineCode.ServerUnreachable, /requires credentials/, 'auth'));
});

test('Bearer: a token from the realm for the credentials; Authorization never follows a blob redirect', async (t) => {
  if (!requireTool(t, 'docker-registry') || !requireRoot(t, 'layers keep their owners')) return;
  const { dir, pull } = setup(t, 'cpe-oci-bearer-');
  const registry = new DockerRegistry(join(dir, 'registry'));
  await registry.start();
  const basic = `Basic ${Buffer.from('op:tok-pass').toString('base64')}`;
  const front = new RegistryFront(registry.url, { bearer: { token: 'T0KEN', basic }, redirectBlobs: true });
  await front.start();
  t.after(async () => {
    await front.stop();
    await registry.stop();
  });
  const img = image([base, app1]);
  await push(registry.url, 'team/app', 'v1', [img]);
  const url = `docker://${front.host}/team/app:v1`;
  const got = await pull(url, { username: 'op', password: 'tok-pass' });
  assert.equal(got?.image.layers.length, 2);
  const token = front.seen.find((s) => s.at === 'token')!;
  assert.equal(token.authorization, basic, 'the credentials go to the token realm');
  assert.match(token.path, /service=test-registry/);
  assert.match(token.path, /scope=repository%3Ateam%2Fapp%3Apull/);
  const authorized = front.seen.filter((s) => s.at === 'registry' && s.authorization);
  assert.ok(authorized.length >= 3 && authorized.every((s) => s.authorization === 'Bearer T0KEN'));
  const storage = front.seen.filter((s) => s.at === 'storage');
  assert.equal(storage.length, 3, 'config and two layers from the storage origin');
  assert.ok(
    storage.every((s) => s.authorization === undefined),
    'no Authorization to another origin',
  );
  await assert.rejects(
    pull(url, { username: 'op', password: 'nope' }),
    refused(EngineCode.ServerUnreachable, /authentication failed/, 'auth'),
  );
});

test('a blob that does not match its digest, and a hostile layer, are refused; nothing is kept', async (t) => {
  if (!requireRoot(t, 'layers keep their owners')) return;
  const { dir, images, pull } = setup(t, 'cpe-oci-bad-');
  const good = image([base]);
  const escaping = layer([
    { name: 'ok', data: 'x' },
    { name: '../../etc/evil', data: 'x' },
  ]);
  const hostile = image([base, escaping]);
  const tampered = Buffer.from(base.bytes);
  tampered[tampered.length - 5]! ^= 0xff;
  // A server pretending to be a registry: it serves the manifest as published, a layer's bytes altered.
  const blobs = new Map([good.config, hostile.config, escaping].map((b) => [b.digest, b.bytes]));
  blobs.set(base.digest, tampered);
  const server = createServer((req, res) => {
    const m = /^\/v2\/(\w+)\/(manifests|blobs)\/(.+)$/.exec(req.url ?? '');
    const manifest = m?.[1] === 'hostile' ? hostile.manifest : good.manifest;
    const body = m?.[2] === 'manifests' ? manifest.bytes : blobs.get(m?.[3] ?? '');
    if (!body) return res.writeHead(404).end();
    res.writeHead(200, { 'content-type': m?.[2] === 'manifests' ? manifest.mediaType : 'application/octet-stream' });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise((r) => server.close(r)));
  const host = `127.0.0.1:${(server.address() as { port: number }).port}`;
  await assert.rejects(pull(`docker://${host}/good:v1`), refused(EngineCode.CorruptData, /does not match its digest/));
  assert.deepEqual(readdirSync(join(dir, 'images', 'blobs', 'tmp')), []);
  assert.equal(images.blobs.has(base.digest), false);
  blobs.set(base.digest, base.bytes);
  await assert.rejects(pull(`docker://${host}/hostile:v1`), refused(EngineCode.CorruptData, /leaves the package/));
  assert.deepEqual(readdirSync(join(dir, 'images', 'layers', 'sha256')), [], 'the failed pull leaves no layer');
  assert.equal(sha256(base.bytes), base.digest);
});

test('the engine: a native EE refuses an image; an EE whose class runs oci installs and uninstalls it', async (t) => {
  if (!requireTool(t, 'docker-registry') || !requireRoot(t, 'layers keep their owners')) return;
  const { dir, cleanup } = tempDir('cpe-oci-engine-');
  const registry = new DockerRegistry(join(dir, 'registry'));
  await registry.start();
  const engine = new Engine({ stateDir: join(dir, 'state'), logger: silentLogger, shutdownGraceMs: 500 });
  t.after(async () => {
    await engine.stopAll();
    await registry.stop();
    cleanup();
  });
  await engine.start();
  const img = image([base, app1], { Cmd: ['/bin/true'] });
  await push(registry.url, 'apps/web', 'v1', [img]);
  const url = `docker://${registry.host}/apps/web:v1`;
  const refusedHere = await engine.install({ url, ee: 'native', requestTag: 'r1' });
  assert.equal(refusedHere.fault?.code, EngineCode.ExecEnvMismatch);
  assert.match(refusedHere.fault!.message, /does not run OCI images/);
  // Until an OCI backend exists, the native one is told it runs images (a test-only class).
  const native = (engine as unknown as { store: { backends: { byKind: { native: Backend } } } }).store.backends.byKind
    .native;
  Object.defineProperty(native, 'execEnvClass', {
    value: { ...native.execEnvClass, formats: ['tar.gz', 'squashfs', 'oci'] },
  });
  const r = await engine.install({ url, ee: 'native', requestTag: 'r2' });
  assert.equal(r.fault, undefined, r.fault?.message);
  assert.equal(r.du?.format, 'oci');
  assert.equal(r.du?.manifest.name, 'web');
  assert.deepEqual(r.du?.image?.layers, [base.digest, app1.digest]);
  const layers = join(dir, 'state', 'engine', 'images', 'layers', 'sha256');
  assert.equal(readdirSync(layers).length, 2);
  // Update to an image sharing the base layer: the old top layer goes, the base stays.
  const v2 = image([base, app2], { Cmd: ['/bin/true'] });
  await push(registry.url, 'apps/web', 'v2', [v2]);
  const up = await engine.update(r.duid!, { url: `docker://${registry.host}/apps/web:v2`, requestTag: 'r4' });
  assert.equal(up.fault, undefined, up.fault?.message);
  assert.equal(up.du?.manifest.version, 'v2');
  assert.deepEqual(up.du?.image?.layers, [base.digest, app2.digest]);
  assert.deepEqual(readdirSync(layers).sort(), [base.digest, app2.digest].map((d) => d.slice(7)).sort());
  const other = await engine.update(r.duid!, { url: `docker://${registry.host}/multi-other:v1`, requestTag: 'r5' });
  assert.equal(other.fault?.transfer, 'not-found', 'a failed update keeps the DU and its layers');
  assert.equal(readdirSync(layers).length, 2);
  const u = await engine.uninstall(r.duid!, 'r3');
  assert.equal(u.fault, undefined);
  assert.deepEqual(readdirSync(layers), [], 'the last DU using the layers is gone: so are they');
});
