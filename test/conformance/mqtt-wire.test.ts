// TP-469 section 11, the cases whose pass criteria are fields of the agent's MQTT packets: CONNECT
// (11.2), PUBLISH of a response (11.12, 11.14), the Connect record (11.17), and TLS (11.3). One agent
// speaking MQTT 5.0 and one speaking 3.1.1, each against a scripted server of the test's own (see
// scripted-broker.ts) that records every packet, so the criteria of both versions are asserted;
// 11.3 has a third agent, against the same server over TLS with a minimum version of TLS 1.2, and a
// fourth against one that offers only TLS 1.0 and 1.1, which it must refuse.
// The plan reboots the agent to make it connect again; here ForceReconnect() does.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, type TestContext, test } from 'node:test';
import type { IConnectPacket, IPublishPacket, ISubscribePacket } from 'mqtt-packet';
import { Agent } from '../../src/agent.js';
import { decodeMsg, decodeRecord, type PlainRecord, wrapMsg } from '../../src/usp/codec.js';
import { mqttDeploymentDefaults } from '../../src/usp/mqtt/deployment.js';
import { silentLogger } from '../../src/util/logger.js';
import { makeCertificates } from '../certs.js';
import { agent as agentCaller, requireTool, tempDir, waitFor } from '../helpers.js';
import { type BrokerOptions, covers, okScript, ScriptedBroker } from './scripted-broker.js';

const CLIENT = 'Device.MQTT.Client.1.';
const CTL_ID = 'proto::tp469-wire';
const AGENT_TOPIC = 'usp/agent/wire';
/** The controller's configured topic; its requests name another reply-to topic, which must win. */
const CTL_TOPIC = 'usp/controller/wire';
const USER = 'tp469-user';
const PASSWORD = 'tp469-password';

interface Eut {
  readonly version: '5.0' | '3.1.1';
  readonly broker: ScriptedBroker;
  readonly agent: Agent;
}

const { dir, cleanup } = tempDir('cpe-tp469-wire-');
/** Every agent and server started, stopped after the last test. */
const euts: Eut[] = [];

async function startEut(
  name: string,
  version: Eut['version'],
  extra: Record<string, string> = {},
  tls?: { server: NonNullable<BrokerOptions['tls']>; ca: string },
  wait = true,
): Promise<Eut> {
  const broker = new ScriptedBroker({ version: version === '5.0' ? 5 : 4, ...(tls ? { tls: tls.server } : {}) });
  const port = await broker.listen();
  const defaultsFile = join(dir, `${name}.json`);
  writeFileSync(
    defaultsFile,
    JSON.stringify({
      ...mqttDeploymentDefaults({
        brokerPort: port,
        version,
        agentTopic: AGENT_TOPIC,
        controllerId: CTL_ID,
        controllerTopic: CTL_TOPIC,
      }),
      [`${CLIENT}Username`]: USER,
      [`${CLIENT}Password`]: PASSWORD,
      [`${CLIENT}ConnectRetryTime`]: '1',
      ...extra,
    }),
  );
  const agent = new Agent({
    stateDir: join(dir, name),
    defaultsFile,
    logger: silentLogger,
    ...(tls ? { tls: { caFile: tls.ca } } : {}),
  });
  const eut = { version, broker, agent };
  euts.push(eut);
  await agent.start();
  if (wait) await waitFor(() => agent.dm.value(`${CLIENT}Status`) === 'Connected', 8000);
  return eut;
}

/** The plan's "reboot the EUT": the agent connects again; the new connection's number is returned. */
async function reconnect(e: Eut): Promise<number> {
  const before = e.broker.last;
  await e.agent.dm.operate(`${CLIENT}ForceReconnect()`, {}, agentCaller);
  await waitFor(() => e.broker.last > before && e.broker.of(e.broker.last, 'subscribe').length > 0, 8000);
  return e.broker.last;
}

const records = (e: Eut, conn: number) =>
  e.broker.of<IPublishPacket>(conn, 'publish').map((p) => ({ p, rec: decodeRecord(p.payload as Buffer) }));

const msgOf = (rec: PlainRecord) => decodeMsg(rec.no_session_context!.payload!);

/**
 * The controller's Get of 'Device.DeviceInfo.' (the plan's Get), sent by the server on the agent's
 * topic with `replyTo` as its reply-to topic: the Response Topic in 5.0, the topic's /reply-to=
 * suffix in 3.1.1. Returns the agent's PUBLISH carrying the GetResponse.
 */
async function getOverWire(e: Eut, conn: number, agentTopic: string, replyTo: string): Promise<IPublishPacket> {
  const msgId = `tp469-wire-${e.version}-${Date.now()}`;
  const payload = Buffer.from(
    wrapMsg(CTL_ID, e.agent.dm.value('Device.LocalAgent.EndpointID'), {
      header: { msg_id: msgId, msg_type: 'GET' },
      body: { request: { get: { param_paths: ['Device.DeviceInfo.'] } } },
    }),
  );
  if (e.version === '5.0')
    e.broker.publish(conn, {
      topic: agentTopic,
      payload,
      properties: { responseTopic: replyTo, contentType: 'usp.msg' },
    });
  else e.broker.publish(conn, { topic: `${agentTopic}/reply-to=${replyTo.replace(/\//g, '%2F')}`, payload });
  const answer = () => records(e, conn).find((r) => r.rec.no_session_context && msgOf(r.rec).header.msg_id === msgId);
  await waitFor(() => answer() !== undefined, 8000);
  const { p, rec } = answer()!;
  const msg = msgOf(rec);
  assert.equal(msg.header.msg_type, 'GET_RESP', `${e.version}: a GetResponse`);
  assert.ok(msg.body.response?.get_resp?.req_path_results?.[0]?.resolved_path_results?.length, 'it resolved');
  assert.equal(rec.to_id, CTL_ID);
  return p;
}

/** The 5.0 and the 3.1.1 agent over TCP. */
const both: Eut[] = [];

before(async () => {
  both.push(await startEut('v5', '5.0'), await startEut('v311', '3.1.1'));
});

after(async () => {
  for (const e of euts) {
    await e.agent.stop();
    await e.broker.close();
  }
  cleanup();
});

test('11.2 MQTT session establishment using a CONNECT packet', async () => {
  for (const e of both) {
    const conn = await reconnect(e);
    const [connect] = e.broker.of<IConnectPacket>(conn, 'connect');
    assert.ok(connect, `${e.version}: a CONNECT`);
    assert.equal(connect.protocolId, 'MQTT');
    assert.equal(connect.protocolVersion, e.version === '5.0' ? 5 : 4, 'Version 5.0 or 3.1.1, as configured');
    if (e.version === '5.0')
      assert.equal(
        connect.properties?.userProperties?.['usp-endpoint-id'],
        e.agent.dm.value('Device.LocalAgent.EndpointID'),
        'the usp-endpoint-id User Property is the EUT Endpoint ID',
      );
    assert.equal(connect.username, USER, `${e.version}: User Name`);
    assert.equal(connect.password?.toString(), PASSWORD, `${e.version}: Password`);
  }
});

test('11.12 MQTT PUBLISH Packet', async () => {
  const v5 = both.find((e) => e.version === '5.0')!;
  v5.broker.script = { ...okScript(), connack: { responseInformation: 'usp/resp-info-11-12' } };
  try {
    for (const e of both) {
      const conn = await reconnect(e);
      // 3.1.1 has no Response Information: the agent's reply-to topic is ResponseTopicConfigured.
      const own = e.version === '5.0' ? 'usp/resp-info-11-12' : AGENT_TOPIC;
      const p = await getOverWire(e, conn, own, 'usp/controller/reply-11-12');
      if (e.version === '5.0') {
        assert.equal(p.topic, 'usp/controller/reply-11-12');
        assert.equal(p.properties?.responseTopic, own, 'Response Topic is the Response Information');
        assert.equal(p.properties?.contentType, 'usp.msg', 'Content Type usp.msg');
      } else {
        assert.equal(p.topic, 'usp/controller/reply-11-12/reply-to=usp%2Fagent%2Fwire', 'reply-to, / as %2F');
      }
    }
  } finally {
    v5.broker.script = okScript();
  }
});

test('11.14 MQTT Reply to Topic', async () => {
  for (const e of both) {
    // A connection without Response Information: the agent's reply-to topic is the configured one.
    const conn = await reconnect(e);
    const p = await getOverWire(e, conn, AGENT_TOPIC, 'usp/controller/reply-11-14');
    if (e.version === '5.0') {
      assert.equal(p.topic, 'usp/controller/reply-11-14', "the controller's Response Topic, not its configured one");
      assert.equal(p.properties?.responseTopic, AGENT_TOPIC, 'a Response Topic with our reply-to topic');
    } else {
      // The controller's /reply-to= suffix, %2F decoded; ours appended, / encoded.
      assert.equal(p.topic, 'usp/controller/reply-11-14/reply-to=usp%2Fagent%2Fwire');
    }
  }
});

test('11.17 MQTT - Use of Connect Record', async () => {
  for (const e of both) {
    const conn = await reconnect(e);
    // The plan allows 30 s.
    await waitFor(() => records(e, conn).some((r) => r.rec.mqtt_connect), 30_000);
    const [first] = records(e, conn);
    const rec = first!.rec;
    assert.ok(rec.mqtt_connect, `${e.version}: the Connect record is the first record after connecting`);
    assert.equal(rec.mqtt_connect.version, e.version === '5.0' ? 'V5' : 'V3_1_1', 'MQTTVersion');
    const topic = rec.mqtt_connect.subscribed_topic!;
    assert.ok(!/[+#]/.test(topic), `subscribed_topic ${topic} is a topic, not a filter`);
    const filters = e.broker
      .of<ISubscribePacket>(conn, 'subscribe')
      .flatMap((s) => s.subscriptions.map((x) => x.topic));
    assert.ok(
      filters.some((f) => covers(f, topic)),
      `subscribed_topic ${topic} is subscribed to (${filters})`,
    );
    assert.equal(rec.to_id, CTL_ID);
  }
});

test('11.3 MQTT Use of TLS', async (t: TestContext) => {
  if (!requireTool(t, 'openssl')) return;
  const certs = makeCertificates(dir);
  const key = readFileSync(certs.serverKey);
  const cert = readFileSync(certs.serverCert);
  const tls = await startEut(
    'tls',
    '5.0',
    { [`${CLIENT}TransportProtocol`]: 'TLS' },
    { server: { key, cert, minVersion: 'TLSv1.2' }, ca: certs.ca },
  );
  const from = tls.broker.last;
  const conn = await reconnect(tls);
  await getOverWire(tls, conn, AGENT_TOPIC, 'usp/controller/reply-11-3');
  // The server speaks TLS only (1.2 at least): every connection since the reboot negotiated it.
  const versions = [...tls.broker.tlsVersions].filter(([n]) => n > from).map(([, v]) => v);
  assert.ok(versions.length > 0);
  for (const v of versions) assert.ok(v === 'TLSv1.2' || v === 'TLSv1.3', `negotiated ${v}`);

  // A server that offers only TLS 1.0 and 1.1: the agent tries, and never agrees to talk MQTT over them.
  const old = await startEut(
    'tls-old',
    '5.0',
    { [`${CLIENT}TransportProtocol`]: 'TLS' },
    {
      server: { key, cert, minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' },
      ca: certs.ca,
    },
    false,
  );
  await waitFor(() => old.broker.tlsFailures.length >= 2 || old.broker.tlsVersions.size > 0, 8000);
  assert.equal(old.broker.tlsVersions.size, 0, `no TLS session below 1.2: ${[...old.broker.tlsVersions.values()]}`);
  assert.equal(old.broker.seen.length, 0, 'no MQTT packet');
  assert.notEqual(old.agent.dm.value(`${CLIENT}Status`), 'Connected');
});
