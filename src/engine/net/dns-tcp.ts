// DNS over TCP for the units' forwarder (dns-forwarder.ts): a resolver answers a query whose answer does not
// fit in UDP with the TC bit, and the unit's C library asks again over TCP, on the same address (RFC 7766).
// Each unit connection's queries are passed on, one at a time, over a TCP connection of their own to the
// host's first resolver, from the host's network namespace. All a unit controls is bounded: connections (in
// all and per unit address), a query's size, how long a connection may sit idle, how long an answer may take,
// an answer's size (the 16-bit length of the framing).
import net from 'node:net';
import type { Logger } from '../../util/logger.js';

const MAX_QUERY_BYTES = 4096;
const HEADER_BYTES = 12;
const MAX_CONNECTIONS = 64;
const MAX_CONNECTIONS_PER_SOURCE = 8;
/** RFC 7766 6.2.3: a server closes idle connections; its suggested starting point is seconds. */
const IDLE_MS = 10_000;
const ANSWER_TIMEOUT_MS = 5000;

/** One length-prefixed DNS message cut off the front of a byte stream, and the rest; undefined: not whole yet. */
export function takeFrame(buf: Buffer): { msg: Buffer; rest: Buffer } | undefined {
  if (buf.length < 2) return undefined;
  const n = buf.readUInt16BE(0);
  if (buf.length < 2 + n) return undefined;
  return { msg: buf.subarray(2, 2 + n), rest: buf.subarray(2 + n) };
}

const frame = (msg: Buffer) => {
  const out = Buffer.alloc(2 + msg.length);
  out.writeUInt16BE(msg.length, 0);
  msg.copy(out, 2);
  return out;
};

/** A query in a frame: a whole header, QR clear, no larger than a query can be. */
const isQuery = (msg: Buffer) => msg.length >= HEADER_BYTES && msg.length <= MAX_QUERY_BYTES && (msg[2]! & 0x80) === 0;

export class DnsTcp {
  private server: net.Server | undefined;
  private readonly bySource = new Map<string, number>();
  private readonly open = new Set<net.Socket>();

  constructor(
    private readonly log: Logger,
    private readonly resolvers: () => string[],
    private readonly resolverPort: number,
  ) {}

  async start(address: string, port: number): Promise<void> {
    this.stop();
    const server = net.createServer((s) => this.accept(s));
    server.maxConnections = MAX_CONNECTIONS;
    await new Promise<void>((ok, fail) => server.once('error', fail).listen(port, address, () => ok()));
    server.on('error', (e) => this.log.warn({ err: e.message }, 'DNS forwarder (TCP)'));
    server.unref();
    this.server = server;
  }

  stop(): void {
    this.server?.close();
    this.server = undefined;
    for (const s of this.open) s.destroy();
    this.open.clear();
    this.bySource.clear();
  }

  private accept(s: net.Socket): void {
    const from = s.remoteAddress ?? '';
    const n = this.bySource.get(from) ?? 0;
    if (n >= MAX_CONNECTIONS_PER_SOURCE) {
      s.destroy();
      return;
    }
    this.bySource.set(from, n + 1);
    this.open.add(s);
    s.unref();
    s.setTimeout(IDLE_MS, () => s.destroy());
    s.on('error', () => s.destroy());
    s.once('close', () => {
      this.open.delete(s);
      const left = (this.bySource.get(from) ?? 1) - 1;
      if (left > 0) this.bySource.set(from, left);
      else this.bySource.delete(from);
    });
    let pending: Buffer = Buffer.alloc(0);
    let busy = false;
    const next = (): void => {
      if (busy) return;
      const f = takeFrame(pending);
      if (!f) {
        // What is still to come can't be a query any more: the connection goes.
        if (pending.length >= 2 && pending.readUInt16BE(0) > MAX_QUERY_BYTES) s.destroy();
        return;
      }
      pending = Buffer.from(f.rest);
      if (!isQuery(f.msg)) {
        s.destroy();
        return;
      }
      busy = true;
      s.pause();
      void this.ask(f.msg).then((answer) => {
        busy = false;
        if (!answer || s.destroyed) return s.destroy();
        s.write(frame(answer));
        s.resume();
        next();
      });
    };
    s.on('data', (d: Buffer) => {
      pending = pending.length ? Buffer.concat([pending, d]) : d;
      // Bounded: one query being answered, at most one more whole frame waiting.
      if (pending.length > 2 * (2 + MAX_QUERY_BYTES)) return s.destroy();
      next();
    });
  }

  /** The answer of the host's first resolver over TCP, or undefined (none, refused, too slow). */
  private ask(query: Buffer): Promise<Buffer | undefined> {
    const resolver = this.resolvers()[0];
    if (!resolver) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const up = net.connect(this.resolverPort, resolver);
      let got: Buffer = Buffer.alloc(0);
      const done = (a: Buffer | undefined) => {
        up.destroy();
        resolve(a);
      };
      up.unref();
      up.setTimeout(ANSWER_TIMEOUT_MS, () => done(undefined));
      up.on('error', () => done(undefined));
      up.on('close', () => done(undefined));
      up.on('data', (d: Buffer) => {
        got = Buffer.concat([got, d]);
        const f = takeFrame(got);
        // The answer to this query, whole (its id is the unit's own: a TCP connection is not forgeable).
        if (f)
          done(f.msg.length >= HEADER_BYTES && f.msg.readUInt16BE(0) === query.readUInt16BE(0) ? f.msg : undefined);
      });
      up.write(frame(query));
    });
  }
}
