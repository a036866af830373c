// An OCI image (an oci-archive built by the test) in an OCI EE on real runc: its layers from the image store
// stacked as the container's root (a whiteout hides a lower file), its User and WorkingDir applied. Where
// signatures are required, the image's signature (over its manifest digest) is checked: one made for another
// image is refused before anything of it is fetched into the stores, its own accepted.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Engine } from '../../src/engine/engine.js';
import { signDigest } from '../../src/engine/package/signature.js';
import { silentLogger } from '../../src/util/logger.js';
import { image, layer, ociArchive } from '../engine/image/oci-builder.js';
import { tempDir, waitFor, which } from '../helpers.js';
import { serveFiles } from '../http-files.js';
import { makeSigner } from '../signing-certs.js';
import { requireRunc } from './oci.js';

test('an oci-archive image runs in an OCI EE under runc', async (t) => {
  if (!(await requireRunc(t))) return;
  const { dir, cleanup } = tempDir('cpe-oci-img-');
  const busybox = readFileSync(which('busybox')!);
  const base = layer([
    { name: 'bin/', type: '5', mode: 0o755 },
    { name: 'bin/busybox', data: busybox, mode: 0o755 },
    ...['sh', 'sleep', 'id', 'echo', 'pwd', 'cat', 'ls'].map((a) => ({
      name: `bin/${a}`,
      type: '2' as const,
      link: 'busybox',
    })),
    { name: 'etc/', type: '5', mode: 0o755 },
    { name: 'etc/passwd', data: 'root:x:0:0::/:/bin/sh\nweb:x:100:101::/:/bin/sh\n' },
    { name: 'etc/group', data: 'root:x:0:\nweb:x:101:\n' },
    { name: 'etc/gone', data: 'x' },
    { name: 'srv/', type: '5', mode: 0o777 },
  ]);
  const top = layer([
    {
      name: 'srv/run.sh',
      data: '#!/bin/sh\n{ id -u; id -g; pwd; ls /etc; } > "$CPE_DU_DATA/out"\nexec sleep 1000\n',
      mode: 0o755,
    },
    { name: 'etc/.wh.gone', data: '' },
  ]);
  const img = image([base, top], { Cmd: ['/srv/run.sh'], User: 'web', WorkingDir: '/srv' });
  const other = image([base], { Cmd: ['/bin/sh'] });
  const http = await serveFiles({ 'img.tar': ociArchive(img) });
  const signer = makeSigner(dir, 'image-signer');
  const signatureOf = (i: typeof img) =>
    `data:application/json;base64,${Buffer.from(
      signDigest(Buffer.from(i.manifest.digest.replace(/^sha256:/, ''), 'hex'), signer.key, signer.cert),
    ).toString('base64')}`;
  const trust = { required: true, signers: [signer.cert] };
  const engine = new Engine({ stateDir: join(dir, 'state'), logger: silentLogger, shutdownGraceMs: 1000 });
  await engine.start();
  const ee = await engine.createEE({
    name: 'oci',
    execEnvClass: 'OCI',
    enabled: true,
    memoryKiB: -1,
    cpuPercent: -1,
    diskKiB: 32768,
  });
  t.after(async () => {
    await engine.stopAll();
    await http.close();
    cleanup();
  });
  const forged = await engine.install({
    url: http.url('img.tar'),
    ee: ee.id,
    requestTag: 'forged',
    trust,
    signature: signatureOf(other),
  });
  assert.equal(forged.fault?.code, 'bad-signature', 'a signature made for another image');
  const unsigned = await engine.install({ url: http.url('img.tar'), ee: ee.id, requestTag: 'unsigned', trust });
  assert.equal(unsigned.fault?.code, 'bad-signature', 'no signature where one is required');
  assert.deepEqual(engine.deploymentUnits(), []);
  // Refused on its manifest: nothing of either image was fetched into the stores, nor unpacked.
  const images = join(dir, 'state', 'engine', 'images');
  for (const d of ['blobs/sha256', 'layers/sha256'])
    assert.deepEqual(existsSync(join(images, d)) ? readdirSync(join(images, d)) : [], [], `${d} after the refusals`);
  const r = await engine.install({
    url: http.url('img.tar'),
    ee: ee.id,
    requestTag: 'i',
    trust,
    signature: signatureOf(img),
  });
  assert.equal(r.fault, undefined, r.fault?.message);
  assert.ok(existsSync(join(images, 'layers', 'sha256')), 'the image store is where this test looks');
  const out = join(engine.dataDir(r.du!.uuid, ee.id), 'out');
  await waitFor(() => existsSync(out) && readFileSync(out, 'utf8').split('\n').length > 3);
  const lines = readFileSync(out, 'utf8').trim().split('\n');
  assert.deepEqual(lines.slice(0, 3), ['100', '101', '/srv']);
  assert.ok(!lines.includes('gone'), 'the whiteout hides the lower file');
  const u = await engine.uninstall(r.duid!, 'u');
  assert.equal(u.fault, undefined);
  await engine.removeEE(ee.id, true);
  assert.ok(!readFileSync('/proc/mounts', 'utf8').includes(dir));
});
