// One CWMP session's HTTP side, with undici: a single kept-alive connection to the ACS for the whole
// session, cookies echoed, authentication answered on the same connection (some ACSs tie a Digest
// nonce to the socket), Basic only over TLS, certificates always verified (against the operator's CA
// when one is given).
import { readFileSync } from 'node:fs';
import { Client } from 'undici';
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
  private readonly client: Client;
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
    this.client = new Client(this.url.origin, {
      pipelining: 1,
      keepAliveTimeout: 60_000,
      headersTimeout: target.timeoutMs,
      bodyTimeout: target.timeoutMs,
      ...(tls ? { connect: tls } : {}),
    });
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
    await this.client.close().catch(() => undefined);
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
    const res = await this.client
      .request({ path: this.url.pathname + this.url.search, method: 'POST', headers, body })
      .catch((e: Error) => {
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
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > this.maxBytes) {
        res.body.destroy();
        throw new TransportError(`the ACS sent more than ${this.maxBytes} bytes`);
      }
      chunks.push(chunk);
    }
    return { status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') };
  }
}
