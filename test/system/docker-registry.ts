// A real CNCF distribution registry (Debian's docker-registry) on a free loopback port, optionally
// behind htpasswd Basic auth, and a small HTTP front a test puts before it: it counts requests, can
// demand a Bearer token from a token endpoint of its own (the distribution token flow), and can send
// blob GETs to a "storage" origin of its own by redirect, recording what headers arrive there.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, request, type Server } from 'node:http';
import { join } from 'node:path';
import { sleep, stopChild } from '../helpers.js';
import { freePort } from './mosquitto.js';

export class DockerRegistry {
  private proc: ChildProcess | undefined;
  url = '';
  host = '';
  constructor(
    readonly dir: string,
    readonly auth?: { user: string; password: string },
  ) {}

  async start(): Promise<void> {
    const port = await freePort();
    this.host = `127.0.0.1:${port}`;
    this.url = `http://${this.host}`;
    mkdirSync(join(this.dir, 'storage'), { recursive: true });
    let auth = '';
    if (this.auth) {
      const line = execFileSync('htpasswd', ['-Bbn', this.auth.user, this.auth.password]).toString().trim();
      writeFileSync(join(this.dir, 'htpasswd'), `${line}\n`);
      auth = `auth:\n  htpasswd:\n    realm: test\n    path: ${join(this.dir, 'htpasswd')}\n`;
    }
    const conf = join(this.dir, 'config.yml');
    writeFileSync(
      conf,
      `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${join(this.dir, 'storage')}\n` +
        `  delete:\n    enabled: true\nhttp:\n  addr: ${this.host}\n${auth}`,
    );
    this.proc = spawn('docker-registry', ['serve', conf], { stdio: 'ignore' });
    const end = Date.now() + 10_000;
    while (Date.now() < end) {
      const status = await fetch(`${this.url}/v2/`).then(
        (r) => r.status,
        () => 0,
      );
      if (status === 200 || status === 401) return;
      await sleep(50);
    }
    throw new Error('docker-registry did not start');
  }

  basic(): string {
    return `Basic ${Buffer.from(`${this.auth!.user}:${this.auth!.password}`).toString('base64')}`;
  }

  async stop(): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    await stopChild(p);
  }
}

export interface FrontOptions {
  /** Demand "Bearer <token>", given by /token to these Basic credentials (anyone when absent). */
  readonly bearer?: { token: string; basic?: string };
  /** Send blob GETs to a storage origin of the front's own (another port) by a 307. */
  readonly redirectBlobs?: boolean;
  /** The first GET of this blob breaks off halfway (the connection dropped, or the agent killed). */
  readonly cutOnce?: string;
  /** The first GET of this blob trickles (16 KiB every 100 ms): long enough to kill the puller mid-blob. */
  readonly slowOnce?: string;
}

/** What passed through the front. */
export interface Seen {
  readonly method: string;
  readonly path: string;
  readonly authorization: string | undefined;
  readonly at: 'registry' | 'token' | 'storage';
}

export class RegistryFront {
  readonly seen: Seen[] = [];
  private servers: Server[] = [];
  url = '';
  host = '';
  private storageUrl = '';
  private cut = false;

  constructor(
    readonly target: string,
    readonly opts: FrontOptions = {},
  ) {}

  async start(): Promise<void> {
    const front = await this.listen((req, res) => {
      const path = req.url ?? '/';
      if (path.startsWith('/token')) {
        this.seen.push({ method: req.method!, path, authorization: req.headers.authorization, at: 'token' });
        const want = this.opts.bearer?.basic;
        if (want && req.headers.authorization !== want) return res.writeHead(401).end();
        return res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ token: this.opts.bearer!.token }));
      }
      this.seen.push({ method: req.method!, path, authorization: req.headers.authorization, at: 'registry' });
      if (this.opts.bearer && req.headers.authorization !== `Bearer ${this.opts.bearer.token}`) {
        const repo = /^\/v2\/(.+?)\/(?:manifests|blobs)\//.exec(path)?.[1] ?? '';
        const challenge = `Bearer realm="${this.url}/token",service="test-registry"`;
        return res.writeHead(401, { 'www-authenticate': `${challenge},scope="repository:${repo}:pull"` }).end();
      }
      if (this.opts.cutOnce && path.endsWith(`/blobs/${this.opts.cutOnce}`) && !this.cut) {
        this.cut = true;
        return this.forward(req, res, 'cut');
      }
      if (this.opts.slowOnce && path.endsWith(`/blobs/${this.opts.slowOnce}`) && !this.cut) {
        this.cut = true;
        return this.forward(req, res, 'slow');
      }
      if (this.opts.redirectBlobs && /\/blobs\/sha256:/.test(path))
        return res.writeHead(307, { location: `${this.storageUrl}${path}` }).end();
      this.forward(req, res);
    });
    this.url = front.url;
    this.host = front.url.slice('http://'.length);
    if (this.opts.redirectBlobs)
      this.storageUrl = (
        await this.listen((req, res) => {
          this.seen.push({
            method: req.method!,
            path: req.url!,
            authorization: req.headers.authorization,
            at: 'storage',
          });
          this.forward(req, res);
        }, 'localhost')
      ).url;
  }

  /** Registry GETs of blobs (the bytes fetched) that reached the registry or storage. */
  blobGets(): string[] {
    return this.seen
      .filter(
        (s) =>
          s.method === 'GET' && /\/blobs\/sha256:/.test(s.path) && (s.at === 'storage' || !this.opts.redirectBlobs),
      )
      .map((s) => s.path.replace(/^.*\/blobs\//, ''));
  }

  private forward(req: IncomingMessage, res: import('node:http').ServerResponse, how?: 'cut' | 'slow'): void {
    const u = new URL(req.url!, this.target);
    const headers = { ...req.headers, host: u.host };
    delete headers.authorization;
    const out = request(u, { method: req.method, headers }, (up) => {
      res.writeHead(up.statusCode!, up.headers);
      if (how === 'slow') return void trickle(up, res);
      if (how !== 'cut') return up.pipe(res);
      const half = Number(up.headers['content-length']) / 2;
      let sent = 0;
      up.on('data', (c: Buffer) => {
        if (sent < half) res.write(c.subarray(0, Math.max(0, half - sent)));
        sent += c.length;
        if (sent >= half) res.socket?.destroy();
      });
    });
    out.on('error', () => res.writeHead(502).end());
    req.pipe(out);
  }

  private async listen(
    handler: (req: IncomingMessage, res: import('node:http').ServerResponse) => unknown,
    name = '127.0.0.1',
  ): Promise<{ url: string }> {
    const s = createServer((req, res) => void handler(req, res));
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    this.servers.push(s);
    return { url: `http://${name}:${(s.address() as { port: number }).port}` };
  }

  async stop(): Promise<void> {
    for (const s of this.servers) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  }
}

/** Sends a body 16 KiB every 100 ms, until it ends or the client goes. */
async function trickle(up: IncomingMessage, res: import('node:http').ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const c of up) chunks.push(c as Buffer);
  const body = Buffer.concat(chunks);
  for (let off = 0; off < body.length && !res.destroyed; off += 16 * 1024) {
    res.write(body.subarray(off, off + 16 * 1024));
    await sleep(100);
  }
  res.end();
}
