// The Connection Request server: an ACS asks for a session with an HTTP GET on a random path,
// authenticated with Digest (ConnectionRequestUsername / Password). A good request gets 200 and one
// session, however many arrive while it is pending; too many in a minute get 503; a wrong path,
// method or credential gets 404 / 405 / 401 and starts nothing.
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

export class ConnectionRequestServer {
  private readonly server: Server;
  private readonly digest = new DigestServer('cpe-agent');
  private accepted: number[] = [];

  constructor(private readonly opts: ConnectionRequestOptions) {
    this.server = createServer((req, res) => {
      req.resume();
      const url = req.url ?? '';
      if (url.split('?')[0] !== opts.path) { res.writeHead(404).end(); return; }
      if (req.method !== 'GET' && req.method !== 'HEAD') { res.writeHead(405, { allow: 'GET' }).end(); return; }
      const { username, password } = opts.credentials();
      if (username && !this.digest.verify(req.headers.authorization, req.method, url, username, password)) {
        res.writeHead(401, { 'www-authenticate': this.digest.challenge(), 'content-length': '0' }).end();
        return;
      }
      const now = Date.now();
      this.accepted = this.accepted.filter((t) => now - t < 60_000);
      if (this.accepted.length >= (opts.perMinute ?? 30)) { res.writeHead(503, { 'retry-after': '60', 'content-length': '0' }).end(); return; }
      this.accepted.push(now);
      res.writeHead(200, { 'content-length': '0' }).end();
      opts.onRequest();
    });
    this.server.headersTimeout = 10_000;
    this.server.requestTimeout = 10_000;
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve, reject) => { this.server.once('error', reject); this.server.listen(this.opts.port, this.opts.host, () => resolve()); });
    const a = this.server.address() as AddressInfo;
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    return `http://${host}:${a.port}${this.opts.path}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
