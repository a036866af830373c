// HTTP Digest authentication (RFC 7616, qop=auth, MD5 or SHA-256) in both directions: the client
// answers an ACS's challenge; the Connection Request server challenges the ACS and checks its answer
// against nonces it issued itself (unknown, expired or replayed nonce counts are refused).
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export interface Challenge {
  readonly scheme: string;
  readonly params: Readonly<Record<string, string>>;
}

/** Parses `Digest realm="x", nonce="y", qop="auth"` (quoted or token values). */
export function parseAuthHeader(h: string): Challenge {
  const m = /^\s*(\S+)\s*(.*)$/s.exec(h);
  const params: Record<string, string> = {};
  const re = /([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g;
  for (let x = re.exec(m?.[2] ?? ''); x; x = re.exec(m?.[2] ?? ''))
    params[x[1]!.toLowerCase()] = x[2] !== undefined ? x[2].replace(/\\(.)/g, '$1') : x[3]!;
  return { scheme: (m?.[1] ?? '').toLowerCase(), params };
}

const hashOf = (algorithm: string | undefined) => (/^SHA-256/i.test(algorithm ?? '') ? 'sha256' : 'md5');
const h = (alg: string, s: string) => createHash(alg).update(s).digest('hex');

/** The Authorization header answering a Digest challenge for one request. */
export function digestAuthorization(
  ch: Challenge,
  c: { username: string; password: string; method: string; uri: string; nc: number },
): string {
  const alg = hashOf(ch.params.algorithm);
  const realm = ch.params.realm ?? '';
  const nonce = ch.params.nonce ?? '';
  const qop = (ch.params.qop ?? '')
    .split(',')
    .map((q) => q.trim())
    .includes('auth')
    ? 'auth'
    : undefined;
  const cnonce = randomBytes(8).toString('hex');
  const nc = c.nc.toString(16).padStart(8, '0');
  const ha1 = h(alg, `${c.username}:${realm}:${c.password}`);
  const ha2 = h(alg, `${c.method}:${c.uri}`);
  const response = qop ? h(alg, `${ha1}:${nonce}:${nc}:${cnonce}:${qop}:${ha2}`) : h(alg, `${ha1}:${nonce}:${ha2}`);
  const q = (s: string) => s.replace(/(["\\])/g, '\\$1');
  return (
    `Digest username="${q(c.username)}", realm="${q(realm)}", nonce="${q(nonce)}", uri="${q(c.uri)}", ` +
    `response="${response}"` +
    `${ch.params.algorithm ? `, algorithm=${ch.params.algorithm}` : ''}` +
    `${ch.params.opaque !== undefined ? `, opaque="${q(ch.params.opaque)}"` : ''}` +
    `${qop ? `, qop=${qop}, nc=${nc}, cnonce="${cnonce}"` : ''}`
  );
}

/** The server side: issues nonces, checks answers. */
export class DigestServer {
  private readonly nonces = new Map<string, { issued: number; nc: number }>();
  constructor(
    readonly realm: string,
    private readonly lifetimeMs = 5 * 60_000,
    private readonly maxNonces = 1000,
  ) {}

  challenge(): string {
    const now = Date.now();
    for (const [n, v] of this.nonces) if (now - v.issued > this.lifetimeMs) this.nonces.delete(n);
    while (this.nonces.size >= this.maxNonces) this.nonces.delete(this.nonces.keys().next().value!);
    const nonce = randomBytes(16).toString('hex');
    this.nonces.set(nonce, { issued: now, nc: 0 });
    return `Digest realm="${this.realm}", qop="auth", nonce="${nonce}", algorithm=MD5`;
  }

  /** True when the header proves the password, for a nonce we issued, with a fresh nonce count. */
  verify(header: string | undefined, method: string, uri: string, username: string, password: string): boolean {
    if (!header) return false;
    const a = parseAuthHeader(header);
    if (a.scheme !== 'digest') return false;
    const p = a.params;
    const state = p.nonce ? this.nonces.get(p.nonce) : undefined;
    if (!state || Date.now() - state.issued > this.lifetimeMs) return false;
    if (p.username !== username || p.realm !== this.realm || p.uri !== uri) return false;
    const alg = hashOf(p.algorithm);
    const ha1 = h(alg, `${username}:${this.realm}:${password}`);
    const ha2 = h(alg, `${method}:${uri}`);
    let expected: string;
    if (p.qop === 'auth') {
      const nc = parseInt(p.nc ?? '', 16);
      if (!Number.isFinite(nc) || nc <= state.nc || !p.cnonce) return false;
      expected = h(alg, `${ha1}:${p.nonce}:${p.nc}:${p.cnonce}:auth:${ha2}`);
      if (!same(expected, p.response ?? '')) return false;
      state.nc = nc;
      return true;
    }
    return false; // qop=auth is what we offer; the RFC 2069 form without it is not accepted
  }
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a),
    y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
