// The MQTT MTP of the USP agent: one connection per MQTT client that an enabled LocalAgent.MTP
// references; records in from any of them go to the endpoint, answers go back to the sender's
// reply-to topic, notifications to the controller's configured topic. After connecting it sends an
// MQTTConnect record to each controller it serves, and a Disconnect record before going down.

import type { Change } from '../../dm/change-feed.js';
import type { DataModel } from '../../dm/datamodel.js';
import type { ObjectNode } from '../../dm/tree.js';
import type { Logger } from '../../util/logger.js';
import { dateTime, UNKNOWN_TIME } from '../../util/time.js';
import { encodeRecord, type PlainMsg, wrapMsg } from '../codec.js';
import { controllerByEndpoint, controllers } from '../controllers.js';
import type { UspEndpoint } from '../endpoint.js';
import { Connection, type ConnectionConfig, type QoS, type Status } from './connection.js';

const LA = 'Device.LocalAgent.';
const AGENT = 'usp-mqtt';
const STATS = ['PublishSent', 'PublishReceived', 'SubscribeSent', 'ConnectionErrors', 'PublishErrors'] as const;
type Stat = (typeof STATS)[number];

interface Live {
  status: Status;
  stats: Record<Stat, number>;
  since: string;
}

/** Where TLS material lives: a deployment gives files, the data model only says TLS or not. */
export interface TlsFiles {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

export class MqttMtp {
  private readonly conns = new Map<string, { conn: Connection; mtp: string }>();
  /** Messages for controllers that no connection reaches yet (Boot! before the broker answers). */
  private readonly outbox = new Map<string, PlainMsg[]>();
  private unsubscribe: (() => void) | undefined;
  private restartTimer: NodeJS.Timeout | undefined;

  /** Live status and counters per client path, read by the data model on Get. */
  private static readonly live = new Map<string, Live>();

  constructor(
    private readonly dm: DataModel,
    private readonly endpoint: UspEndpoint,
    private readonly log: Logger,
    private readonly tls: TlsFiles = {},
  ) {}

  static register(dm: DataModel): void {
    const live = (n: ObjectNode) => MqttMtp.live.get(n.path.replace(/Stats\.$/, ''));
    dm.param('Device.MQTT.Client.{i}.Status', { get: (n) => live(n)?.status ?? 'Disabled' });
    for (const s of STATS)
      dm.param(`Device.MQTT.Client.{i}.Stats.${s}`, { get: (n) => String(live(n)?.stats[s] ?? 0) });
    dm.param('Device.MQTT.Client.{i}.Stats.BrokerConnectionEstablished', {
      get: (n) => live(n)?.since ?? UNKNOWN_TIME,
    });
    dm.param('Device.LocalAgent.MTP.{i}.Status', {
      get: (n) => {
        const ref = n.singles.get('MQTT')?.stored('Reference');
        return n.stored('Enable') !== 'true'
          ? 'Down'
          : MqttMtp.live.get(`${ref}.`)?.status === 'Connected'
            ? 'Up'
            : 'Error';
      },
    });
    dm.command('Device.MQTT.Client.{i}.ForceReconnect()', (req) => {
      for (const f of forceReconnect) f(req.node);
      return {};
    });
  }

  start(): void {
    forceReconnect.add(this.reconnectClient);
    for (const mtp of this.mtpRows()) this.open(mtp);
    // Configuration changes to clients or MTPs reconnect, a little later, once for a burst of sets.
    this.unsubscribe = this.dm.feed.subscribe(['Device.MQTT.Client.', `${LA}MTP.`], (c: Change) => {
      if (c.kind === 'value' && /\.(Status|ResponseTopicDiscovered|ClientID)$/.test(c.path)) return;
      clearTimeout(this.restartTimer);
      this.restartTimer = setTimeout(this.reconnectAll, 200);
    });
  }

  private readonly reconnectAll = (): void => {
    void this.stopConnections().then(() => {
      for (const mtp of this.mtpRows()) this.open(mtp);
    });
  };

  /** ForceReconnect() on one client: its connection only; the others keep theirs. */
  private readonly reconnectClient = (client: ObjectNode): void => {
    if (this.dm.node(client.path) !== client) return; // another agent's data model in this process
    const clientPath = client.path;
    void this.stopConnections(clientPath).then(() => {
      for (const mtp of this.mtpRows())
        if (`${mtp.singles.get('MQTT')!.stored('Reference') ?? ''}.` === clientPath) this.open(mtp);
    });
  };

  private mtpRows(): ObjectNode[] {
    return [...(this.dm.node(LA)?.tables.get('MTP')?.rows.values() ?? [])].filter(
      (r) => r.stored('Enable') === 'true' && r.stored('Protocol') === 'MQTT',
    );
  }

  private open(mtp: ObjectNode): void {
    const ref = mtp.singles.get('MQTT')!.stored('Reference') ?? '';
    const client = this.dm.node(`${ref}.`);
    if (client?.def.path !== 'Device.MQTT.Client.{i}.') {
      this.log.error({ mtp: mtp.path, reference: ref }, 'LocalAgent MTP references no MQTT client');
      return;
    }
    if (client.stored('Enable') !== 'true' || this.conns.has(client.path)) return;
    const cfg = this.config(client, mtp);
    const live: Live = {
      status: 'Connecting',
      stats: Object.fromEntries(STATS.map((s) => [s, 0])) as Record<Stat, number>,
      since: UNKNOWN_TIME,
    };
    MqttMtp.live.set(client.path, live);
    const conn = new Connection(
      cfg,
      {
        status: (s) => {
          live.status = s;
          if (s === 'Connected') live.since = dateTime();
        },
        assignedClientId: (id) => this.dm.update(client.path, { ClientID: id }, AGENT),
        up: (replyTo) => {
          this.dm.update(`${mtp.path}MQTT.`, { ResponseTopicDiscovered: replyTo }, AGENT);
          void this.announce(conn, client.path);
        },
        message: (m) => void this.onRecord(conn, m.payload, m.replyTo),
        stat: (name) => {
          live.stats[name]++;
        },
      },
      this.log.child({ client: client.path }),
    );
    this.conns.set(client.path, { conn, mtp: mtp.path });
    conn.start();
  }

  private config(client: ObjectNode, mtp: ObjectNode): ConnectionConfig {
    const v = (n: string) => client.stored(n) ?? '';
    const topics = [...(client.tables.get('Subscription')?.rows.values() ?? [])]
      .filter((s) => s.stored('Enable') === 'true' && s.stored('Topic'))
      .map((s) => ({ topic: s.stored('Topic')!, qos: Math.min(2, Number(s.stored('QoS') ?? 0)) as 0 | 1 | 2 }));
    return {
      name: client.path,
      brokerAddress: v('BrokerAddress'),
      brokerPort: Number(v('BrokerPort') || 1883),
      version: v('ProtocolVersion') === '3.1.1' ? '3.1.1' : '5.0',
      tls: v('TransportProtocol') === 'TLS',
      ...this.tls,
      clientId: v('ClientID'),
      username: v('Username'),
      password: v('Password'),
      keepAlive: Number(v('KeepAliveTime') || 60),
      cleanStart: (v('ProtocolVersion') === '3.1.1' ? v('CleanSession') : v('CleanStart')) !== 'false',
      endpointId: this.endpoint.endpointId,
      topics,
      responseTopicConfigured: mtp.singles.get('MQTT')!.stored('ResponseTopicConfigured') ?? '',
      // No default in TR-181; 0 as obuspa: a PUBACK per record buys nothing USP does not do itself.
      publishQoS: Math.min(2, Number(mtp.singles.get('MQTT')!.stored('PublishQoS') || 0)) as QoS,
      retry: {
        min: Number(v('ConnectRetryTime') || 5),
        multiplier: Number(v('ConnectRetryIntervalMultiplier') || 2000),
        max: Number(v('ConnectRetryMaxInterval') || 30720),
      },
    };
  }

  private async onRecord(conn: Connection, payload: Buffer, replyTo: string | undefined): Promise<void> {
    await this.endpoint.receive(payload, {
      maxRecordBytes: conn.maxRecordBytes(replyTo),
      replyTopic: replyTo,
      send: async (reply, to) => {
        const topic = replyTo ?? this.controllerTopic(to)?.topic;
        if (!topic) {
          this.log.warn({ to }, 'no reply-to topic and no configured topic for the controller; answer dropped');
          return;
        }
        await conn.publish(topic, reply);
      },
    });
  }

  /** The topic a controller is reached on, and the connection to use. */
  private controllerTopic(endpointId: string): { topic: string; conn: Connection } | undefined {
    const ctl = controllerByEndpoint(this.dm, endpointId);
    for (const m of ctl?.tables.get('MTP')?.rows.values() ?? []) {
      if (m.stored('Enable') !== 'true' || m.stored('Protocol') !== 'MQTT') continue;
      const mq = m.singles.get('MQTT')!;
      const topic = mq.stored('Topic');
      if (!topic) continue;
      const viaMtp = mq.stored('AgentMTPReference');
      for (const [, c] of this.conns) {
        if (viaMtp && `${viaMtp}.` !== c.mtp) continue;
        if (c.conn.connected) return { topic, conn: c.conn };
      }
    }
    return undefined;
  }

  /**
   * Sends a message (a Notify) to a controller. One that no connection reaches now waits in a
   * bounded outbox and goes out when the controller's MTP comes up; false only when it had to drop.
   */
  readonly send = (endpointId: string, msg: PlainMsg): boolean => {
    const route = this.controllerTopic(endpointId);
    if (route) {
      void route.conn.publish(route.topic, wrapMsg(this.endpoint.endpointId, endpointId, msg));
      return true;
    }
    const queue = this.outbox.get(endpointId) ?? [];
    queue.push(msg);
    this.outbox.set(endpointId, queue);
    if (queue.length > OUTBOX_LIMIT) {
      queue.shift();
      this.log.warn(
        { to: endpointId, limit: OUTBOX_LIMIT },
        'controller unreachable for long: dropped its oldest waiting notification',
      );
      return false;
    }
    return true;
  };

  /** R-MQTT / TP-469 11.17: an MQTTConnect record to each controller this connection serves. */
  private async announce(conn: Connection, clientPath: string): Promise<void> {
    for (const ctl of controllers(this.dm)) {
      if (ctl.stored('Enable') !== 'true') continue;
      const to = ctl.stored('EndpointID')!;
      const route = this.controllerTopic(to);
      if (!route || route.conn !== conn) continue;
      const rec = encodeRecord({
        version: '1.4',
        to_id: to,
        from_id: this.endpoint.endpointId,
        mqtt_connect: { version: conn.version === '5.0' ? 'V5' : 'V3_1_1', subscribed_topic: conn.replyTopic },
      });
      await conn.publish(route.topic, rec);
      const waiting = this.outbox.get(to) ?? [];
      this.outbox.delete(to);
      for (const msg of waiting) await conn.publish(route.topic, wrapMsg(this.endpoint.endpointId, to, msg));
    }
    this.log.info({ client: clientPath, replyTo: conn.replyTopic }, 'USP MQTT MTP up');
  }

  /** Stops one client's connection, or all of them. */
  private async stopConnections(clientPath?: string): Promise<void> {
    const all = [...this.conns].filter(([path]) => clientPath === undefined || path === clientPath).map(([, c]) => c);
    for (const { conn } of all) {
      for (const ctl of controllers(this.dm)) {
        const route = ctl.stored('Enable') === 'true' ? this.controllerTopic(ctl.stored('EndpointID')!) : undefined;
        if (route?.conn === conn) {
          await conn.publish(
            route.topic,
            encodeRecord({
              version: '1.4',
              to_id: ctl.stored('EndpointID'),
              from_id: this.endpoint.endpointId,
              disconnect: { reason: 'agent shutting down', reason_code: 0 },
            }),
          );
        }
      }
    }
    for (const [path, c] of this.conns) if (all.includes(c)) this.conns.delete(path);
    for (const { conn } of all) await conn.stop();
  }

  async stop(): Promise<void> {
    forceReconnect.delete(this.reconnectClient);
    this.unsubscribe?.();
    clearTimeout(this.restartTimer);
    await this.stopConnections();
  }
}

const OUTBOX_LIMIT = 1000;

/** ForceReconnect() reaches whichever MTP is running; the one whose data model holds the client acts. */
const forceReconnect = new Set<(client: ObjectNode) => void>();
