// The certificates https downloads are verified against: the system's CA bundle (the one the
// device's own tools trust, which an operator may have extended), else the list built into Node,
// plus the operator's CA file when the agent was given one (--ca).
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const SYSTEM_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

let system: readonly string[] | undefined;

export function trustedCAs(operatorCaFile?: string): string[] {
  // Read once: some 200 KiB, parsed by OpenSSL on every TLS handshake that gets it anyway.
  // node:tls through require, not an ES import: Node builds an ES module of a built-in by reading every
  // export, which would turn Node's 140-odd root certificates into strings the heap keeps for good.
  system ??= existsSync(SYSTEM_BUNDLE)
    ? [readFileSync(SYSTEM_BUNDLE, 'utf8')]
    : (createRequire(import.meta.url)('node:tls') as typeof import('node:tls')).rootCertificates;
  return operatorCaFile ? [...system, readFileSync(operatorCaFile, 'utf8')] : [...system];
}
