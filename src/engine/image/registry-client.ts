// A client of one registry for one repository, after the OCI distribution spec: GET /v2/<repo>/manifests/<ref>
// and /v2/<repo>/blobs/<digest>, anonymous first, then what a 401's challenge asks (Basic with the
// credentials given, or a Bearer token from the challenge's realm). https unless the registry is on
// loopback or listed as insecure by the operator. Redirects (blob storage) are followed within the
// download limits, never from https to http, and the Authorization header never leaves the registry's
// origin. Every bound of util/download holds: connect, silence, the whole pull.
import type { Dispatcher } from 'undici';
import { trustedCAs } from '../../util/ca-store.js';
import { DEFAULT_DOWNLOAD_LIMITS, type DownloadLimits } from '../../util/download.js';
import { EngineCode, EngineError } from '../errors.js';
import { type ImageReference, registryHost } from './reference.js';
import { basicAuth, parseChallenge, tokenOf, tokenUrl } from './registry-auth.js';

export interface RegistryOptions {
  readonly username?: string | undefined;
  readonly password?: string | undefined;
  readonly limits?: Partial<DownloadLimits> | undefined;
  readonly caFile?: string | undefined;
  readonly signal?: AbortSignal | undefined;
  /** Registries (host or host:port) the operator lets the agent reach over plain http. */
  readonly insecure?: readonly string[] | undefined;
}

/** An answer with a body to read: its media type and length as the server gave them. */
export interface Answer {
  readonly body: AsyncIterable<Buffer>;
  readonly contentType: string | undefined;
  readonly length: number | undefined;
}

const LOOPBACK_NAMES = ['localhost', '::1'];
const isLoopback = (host: string) => LOOPBACK_NAMES.includes(host) || /^127\.\d+\.\d+\.\d+$/.test(host);

/** Whether a registry may be reached over plain http: loopback, or listed by the operator. */
export function plainHttpAllowed(ref: Pick<ImageReference, 'registry'>, insecure: readonly string[] = []): boolean {
  const host = registryHost(ref);
  return isLoopback(host) || insecure.some((i) => i.toLowerCase() === ref.registry.toLowerCase() || i === host);
}

const CERTIFICATE_ERROR = /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|HOSTNAME_MISMATCH|INVALID_CA/;
class Deadline extends Error {}

export class RegistryClient {
  readonly base: URL;
  private authorization: string | undefined;
  private readonly limits: DownloadLimits;
  private readonly stop = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private readonly cancel = () => this.stop.abort();

  private constructor(
    readonly ref: ImageReference,
    private readonly opts: RegistryOptions,
    private readonly dispatcher: Dispatcher,
    private readonly request: typeof import('undici').request,
  ) {
    this.limits = { ...DEFAULT_DOWNLOAD_LIMITS, ...opts.limits };
    const scheme = plainHttpAllowed(ref, opts.insecure) ? 'http' : 'https';
    this.base = new URL(`${scheme}://${ref.registry}/v2/${ref.repository}/`);
    this.timer = setTimeout(() => this.stop.abort(new Deadline()), this.limits.deadlineMs);
    opts.signal?.addEventListener('abort', this.cancel, { once: true });
    if (opts.signal?.aborted) this.cancel();
  }

  static async open(ref: ImageReference, opts: RegistryOptions): Promise<RegistryClient> {
    const { Agent, request } = await import('undici');
    const limits = { ...DEFAULT_DOWNLOAD_LIMITS, ...opts.limits };
    const dispatcher = new Agent({
      connect: { timeout: limits.connectTimeoutMs, ca: trustedCAs(opts.caFile), rejectUnauthorized: true },
      headersTimeout: limits.idleTimeoutMs,
      bodyTimeout: limits.idleTimeoutMs,
    });
    return new RegistryClient(ref, opts, dispatcher, request);
  }

  close(): void {
    clearTimeout(this.timer);
    this.opts.signal?.removeEventListener('abort', this.cancel);
    void this.dispatcher.destroy().catch(() => undefined);
  }

  /** GET of a manifest (by tag or digest) or a blob; the caller reads the body to its end. */
  async get(kind: 'manifests' | 'blobs', reference: string, accept?: string): Promise<Answer> {
    const url = new URL(`${kind}/${reference}`, this.base);
    for (let attempt = 0; ; attempt++) {
      const res = await this.follow(url, accept);
      if (res.statusCode === 200) {
        const length = Number(res.headers['content-length']);
        return {
          body: this.guarded(res.body as AsyncIterable<Buffer>),
          contentType: header(res.headers['content-type']),
          length: Number.isFinite(length) ? length : undefined,
        };
      }
      await res.body.dump().catch(() => undefined);
      if (res.statusCode === 401 && attempt === 0) {
        await this.authenticate(header(res.headers['www-authenticate']));
        continue;
      }
      throw failure(res.statusCode, kind === 'manifests' ? `${this.ref.repository}:${reference}` : reference);
    }
  }

  /** Chooses how to authenticate from a 401's challenge. */
  private async authenticate(wwwAuthenticate: string | undefined): Promise<void> {
    const c = parseChallenge(wwwAuthenticate);
    const { username, password } = this.opts;
    if (c?.scheme === 'basic') {
      if (!username) throw authFault('the registry requires credentials (Username and Password)');
      this.authorization = basicAuth(username, password ?? '');
      return;
    }
    if (c?.scheme !== 'bearer') throw authFault('the registry asks for an authentication scheme not supported');
    const at = tokenUrl(c, `repository:${this.ref.repository}:pull`);
    // The credentials go to the realm the registry named, as every client does; the token (and they) never in
    // clear text to a host that is not on loopback nor listed insecure.
    if (at.protocol !== 'https:' && !plainHttpAllowed({ registry: at.host }, this.opts.insecure))
      throw authFault('the token realm is plain http: tokens and credentials go only over https');
    // A challenge that came over https is the registry's own word, and its realm may be another host (as
    // Docker Hub's is). One that came in clear text may have been rewritten on the way: the credentials then
    // go only to the registry's own host, other realms are asked anonymously.
    const trusted = this.base.protocol === 'https:' || at.host === this.base.host;
    const headers: Record<string, string> = {};
    if (username && trusted) headers.authorization = basicAuth(username, password ?? '');
    const res = await this.send(at, headers);
    if (res.statusCode !== 200) {
      await res.body.dump().catch(() => undefined);
      throw failure(res.statusCode === 404 ? 401 : res.statusCode, 'the token');
    }
    const body = await readAll(this.guarded(res.body as AsyncIterable<Buffer>), 64 * 1024, 'the token answer');
    this.authorization = `Bearer ${tokenOf(body)}`;
  }

  /** A GET that follows redirects; the registry's authorization only to its own origin. */
  private async follow(first: URL, accept: string | undefined): Promise<Dispatcher.ResponseData> {
    let u = first;
    for (let hop = 0; ; hop++) {
      const headers: Record<string, string> = {};
      if (accept) headers.accept = accept;
      if (this.authorization && u.origin === this.base.origin) headers.authorization = this.authorization;
      const res = await this.send(u, headers);
      const location = header(res.headers.location);
      if (res.statusCode < 300 || res.statusCode >= 400 || !location) return res;
      await res.body.dump().catch(() => undefined);
      const next = new URL(location, u);
      if (next.protocol !== 'https:' && next.protocol !== 'http:')
        throw new EngineError(EngineCode.ServerUnreachable, 'the registry redirects to a URL not http(s)', 'protocol');
      if (u.protocol === 'https:' && next.protocol !== 'https:')
        throw new EngineError(EngineCode.ServerUnreachable, 'a redirect from https to http is refused', 'protocol');
      if (hop === this.limits.maxRedirects)
        throw new EngineError(
          EngineCode.ServerUnreachable,
          `more than ${this.limits.maxRedirects} redirects (the limit)`,
          'not-found',
        );
      u = next;
    }
  }

  private async send(u: URL, headers: Record<string, string>): Promise<Dispatcher.ResponseData> {
    try {
      return await this.request(u, { method: 'GET', headers, dispatcher: this.dispatcher, signal: this.stop.signal });
    } catch (e) {
      throw this.asError(e, u, 'unreachable');
    }
  }

  /** A body whose failures (a deadline, a cancel, a dropped connection) are engine errors. */
  private async *guarded(body: AsyncIterable<Buffer>): AsyncIterable<Buffer> {
    try {
      yield* body;
    } catch (e) {
      throw this.asError(e, this.base, 'incomplete');
    }
  }

  private asError(e: unknown, u: URL, stage: 'unreachable' | 'incomplete'): EngineError {
    if (e instanceof EngineError) return e;
    const reason = this.stop.signal.reason;
    if (this.stop.signal.aborted && !(reason instanceof Deadline))
      return new EngineError(EngineCode.Canceled, 'image pull canceled');
    if (reason instanceof Deadline)
      return new EngineError(
        EngineCode.ServerUnreachable,
        `the image pull did not finish within ${this.limits.deadlineMs / 1000} s (the limit)`,
        stage,
      );
    const code = String((e as { code?: unknown })?.code ?? '');
    if (CERTIFICATE_ERROR.test(code))
      return new EngineError(
        EngineCode.ServerInsecure,
        `${u.host} presented a certificate that does not verify (${code})`,
        'insecure',
      );
    const what = code === 'UND_ERR_CONNECT_TIMEOUT' ? 'could not be connected to in time' : 'could not be reached';
    return new EngineError(
      EngineCode.ServerUnreachable,
      stage === 'incomplete' ? `the download from ${u.host} broke off` : `${u.host} ${what}`,
      stage,
      (e as Error)?.message,
    );
  }
}

const header = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);

const authFault = (why: string) =>
  new EngineError(EngineCode.ServerUnreachable, `registry authentication failed: ${why}`, 'auth');

function failure(status: number, what: string): EngineError {
  if (status === 401 || status === 403)
    return authFault(`${what}: HTTP ${status} (wrong or missing Username and Password?)`);
  if (status === 404)
    return new EngineError(EngineCode.ServerUnreachable, `${what} not found in the registry`, 'not-found');
  return new EngineError(EngineCode.ServerUnreachable, `the registry answered HTTP ${status} for ${what}`, 'protocol');
}

/** A whole (small) body, refused past max bytes. */
export async function readAll(body: AsyncIterable<Buffer>, max: number, what: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of body) {
    n += c.length;
    if (n > max) throw new EngineError(EngineCode.ResourcesExceeded, `image refused: ${what} exceeds ${max} bytes`);
    parts.push(c);
  }
  return Buffer.concat(parts);
}
