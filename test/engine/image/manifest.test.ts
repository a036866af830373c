// Manifests, indexes and image configs as registries serve them: parsed strictly, refused clearly.
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { EngineCode } from '../../../src/engine/errors.js';
import { manifestOfImage } from '../../../src/engine/image/image-config.js';
import { resolveInImage } from '../../../src/engine/image/image-lookup.js';
import { parseManifestDocument } from '../../../src/engine/image/oci-manifest.js';
import { parseReference } from '../../../src/engine/image/reference.js';
import { tempDir } from '../../helpers.js';
import { image, index, layer } from './oci-builder.js';

const limits = { maxLayers: 8 };
const refused = (code: string, re: RegExp) => (e: { code: string; message: string }) =>
  e.code === code && re.test(e.message);

test('a manifest and an index parse into descriptors; a media type is taken from the server first', () => {
  const img = image([layer([{ name: 'a', data: 'x' }])]);
  const m = parseManifestDocument(img.manifest.bytes, img.manifest.mediaType, limits);
  assert.equal(m.kind, 'manifest');
  assert.equal(m.kind === 'manifest' && m.layers[0]!.digest, img.layers[0]!.digest);
  const idx = parseManifestDocument(index([{ image: img, architecture: 'amd64' }]).bytes, undefined, limits);
  assert.equal(idx.kind, 'index');
  assert.equal(idx.kind === 'index' && idx.manifests[0]!.platform?.architecture, 'amd64');
  const docker = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
    config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: img.config.digest, size: 1 },
    layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: img.config.digest, size: 1 }],
  });
  assert.equal(parseManifestDocument(Buffer.from(docker), 'application/json', limits).kind, 'manifest');
});

test('bad manifests are refused as corrupt data: media types, digests, layer count', () => {
  const good = JSON.parse(image([layer([{ name: 'a' }])]).manifest.bytes.toString());
  const cases: [unknown, RegExp][] = [
    [{ ...good, schemaVersion: 1 }, /schemaVersion 2/],
    [
      { ...good, layers: [{ ...good.layers[0], mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd' }] },
      /layer media type/,
    ],
    [{ ...good, config: { ...good.config, digest: 'md5:00' } }, /sha256/],
    [{ ...good, layers: Array(9).fill(good.layers[0]) }, /more than 8 layers/],
    [{ ...good, mediaType: 'application/vnd.docker.distribution.manifest.v1+json' }, /manifest media type/],
  ];
  for (const [doc, why] of cases)
    assert.throws(
      () => parseManifestDocument(Buffer.from(JSON.stringify(doc)), undefined, limits),
      refused(EngineCode.CorruptData, why),
    );
  assert.throws(
    () => parseManifestDocument(Buffer.from('{'), undefined, limits),
    refused(EngineCode.CorruptData, /JSON/),
  );
});

test("a lookup never descends through a layer's link on the host: a lower `bin -> /host/dir` hides, not leads", (t) => {
  const { dir, cleanup } = tempDir('cpe-image-lookup-');
  t.after(cleanup);
  // The host directory the link names holds an `app` and a link the lookup must not read.
  const host = join(dir, 'host-usr-bin');
  mkdirSync(host);
  writeFileSync(join(host, 'app'), '');
  symlinkSync('/usr/bin/busybox', join(host, 'tool'));
  const low = join(dir, 'low');
  const up = join(dir, 'up');
  mkdirSync(low);
  symlinkSync(host, join(low, 'bin'));
  mkdirSync(join(up, 'bin'), { recursive: true });
  // The upper layer's /bin is a directory, so overlayfs stops at the lower link: neither name is there.
  assert.equal(resolveInImage([up, low], '/bin/app'), undefined);
  assert.equal(resolveInImage([up, low], '/bin/tool'), undefined);
  // A whiteout or a file on the way hides the lower layers the same way.
  writeFileSync(join(up, 'usr'), '');
  mkdirSync(join(low, 'usr', 'bin'), { recursive: true });
  writeFileSync(join(low, 'usr', 'bin', 'app'), '');
  assert.equal(resolveInImage([up, low], '/usr/bin/app'), undefined);
  // A lower directory under an upper one still shows through.
  mkdirSync(join(up, 'opt', 'x'), { recursive: true });
  mkdirSync(join(low, 'opt', 'x'), { recursive: true });
  writeFileSync(join(low, 'opt', 'x', 'app'), '');
  assert.equal(resolveInImage([up, low], '/opt/x/app'), '/opt/x/app');
});

test('the image config becomes one service: PATH lookup through links in the layers, env, user, ports', (t) => {
  const { dir, cleanup } = tempDir('cpe-image-config-');
  t.after(cleanup);
  // Lower layer: /usr/bin/busybox and /bin -> usr/bin (merged /usr); upper layer: /usr/bin/app -> busybox.
  const low = join(dir, 'low');
  const up = join(dir, 'up');
  mkdirSync(join(low, 'usr', 'bin'), { recursive: true });
  writeFileSync(join(low, 'usr', 'bin', 'busybox'), '');
  symlinkSync('usr/bin', join(low, 'bin'));
  mkdirSync(join(up, 'usr', 'bin'), { recursive: true });
  symlinkSync('/usr/bin/busybox', join(up, 'usr', 'bin', 'app'));
  assert.equal(resolveInImage([up, low], '/bin/app'), '/usr/bin/busybox');
  assert.equal(resolveInImage([up, low], '/etc/passwd'), undefined);
  const config = Buffer.from(
    JSON.stringify({
      config: {
        Entrypoint: ['app'],
        Cmd: ['httpd', '-f'],
        Env: ['PATH=/bin', 'A=b=c'],
        WorkingDir: '/srv',
        User: '1000:1000',
        ExposedPorts: { '8080/tcp': {} },
        Labels: { 'org.opencontainers.image.vendor': 'example.org' },
      },
    }),
  );
  const facts = {
    reference: parseReference('docker://127.0.0.1:5000/apps/web:1.4'),
    origin: '',
    manifestDigest: `sha256:${'1'.repeat(64)}`,
    annotations: { 'org.opencontainers.image.description': 'a web server' },
  };
  const m = manifestOfImage(config, [up, low], facts);
  assert.equal(m.name, 'web');
  assert.equal(m.version, '1.4');
  assert.equal(m.vendor, 'example.org', 'the label names the vendor');
  assert.equal(m.description, 'a web server');
  const s = m.services[0]!;
  assert.equal(s.command, '/bin/app');
  assert.deepEqual(s.args, ['httpd', '-f']);
  assert.deepEqual(s.env, { PATH: '/bin', A: 'b=c' });
  assert.equal(s.user, '1000:1000');
  assert.equal(s.workingDir, '/srv');
  assert.deepEqual(s.exposedPorts, ['8080/tcp']);
  const byDigest = manifestOfImage(Buffer.from(JSON.stringify({ config: { Cmd: ['/x'] } })), [up], {
    ...facts,
    reference: parseReference(`docker://reg.example.com/web@sha256:${'2'.repeat(64)}`),
    annotations: { 'org.opencontainers.image.version': '7.0', 'org.opencontainers.image.vendor': 'Not A Domain' },
  });
  assert.equal(byDigest.version, '7.0');
  assert.equal(byDigest.vendor, 'reg.example.com', 'a vendor that is no domain name gives way to the registry host');
  assert.throws(
    () => manifestOfImage(Buffer.from(JSON.stringify({ config: {} })), [up], facts),
    refused(EngineCode.CorruptData, /names no command/),
  );
  assert.throws(
    () => manifestOfImage(Buffer.from(JSON.stringify({ config: { Cmd: ['nothere'] } })), [up, low], facts),
    refused(EngineCode.CorruptData, /PATH/),
  );
});
