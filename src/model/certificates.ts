// Device.LocalAgent.AddCertificate() and the Certificate table it fills: the X.509 certificate a
// controller gives (PEM, as TR-181 defines the argument, or DER in base64) is parsed with node:crypto,
// its SerialNumber and Issuer become the row's, and its DER is kept in the state directory so that
// GetFingerprint() can answer after a restart. Delete() removes both.

import { createHash, X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { agentCaller } from '../dm/caller.js';
import type { DataModel } from '../dm/datamodel.js';
import { DmError, UspError } from '../dm/errors.js';
import { writeFileAtomic } from '../util/atomic-file.js';

const LA = 'Device.LocalAgent.';
const TABLE = `${LA}Certificate.`;
/** GetFingerprint()'s algorithms (TR-181 names) as node:crypto names them. */
export const FINGERPRINTS: Readonly<Record<string, string>> = {
  'SHA-1': 'sha1',
  'SHA-224': 'sha224',
  'SHA-256': 'sha256',
  'SHA-384': 'sha384',
  'SHA-512': 'sha512',
};

/** The certificate's DER: from PEM (one CERTIFICATE block) or bare base64; 7012 when it is neither. */
export function parseCertificate(text: string): X509Certificate {
  const pem = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/.exec(text);
  const b64 = (pem ? pem[1]! : text).replace(/\s+/g, '');
  if (!b64 || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64))
    throw new DmError(UspError.InvalidValue, 'Certificate is not a PEM or base64 X.509 certificate');
  try {
    // The argument's definition bounds it to 65535 characters (7027 beyond), so the DER is small.
    return new X509Certificate(Buffer.from(b64, 'base64'));
  } catch (e) {
    throw new DmError(UspError.InvalidValue, `Certificate is not a valid X.509 certificate: ${(e as Error).message}`);
  }
}

/** The issuer's distinguished name on one line, as the Issuer parameter holds it. */
export const oneLine = (dn: string) => dn.split('\n').filter(Boolean).join(', ');

/** dir: where the DER files live; a factory reset must remove it with the rows. */
export function registerCertificates(dm: DataModel, dir: string): void {
  const fileOf = (row: string) => join(dir, `${/\.(\d+)\.$/.exec(row)![1]}.der`);
  dm.param(`${LA}SupportedFingerprintAlgorithms`, { get: () => Object.keys(FINGERPRINTS).join(',') });

  dm.command(`${LA}AddCertificate()`, (req) => {
    const cert = parseCertificate(req.input.Certificate ?? '');
    const serial = cert.serialNumber;
    const issuer = oneLine(cert.issuer);
    const alias = req.input.Alias;
    for (const { path: row } of dm.instances(TABLE, agentCaller('certificates'), true)) {
      if (dm.value(`${row}SerialNumber`) === serial && dm.value(`${row}Issuer`) === issuer)
        throw new DmError(UspError.CommandFailure, `${row} holds this certificate already`);
      if (alias && dm.value(`${row}Alias`) === alias)
        throw new DmError(UspError.CommandFailure, `${row} has the Alias '${alias}' already`);
    }
    const values: Record<string, string> = { Enable: 'true', SerialNumber: serial, Issuer: issuer };
    if (alias) values.Alias = alias;
    const row = dm.addInstance(TABLE, values, 'certificates');
    mkdirSync(dir, { recursive: true });
    writeFileAtomic(fileOf(row), cert.raw);
    return {};
  });

  dm.command(`${TABLE}{i}.Delete()`, (req) => {
    rmSync(fileOf(req.node.path), { force: true });
    dm.delete([req.node.path], agentCaller('certificates'));
    return {};
  });

  dm.command(`${TABLE}{i}.GetFingerprint()`, (req) => {
    const algorithm = FINGERPRINTS[req.input.FingerprintAlgorithm ?? ''];
    if (!algorithm) throw new DmError(UspError.InvalidCommandArguments, 'unsupported FingerprintAlgorithm');
    let der: Buffer;
    try {
      der = readFileSync(fileOf(req.node.path));
    } catch {
      throw new DmError(UspError.CommandFailure, `the certificate of ${req.node.path} is no longer stored`);
    }
    return { Fingerprint: createHash(algorithm).update(der).digest('hex') };
  });
}
