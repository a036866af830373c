// Device.Security.Certificate from the state directory's certs/ and the defaults file, with stable
// instance numbers across restarts, and ExecEnv.Signers: only rows of that table, pruned when one goes.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Agent } from '../../src/agent.js';
import { silentLogger } from '../../src/util/logger.js';
import { agent as caller, requireTool, tempDir, usp } from '../helpers.js';
import { makeSigner } from '../signing-certs.js';

const SEC = 'Device.Security.';
const EE = 'Device.SoftwareModules.ExecEnv.1.';

test('Certificate rows from certs/ and the defaults, stable across restarts; Signers names only them', async (t) => {
  if (!requireTool(t, 'openssl')) return;
  const { dir, cleanup } = tempDir('cpe-seccert-');
  const certs = join(dir, 'state', 'certs');
  mkdirSync(certs, { recursive: true });
  const a = makeSigner(dir, 'alpha', 'ec');
  const b = makeSigner(dir, 'beta', 'rsa');
  const c = makeSigner(dir, 'gamma', 'ed25519');
  const d = makeSigner(dir, 'delta', 'ec');
  // Two certificates in one file, one in the defaults, and a file that is not a certificate at all.
  writeFileSync(join(certs, 'ab.pem'), a.cert + b.cert);
  writeFileSync(join(certs, 'junk.pem'), '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
  writeFileSync(join(dir, 'defaults.json'), JSON.stringify({ [`${SEC}X_CPE-AGENT_Certificates`]: c.cert }));
  const newAgent = () =>
    new Agent({ stateDir: join(dir, 'state'), defaultsFile: join(dir, 'defaults.json'), logger: silentLogger });
  const rows = (ag: Agent) =>
    Object.fromEntries(
      ag.dm
        .get(`${SEC}Certificate.`, caller, 2)
        .filter((o) => o.params.Subject)
        .map((o) => [o.params.Subject!, { path: o.path, ...o.params } as Record<string, string>]),
    );
  let ag = newAgent();
  try {
    await ag.start();
    let r = rows(ag);
    assert.deepEqual(Object.keys(r).sort(), ['CN=alpha', 'CN=beta', 'CN=gamma']);
    assert.equal(ag.dm.value(`${SEC}CertificateNumberOfEntries`), '3');
    const alpha = r['CN=alpha'] as Record<string, string> & { path: string };
    assert.equal(alpha.Enable, 'true');
    assert.equal(alpha.Issuer, 'CN=alpha');
    assert.equal(alpha.SignatureAlgorithm, 'ecdsa-with-SHA256');
    assert.equal(r['CN=beta']!.SignatureAlgorithm, 'sha256WithRSAEncryption');
    assert.equal(r['CN=gamma']!.SignatureAlgorithm, 'Ed25519');
    assert.equal(r['CN=gamma']!.LastModif, '0001-01-01T00:00:00Z', 'from the defaults: no file time');
    assert.match(alpha.LastModif!, /^20\d\d-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.match(alpha.SerialNumber!, /^[0-9A-F]+$/);
    assert.ok(Date.parse(alpha.NotAfter!) - Date.parse(alpha.NotBefore!) >= 2 * 24 * 3600_000 - 1000);
    assert.equal(alpha.SubjectAlt, '');

    // Signers: rows of the Certificate table only
    const setSigners = (v: string) => {
      const req = [{ objPath: EE, params: [{ name: 'Signers', value: v, required: true }] }];
      const failed = ag.dm.setFailures(req, usp)[0];
      if (!failed) ag.dm.set(req, usp);
      return failed?.code ?? 0;
    };
    assert.equal(setSigners('Device.DeviceInfo.'), 7012);
    assert.equal(setSigners(`${SEC}Certificate.99`), 7012);
    const both = `${alpha.path.slice(0, -1)},${r['CN=beta']!.path!.slice(0, -1)}`;
    assert.equal(setSigners(both), 0);
    assert.equal(ag.dm.value(`${EE}Signers`), both);
    assert.equal(ag.dm.value(`${EE}X_CPE-AGENT_SignaturePolicy`), 'Optional', 'existing installs keep working');
    await ag.stop();

    // beta's file goes, delta comes: alpha and gamma keep their rows, beta leaves the Signers
    writeFileSync(join(certs, 'ab.pem'), a.cert);
    writeFileSync(join(certs, 'd.crt'), d.cert);
    ag = newAgent();
    await ag.start();
    r = rows(ag);
    assert.deepEqual(Object.keys(r).sort(), ['CN=alpha', 'CN=delta', 'CN=gamma']);
    assert.equal(r['CN=alpha']!.path, alpha.path);
    assert.ok(![alpha.path, r['CN=gamma']!.path].includes(r['CN=delta']!.path));
    assert.equal(ag.dm.value(`${EE}Signers`), alpha.path.slice(0, -1));

    // Another directory, named by the vendor parameter, is read at once
    const other = join(dir, 'other');
    mkdirSync(other);
    writeFileSync(join(other, 'b.pem'), b.cert);
    ag.dm.update(SEC, { 'X_CPE-AGENT_CertificateDirectory': other }, 'test');
    assert.deepEqual(Object.keys(rows(ag)).sort(), ['CN=beta', 'CN=gamma']);
    assert.equal(ag.dm.value(`${EE}Signers`), '', 'alpha is gone from the Signers with its row');
    rmSync(other, { recursive: true });
    assert.ok(readFileSync(join(certs, 'ab.pem')).length > 0);
  } finally {
    await ag.containerEngine?.stopAll();
    await ag.stop();
    cleanup();
  }
});
