// A small ACS for tests, written apart from the client it tests: it speaks CWMP over real HTTP on
// loopback, requires Digest authentication and its session cookie, records every envelope the CPE
// sends (for the schema check), answers the CPE's requests (or faults them, like GenieACS does with
// DUStateChangeComplete), and sends the RPCs a test queues, resolving each with the CPE's answer.

import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { Parser, processors } from 'xml2js';
import { validateCaptured } from './xsd.js';

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

export type Node = { [k: string]: Node | Node[] | string | undefined } & { _?: string; $?: Record<string, string> };
export interface Message {
  method: string;
  body: Node;
  raw: string;
  id: string;
  /** For an answer to an RPC of ours: ms from our request written to the CPE's next POST arriving. */
  ms?: number;
}
export interface Inform {
  events: { code: string; key: string }[];
  params: Record<string, string>;
  retryCount: number;
  raw: string;
}

export const list = <T>(x: T | T[] | undefined): T[] => (x === undefined ? [] : Array.isArray(x) ? x : [x]);
export const txt = (x: unknown): string => (typeof x === 'string' ? x : ((x as Node | undefined)?._ ?? ''));

async function parse(raw: string): Promise<Message> {
  const doc = await new Parser({
    explicitArray: false,
    tagNameProcessors: [processors.stripPrefix],
    attrNameProcessors: [processors.stripPrefix],
  }).parseStringPromise(raw);
  const env = doc.Envelope as Node;
  const body = env.Body as Node;
  const method = Object.keys(body).find((k) => k !== '$')!;
  return {
    method,
    body: (typeof body[method] === 'object' ? body[method] : {}) as Node,
    raw,
    id: txt((env.Header as Node | undefined)?.ID),
  };
}

const envelope = (ns: string, id: string, body: string, hold: boolean) =>
  `<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" ` +
  `xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" ` +
  `xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:cwmp="${ns}"><soapenv:Header><cwmp:ID ` +
  `soapenv:mustUnderstand="1">${id}</cwmp:ID>` +
  `${hold ? '<cwmp:HoldRequests soapenv:mustUnderstand="1">1</cwmp:HoldRequests>' : ''}</soapenv:Header>` +
  `<soapenv:Body>${body}</soapenv:Body></soapenv:Envelope>`;

export interface AcsOptions {
  username?: string;
  password?: string;
  /** Ask for Basic instead of Digest. */
  basic?: boolean;
  /** Serve HTTPS with this certificate; with ca, client certificates signed by it are required. */
  tls?: { cert: string; key: string; ca?: string };
  /** The namespace the ACS speaks (default cwmp-1-2). */
  ns?: string;
}

export class TestAcs {
  private server: Server;
  url = '';
  readonly received: string[] = [];
  readonly informs: Inform[] = [];
  readonly requests: Message[] = []; // CPE requests (TransferComplete, DUStateChangeComplete ...)
  /** Answer with HTTP 500 while positive (an ACS that is down). */
  failNext = 0;
  /** Requests answered with HTTP 500 so far. */
  failed = 0;
  /** CPE methods answered with ACS fault 8000 instead of their response. */
  readonly faultMethods = new Set<string>();
  private readonly queue: { body: string; resolve: (m: Message) => void }[] = [];
  private inFlight: { resolve: (m: Message) => void; sentAt: number } | undefined;
  private readonly nonces = new Set<string>();
  private readonly cookies = new Set<string>();
  /** The TCP connections each session (by its cookie) came on, in the order the sessions began. */
  private readonly sockets = new Map<string, Set<object>>();
  private waiters: { pred: () => boolean; resolve: () => void }[] = [];
  sessionsEnded = 0;
  emptyPosts = 0;

  /** While true, every envelope of the ACS carries HoldRequests=1. */
  hold = false;
  /** CPE methods answered with ACS fault 8005 (retry request) instead of their response. */
  readonly retryMethods = new Set<string>();
  /** Namespaces of the envelopes the CPE sent. */
  readonly namespaces: string[] = [];
  /** Every Authorization header the CPE sent. */
  readonly authorizations: string[] = [];
  /** Client certificates' subjects seen (TLS with ca). */
  readonly clientSubjects: string[] = [];
  private readonly ns: string;

  constructor(private readonly opts: AcsOptions = {}) {
    this.ns = opts.ns ?? 'urn:dslforum-org:cwmp-1-2';
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      void this.handle(req, res);
    };
    this.server = opts.tls
      ? createTlsServer(
          {
            cert: readFileSync(opts.tls.cert),
            key: readFileSync(opts.tls.key),
            ...(opts.tls.ca ? { ca: readFileSync(opts.tls.ca), requestCert: true, rejectUnauthorized: true } : {}),
          },
          handler,
        )
      : createServer(handler);
  }

  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url =
      `${this.opts.tls ? 'https' : 'http'}://127.0.0.1:` + `${(this.server.address() as { port: number }).port}/acs`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }

  /** Queues an RPC for the next session; resolves with the CPE's answer (response or Fault). */
  /** How many TCP connections each session used, oldest session first (TR-069 wants one). */
  connectionsPerSession(): number[] {
    return [...this.sockets.values()].map((s) => s.size);
  }

  rpc(body: string): Promise<Message> {
    return new Promise((resolve) => {
      this.queue.push({ body, resolve });
    });
  }

  /** Resolves when pred holds (checked after every message). */
  until(pred: () => boolean, ms = 20_000): Promise<void> {
    if (pred()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const w = {
        pred,
        resolve: () => {
          clearTimeout(t);
          resolve();
        },
      };
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error('ACS: timed out waiting'));
      }, ms);
      this.waiters.push(w);
    });
  }

  private check(): void {
    for (const w of [...this.waiters])
      if (w.pred()) {
        this.waiters = this.waiters.filter((x) => x !== w);
        w.resolve();
      }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const arrived = performance.now();
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    if (this.failNext > 0) {
      this.failNext--;
      this.failed++;
      res.writeHead(500).end();
      this.check();
      return;
    }
    if (req.headers.authorization) this.authorizations.push(req.headers.authorization);
    if (this.opts.username && !this.authorized(req)) {
      const nonce = randomBytes(8).toString('hex');
      this.nonces.add(nonce);
      res
        .writeHead(401, {
          'www-authenticate': this.opts.basic
            ? 'Basic realm="acs"'
            : `Digest realm="acs", qop="auth", nonce="${nonce}", opaque="x"`,
        })
        .end();
      return;
    }
    const peer = (req.socket as { getPeerCertificate?: () => { subject?: { CN?: string } } }).getPeerCertificate?.();
    if (peer?.subject?.CN && !this.clientSubjects.includes(peer.subject.CN)) this.clientSubjects.push(peer.subject.CN);
    let msg: Message | undefined;
    if (raw.trim()) {
      this.received.push(raw);
      msg = await parse(raw);
      const ns = /xmlns:(\w+)="(urn:dslforum-org:cwmp-1-\d)"/.exec(raw);
      if (ns) this.namespaces.push(ns[2]!);
    } else this.emptyPosts++;
    const cookie = /session=([0-9a-f]+)/.exec(req.headers.cookie ?? '')?.[1];
    if (msg?.method === 'Inform') {
      const params: Record<string, string> = {};
      for (const p of list((msg.body.ParameterList as Node).ParameterValueStruct as Node | Node[]))
        params[txt(p.Name)] = txt(p.Value);
      this.informs.push({
        events: list((msg.body.Event as Node).EventStruct as Node | Node[]).map((e) => ({
          code: txt(e.EventCode),
          key: txt(e.CommandKey),
        })),
        params,
        retryCount: Number(txt(msg.body.RetryCount)),
        raw,
      });
      const id = randomBytes(6).toString('hex');
      this.cookies.add(id);
      this.sockets.set(id, new Set([req.socket]));
      res
        .writeHead(200, { 'content-type': 'text/xml', 'set-cookie': `session=${id}; Path=/` })
        .end(this.envelope(msg.id, '<cwmp:InformResponse><MaxEnvelopes>1</MaxEnvelopes></cwmp:InformResponse>'));
      this.check();
      return;
    }
    if (!cookie || !this.cookies.has(cookie)) {
      res.writeHead(400).end('Invalid session');
      return;
    }
    this.sockets.get(cookie)?.add(req.socket);
    if (
      msg &&
      [
        'TransferComplete',
        'DUStateChangeComplete',
        'AutonomousDUStateChangeComplete',
        'AutonomousTransferComplete',
        'GetRPCMethods',
      ].includes(msg.method)
    ) {
      this.requests.push(msg);
      const fault = (code: number, text: string) =>
        `<soapenv:Fault><faultcode>Server</faultcode><faultstring>CWMP ` +
        `fault</faultstring><detail><cwmp:Fault><FaultCode>${code}</FaultCode><FaultString>${text}</FaultString>` +
        `</cwmp:Fault></detail></soapenv:Fault>`;
      const answer = this.faultMethods.has(msg.method)
        ? fault(8000, 'Method not supported')
        : this.retryMethods.has(msg.method)
          ? fault(8005, 'Retry request')
          : `<cwmp:${msg.method}Response/>`;
      res.writeHead(200, { 'content-type': 'text/xml' }).end(this.envelope(msg.id, answer));
      this.check();
      return;
    }
    if (msg && this.inFlight) {
      const f = this.inFlight;
      this.inFlight = undefined;
      f.resolve({ ...msg, ms: arrived - f.sentAt });
    }
    const next = this.queue.shift();
    if (next) {
      const inFlight = { resolve: next.resolve, sentAt: 0 };
      this.inFlight = inFlight;
      res
        .writeHead(200, { 'content-type': 'text/xml' })
        .end(this.envelope(randomBytes(4).toString('hex'), next.body), () => {
          inFlight.sentAt = performance.now();
        });
    } else {
      this.sessionsEnded++;
      res.writeHead(204).end();
    }
    this.check();
  }

  private envelope(id: string, body: string): string {
    return envelope(this.ns, id, body, this.hold);
  }

  private authorized(req: IncomingMessage): boolean {
    const h = req.headers.authorization ?? '';
    if (this.opts.basic)
      return h === `Basic ${Buffer.from(`${this.opts.username}:${this.opts.password}`).toString('base64')}`;
    if (!h.startsWith('Digest ')) return false;
    const p: Record<string, string> = {};
    for (const m of h.slice(7).matchAll(/(\w+)=(?:"([^"]*)"|([^,\s]+))/g)) p[m[1]!] = m[2] ?? m[3]!;
    if (!p.nonce || !this.nonces.has(p.nonce) || p.username !== this.opts.username) return false;
    const ha1 = md5(`${this.opts.username}:acs:${this.opts.password}`);
    const ha2 = md5(`${req.method}:${p.uri}`);
    return p.response === md5(`${ha1}:${p.nonce}:${p.nc}:${p.cnonce}:${p.qop}:${ha2}`);
  }

  /** Asks the CPE for a session the way an ACS does: GET with Digest on its Connection Request URL. */
  static async connectionRequest(url: string, username: string, password: string): Promise<number> {
    const get = (auth?: string) =>
      new Promise<{ status: number; challenge: string }>((resolve, reject) => {
        const r = request(url, { method: 'GET', headers: auth ? { authorization: auth } : {} }, (res) => {
          res.resume();
          resolve({ status: res.statusCode ?? 0, challenge: String(res.headers['www-authenticate'] ?? '') });
        });
        r.on('error', reject);
        r.end();
      });
    const first = await get();
    if (first.status !== 401) return first.status;
    const nonce = /nonce="([^"]+)"/.exec(first.challenge)?.[1] ?? '';
    const realm = /realm="([^"]+)"/.exec(first.challenge)?.[1] ?? '';
    const uri = new URL(url).pathname;
    const cnonce = randomBytes(4).toString('hex');
    const response = md5(
      `${md5(`${username}:${realm}:${password}`)}:${nonce}:00000001:${cnonce}:auth:${md5(`GET:${uri}`)}`,
    );
    return (
      await get(
        `Digest username="${username}", realm="${realm}", nonce="${nonce}", uri="${uri}", qop=auth, nc=00000001, ` +
          `cnonce="${cnonce}", response="${response}"`,
      )
    ).status;
  }

  /** Every envelope the CPE sent, checked against the official CWMP schema (test/cwmp/xsd.ts). */
  async validateAll(): Promise<{ ok: boolean; output: string; skipped?: string }> {
    return validateCaptured(this.received);
  }
}
