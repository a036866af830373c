// What TR-181 shows of an X.509 certificate (Device.Security.Certificate.{i}.): node:crypto's
// X509Certificate has everything but the signature algorithm, read here from the DER's
// AlgorithmIdentifier (Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signature }).
import type { X509Certificate } from 'node:crypto';
import { dateTime } from '../util/time.js';
import { oneLine } from './certificates.js';

/** RFC 3279 / 4055 / 5758 / 8410 names of the signature algorithms certificates use. */
const ALGORITHMS: Readonly<Record<string, string>> = {
  '1.2.840.113549.1.1.5': 'sha1WithRSAEncryption',
  '1.2.840.113549.1.1.10': 'RSASSA-PSS',
  '1.2.840.113549.1.1.11': 'sha256WithRSAEncryption',
  '1.2.840.113549.1.1.12': 'sha384WithRSAEncryption',
  '1.2.840.113549.1.1.13': 'sha512WithRSAEncryption',
  '1.2.840.10045.4.3.2': 'ecdsa-with-SHA256',
  '1.2.840.10045.4.3.3': 'ecdsa-with-SHA384',
  '1.2.840.10045.4.3.4': 'ecdsa-with-SHA512',
  '1.3.101.112': 'Ed25519',
  '1.3.101.113': 'Ed448',
};

/** A DER element at `at`: where its content starts and ends. */
function element(der: Buffer, at: number): { tag: number; start: number; end: number } {
  const tag = der[at]!;
  let len = der[at + 1]!;
  let start = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + der[start + i]!;
    start += n;
  }
  if (start + len > der.length) throw new Error('truncated DER');
  return { tag, start, end: start + len };
}

function oidText(b: Buffer): string {
  const parts = [Math.floor(b[0]! / 40), b[0]! % 40];
  let v = 0;
  for (const byte of b.subarray(1)) {
    v = v * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) {
      parts.push(v);
      v = 0;
    }
  }
  return parts.join('.');
}

/** The certificate's signature algorithm by name (the dotted OID when it has none here). */
export function signatureAlgorithm(cert: X509Certificate): string {
  try {
    const der = cert.raw;
    const outer = element(der, 0);
    const tbs = element(der, outer.start);
    const algId = element(der, tbs.end);
    const oid = element(der, algId.start);
    if (oid.tag !== 0x06) return '';
    const dotted = oidText(der.subarray(oid.start, oid.end));
    return ALGORITHMS[dotted] ?? dotted;
  } catch {
    return '';
  }
}

const cap = (s: string, n: number) => (s.length > n ? s.slice(0, n) : s);

/** The read-only values of a Device.Security.Certificate row. */
export function certificateValues(cert: X509Certificate, lastModif: string): Record<string, string> {
  return {
    LastModif: lastModif,
    SerialNumber: cap(cert.serialNumber, 64),
    Issuer: cap(oneLine(cert.issuer), 256),
    NotBefore: dateTime(Date.parse(cert.validFrom)),
    NotAfter: dateTime(Date.parse(cert.validTo)),
    Subject: cap(oneLine(cert.subject), 256),
    // "DNS:a.example, IP Address:192.0.2.1" -> one list item each
    SubjectAlt: (cert.subjectAltName ?? '')
      .split(/,\s*/)
      .filter(Boolean)
      .map((s) => cap(s, 256))
      .join(','),
    SignatureAlgorithm: signatureAlgorithm(cert),
  };
}
