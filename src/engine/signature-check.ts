// The signature policy of an install or update, applied once the package is fetched and before it is
// unpacked: its Signature (a data: URL, or an http(s) URL fetched with the package download's bounds
// and a small size limit) is verified over the SHA-256 of the bytes fetched (package/signature.ts).

import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { anyAbort } from '../util/any-abort.js';
import { EngineCode, EngineError } from './errors.js';
import { fetchPackage } from './fetch.js';
import type { ImageRecord } from './image/image-record.js';
import { MAX_SIGNATURE_BYTES, type VerifiedSigner, verifyDetachedSignature } from './package/signature.js';
import type { DownloadContext } from './staging.js';
import type { InstallRequest } from './types.js';

type SignedRequest = Pick<InstallRequest, 'signature' | 'trust' | 'signal'>;

/**
 * Refuses what was fetched unless the request's signature policy holds (see checkDigestSignature): a
 * package (the file at a path) is signed over its SHA-256, an OCI image over its manifest digest, so one
 * signature serves the image whether it comes from a registry or from an oci-archive.
 */
export function checkSignature(
  c: DownloadContext,
  req: SignedRequest,
  fetched: string | ImageRecord,
  staging: string,
): Promise<VerifiedSigner | undefined> {
  const digest =
    typeof fetched === 'string'
      ? () => sha256File(fetched)
      : () => Buffer.from(fetched.manifestDigest.replace(/^sha256:/, ''), 'hex');
  return checkDigestSignature(c, req, digest, staging);
}

/**
 * The signature policy of an OCI image, for the pull to apply to its manifest digest before it fetches
 * the config and layers: an image the EE would refuse is never unpacked.
 */
export function imageSignatureCheck(
  c: DownloadContext,
  req: SignedRequest,
  staging: string,
): (manifestDigest: string) => Promise<VerifiedSigner | undefined> {
  return (manifestDigest) =>
    checkDigestSignature(c, req, () => Buffer.from(manifestDigest.replace(/^sha256:/, ''), 'hex'), staging);
}

/**
 * Refuses what `digest` names (a package's SHA-256, an OCI image's manifest digest; computed only when
 * a signature is given) unless the request's signature policy holds; returns the signer when it was
 * signed. No trust (the engine driven without a model): a signature given is still checked, and can
 * only fail, as nobody is trusted.
 */
export async function checkDigestSignature(
  c: DownloadContext,
  req: SignedRequest,
  digest: () => Promise<Buffer> | Buffer,
  staging: string,
): Promise<VerifiedSigner | undefined> {
  const trust = req.trust ?? { required: false, signers: [] };
  if (!req.signature) {
    if (trust.required)
      throw new EngineError(EngineCode.BadSignature, 'the execution environment requires signed DUs; none was given');
    return undefined;
  }
  const signature = await fetchSignature(c, req, join(staging, 'signature'));
  return verifyDetachedSignature(await digest(), signature, trust, new Date());
}

export async function sha256File(file: string): Promise<Buffer> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest();
}

/** The signature's bytes: decoded from a data: URL, or downloaded (no credentials, small limit). */
async function fetchSignature(c: DownloadContext, req: SignedRequest, dest: string): Promise<Buffer> {
  const url = req.signature!;
  if (url.startsWith('data:')) return decodeDataUrl(url);
  const u = URL.canParse(url) ? new URL(url) : undefined;
  if (!u || !['http:', 'https:'].includes(u.protocol))
    throw new EngineError(EngineCode.InvalidArguments, 'Signature must be an http, https or data: URL');
  if (u.username || u.password)
    throw new EngineError(EngineCode.InvalidArguments, 'the Signature URL must not carry credentials (userinfo)');
  const stop = anyAbort([req.signal, c.detached]);
  try {
    await fetchPackage(url, dest, {
      maxBytes: MAX_SIGNATURE_BYTES,
      limits: c.opts.download,
      caFile: c.opts.caFile,
      signal: stop.signal,
    });
  } catch (e) {
    if (e instanceof EngineError && e.code === EngineCode.ResourcesExceeded)
      throw new EngineError(EngineCode.BadSignature, `the signature is larger than ${MAX_SIGNATURE_BYTES} bytes`);
    throw e;
  } finally {
    stop.release();
  }
  return readFileSync(dest);
}

/** RFC 2397: data:[<mediatype>][;base64],<data>. */
export function decodeDataUrl(url: string): Buffer {
  const comma = url.indexOf(',');
  if (comma < 0) throw new EngineError(EngineCode.InvalidArguments, 'the Signature data: URL has no data');
  const meta = url.slice(5, comma);
  const data = url.slice(comma + 1);
  if (/;base64$/i.test(meta)) return Buffer.from(decodeURIComponent(data), 'base64');
  try {
    return Buffer.from(decodeURIComponent(data), 'utf8');
  } catch {
    throw new EngineError(EngineCode.InvalidArguments, 'the Signature data: URL is not correctly percent-encoded');
  }
}
