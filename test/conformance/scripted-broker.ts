// A scripted MQTT server (5.0 or 3.1.1, over TCP or TLS) for the TP-469 cases that look at the
// agent's packets on the wire, or need a CONNACK or SUBACK that mosquitto does not send: it records
// every packet the agent sends, with the TLS version of the connection that carried it, answers
// CONNECT, SUBSCRIBE, PUBLISH (QoS 1) and PINGREQ as its script says, and can send the agent a
// PUBLISH of the test's making, as the broker would forward a controller's.

import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type SecureVersion, type TLSSocket } from 'node:tls';
import mqttPacket, { type IConnackPacket, type IPublishPacket, type Packet } from 'mqtt-packet';

export interface Seen {
  readonly conn: number;
  readonly at: number;
  readonly packet: Packet;
}

/** What the server answers; tests change it before they make the agent connect again. */
export interface Script {
  /** The CONNACK properties (5.0). */
  connack: IConnackPacket['properties'];
  subackRefuses: boolean;
  /** Drops every connection at once, as a server that is down (11.6). */
  down: boolean;
}

export const okScript = (): Script => ({ connack: {}, subackRefuses: false, down: false });

export interface BrokerOptions {
  /** 5 for MQTT 5.0, 4 for 3.1.1. */
  readonly version: 4 | 5;
  /** A TLS-only server, refusing anything outside minVersion..maxVersion. */
  readonly tls?: { key: Buffer; cert: Buffer; minVersion: SecureVersion; maxVersion?: SecureVersion; ciphers?: string };
}

export class ScriptedBroker {
  readonly seen: Seen[] = [];
  /** When each connection was attempted, the dropped ones of a server that is down included. */
  readonly attempts: number[] = [];
  script: Script = okScript();
  /** The negotiated TLS version of each connection (by number), for a TLS server. */
  readonly tlsVersions = new Map<number, string | null>();
  /** TLS handshakes that failed, with the reason: a client that would not agree to the server's terms. */
  readonly tlsFailures: string[] = [];
  private conns = 0;
  private readonly sockets = new Map<number, Socket>();
  private readonly server: Server;

  constructor(private readonly opts: BrokerOptions) {
    const serve = (s: Socket) => this.serve(s);
    this.server = opts.tls
      ? createTlsServer({ ...opts.tls, allowHalfOpen: false }, serve).on('tlsClientError', (e) =>
          this.tlsFailures.push(e.message),
        )
      : createTcpServer({ noDelay: true }, serve);
  }

  async listen(): Promise<number> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    return (this.server.address() as { port: number }).port;
  }

  async close(): Promise<void> {
    for (const s of this.sockets.values()) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  /** The number of the latest connection that sent a CONNECT. */
  get last(): number {
    return this.conns;
  }

  /** The packets of connection n, by command. */
  of<T extends Packet>(conn: number, cmd: T['cmd']): T[] {
    return this.seen.filter((s) => s.conn === conn && s.packet.cmd === cmd).map((s) => s.packet as T);
  }

  /** Sends the agent a PUBLISH on connection n, as the broker forwards a controller's (QoS 1). */
  publish(conn: number, p: Pick<IPublishPacket, 'topic' | 'payload' | 'properties'>): void {
    const socket = this.sockets.get(conn);
    if (!socket) throw new Error(`no connection ${conn}`);
    const packet: IPublishPacket = { cmd: 'publish', qos: 1, dup: false, retain: false, messageId: 7, ...p };
    socket.write(mqttPacket.generate(packet, { protocolVersion: this.opts.version }));
  }

  private serve(socket: Socket): void {
    this.attempts.push(Date.now());
    if (this.script.down) {
      socket.destroy();
      return;
    }
    const conn = ++this.conns;
    this.sockets.set(conn, socket);
    if (this.opts.tls) this.tlsVersions.set(conn, (socket as TLSSocket).getProtocol());
    socket.on('close', () => this.sockets.delete(conn));
    socket.on('error', () => {});
    const send = (p: Packet) => socket.write(mqttPacket.generate(p, { protocolVersion: this.opts.version }));
    const parser = mqttPacket.parser({ protocolVersion: this.opts.version });
    parser.on('packet', (packet) => {
      this.seen.push({ conn, at: Date.now(), packet });
      const script = this.script;
      switch (packet.cmd) {
        case 'connect':
          send({
            cmd: 'connack',
            sessionPresent: false,
            returnCode: 0,
            reasonCode: 0,
            ...(this.opts.version === 5
              ? {
                  properties: {
                    ...(packet.clientId ? {} : { assignedClientIdentifier: 'tp469-assigned-id' }),
                    ...script.connack,
                  },
                }
              : {}),
          });
          break;
        case 'subscribe':
          send({
            cmd: 'suback',
            messageId: packet.messageId,
            granted: packet.subscriptions.map((s) => (script.subackRefuses ? 0x80 : s.qos)),
          });
          break;
        case 'publish':
          if (packet.qos === 1) send({ cmd: 'puback', messageId: packet.messageId });
          break;
        case 'pingreq':
          send({ cmd: 'pingresp' });
          break;
      }
    });
    socket.on('data', (d) => parser.parse(d));
  }
}

/** Whether an MQTT topic filter (with + and #) matches a topic name. */
export function covers(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length || (f[i] !== '+' && f[i] !== t[i])) return false;
  }
  return f.length === t.length;
}
