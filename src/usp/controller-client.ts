// A USP controller over MQTT, for people (`cpe-agent ctl`) and for end-to-end tests: sends requests
// to an agent and awaits the answer with the same msg_id; receives Notify messages and answers
// NotifyResp when asked. It speaks only the standard wire format, so it works with any USP agent.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt';
import {
  type DecodedMsg,
  decodeMsg,
  decodeRecord,
  type PlainMsg,
  type PlainRecord,
  type RequestBody,
  type RequestKind,
  type RequestType,
  wrapMsg,
} from './codec.js';
import type * as usp from './generated/usp-msg.js';
import { noDelay, replyToOf, USP_CONTENT_TYPES } from './mqtt/connection.js';

export interface ControllerOptions {
  readonly url: string; // mqtt://127.0.0.1:1883
  readonly version: '3.1.1' | '5.0';
  readonly endpointId: string; // our own: proto::...
  readonly topic: string; // where the agent reaches us
  readonly agentId: string;
  readonly agentTopic: string; // where we reach the agent
  readonly username?: string;
  readonly password?: string;
  readonly timeoutMs?: number;
  /** PEM files for mqtts:// URLs: the CA to verify the broker, and our client certificate. */
  readonly tls?: { ca?: string; cert?: string; key?: string };
  /** QoS of our requests (1 by default); with 0 a request is not held up by the broker's PUBACK. */
  readonly qos?: 0 | 1;
}

const MAX_RESPONSE_BYTES = 256 * 1024 * 1024;

export type Notification = { subscriptionId: string; body: usp.Notify; msg: DecodedMsg };

export class UspController {
  private client: MqttClient | undefined;
  private readonly waiting = new Map<
    string,
    { resolve: (m: DecodedMsg) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }
  >();
  /** Every Notify received, in order. */
  readonly notifications: Notification[] = [];
  /** Every record received that carried no message (MQTTConnect, Disconnect...). */
  readonly records: PlainRecord[] = [];
  onNotify: (n: Notification) => void = () => {};
  /** When false, Notify with send_resp gets no NotifyResp (to exercise the agent's retries). */
  acknowledge = true;

  constructor(readonly opts: ControllerOptions) {}

  async connect(): Promise<void> {
    const o = this.opts;
    const client = await mqtt.connectAsync(o.url, {
      protocolVersion: o.version === '5.0' ? 5 : 4,
      clientId: `${o.endpointId.replace(/[^\w:.-]/g, '_')}-${randomUUID().slice(0, 8)}`,
      reconnectPeriod: 1000,
      connectTimeout: 5000,
      ...(o.username ? { username: o.username } : {}),
      ...(o.password ? { password: o.password } : {}),
      ...(o.tls
        ? {
            rejectUnauthorized: true,
            ...(o.tls.ca ? { ca: readFileSync(o.tls.ca) } : {}),
            ...(o.tls.cert ? { cert: readFileSync(o.tls.cert) } : {}),
            ...(o.tls.key ? { key: readFileSync(o.tls.key) } : {}),
          }
        : {}),
    });
    this.client = client;
    noDelay(client);
    client.on('connect', () => noDelay(client));
    client.on('message', (topic, payload, packet: IPublishPacket) => this.onMessage(topic, payload, packet));
    // 3.1.1 senders append "/reply-to=..." to our topic, so we take what is below it as well.
    await client.subscribeAsync(o.version === '5.0' ? [o.topic] : [o.topic, `${o.topic}/#`], { qos: 1 });
  }

  private onMessage(_topic: string, payload: Buffer, packet: IPublishPacket): void {
    const ct = packet.properties?.contentType;
    if (ct && !USP_CONTENT_TYPES.has(ct)) return;
    let rec: PlainRecord;
    // A Get of a large subtree answers with records far above the agent's limit for requests.
    try {
      rec = decodeRecord(payload, MAX_RESPONSE_BYTES);
    } catch {
      return;
    }
    if (rec.to_id !== this.opts.endpointId) return;
    if (!rec.no_session_context) {
      this.records.push(rec);
      return;
    }
    let msg: DecodedMsg;
    try {
      msg = decodeMsg(rec.no_session_context.payload);
    } catch {
      return;
    }
    const req = msg.body.request;
    if (req?.req_type === 'notify') {
      const n = { subscriptionId: req.notify.subscription_id, body: req.notify, msg };
      this.notifications.push(n);
      this.onNotify(n);
      if (req.notify.send_resp && this.acknowledge) {
        const replyTo = packet.properties?.responseTopic ?? replyToOf(_topic) ?? this.opts.agentTopic;
        // An acknowledgement lost while closing is one more retry for the agent, nothing worse.
        this.publish(replyTo, {
          header: { msg_id: msg.header.msg_id, msg_type: 'NOTIFY_RESP' },
          body: { response: { notify_resp: { subscription_id: n.subscriptionId } } },
        }).catch(() => {});
      }
      return;
    }
    const w = this.waiting.get(msg.header.msg_id);
    if (w) {
      clearTimeout(w.timer);
      this.waiting.delete(msg.header.msg_id);
      w.resolve(msg);
    }
  }

  private async publish(topic: string, msg: PlainMsg): Promise<void> {
    const o = this.opts;
    const bytes = Buffer.from(wrapMsg(o.endpointId, o.agentId, msg));
    if (o.version === '5.0')
      await this.client!.publishAsync(topic, bytes, {
        qos: o.qos ?? 1,
        properties: { contentType: 'usp.msg', responseTopic: o.topic },
      });
    else
      await this.client!.publishAsync(`${topic}/reply-to=${o.topic.replace(/\//g, '%2F')}`, bytes, { qos: o.qos ?? 1 });
  }

  /** Sends a request and waits for its response or Error. */
  async request<K extends RequestKind>(kind: K, type: RequestType<K>, body: RequestBody<K>): Promise<DecodedMsg> {
    if (!this.client) throw new Error('not connected');
    const msgId = randomUUID();
    const answer = new Promise<DecodedMsg>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(msgId);
        reject(new Error(`no answer from ${this.opts.agentId} within ${this.timeout} ms`));
      }, this.timeout);
      this.waiting.set(msgId, { resolve, reject, timer });
    });
    await this.publish(this.opts.agentTopic, {
      header: { msg_id: msgId, msg_type: type },
      body: { request: { [kind]: body } },
    });
    return answer;
  }

  /** Sends a request that gets no answer (Operate with send_resp false). */
  async post<K extends RequestKind>(kind: K, type: RequestType<K>, body: RequestBody<K>): Promise<void> {
    await this.publish(this.opts.agentTopic, {
      header: { msg_id: randomUUID(), msg_type: type },
      body: { request: { [kind]: body } },
    });
  }

  /** Resolves with the first notification that satisfies the test. */
  waitForNotification(test: (n: Notification) => boolean, ms = this.timeout): Promise<Notification> {
    const seen = this.notifications.find(test);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const prev = this.onNotify;
      const timer = setTimeout(() => {
        this.onNotify = prev;
        reject(new Error('no matching notification'));
      }, ms);
      this.onNotify = (n) => {
        prev(n);
        if (test(n)) {
          clearTimeout(timer);
          this.onNotify = prev;
          resolve(n);
        }
      };
    });
  }

  private get timeout(): number {
    return this.opts.timeoutMs ?? 10_000;
  }

  async close(): Promise<void> {
    for (const w of this.waiting.values()) {
      clearTimeout(w.timer);
      w.reject(new Error('controller closed'));
    }
    this.waiting.clear();
    await this.client?.endAsync();
    this.client = undefined;
  }
}
