// The resolver networked units use: a DNS forwarder on the bridge's gateway address. Units' resolv.conf
// names the gateway (resolv-conf.ts); the agent passes each query on to the host's own resolvers from the
// host's network namespace, so a unit needs no route to them (a host resolver on 127.0.0.53 works) and
// resolves names whichever access interface it may leave by. UDP here; a truncated answer's retry over TCP
// is served by dns-tcp.ts on the same address. Everything a unit controls is bounded:
// the size of a query, the queries in flight, how long one waits. The ruleset lets only units with an
// access interface reach it (a unit with no way out must not have a channel out through query names).
import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import type { Logger } from '../../util/logger.js';
import { DnsTcp } from './dns-tcp.js';

/** EDNS0 allows 4096-byte UDP messages; a query is far smaller, anything bigger is not one. */
const MAX_QUERY_BYTES = 4096;
const MAX_IN_FLIGHT = 256;
/** One unit may not take the pool from the others. */
const MAX_IN_FLIGHT_PER_SOURCE = 32;
/** The host's resolvers are read again at most this often. */
const RESOLVERS_TTL_MS = 5000;
const TIMEOUT_MS = 5000;
const HEADER_BYTES = 12;

/** The host's IPv4 resolvers (at most 3, as the C library reads them) from resolv.conf's text. */
export function hostResolvers(text: string): string[] {
  return text
    .split('\n')
    .map((l) => /^\s*nameserver\s+(\d{1,3}(?:\.\d{1,3}){3})\s*$/.exec(l)?.[1])
    .filter((a): a is string => a !== undefined)
    .slice(0, 3);
}

interface Waiting {
  readonly id: number;
  readonly address: string;
  readonly port: number;
  readonly timer: NodeJS.Timeout;
}

export class DnsForwarder {
  private server: dgram.Socket | undefined;
  private upstream: dgram.Socket | undefined;
  private listening = '';
  /** Our transaction id -> the unit's query it stands for. */
  private readonly waiting = new Map<number, Waiting>();
  /** Queries waiting per unit address. */
  private readonly bySource = new Map<string, number>();
  private cached: { at: number; list: string[] } | undefined;
  private readonly tcp: DnsTcp;

  /** resolvers and their port: the host's (tests give their own). */
  constructor(
    private readonly log: Logger,
    private readonly readResolvers: () => string[] = () => hostResolvers(readResolvConf()),
    private readonly resolverPort = 53,
  ) {
    this.tcp = new DnsTcp(log, () => this.resolvers(), resolverPort);
  }

  private resolvers(): string[] {
    const now = Date.now();
    if (!this.cached || now - this.cached.at > RESOLVERS_TTL_MS) this.cached = { at: now, list: this.readResolvers() };
    return this.cached.list;
  }

  /** Listens on address:port (idempotent; a new address replaces the old one). */
  async start(address: string, port = 53): Promise<void> {
    const at = `${address}:${port}`;
    if (this.listening === at) return;
    this.stop();
    const server = dgram.createSocket('udp4');
    const upstream = dgram.createSocket('udp4');
    // Neither keeps the agent's process alive on its own.
    await Promise.all([
      new Promise<void>((ok, fail) => server.once('error', fail).bind(port, address, () => ok())),
      new Promise<void>((ok, fail) => upstream.once('error', fail).bind(0, () => ok())),
    ]).catch((e: unknown) => {
      server.close();
      upstream.close();
      throw e;
    });
    server.unref();
    upstream.unref();
    server.on('message', (msg, from) => this.query(msg, from.address, from.port));
    upstream.on('message', (msg, from) => this.answer(msg, from.address));
    for (const s of [server, upstream]) s.on('error', (e) => this.log.warn({ err: e.message }, 'DNS forwarder'));
    this.server = server;
    this.upstream = upstream;
    this.listening = at;
    // Without TCP, names whose answers are large do not resolve; the others still do.
    await this.tcp
      .start(address, port)
      .catch((e: unknown) => this.log.warn({ err: (e as Error).message }, 'DNS forwarder: no TCP listener'));
  }

  stop(): void {
    for (const w of this.waiting.values()) clearTimeout(w.timer);
    this.waiting.clear();
    this.bySource.clear();
    this.server?.close();
    this.upstream?.close();
    this.tcp.stop();
    this.server = this.upstream = undefined;
    this.listening = '';
  }

  private query(msg: Buffer, address: string, port: number): void {
    // A query: a whole header, QR (the top bit of byte 2) clear. Anything else is not for us.
    if (msg.length < HEADER_BYTES || msg.length > MAX_QUERY_BYTES || (msg[2]! & 0x80) !== 0) return;
    if (this.waiting.size >= MAX_IN_FLIGHT || (this.bySource.get(address) ?? 0) >= MAX_IN_FLIGHT_PER_SOURCE) return;
    const upstream = this.resolvers()[0];
    if (!upstream || !this.upstream) return;
    const ours = this.freeId();
    const timer = setTimeout(() => this.settle(ours), TIMEOUT_MS);
    timer.unref();
    this.waiting.set(ours, { id: msg.readUInt16BE(0), address, port, timer });
    this.bySource.set(address, (this.bySource.get(address) ?? 0) + 1);
    const out = Buffer.from(msg);
    out.writeUInt16BE(ours, 0);
    this.upstream.send(out, this.resolverPort, upstream);
  }

  private answer(msg: Buffer, from: string): void {
    if (msg.length < HEADER_BYTES || !this.resolvers().includes(from)) return;
    const w = this.settle(msg.readUInt16BE(0));
    if (!w) return;
    const back = Buffer.from(msg);
    back.writeUInt16BE(w.id, 0);
    this.server?.send(back, w.port, w.address);
  }

  /** A query's wait is over (answered or timed out): it no longer counts. */
  private settle(id: number): Waiting | undefined {
    const w = this.waiting.get(id);
    if (!w) return undefined;
    clearTimeout(w.timer);
    this.waiting.delete(id);
    const n = (this.bySource.get(w.address) ?? 1) - 1;
    if (n > 0) this.bySource.set(w.address, n);
    else this.bySource.delete(w.address);
    return w;
  }

  /**
   * A random transaction id no query in flight uses (at most MAX_IN_FLIGHT of 65536 are): random, so an
   * answer forged from outside must guess it as well as the upstream socket's port.
   */
  private freeId(): number {
    let id: number;
    do id = randomInt(0x10000);
    while (this.waiting.has(id));
    return id;
  }
}

function readResolvConf(): string {
  try {
    return readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    return '';
  }
}
