// Image references as InstallDU takes them, and the platform an index entry must name to run here.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EngineCode } from '../../../src/engine/errors.js';
import { choosePlatform, platformOf, runsOn } from '../../../src/engine/image/platform.js';
import { formatReference, parseReference, registryHost } from '../../../src/engine/image/reference.js';
import { plainHttpAllowed } from '../../../src/engine/image/registry-client.js';

const D = `sha256:${'ab'.repeat(32)}`;

test('a reference names host, repository and tag (latest by default) or digest', () => {
  assert.deepEqual(parseReference('docker://reg.example.com:5000/apps/web:1.2'), {
    registry: 'reg.example.com:5000',
    repository: 'apps/web',
    tag: '1.2',
    digest: undefined,
  });
  assert.equal(parseReference('docker://127.0.0.1:5000/web').tag, 'latest');
  const byDigest = parseReference(`docker://[::1]:5000/web@${D}`);
  assert.equal(byDigest.digest, D);
  assert.equal(byDigest.tag, undefined);
  assert.equal(registryHost(byDigest), '::1');
  assert.equal(formatReference(parseReference('docker://h/a/b:v1')), 'docker://h/a/b:v1');
});

test('a malformed reference is refused as invalid arguments, saying what is wrong', () => {
  const cases: [string, RegExp][] = [
    ['docker://web', /registry host/],
    ['docker://h/Web', /lowercase/],
    ['docker://h/web:-x', /tag/],
    ['docker://h/web@sha256:12', /digest/],
    ['docker://u:p@h/web', /credentials|registry/],
    ['docker://h/a//b', /lowercase/],
    ['http://h/web', /docker:\/\//],
  ];
  for (const [ref, why] of cases)
    assert.throws(
      () => parseReference(ref),
      (e: { code: string; message: string }) => e.code === EngineCode.InvalidArguments && why.test(e.message),
      ref,
    );
});

test('plain http only for loopback registries and those the operator lists', () => {
  assert.equal(plainHttpAllowed({ registry: '127.0.0.1:5000' }), true);
  assert.equal(plainHttpAllowed({ registry: '127.8.0.3' }), true);
  assert.equal(plainHttpAllowed({ registry: 'localhost:5000' }), true);
  assert.equal(plainHttpAllowed({ registry: '[::1]:5000' }), true);
  assert.equal(plainHttpAllowed({ registry: 'reg.lan:5000' }), false);
  assert.equal(plainHttpAllowed({ registry: 'reg.lan:5000' }, ['reg.lan:5000']), true);
  assert.equal(plainHttpAllowed({ registry: '128.0.0.1' }), false);
});

test('node arch names map to OCI platforms; an index entry is chosen for this machine or refused', () => {
  assert.deepEqual(platformOf('x64'), { os: 'linux', architecture: 'amd64' });
  assert.deepEqual(platformOf('arm64'), { os: 'linux', architecture: 'arm64' });
  assert.deepEqual(platformOf('arm', '7'), { os: 'linux', architecture: 'arm', variant: 'v7' });
  assert.equal(runsOn({ os: 'linux', architecture: 'arm', variant: 'v6' }, platformOf('arm', '7')), true);
  assert.equal(runsOn({ os: 'linux', architecture: 'arm', variant: 'v8' }, platformOf('arm', '7')), false);
  assert.equal(runsOn({ os: 'linux', architecture: 'arm64', variant: 'v8' }, platformOf('arm64')), true);
  const entries = [
    { n: 1, platform: { os: 'linux', architecture: 'arm', variant: 'v6' } },
    { n: 2, platform: { os: 'linux', architecture: 'arm', variant: 'v7' } },
    { n: 3, platform: { os: 'linux', architecture: 'amd64' } },
  ];
  assert.equal(choosePlatform(entries, platformOf('arm', '7')).n, 2, 'the exact variant first');
  assert.equal(choosePlatform(entries, platformOf('x64')).n, 3);
  assert.throws(
    () => choosePlatform(entries, platformOf('s390x')),
    (e: { code: string; message: string }) =>
      e.code === EngineCode.ExecEnvMismatch && /linux\/s390x/.test(e.message) && /linux\/amd64/.test(e.message),
  );
});
