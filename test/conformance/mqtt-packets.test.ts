// TP-469 section 11, the cases that look at MQTT packets or need a CONNACK or SUBACK that mosquitto
// does not send (a subscribe-topic User Property, refused subscriptions, a Server Keep Alive): one
// agent against a scripted MQTT 5.0 server (scripted-broker.ts), which records every packet. The plan
// reboots the agent to make it connect again; here ForceReconnect() does, except in 11.5, where the
// agent is stopped and a new one starts from the same state directory.
// Substitutions: KeepAliveTime 2 and Server Keep Alive 1 (not 60 and 30) in 11.7; ConnectRetryTime 1.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type mqttPacket from 'mqtt-packet';
import { Agent } from '../../src/agent.js';
import { mqttDeploymentDefaults } from '../../src/usp/mqtt/deployment.js';
import { silentLogger } from '../../src/util/logger.js';
import { agent as agentCaller, sleep, tempDir, waitFor } from '../helpers.js';
import { okScript, ScriptedBroker } from './scripted-broker.js';

const CLIENT = 'Device.MQTT.Client.1.';
const AGENT_TOPIC = 'usp/agent/packets';

const server = new ScriptedBroker({ version: 5 });
const { dir, cleanup } = tempDir('cpe-tp469-packets-');
let agent: Agent | undefined;
let defaults = '';

function startAgent(): Promise<void> {
  agent = new Agent({ stateDir: join(dir, 'state'), defaultsFile: defaults, logger: silentLogger });
  return agent.start();
}

const status = () => agent!.dm.value(`${CLIENT}Status`);

/** The plan's "reboot the EUT": the agent connects again, and the connection's number is returned. */
async function reconnect(): Promise<number> {
  const before = server.last;
  await agent!.dm.operate(`${CLIENT}ForceReconnect()`, {}, agentCaller);
  await waitFor(() => server.last > before && server.of(server.last, 'connect').length > 0, 5000);
  return server.last;
}

before(async () => {
  const port = await server.listen();
  defaults = join(dir, 'defaults.json');
  writeFileSync(
    defaults,
    JSON.stringify({
      ...mqttDeploymentDefaults({
        brokerPort: port,
        version: '5.0',
        agentTopic: AGENT_TOPIC,
        controllerId: 'proto::tp469-packets',
        controllerTopic: 'usp/controller/packets',
      }),
      [`${CLIENT}KeepAliveTime`]: '2',
      [`${CLIENT}ConnectRetryTime`]: '1',
      [`${CLIENT}ConnectRetryIntervalMultiplier`]: '2000',
    }),
  );
  await startAgent();
  await waitFor(() => status() === 'Connected', 5000);
});

after(async () => {
  await agent?.stop();
  await server.close();
  cleanup();
});

test('11.8 MQTT SUBSCRIBE Packet', async () => {
  server.script = {
    ...okScript(),
    connack: { responseInformation: 'usp/resp-info-11-8', userProperties: { 'subscribe-topic': 'usp/sub-11-8' } },
  };
  const conn = await reconnect();
  await waitFor(() => server.of(conn, 'subscribe').length > 0, 5000);
  const [connect] = server.of(conn, 'connect') as mqttPacket.IConnectPacket[];
  assert.equal(connect!.properties?.requestResponseInformation, true, 'Request Response Information 1');
  const topics = (server.of(conn, 'subscribe') as mqttPacket.ISubscribePacket[]).flatMap((s) =>
    s.subscriptions.map((x) => x.topic),
  );
  assert.ok(topics.includes('usp/sub-11-8'), `the subscribe-topic is subscribed: ${topics}`);
  assert.ok(topics.includes('usp/resp-info-11-8'), `the Response Information is subscribed: ${topics}`);
});

test('11.7 MQTT Keep Alive', async () => {
  server.script = { ...okScript(), connack: { serverKeepAlive: 1 } };
  const conn = await reconnect();
  const [connect] = server.of(conn, 'connect') as mqttPacket.IConnectPacket[];
  assert.equal(connect!.keepalive, 2, 'the CONNECT carries KeepAliveTime');
  await sleep(2500);
  const times = server.seen.filter((s) => s.conn === conn).map((s) => s.at);
  const pings = server.seen.filter((s) => s.conn === conn && s.packet.cmd === 'pingreq');
  assert.ok(pings.length >= 1, 'PINGREQ sent');
  // Between any two packets of the connection, at most 1.5 times the Server Keep Alive.
  for (let i = 1; i < times.length; i++)
    assert.ok(times[i]! - times[i - 1]! <= 1600, `gap ${times[i]! - times[i - 1]!} ms`);
});

test('11.10 MQTT No Topic in CONNACK', async (t) => {
  // No configured topic either (the agent would subscribe to it) and no Response Information.
  const topic = `Device.LocalAgent.MTP.1.MQTT.ResponseTopicConfigured`;
  agent!.dm.update('Device.LocalAgent.MTP.1.MQTT.', { ResponseTopicConfigured: '' }, 'test');
  t.after(() => agent!.dm.update('Device.LocalAgent.MTP.1.MQTT.', { ResponseTopicConfigured: AGENT_TOPIC }, 'test'));
  assert.equal(agent!.dm.value(topic), '');
  await sleep(300); // a reconnection the change may start on its own
  server.script = okScript();
  const conn = await reconnect();
  await waitFor(() => server.of(conn, 'disconnect').length > 0, 3000);
  assert.equal(server.of(conn, 'subscribe').length, 0);
  assert.equal(server.of(conn, 'publish').length, 0);
});

test('11.11 MQTT Failure to Subscribe', async () => {
  server.script = { ...okScript(), subackRefuses: true };
  const conn = await reconnect();
  await waitFor(() => server.of(conn, 'disconnect').length > 0, 3000);
  assert.ok(server.of(conn, 'subscribe').length > 0);
  await sleep(500);
  assert.equal(server.of(conn, 'publish').length, 0, 'no USP record published');
  server.script = okScript();
});

test('11.6 MQTT Message Retry', async () => {
  server.script = { ...okScript(), down: true };
  const from = server.attempts.length;
  const at = Date.now();
  await agent!.dm.operate(`${CLIENT}ForceReconnect()`, {}, agentCaller);
  await waitFor(() => server.attempts.length >= from + 3, 10_000);
  server.script = okScript(); // the agent connects again at its next retry; 11.5 does not wait for it
  // The attempt ForceReconnect makes, then the retries: ConnectRetryTime 1, multiplier 2000.
  const [, r1, r2] = server.attempts.slice(from).map((x, i, a) => (x - (i ? a[i - 1]! : at)) / 1000);
  assert.ok(r1! >= 0.9 && r1! <= 2.2, `first retry after ${r1} s (1-2 s)`);
  assert.ok(r2! >= 1.9 && r2! <= 4.2, `second retry after ${r2} s (2-4 s)`);
});

test('11.5 MQTT ClientID Persistence', async () => {
  // The deployment leaves ClientID empty: the server assigned one at the first CONNECT.
  assert.equal(agent!.dm.value(`${CLIENT}ClientID`), 'tp469-assigned-id');
  await agent!.stop();
  const before = server.last;
  await startAgent();
  await waitFor(() => server.last > before && server.of(server.last, 'connect').length > 0, 5000);
  const [connect] = server.of(server.last, 'connect') as mqttPacket.IConnectPacket[];
  assert.equal(connect!.clientId, 'tp469-assigned-id', 'the same ClientID after the restart');
});
