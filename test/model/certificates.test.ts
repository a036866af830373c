import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { DataModel } from '../../src/dm/datamodel.js';
import { registerCertificates } from '../../src/model/certificates.js';
import { makeCertificates } from '../certs.js';
import { newModel, requireTool, tempDir, usp } from '../helpers.js';

const LA = 'Device.LocalAgent.';

async function run(dm: DataModel, path: string, input: Record<string, string>) {
  const [r] = await dm.operate(path, input, usp);
  return r!;
}
const code = (r: Awaited<ReturnType<typeof run>>) => (r.kind === 'error' ? r.error.code : r.kind);

test('AddCertificate() stores a PEM certificate, Delete() removes it, GetFingerprint() hashes its DER', async (t) => {
  if (!requireTool(t, 'openssl')) return;
  const { dir, cleanup } = tempDir('cpe-certs-');
  t.after(cleanup);
  const certs = makeCertificates(dir);
  const pem = readFileSync(certs.clientCert, 'utf8');
  const x509 = new X509Certificate(pem);
  const dm = newModel();
  registerCertificates(dm, join(dir, 'certificates'));

  assert.equal(code(await run(dm, `${LA}AddCertificate()`, { Alias: 'added', Certificate: pem })), 'sync');
  const row = `${LA}Certificate.1.`;
  assert.equal(dm.value(`${row}Alias`), 'added');
  assert.equal(dm.value(`${row}SerialNumber`), x509.serialNumber);
  assert.equal(dm.value(`${row}Issuer`), 'CN=cpe-test-ca');
  assert.equal(dm.value(`${row}Enable`), 'true');
  assert.equal(dm.value(`${LA}CertificateNumberOfEntries`), '1');

  const again = await run(dm, `${LA}AddCertificate()`, { Certificate: pem });
  assert.equal(code(again), 7022, 'the same SerialNumber and Issuer twice');
  const otherPem = readFileSync(certs.otherCa, 'utf8');
  assert.equal(code(await run(dm, `${LA}AddCertificate()`, { Alias: 'added', Certificate: otherPem })), 7022);
  // The DER in bare base64 is accepted as well.
  const der = new X509Certificate(otherPem).raw.toString('base64');
  assert.equal(code(await run(dm, `${LA}AddCertificate()`, { Certificate: der })), 'sync');
  assert.equal(dm.value(`${LA}Certificate.2.Issuer`), 'CN=some-other-ca');

  const fp = await run(dm, `${row}GetFingerprint()`, { FingerprintAlgorithm: 'SHA-256' });
  assert.deepEqual(fp.kind === 'sync' && fp.output, {
    Fingerprint: createHash('sha256').update(x509.raw).digest('hex'),
  });
  assert.equal(code(await run(dm, `${row}GetFingerprint()`, { FingerprintAlgorithm: 'MD5' })), 7027);
  assert.equal(dm.value(`${LA}SupportedFingerprintAlgorithms`), 'SHA-1,SHA-224,SHA-256,SHA-384,SHA-512');

  assert.equal(code(await run(dm, `${row}Delete()`, {})), 'sync');
  assert.equal(dm.node(row), undefined);
  assert.equal(dm.value(`${LA}CertificateNumberOfEntries`), '1');
});

test('AddCertificate() refuses what is not an X.509 certificate with 7012, and a missing one with 7027', async (t) => {
  const { dir, cleanup } = tempDir('cpe-certs-');
  t.after(cleanup);
  const dm = newModel();
  registerCertificates(dm, join(dir, 'certificates'));
  const add = (Certificate: string) => run(dm, `${LA}AddCertificate()`, { Certificate });
  assert.equal(code(await add('')), 7012);
  assert.equal(code(await add('not a certificate')), 7012);
  assert.equal(code(await add('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n')), 7012);
  assert.equal(code(await add(Buffer.alloc(40_000, 1).toString('base64'))), 7012, 'base64, but not X.509');
  assert.equal(code(await add('A'.repeat(65_536))), 7027, 'over the 65535 characters TR-181 allows');
  assert.equal(code(await run(dm, `${LA}AddCertificate()`, {})), 7027);
  assert.equal(dm.value(`${LA}CertificateNumberOfEntries`), '0');
});
