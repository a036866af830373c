// The detached signature format (src/engine/package/signature.ts) and the policy an install applies
// (src/engine/signature-check.ts): what verifies, and each way a signature is refused with its reason.
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { EngineCode, EngineError } from '../../src/engine/errors.js';
import {
  MAX_SIGNATURE_BYTES,
  type SignatureTrust,
  signDigest,
  verifyDetachedSignature,
} from '../../src/engine/package/signature.js';
import { checkSignature, decodeDataUrl } from '../../src/engine/signature-check.js';
import type { DownloadContext } from '../../src/engine/staging.js';
import { requireTool, tempDir } from '../helpers.js';
import { serveFiles } from '../http-files.js';
import { makeSigner, type Signer } from '../signing-certs.js';

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest();
const PACKAGE = Buffer.from('the bytes of a package');
const trustOf = (...signers: Signer[]): SignatureTrust => ({ required: true, signers: signers.map((s) => s.cert) });

/** Asserts a bad-signature refusal whose message matches. */
function refused(f: () => unknown, why: RegExp): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof EngineError, String(e));
    assert.equal(e.code, EngineCode.BadSignature);
    assert.match(e.message, why);
    return true;
  });
}

function signers(t: { skip(m: string): void }) {
  if (!requireTool(t, 'openssl')) return undefined;
  const { dir, cleanup } = tempDir('cpe-sig-');
  return {
    dir,
    cleanup,
    ec: makeSigner(dir, 'ec-signer', 'ec'),
    rsa: makeSigner(dir, 'rsa-signer', 'rsa'),
    ed: makeSigner(dir, 'ed-signer', 'ed25519'),
  };
}

test('a signature by each key type verifies, and names its signer', (t) => {
  const s = signers(t);
  if (!s) return;
  try {
    for (const who of [s.ec, s.rsa, s.ed]) {
      const sig = Buffer.from(signDigest(sha(PACKAGE), who.key, who.cert));
      const env = JSON.parse(sig.toString()) as Record<string, string>;
      assert.equal(env.format, 'cpe-agent-signature/1');
      assert.equal(env.digest, `sha256:${sha(PACKAGE).toString('hex')}`);
      const got = verifyDetachedSignature(sha(PACKAGE), sig, trustOf(s.ec, s.rsa, s.ed), new Date());
      assert.equal(got.fingerprint, sha(new X509Certificate(who.cert).raw).toString('hex'));
      assert.match(got.subject, /CN=\w+-signer/);
    }
    assert.deepEqual(
      ['ec', 'rsa', 'ed'].map(
        (k) =>
          (JSON.parse(signDigest(sha(PACKAGE), s[k as 'ec'].key, s[k as 'ec'].cert)) as { algorithm: string })
            .algorithm,
      ),
      ['ecdsa-sha256', 'rsa-pss-sha256', 'ed25519'],
    );
    assert.throws(() => signDigest(sha(PACKAGE), s.ec.key, s.rsa.cert), /does not belong/);
  } finally {
    s.cleanup();
  }
});

test('tampered package, unknown signer, expired and not yet valid signer, forged bytes: refused', (t) => {
  const s = signers(t);
  if (!s) return;
  try {
    const sig = Buffer.from(signDigest(sha(PACKAGE), s.ec.key, s.ec.cert));
    const now = new Date();
    refused(() => verifyDetachedSignature(sha('another package'), sig, trustOf(s.ec), now), /tampered/);
    refused(() => verifyDetachedSignature(sha(PACKAGE), sig, trustOf(s.rsa, s.ed), now), /not one of the EE's Signers/);
    refused(() => verifyDetachedSignature(sha(PACKAGE), sig, { required: false, signers: [] }, now), /not one of/);
    const day = 24 * 3600 * 1000;
    refused(
      () => verifyDetachedSignature(sha(PACKAGE), sig, trustOf(s.ec), new Date(now.getTime() + 3 * day)),
      /expired/,
    );
    refused(
      () => verifyDetachedSignature(sha(PACKAGE), sig, trustOf(s.ec), new Date(now.getTime() - day)),
      /not valid before/,
    );
    // Another key's signature under this signer's fingerprint
    const env = JSON.parse(sig.toString()) as Record<string, string>;
    const other = JSON.parse(signDigest(sha(PACKAGE), s.ed.key, s.ed.cert)) as Record<string, string>;
    const forged = (o: Record<string, string>) => Buffer.from(JSON.stringify({ ...env, ...o }));
    refused(
      () => verifyDetachedSignature(sha(PACKAGE), forged({ signature: other.signature! }), trustOf(s.ec), now),
      /does not verify/,
    );
    refused(
      () => verifyDetachedSignature(sha(PACKAGE), forged({ algorithm: 'ed25519' }), trustOf(s.ec), now),
      /does not fit/,
    );
    const flipped = Buffer.from(env.signature!, 'base64');
    flipped[10]! ^= 1;
    refused(
      () =>
        verifyDetachedSignature(sha(PACKAGE), forged({ signature: flipped.toString('base64') }), trustOf(s.ec), now),
      /does not verify/,
    );
  } finally {
    s.cleanup();
  }
});

test('malformed and oversized envelopes are bad signatures', () => {
  const trust = { required: true, signers: [] };
  const digest = sha(PACKAGE);
  const good = {
    format: 'cpe-agent-signature/1',
    digest: `sha256:${digest.toString('hex')}`,
    algorithm: 'ed25519',
    signer: 'a'.repeat(64),
    signature: 'AAAA',
  };
  const bad = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));
  refused(() => verifyDetachedSignature(digest, bad('not json'), trust, new Date()), /not JSON/);
  refused(() => verifyDetachedSignature(digest, bad('null'), trust, new Date()), /not a cpe-agent-signature/);
  refused(() => verifyDetachedSignature(digest, bad({ ...good, format: 'gpg' }), trust, new Date()), /envelope/);
  refused(() => verifyDetachedSignature(digest, bad({ ...good, digest: 'md5:00' }), trust, new Date()), /'digest'/);
  refused(() => verifyDetachedSignature(digest, bad({ ...good, algorithm: 'dsa' }), trust, new Date()), /'algorithm'/);
  refused(() => verifyDetachedSignature(digest, bad({ ...good, signer: 42 }), trust, new Date()), /'signer'/);
  refused(() => verifyDetachedSignature(digest, bad({ ...good, signature: '%%' }), trust, new Date()), /'signature'/);
  const huge = bad({ ...good, pad: 'x'.repeat(MAX_SIGNATURE_BYTES) });
  refused(() => verifyDetachedSignature(digest, huge, trust, new Date()), /more than the 16384 allowed/);
});

test('data: URLs decode as RFC 2397 says', () => {
  assert.equal(decodeDataUrl('data:application/json;base64,aGVsbG8=').toString(), 'hello');
  assert.equal(decodeDataUrl('data:,hello%20world').toString(), 'hello world');
  assert.throws(() => decodeDataUrl('data:nocomma'), /no data/);
});

const POLICY = 'the install policy: unsigned where required, userinfo, oversized download, a good signature over HTTP';
test(POLICY, async (t) => {
  const s = signers(t);
  if (!s) return;
  const sig = Buffer.from(signDigest(sha(PACKAGE), s.ed.key, s.ed.cert));
  const http = await serveFiles({ 'p.sig': sig, 'big.sig': Buffer.alloc(MAX_SIGNATURE_BYTES + 1, 0x20) });
  const c: DownloadContext = {
    opts: { stateDir: s.dir, logger: undefined as never },
    detached: new AbortController().signal,
    fileUrlDirectory: '',
  };
  const pkg = join(s.dir, 'package');
  writeFileSync(pkg, PACKAGE);
  const check = (signature: string | undefined, trust?: SignatureTrust) =>
    checkSignature(c, { ...(signature ? { signature } : {}), ...(trust ? { trust } : {}) }, pkg, s.dir);
  const code = async (p: Promise<unknown>, kind: string, why: RegExp) =>
    assert.rejects(p, (e: unknown) => e instanceof EngineError && e.code === kind && why.test(e.message));
  try {
    assert.equal(await check(undefined), undefined, 'no policy, no signature: accepted');
    assert.equal(await check(undefined, { required: false, signers: [s.ed.cert] }), undefined);
    await code(check(undefined, trustOf(s.ed)), EngineCode.BadSignature, /requires signed DUs/);
    assert.match((await check(http.url('p.sig'), trustOf(s.ed)))!.subject, /ed-signer/);
    const dataUrl = `data:application/json;base64,${sig.toString('base64')}`;
    assert.match((await check(dataUrl, { required: false, signers: [s.ed.cert] }))!.subject, /ed-signer/);
    await code(check(dataUrl, trustOf(s.ec)), EngineCode.BadSignature, /not one of/);
    await code(check(dataUrl), EngineCode.BadSignature, /not one of/);
    const withUser = http.url('p.sig').replace('http://', 'http://user:pw@');
    await code(check(withUser, trustOf(s.ed)), EngineCode.InvalidArguments, /userinfo/);
    await code(check(http.url('big.sig'), trustOf(s.ed)), EngineCode.BadSignature, /larger than 16384/);
    await code(check('ftp://x/y.sig', trustOf(s.ed)), EngineCode.InvalidArguments, /http, https or data/);
  } finally {
    await http.close();
    s.cleanup();
  }
});
