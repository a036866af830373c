// Downloads a file over http or https with undici: https verified against the system's CAs and the
// operator's, optional credentials (Basic, sent only over https or to loopback, and only to the origin
// they were given for: a redirect elsewhere goes without them), a bounded number of redirects, a size
// limit checked while the bytes arrive, progress, and three time bounds that fire whatever the server
// does: connecting (TCP and TLS), silence (no byte for a while) and the whole download. Every layer
// that fetches (the engine's packages, CWMP's Download) uses it and maps DownloadError to its codes.
import { closeSync, openSync, writeSync } from 'node:fs';
import type { Dispatcher } from 'undici';
import { trustedCAs } from './ca-store.js';

/**
 * What went wrong in a file transfer, beyond what USP tells apart (7033, 7034): CWMP does (9012 server
 * authentication, either way: our credentials refused or the server's certificate; 9013 protocol, 9015
 * unreachable, 9016 file not accessible, 9017 incomplete).
 */
export type TransferFailure = 'auth' | 'insecure' | 'protocol' | 'unreachable' | 'not-found' | 'incomplete';

/**
 * The class of a failure, which each caller maps to its own code: the request can not be made as given
 * (a bad URL, credentials over http), the server can not be reached or would not serve the file, its
 * certificate does not verify, the file is larger than allowed, it arrived short, or the caller canceled.
 */
export type DownloadFailure = 'bad-request' | 'unreachable' | 'insecure' | 'too-large' | 'truncated' | 'canceled';

export class DownloadError extends Error {
  constructor(
    readonly failure: DownloadFailure,
    message: string,
    readonly transfer?: TransferFailure,
  ) {
    super(message);
    this.name = 'DownloadError';
  }
}

export interface DownloadLimits {
  /** TCP connect and TLS handshake, per server (each redirect connects anew). */
  readonly connectTimeoutMs: number;
  /** How long a server may send nothing: before its answer's headers, or between two parts of its body. */
  readonly idleTimeoutMs: number;
  /** The whole download, redirects included. */
  readonly deadlineMs: number;
  readonly maxRedirects: number;
}

/** For a device: a server across a slow uplink connects in 30 s, never stays silent for a minute,
 *  and a file large enough to need more than 30 minutes is not one a device should take. */
export const DEFAULT_DOWNLOAD_LIMITS: DownloadLimits = {
  connectTimeoutMs: 30_000,
  idleTimeoutMs: 60_000,
  deadlineMs: 30 * 60_000,
  maxRedirects: 5,
};

export interface DownloadOptions {
  readonly username?: string | undefined;
  readonly password?: string | undefined;
  readonly maxBytes: number;
  readonly limits?: Partial<DownloadLimits> | undefined;
  /** A CA (PEM file) trusted for https besides the system's: the operator's. */
  readonly caFile?: string | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly progress?: ((received: number, total: number | undefined) => void) | undefined;
}

const LOOPBACK = ['127.0.0.1', 'localhost', '[::1]'];
/** OpenSSL's and Node's names for a certificate that does not verify. */
const CERTIFICATE_ERROR =
  /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY|DECRYPT)|HOSTNAME_MISMATCH|INVALID_CA|PATH_LENGTH_EXCEEDED|INVALID_PURPOSE/;

/** Fetches url (http or https) into dest; returns the number of bytes written. */
export async function download(url: string, dest: string, opts: DownloadOptions): Promise<number> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new DownloadError('bad-request', `'${url}' is not a URL`);
  }
  if (u.username || u.password)
    throw new DownloadError('bad-request', 'the URL must not carry credentials (use Username and Password)');
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new DownloadError('bad-request', `unsupported URL scheme ${u.protocol} (http and https are)`, 'protocol');
  const limits = { ...DEFAULT_DOWNLOAD_LIMITS, ...opts.limits };
  // undici (~8 MB resident) only from the first download on: an idle agent need not carry it.
  const { Agent, request } = await import('undici');
  // A dispatcher of its own: its timeouts are this download's, and closing it leaves no socket behind.
  const dispatcher = new Agent({
    connect: { timeout: limits.connectTimeoutMs, ca: trustedCAs(opts.caFile), rejectUnauthorized: true },
    headersTimeout: limits.idleTimeoutMs,
    bodyTimeout: limits.idleTimeoutMs,
  });
  // The deadline is a timer held here until the download ends: a signal made by AbortSignal.timeout()
  // or .any() can be garbage-collected on Node 20 while undici still waits on it, and then never fires.
  const stop = new AbortController();
  const deadline = setTimeout(() => stop.abort(new Deadline()), limits.deadlineMs);
  const cancel = () => stop.abort(new Canceled());
  opts.signal?.addEventListener('abort', cancel, { once: true });
  if (opts.signal?.aborted) cancel();
  try {
    return await fetchTo(u, dest, opts, limits, (at, headers) =>
      request(at, { method: 'GET', headers, dispatcher, signal: stop.signal }),
    );
  } catch (e) {
    throw asDownloadError(e, stop.signal, limits);
  } finally {
    clearTimeout(deadline);
    opts.signal?.removeEventListener('abort', cancel);
    void dispatcher.destroy().catch(() => undefined);
  }
}

class Deadline extends Error {}
class Canceled extends Error {}
/** Where a download failed: before the server's answer, or while its body arrived. */
class Failed extends Error {
  constructor(
    readonly stage: 'answer' | 'body',
    readonly href: string,
    readonly error: unknown,
  ) {
    super((error as Error)?.message ?? String(error));
  }
}

type Get = (url: URL, headers: Record<string, string>) => Promise<Dispatcher.ResponseData>;

async function fetchTo(
  first: URL,
  dest: string,
  opts: DownloadOptions,
  limits: DownloadLimits,
  get: Get,
): Promise<number> {
  const credentials = opts.username
    ? `Basic ${Buffer.from(`${opts.username}:${opts.password ?? ''}`).toString('base64')}`
    : undefined;
  let u = first;
  for (let hop = 0; ; hop++) {
    const headers: Record<string, string> = {};
    // Credentials are for the server they were given with: a redirect to another origin (scheme, host, port) goes
    // without.
    if (credentials && u.origin === first.origin) {
      if (u.protocol !== 'https:' && !LOOPBACK.includes(u.hostname))
        throw new DownloadError('bad-request', 'credentials are sent only over https');
      headers.authorization = credentials;
    }
    const res = await get(u, headers).catch((e: unknown) => {
      throw new Failed('answer', u.href, e);
    });
    if (res.statusCode >= 300 && res.statusCode < 400 && res.headers.location) {
      await res.body.dump().catch(() => undefined);
      const next = new URL(String(res.headers.location), u);
      if (next.protocol !== 'http:' && next.protocol !== 'https:')
        throw new DownloadError(
          'unreachable',
          `${u.href} redirects to a ${next.protocol} URL; only http and https are followed`,
          'protocol',
        );
      if (u.protocol === 'https:' && next.protocol !== 'https:')
        throw new DownloadError('unreachable', 'a redirect from https to http is refused', 'protocol');
      if (hop === limits.maxRedirects)
        throw new DownloadError(
          'unreachable',
          `${first.href}: more than ${limits.maxRedirects} redirects (the limit); the last led to ${next.href}`,
          'not-found',
        );
      u = next;
      continue;
    }
    if (res.statusCode === 401 || res.statusCode === 403) {
      await res.body.dump().catch(() => undefined);
      throw new DownloadError('unreachable', `${u.href}: authentication failed (HTTP ${res.statusCode})`, 'auth');
    }
    if (res.statusCode !== 200) {
      await res.body.dump().catch(() => undefined);
      throw new DownloadError('unreachable', `${u.href}: HTTP ${res.statusCode}`, 'not-found');
    }
    const lenHeader = Number(res.headers['content-length']);
    const total = Number.isFinite(lenHeader) ? lenHeader : undefined;
    if (total !== undefined && total > opts.maxBytes) {
      // undici reports a body destroyed unread as an 'error' event: unheard, it would end the process.
      res.body.on('error', () => undefined).destroy();
      throw new DownloadError('too-large', `package of ${total} bytes exceeds the ${opts.maxBytes} byte limit`);
    }
    // Chunks go straight to the file with writeSync (page cache, 64 KiB at a time): a third faster
    // than a stream pipeline, which the install benchmark measures against curl.
    let received = 0;
    const fd = openSync(dest, 'w', 0o600);
    try {
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        received += chunk.length;
        if (received > opts.maxBytes) {
          res.body.destroy();
          throw new DownloadError('too-large', `package exceeds the ${opts.maxBytes} byte limit`);
        }
        writeSync(fd, chunk);
        opts.progress?.(received, total);
      }
    } catch (e) {
      if (e instanceof DownloadError) throw e;
      throw new Failed('body', u.href, e);
    } finally {
      closeSync(fd);
    }
    if (total !== undefined && received !== total)
      throw new DownloadError(
        'truncated',
        `download of ${u.href} ended after ${received} of ${total} bytes`,
        'incomplete',
      );
    return received;
  }
}

/** A failure as callers see it: each time bound, a certificate refused and a cancel by name. */
function asDownloadError(e: unknown, signal: AbortSignal, limits: DownloadLimits): DownloadError {
  if (e instanceof DownloadError) return e;
  if (signal.reason instanceof Canceled) return new DownloadError('canceled', 'download canceled');
  if (!(e instanceof Failed))
    return new DownloadError('unreachable', (e as Error)?.message ?? String(e), 'unreachable');
  const seconds = (ms: number) => `${ms / 1000} s`;
  const stage: TransferFailure = e.stage === 'body' ? 'incomplete' : 'unreachable';
  if (signal.reason instanceof Deadline)
    return new DownloadError(
      'unreachable',
      `download of ${e.href} did not finish within ${seconds(limits.deadlineMs)} (the limit)`,
      stage,
    );
  const code = String((e.error as { code?: unknown })?.code ?? '');
  if (code === 'UND_ERR_CONNECT_TIMEOUT')
    return new DownloadError(
      'unreachable',
      `${new URL(e.href).host} could not be connected to within ${seconds(limits.connectTimeoutMs)} (the limit)`,
      'unreachable',
    );
  if (code === 'UND_ERR_HEADERS_TIMEOUT')
    return new DownloadError(
      'unreachable',
      `${e.href} sent no answer for ${seconds(limits.idleTimeoutMs)} (the limit)`,
      'unreachable',
    );
  if (code === 'UND_ERR_BODY_TIMEOUT')
    return new DownloadError(
      'unreachable',
      `${e.href} sent nothing for ${seconds(limits.idleTimeoutMs)} (the limit) in the middle of the download`,
      'incomplete',
    );
  if (CERTIFICATE_ERROR.test(code))
    return new DownloadError(
      'insecure',
      `${new URL(e.href).host} presented a certificate that does not verify (${code}): ${e.message}`,
      'insecure',
    );
  if (e.stage === 'body')
    return new DownloadError('unreachable', `download of ${e.href} failed: ${e.message}`, 'incomplete');
  return new DownloadError(
    'unreachable',
    `${new URL(e.href).origin} could not be reached: ${e.message}`,
    'unreachable',
  );
}
