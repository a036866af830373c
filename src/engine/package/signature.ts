// Detached DU signatures (docs/signatures.md): a small JSON envelope naming what was signed (the SHA-256
// of the package bytes fetched, or an OCI image's manifest digest), the algorithm, the signer's
// certificate by fingerprint, and the signature. node:crypto only. The signed message is not the bare
// digest but a line that names this format: a signature made for something else never verifies here.
import { constants, createHash, createPrivateKey, type KeyObject, sign, verify, X509Certificate } from 'node:crypto';
import { EngineCode, EngineError } from '../errors.js';

export const SIGNATURE_FORMAT = 'cpe-agent-signature/1';
/** The largest signature accepted: an envelope is a few hundred bytes, RSA-8192 under 2 KiB. */
export const MAX_SIGNATURE_BYTES = 16 * 1024;

export const SIGNATURE_ALGORITHMS = ['ecdsa-sha256', 'rsa-pss-sha256', 'ed25519'] as const;
export type SignatureAlgorithm = (typeof SIGNATURE_ALGORITHMS)[number];

/** What an EE trusts, as the model resolves it from ExecEnv.Signers and the EE's signature policy. */
export interface SignatureTrust {
  /** Unsigned DUs are refused. */
  readonly required: boolean;
  /** The signer certificates (PEM); a signature by any other key is refused. */
  readonly signers: readonly string[];
}

export interface SignatureEnvelope {
  readonly format: typeof SIGNATURE_FORMAT;
  /** "sha256:" and the hex digest signed. */
  readonly digest: string;
  readonly algorithm: SignatureAlgorithm;
  /** SHA-256 of the signer certificate's DER, lowercase hex. */
  readonly signer: string;
  /** base64 */
  readonly signature: string;
}

/** Who signed a package that verified. */
export interface VerifiedSigner {
  readonly fingerprint: string;
  readonly subject: string;
}

const badSignature = (why: string) => new EngineError(EngineCode.BadSignature, why);

export const certificateFingerprint = (cert: X509Certificate): string =>
  createHash('sha256').update(cert.raw).digest('hex');

const digestText = (digest: Buffer) => `sha256:${digest.toString('hex')}`;
const message = (digest: Buffer) => Buffer.from(`${SIGNATURE_FORMAT} ${digestText(digest)}\n`);

/** The one algorithm each key type signs with here. */
function algorithmOf(key: KeyObject): SignatureAlgorithm | undefined {
  switch (key.asymmetricKeyType) {
    case 'ec':
      return 'ecdsa-sha256';
    case 'rsa':
    case 'rsa-pss':
      return 'rsa-pss-sha256';
    case 'ed25519':
      return 'ed25519';
    default:
      return undefined;
  }
}

/** node:crypto's arguments for an algorithm: the hash (null: the scheme has its own) and the padding. */
function cryptoArgs(algorithm: SignatureAlgorithm, key: KeyObject) {
  if (algorithm === 'ed25519') return { hash: null, key };
  if (algorithm === 'ecdsa-sha256') return { hash: 'sha256', key: { key, dsaEncoding: 'der' as const } };
  return { hash: 'sha256', key: { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } };
}

/** Signs a digest (SHA-256, 32 bytes) with a private key whose certificate is cert; returns the envelope. */
export function signDigest(digest: Buffer, keyPem: string | Buffer, certPem: string | Buffer): string {
  if (digest.length !== 32) throw new Error('the digest must be a SHA-256 (32 bytes)');
  const key = createPrivateKey(keyPem);
  const cert = new X509Certificate(certPem);
  const algorithm = algorithmOf(key);
  if (!algorithm) throw new Error(`keys of type ${key.asymmetricKeyType} can not sign DUs (RSA, EC, Ed25519 can)`);
  const { hash, key: k } = cryptoArgs(algorithm, key);
  const signature = sign(hash, message(digest), k);
  const check = cryptoArgs(algorithm, cert.publicKey);
  if (!verify(check.hash, message(digest), check.key, signature))
    throw new Error('the key does not belong to the certificate');
  const envelope: SignatureEnvelope = {
    format: SIGNATURE_FORMAT,
    digest: digestText(digest),
    algorithm,
    signer: certificateFingerprint(cert),
    signature: signature.toString('base64'),
  };
  return `${JSON.stringify(envelope, null, 1)}\n`;
}

/** The envelope in a signature file, checked field by field; a bad signature (7036) when it is none. */
export function parseEnvelope(bytes: Buffer): SignatureEnvelope {
  if (bytes.length > MAX_SIGNATURE_BYTES)
    throw badSignature(`the signature is ${bytes.length} bytes, more than the ${MAX_SIGNATURE_BYTES} allowed`);
  let e: Record<string, unknown>;
  try {
    e = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
  } catch {
    throw badSignature(`the signature is not a ${SIGNATURE_FORMAT} envelope (not JSON)`);
  }
  if (typeof e !== 'object' || e === null || e.format !== SIGNATURE_FORMAT)
    throw badSignature(`the signature is not a ${SIGNATURE_FORMAT} envelope`);
  const field = (k: string, re: RegExp) => {
    const v = e[k];
    if (typeof v !== 'string' || !re.test(v)) throw badSignature(`the signature envelope has no valid '${k}'`);
    return v;
  };
  return {
    format: SIGNATURE_FORMAT,
    digest: field('digest', /^sha256:[0-9a-f]{64}$/),
    algorithm: field('algorithm', new RegExp(`^(${SIGNATURE_ALGORITHMS.join('|')})$`)) as SignatureAlgorithm,
    signer: field('signer', /^[0-9a-f]{64}$/),
    signature: field('signature', /^[A-Za-z0-9+/]+={0,2}$/),
  };
}

/**
 * Verifies a detached signature over a SHA-256 digest (a package's, or an OCI image's manifest digest)
 * against the trusted signers at `now`. Throws a bad-signature EngineError saying why: malformed,
 * oversized, another package's (tampered), an unknown signer, a signer outside its validity, or a
 * signature that does not verify.
 */
export function verifyDetachedSignature(
  digest: Buffer,
  signature: Buffer,
  trust: SignatureTrust,
  now: Date,
): VerifiedSigner {
  const env = parseEnvelope(signature);
  if (env.digest !== digestText(digest))
    throw badSignature('the package does not match its signature (its SHA-256 differs: tampered or another package)');
  const signer = trustedCertificates(trust).find((c) => certificateFingerprint(c) === env.signer);
  if (!signer)
    throw badSignature(`the signer (certificate SHA-256 ${env.signer.slice(0, 16)}...) is not one of the EE's Signers`);
  const subject = signer.subject.split('\n').filter(Boolean).join(', ');
  if (now.getTime() < Date.parse(signer.validFrom))
    throw badSignature(`the signer certificate ${subject} is not valid before ${signer.validFrom}`);
  if (now.getTime() > Date.parse(signer.validTo))
    throw badSignature(`the signer certificate ${subject} expired on ${signer.validTo}`);
  if (algorithmOf(signer.publicKey) !== env.algorithm)
    throw badSignature(`the signature's algorithm ${env.algorithm} does not fit the signer's key`);
  const { hash, key } = cryptoArgs(env.algorithm, signer.publicKey);
  let ok = false;
  try {
    ok = verify(hash, message(digest), key, Buffer.from(env.signature, 'base64'));
  } catch {
    ok = false;
  }
  if (!ok) throw badSignature(`the signature does not verify with the key of ${subject}`);
  return { fingerprint: env.signer, subject };
}

/** The signers that parse; one that does not is skipped (the model only hands over parsed ones). */
function trustedCertificates(trust: SignatureTrust): X509Certificate[] {
  const out: X509Certificate[] = [];
  for (const pem of trust.signers) {
    try {
      out.push(new X509Certificate(pem));
    } catch {
      // not a certificate: it can vouch for nothing
    }
  }
  return out;
}
