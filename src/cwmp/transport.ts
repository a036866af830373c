// One CWMP session's HTTP side, with node:http: a single kept-alive connection to the ACS for the whole
// session, cookies echoed, authentication answered on the same connection (some ACSs tie a Digest
// nonce to the socket), Basic only over TLS, certificates always verified (against the operator's CA
// when one is given). Not undici: loading it and its llhttp WebAssembly parser cost an agent some 10 MB
// of private memory for as long as it runs (docs/footprint.md); Node's own HTTP client is already there.
import { readFileSync } from 'node:fs';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { type Challenge, digestAuthorization, parseAuthHeader } from './digest.js';

export interface AcsTarget {
  readonly url: string;
  readonly username: string;
  readonly password: string;
  readonly timeoutMs: number;
  /** PEM files: a CA to verify the ACS with, and a client certificate + key. */
  readonly ca?: string | undefined;
  readonly cert?: string | undefined;
  readonly key?: string | undefined;
}

export interface AcsReply {
  readonly status: number;
  readonly body: string;
}

export class TransportError extends Error {}

export class AcsConnection {
  // One socket at most, kept alive between the POSTs of a session.
  private readonly agent: HttpAgent;
  private readonly url: URL;
  private readonly cookies = new Map<string, string>();
  private challenge: Challenge | undefined;
  private nc = 0;

  constructor(
    private readonly target: AcsTarget,
    private readonly maxBytes = 4 * 1024 * 1024,
  ) {
    this.url = new URL(target.url);
    const tls =
      this.url.protocol === 'https:'
        ? {
            rejectUnauthorized: true,
            ...(target.ca ? { ca: readFileSync(target.ca) } : {}),
            ...(target.cert ? { cert: readFileSync(target.cert) } : {}),
            ...(target.key ? { key: readFileSync(target.key) } : {}),
          }
        : undefined;
    const keep = { keepAlive: true, maxSockets: 1, maxFreeSockets: 1, timeout: 60_000 };
    this.agent = tls ? new HttpsAgent({ ...keep, ...tls }) : new HttpAgent(keep);
  }

  /** POSTs an envelope (or nothing: the empty POST) and returns the ACS's answer. */
  async post(body: string): Promise<AcsReply> {
    let reply = await this.send(body, this.authorization());
    if (reply.status === 401 && this.target.username) {
      const header = reply.headers['www-authenticate'];
      const challenges = (Array.isArray(header) ? header : header ? [header] : []).map(parseAuthHeader);
      const digest = challenges.find((c) => c.scheme === 'digest');
      const basic = challenges.find((c) => c.scheme === 'basic');
      if (digest) {
        this.challenge = digest;
        this.nc = 0;
      } else if (basic && this.url.protocol === 'https:') this.challenge = basic;
      else
        throw new TransportError(
          basic
            ? 'the ACS asks for Basic authentication over plain HTTP; refused (Basic is sent only over TLS)'
            : 'the ACS asks for an authentication scheme this agent does not speak',
        );
      reply = await this.send(body, this.authorization());
      if (reply.status === 401) throw new TransportError('the ACS refused our credentials (HTTP 401)');
    }
    if (reply.status !== 200 && reply.status !== 204) throw new TransportError(`the ACS answered HTTP ${reply.status}`);
    return { status: reply.status, body: reply.text };
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }

  private authorization(): string | undefined {
    const ch = this.challenge;
    if (!ch) return undefined;
    if (ch.scheme === 'basic')
      return `Basic ${Buffer.from(`${this.target.username}:${this.target.password}`).toString('base64')}`;
    return digestAuthorization(ch, {
      username: this.target.username,
      password: this.target.password,
      method: 'POST',
      uri: this.url.pathname + this.url.search,
      nc: ++this.nc,
    });
  }

  private async send(
    body: string,
    authorization: string | undefined,
  ): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
    const headers: Record<string, string> = {};
    if (body) {
      headers['content-type'] = 'text/xml; charset="utf-8"';
      headers.soapaction = '';
    }
    if (authorization) headers.authorization = authorization;
    if (this.cookies.size) headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await this.request(headers, body).catch((e: Error) => {
      throw new TransportError(`the ACS at ${this.url.origin} could not be reached: ${e.message}`);
    });
    for (const c of ([] as string[]).concat(res.headers['set-cookie'] ?? [])) {
      const m = /^\s*([^=;\s]+)=([^;]*)/.exec(c);
      if (m) {
        if (/;\s*max-age=0\b/i.test(c)) this.cookies.delete(m[1]!);
        else this.cookies.set(m[1]!, m[2]!);
      }
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of res as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > this.maxBytes) {
          res.destroy();
          throw new TransportError(`the ACS sent more than ${this.maxBytes} bytes`);
        }
        chunks.push(chunk);
      }
    } catch (e) {
      if (e instanceof TransportError) throw e;
      throw new TransportError(`the ACS at ${this.url.origin} broke off its answer: ${(e as Error).message}`);
    }
    return { status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') };
  }

  /** The POST, answered once the status and headers are in; the body is read by the caller. An idle socket
   *  (no header, no body byte) for timeoutMs ends the request. */
  private request(headers: Record<string, string>, body: string): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const req = (this.url.protocol === 'https:' ? httpsRequest : httpRequest)(
        this.url,
        {
          method: 'POST',
          agent: this.agent,
          headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
          timeout: this.target.timeoutMs,
        },
        resolve,
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.target.timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }
}
