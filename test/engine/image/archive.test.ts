// An oci-archive (an OCI image layout as a plain tar) is told from packages by its content and read
// like a registry: the same verification, the same layer store, its file name standing for the repository.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Backend } from '../../../src/engine/backends/backend.js';
import { EngineCode } from '../../../src/engine/errors.js';
import { lowerDirs } from '../../../src/engine/image/image-record.js';
import { OciImages } from '../../../src/engine/image/oci-images.js';
import { isOciArchive } from '../../../src/engine/image/oci-layout.js';
import type { EERecord } from '../../../src/engine/types.js';
import { requireRoot, tempDir } from '../../helpers.js';
import { manifest, tarGz } from '../tar-builder.js';
import { image, layer, ociArchive } from './oci-builder.js';

const EE = { id: 'oci-1', name: 'oci-1' } as EERecord;
const backend = (formats: string[]) =>
  ({ execEnvClass: { name: 'T', vendor: 't', version: '1', formats } }) as unknown as Backend;

test('an oci-archive installs from its layout; a package is not taken for one; other EEs refuse it', async (t) => {
  if (!requireRoot(t, 'layers keep their owners')) return;
  const { dir, cleanup } = tempDir('cpe-oci-archive-');
  t.after(cleanup);
  const images = new OciImages(join(dir, 'images'));
  const img = image([layer([{ name: 'bin/app', data: 'app', mode: 0o755 }])], { Cmd: ['/bin/app', '-v'] });
  const staging = join(dir, 'staging');
  mkdirSync(staging);
  const pkg = join(staging, 'package');
  writeFileSync(pkg, ociArchive(img));
  assert.equal(await isOciArchive(pkg), true);
  const req = { url: 'https://files.example.com/apps/hello-app.tar' };
  await assert.rejects(
    images.fromArchive(pkg, req, EE, backend(['tar.gz']), staging),
    (e: { code: string }) => e.code === EngineCode.ExecEnvMismatch,
  );
  const got = await images.fromArchive(pkg, req, EE, backend(['oci']), staging);
  assert.ok(got);
  assert.equal(got.manifest.name, 'hello-app', 'named after the archive file');
  assert.equal(got.manifest.vendor, 'files.example.com');
  assert.equal(got.manifest.services[0]!.command, '/bin/app');
  assert.equal(got.image.reference, req.url);
  assert.equal(readFileSync(join(lowerDirs(got.image)[0]!, 'bin', 'app'), 'utf8'), 'app');
  const other = join(dir, 'pkg.tgz');
  writeFileSync(other, tarGz([{ name: 'manifest.json', data: manifest() }]));
  assert.equal(await isOciArchive(other), false);
  assert.equal(await images.fromArchive(other, req, EE, backend(['oci']), staging), undefined);

  // A layout whose blob was altered is refused at its digest.
  const tampered = ociArchive(img);
  const cfg = tampered.indexOf(Buffer.from('"/bin/app"'));
  tampered[cfg + 2] = 'x'.charCodeAt(0);
  const staging2 = join(dir, 'staging2');
  mkdirSync(staging2);
  writeFileSync(join(staging2, 'package'), tampered);
  // A fresh store: the first store has the config already, verified, and would not read it again.
  const fresh = new OciImages(join(dir, 'images2'));
  await fresh.fromArchive(join(staging2, 'package'), req, EE, backend(['oci']), staging2).then(
    () => assert.fail('a tampered archive installs'),
    (e: { code: string; message: string }) => {
      assert.equal(e.code, EngineCode.CorruptData);
      assert.match(e.message, /does not match its digest/);
    },
  );
});
