// The Connection Request server: an ACS asks for a session with an HTTP GET on a random path,
// authenticated with Digest (ConnectionRequestUsername / Password). A good request gets 200 and one
// session, however many arrive while it is pending; too many in a minute get 503; a wrong path,
// method or credential gets 404 / 405 / 401 and starts nothing. Guessing is slowed down: an address
// that sent wrong credentials 10 times in a minute (all addresses together: 100) gets 503 until the
// minute has passed, right password or not, so a password can't be tried faster than that.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DigestServer } from './digest.js';

export interface ConnectionRequestOptions {
  readonly host: string;
  readonly port: number;
  readonly path: string;
  readonly credentials: () => { username: string; password: string };
  readonly onRequest: () => void;
  /** Accepted requests per minute before 503 (the ACS is asked to wait). */
  readonly perMinute?: number;
}

const MINUTE = 60_000;
const FAILURES_PER_ADDRESS = 10;
const FAILURES_IN_ALL = 100;
/** Addresses remembered at most: a flood of spoofed-looking sources can't grow the table forever. */
const ADDRESSES = 1000;

export class ConnectionRequestServer {
  private readonly server: Server;
  private readonly digest = new DigestServer('cpe-agent');
  private accepted: number[] = [];
  /** Times of failed authentications (a wrong answer, not the first unauthenticated try) per address. */
  private readonly failures = new Map<string, number[]>();

  constructor(private readonly opts: ConnectionRequestOptions) {
    // A client that sends its request slowly (or never finishes it) holds a socket for 10 s at most:
    // Node checks those timeouts every connectionsCheckingInterval, 30 s unless told otherwise.
    this.server = createServer(
      { headersTimeout: 10_000, requestTimeout: 10_000, connectionsCheckingInterval: 1000 },
      (req, res) => {
        req.resume();
        const url = req.url ?? '';
        if (url.split('?')[0] !== opts.path) {
          res.writeHead(404).end();
          return;
        }
        if (req.method !== 'GET' && req.method !== 'HEAD') {
          res.writeHead(405, { allow: 'GET' }).end();
          return;
        }
        const now = Date.now();
        const from = req.socket.remoteAddress ?? '';
        if (this.lockedOut(from, now)) {
          res.writeHead(503, { 'retry-after': '60', 'content-length': '0' }).end();
          return;
        }
        const { username, password } = opts.credentials();
        if (username && !this.digest.verify(req.headers.authorization, req.method, url, username, password)) {
          if (req.headers.authorization) this.failed(from, now);
          res.writeHead(401, { 'www-authenticate': this.digest.challenge(), 'content-length': '0' }).end();
          return;
        }
        this.accepted = this.accepted.filter((t) => now - t < 60_000);
        if (this.accepted.length >= (opts.perMinute ?? 30)) {
          res.writeHead(503, { 'retry-after': '60', 'content-length': '0' }).end();
          return;
        }
        this.accepted.push(now);
        res.writeHead(200, { 'content-length': '0' }).end();
        opts.onRequest();
      },
    );
  }

  private lockedOut(from: string, now: number): boolean {
    let all = 0;
    for (const [addr, times] of this.failures) {
      const recent = times.filter((t) => now - t < MINUTE);
      if (recent.length) this.failures.set(addr, recent);
      else this.failures.delete(addr);
      all += recent.length;
    }
    return all >= FAILURES_IN_ALL || (this.failures.get(from)?.length ?? 0) >= FAILURES_PER_ADDRESS;
  }

  private failed(from: string, now: number): void {
    if (!this.failures.has(from) && this.failures.size >= ADDRESSES)
      this.failures.delete(this.failures.keys().next().value!);
    const times = this.failures.get(from);
    if (times) times.push(now);
    else this.failures.set(from, [now]);
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port, this.opts.host, () => resolve());
    });
    const a = this.server.address() as AddressInfo;
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    return `http://${host}:${a.port}${this.opts.path}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
