// One MQTT connection, configured by a Device.MQTT.Client.{i} row: MQTT 5.0 or 3.1.1, TCP or TLS,
// the USP rules for the client id, the usp-endpoint-id user property, Request Response Information,
// subscribe topics from the CONNACK and the Subscription table, reconnection with the
// ConnectRetryTime back-off (our own timer, so the TR-181 parameters govern it), and the broker's
// Maximum Packet Size (MQTT 5 CONNACK): a PUBLISH above it would make the broker drop the connection,
// so none is sent, and the endpoint is told how large an answer may be. Records go out with the MTP's
// PublishQoS, lowered to the broker's Maximum QoS (MQTT 5 CONNACK) as TR-181 requires.

import { readFileSync } from 'node:fs';
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import type { Logger } from '../../util/logger.js';
import { mqttConnectRetry, Retry } from '../../util/retry.js';

export interface ConnectionConfig {
  readonly name: string; // Device.MQTT.Client.N.
  readonly brokerAddress: string;
  readonly brokerPort: number;
  readonly version: '3.1.1' | '5.0';
  readonly tls: boolean;
  readonly caFile?: string;
  readonly certFile?: string;
  readonly keyFile?: string;
  readonly clientId: string;
  readonly username: string;
  readonly password: string;
  readonly keepAlive: number;
  readonly cleanStart: boolean;
  readonly endpointId: string;
  readonly topics: { topic: string; qos: 0 | 1 | 2 }[]; // configured Subscription rows
  readonly responseTopicConfigured: string;
  readonly retry: { min: number; multiplier: number; max: number };
  /** LocalAgent.MTP.{i}.MQTT.PublishQoS: the QoS of every record this connection publishes. */
  readonly publishQoS: QoS;
}

export type QoS = 0 | 1 | 2;

export interface Received {
  payload: Buffer;
  replyTo: string | undefined;
}

export type Status =
  | 'Connecting'
  | 'Connected'
  | 'Error_BrokerUnreachable'
  | 'Error_Misconfigured'
  | 'Error'
  | 'Disabled';

export interface ConnectionEvents {
  status(s: Status): void;
  /** Subscribed; topic is where controllers reach the agent ("reply to"). */
  up(replyTo: string): void;
  assignedClientId(id: string): void;
  message(m: Received): void;
  stat(name: 'PublishSent' | 'PublishReceived' | 'SubscribeSent' | 'ConnectionErrors' | 'PublishErrors'): void;
}

export const USP_CONTENT_TYPES = new Set(['usp.msg', 'application/vnd.bbf.usp.msg']);

export class Connection {
  private client: MqttClient | undefined;
  private readonly retry = new Retry(() => {
    const { min, multiplier, max } = this.cfg.retry;
    return mqttConnectRetry(min, multiplier, max);
  });
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private replyTo = '';
  private clientId: string;
  /** The broker's Maximum Packet Size from the last CONNACK (MQTT 5); none: no limit stated. */
  private maxPacket: number | undefined;
  /** PublishQoS, or the broker's Maximum QoS from the last CONNACK (MQTT 5) when that is lower. */
  private qos: QoS;

  constructor(
    private cfg: ConnectionConfig,
    private readonly ev: ConnectionEvents,
    private readonly log: Logger,
  ) {
    this.clientId = cfg.clientId;
    this.qos = cfg.publishQoS;
  }

  /** The QoS records are published with now. */
  get publishQoS(): QoS {
    return this.qos;
  }

  get version(): '3.1.1' | '5.0' {
    return this.cfg.version;
  }
  get connected(): boolean {
    return Boolean(this.client?.connected && this.replyTo);
  }
  get replyTopic(): string {
    return this.replyTo;
  }

  start(): void {
    this.stopped = false;
    this.connect();
  }

  private connect(): void {
    const c = this.cfg;
    this.ev.status('Connecting');
    // 3.1.1 has no assigned ids: the endpoint id is the next best stable choice (R-MQTT.8).
    const clientId = this.clientId || (c.version === '5.0' ? '' : c.endpointId);
    const opts: IClientOptions = {
      protocol: c.tls ? 'mqtts' : 'mqtt',
      host: c.brokerAddress,
      port: c.brokerPort,
      protocolVersion: c.version === '5.0' ? 5 : 4,
      clientId,
      clean: c.cleanStart,
      keepalive: c.keepAlive,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      // Without this, mqtt-packet keeps a ready-made Buffer for each of the 65,536 packet ids: 6 MB
      // of heap on a device, to save a 2-byte allocation per packet.
      writeCache: false,
      ...(c.username ? { username: c.username } : {}),
      ...(c.password ? { password: c.password } : {}),
      ...(c.tls
        ? {
            rejectUnauthorized: true,
            ...(c.caFile ? { ca: readFileSync(c.caFile) } : {}),
            ...(c.certFile ? { cert: readFileSync(c.certFile) } : {}),
            ...(c.keyFile ? { key: readFileSync(c.keyFile) } : {}),
          }
        : {}),
      ...(c.version === '5.0'
        ? { properties: { requestResponseInformation: true, userProperties: { 'usp-endpoint-id': c.endpointId } } }
        : {}),
    };
    const client = mqtt.connect(opts);
    this.client = client;
    let failed = false;
    const fail = (why: string) => {
      if (failed || this.stopped || this.client !== client) return;
      failed = true;
      this.replyTo = '';
      this.ev.stat('ConnectionErrors');
      this.ev.status('Error_BrokerUnreachable');
      client.removeAllListeners();
      client.on('error', () => {});
      client.end(true);
      this.scheduleReconnect(why);
    };
    client.on('connect', (connack) => {
      this.retry.reset();
      noDelay(client);
      const props = connack.properties ?? {};
      this.maxPacket = c.version === '5.0' ? props.maximumPacketSize : undefined;
      const brokerMax = c.version === '5.0' ? props.maximumQoS : undefined;
      this.qos = brokerMax === undefined ? c.publishQoS : (Math.min(c.publishQoS, brokerMax) as QoS);
      if (c.version === '5.0' && props.assignedClientIdentifier && !this.clientId) {
        this.clientId = props.assignedClientIdentifier;
        this.ev.assignedClientId(this.clientId);
      }
      void this.subscribe(
        client,
        props.responseInformation,
        userPropertyValues(props.userProperties, 'subscribe-topic'),
      ).catch((e) => fail((e as Error).message));
    });
    client.on('message', (topic, payload, packet: IPublishPacket) => {
      holdWrites(client);
      this.ev.stat('PublishReceived');
      const props = packet.properties ?? {};
      if (c.version === '5.0' && props.contentType && !USP_CONTENT_TYPES.has(props.contentType)) {
        this.log.warn(
          { client: c.name, contentType: props.contentType },
          'ignored a PUBLISH that does not carry a USP record',
        );
        return;
      }
      this.ev.message({ payload, replyTo: c.version === '5.0' ? props.responseTopic : replyToOf(topic) });
    });
    client.on('error', (e) => {
      this.log.warn({ client: c.name, err: e.message }, 'MQTT error');
      fail(e.message);
    });
    client.on('close', () => fail('connection closed'));
    client.on('offline', () => fail('offline'));
  }

  /** R-MQTT.15-17: subscribe to every topic we should be reached on; without one, disconnect. */
  private async subscribe(
    client: MqttClient,
    responseInformation: string | undefined,
    fromConnack: string[],
  ): Promise<void> {
    const c = this.cfg;
    const topics = new Map<string, 0 | 1 | 2>();
    for (const t of c.topics) topics.set(t.topic, t.qos);
    for (const t of fromConnack) topics.set(t, 1);
    const own = responseInformation || c.responseTopicConfigured;
    if (own) {
      const filter = c.version === '5.0' ? own : `${own}/#`;
      if (![...topics.keys()].some((f) => covers(f, own))) topics.set(filter, 1);
      if (c.version === '3.1.1' && !topics.has(`${own}/#`)) topics.set(`${own}/#`, 1);
    }
    if (!topics.size || !own) {
      this.log.error(
        { client: c.name },
        'no topic to subscribe to (no Response Information and no ResponseTopicConfigured): disconnecting',
      );
      this.ev.status('Error_Misconfigured');
      this.stopped = true;
      client.end();
      return;
    }
    this.ev.stat('SubscribeSent');
    // mqtt.js rejects a SUBACK that refuses any topic; its reason codes say which (TP-469 11.11).
    const granted = await client
      .subscribeAsync(Object.fromEntries([...topics].map(([topic, qos]) => [topic, { qos }])))
      .then(
        (g) => g.map((x) => x.qos as number),
        (e: Error & { packet?: { granted?: number[] } }) => {
          if (!e.packet?.granted) throw e;
          return e.packet.granted;
        },
      );
    if (!granted.length || granted.every((g) => (g & 0x80) !== 0)) {
      this.log.error(
        { client: c.name, topics: [...topics.keys()] },
        'the broker refused every subscription: disconnecting',
      );
      this.ev.status('Error');
      client.end();
      throw new Error('subscribe refused');
    }
    this.replyTo = own;
    this.ev.status('Connected');
    this.ev.up(own);
  }

  private scheduleReconnect(why: string): void {
    clearTimeout(this.timer);
    // ConnectRetry has no retry limit: next() always gives a wait.
    const { n, waitMs: wait } = this.retry.next()!;
    this.log.info(
      { client: this.cfg.name, why, retryInSeconds: Math.round(wait / 100) / 10, attempt: n },
      'MQTT reconnecting',
    );
    this.timer = setTimeout(() => this.connect(), wait);
  }

  /**
   * The largest record a PUBLISH to this topic can carry under the broker's Maximum Packet Size; none
   * when the broker stated no limit. A topic not known yet is allowed 1 KiB.
   */
  maxRecordBytes(topic?: string): number | undefined {
    if (this.maxPacket === undefined) return undefined;
    return (
      this.maxPacket -
      PUBLISH_OVERHEAD -
      (topic === undefined ? 1024 : Buffer.byteLength(topic)) -
      Buffer.byteLength(this.replyTo)
    );
  }

  /**
   * Publishes a record to a controller's topic, with our reply-to topic attached. With QoS 0 it is
   * done once the packet is written: no PUBACK to wait for, which a broker without TCP_NODELAY holds
   * back for tens of milliseconds. Delivery of what must arrive is USP's own business (NotifRetry).
   */
  async publish(topic: string, record: Uint8Array): Promise<boolean> {
    const client = this.client;
    const qos = this.qos;
    if (!client || !this.connected) return false;
    const own = this.replyTo;
    const max = this.maxRecordBytes(topic);
    if (max !== undefined && record.length > max) {
      this.ev.stat('PublishErrors');
      this.log.warn(
        { client: this.cfg.name, topic, bytes: record.length, max },
        "not published: larger than the broker's Maximum Packet Size",
      );
      return false;
    }
    try {
      if (this.cfg.version === '5.0') {
        await client.publishAsync(topic, asBuffer(record), {
          qos,
          properties: { contentType: 'usp.msg', responseTopic: own },
        });
      } else {
        await client.publishAsync(`${topic}/reply-to=${own.replace(/\//g, '%2F')}`, asBuffer(record), { qos });
      }
      this.ev.stat('PublishSent');
      return true;
    } catch (e) {
      this.ev.stat('PublishErrors');
      this.log.warn({ client: this.cfg.name, topic, err: (e as Error).message }, 'publish failed');
      return false;
    }
  }

  /** Graceful: lets the caller send a Disconnect record first, then DISCONNECT. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    const client = this.client;
    this.client = undefined;
    this.replyTo = '';
    if (client) {
      client.removeAllListeners('close');
      client.removeAllListeners('offline');
      await new Promise<void>((r) => client.end(false, {}, () => r()));
    }
    this.ev.status('Disabled');
  }
}

/**
 * Bytes of an MQTT 5 PUBLISH around its payload besides the topic and response topic themselves: fixed
 * header (5 at most), topic length (2), packet id (2), properties (4 for their length, content type
 * "usp.msg" 10, response topic 3).
 */
const PUBLISH_OVERHEAD = 26;

/** The record's bytes as a Buffer without copying them. */
const asBuffer = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

/**
 * Holds the socket's writes to the end of this turn of the event loop: the PUBACK of a request (sent
 * right after this event) and an answer built in the same turn leave in one write, one system call
 * (the larger part of the agent's CPU for a small Get), instead of two.
 */
function holdWrites(client: MqttClient): void {
  const s = client.stream as unknown as { cork?: () => void; uncork?: () => void };
  if (!s.cork || !s.uncork) return;
  s.cork();
  setImmediate(() => s.uncork!());
}

/** USP exchanges are small request/answer pairs: Nagle's delay would add tens of ms to each. */
export function noDelay(client: MqttClient): void {
  (client.stream as unknown as { setNoDelay?: (v: boolean) => void }).setNoDelay?.(true);
}

/** 3.1.1: the controller's reply-to topic is what follows the last "/reply-to=", with %2F for "/". */
export function replyToOf(topic: string): string | undefined {
  const i = topic.lastIndexOf('/reply-to=');
  return i < 0 ? undefined : topic.slice(i + '/reply-to='.length).replace(/%2F/gi, '/');
}

/** Whether an MQTT topic filter covers a topic. */
export function covers(filter: string, topic: string): boolean {
  const f = filter.split('/'),
    t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

function userPropertyValues(up: Record<string, string | string[]> | undefined, name: string): string[] {
  const v = up?.[name];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}
