// Registry authentication as the distribution spec and its token flow define it: a 401 names a
// scheme in WWW-Authenticate. Basic: the InstallDU Username/Password. Bearer: a token is asked of the
// challenge's realm (service and scope as query parameters, the credentials as Basic when there are
// any) and sent as "Authorization: Bearer" to the registry, never elsewhere.
import { EngineCode, EngineError } from '../errors.js';

export interface Challenge {
  readonly scheme: string; // lowercase: 'basic', 'bearer'
  readonly params: Readonly<Record<string, string>>;
}

/** The first challenge of a WWW-Authenticate value (auth-param values quoted or tokens). */
export function parseChallenge(header: string | undefined): Challenge | undefined {
  if (!header) return undefined;
  const m = /^\s*([A-Za-z][A-Za-z0-9._~+/-]*)\s*(.*)$/s.exec(header);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  const re = /\s*([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*))\s*(?:,|$)/gy;
  const rest = m[2]!;
  for (let p = re.exec(rest); p; p = re.exec(rest)) {
    params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]!;
    if (re.lastIndex >= rest.length) break;
  }
  return { scheme: m[1]!.toLowerCase(), params };
}

export const basicAuth = (username: string, password: string): string =>
  `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;

/** The token endpoint's URL for a challenge: its realm with service and scope (ours when it names none). */
export function tokenUrl(c: Challenge, defaultScope: string): URL {
  const realm = c.params.realm;
  if (!realm || !URL.canParse(realm))
    throw new EngineError(EngineCode.ServerUnreachable, 'the registry asked for a token but named no realm', 'auth');
  const u = new URL(realm);
  if (u.protocol !== 'https:' && u.protocol !== 'http:')
    throw new EngineError(EngineCode.ServerUnreachable, 'the token realm is not an http(s) URL', 'protocol');
  if (u.username || u.password)
    throw new EngineError(EngineCode.ServerUnreachable, 'the token realm carries credentials', 'protocol');
  if (c.params.service) u.searchParams.set('service', c.params.service);
  u.searchParams.set('scope', c.params.scope ?? defaultScope);
  return u;
}

/** The token of a token endpoint's JSON answer ("token", or OAuth2's "access_token"). */
export function tokenOf(body: Buffer): string {
  let raw: unknown;
  try {
    raw = JSON.parse(body.toString('utf8'));
  } catch {
    raw = undefined;
  }
  const o = (raw ?? {}) as { token?: unknown; access_token?: unknown };
  const token = typeof o.token === 'string' && o.token ? o.token : o.access_token;
  if (typeof token !== 'string' || !token || !/^[\x21-\x7e]+$/.test(token))
    throw new EngineError(EngineCode.ServerUnreachable, 'the token endpoint gave no usable token', 'auth');
  return token;
}
