// Throw-away signer keys and self-signed certificates (openssl) for signed-DU tests: one per key type
// the signature format knows.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export type SignerKind = 'ec' | 'rsa' | 'ed25519';

export interface Signer {
  readonly keyFile: string;
  readonly certFile: string;
  readonly key: string;
  readonly cert: string;
}

const NEWKEY: Record<SignerKind, string[]> = {
  ec: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'],
  rsa: ['-newkey', 'rsa:2048'],
  ed25519: ['-newkey', 'ed25519'],
};

/** A key and a certificate for /CN=name valid for `days` from now, written to dir as name.key / name.crt. */
export function makeSigner(dir: string, name: string, kind: SignerKind = 'ec', days = 2): Signer {
  const keyFile = join(dir, `${name}.key`);
  const certFile = join(dir, `${name}.crt`);
  execFileSync(
    'openssl',
    ['req', '-x509', ...NEWKEY[kind], '-nodes', '-keyout', keyFile, '-out', certFile, '-subj', `/CN=${name}`].concat([
      '-days',
      String(days),
    ]),
    { stdio: 'ignore', cwd: dir },
  );
  return { keyFile, certFile, key: readFileSync(keyFile, 'utf8'), cert: readFileSync(certFile, 'utf8') };
}
