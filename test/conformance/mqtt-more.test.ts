// TP-469 section 11, more MQTT cases: the required MQTT profiles, the assigned ClientID, and the
// reconnection after the broker ends the session, against one agent over a real mosquitto (5.0).
// The broker ends the agent's session the way mosquitto does it: another client connects with the
// agent's ClientID (session takeover, DISCONNECT 0x8E). Substitution: ConnectRetryTime is 1 s (not
// the default 5 s), to keep the run short.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connectAsync } from 'mqtt';
import type * as usp from '../../src/usp/generated/usp-msg.js';
import { responseOf } from '../fixtures/usp-answer.js';
import { sleep } from '../helpers.js';
import { conformanceWorld, get, resolved, type World } from './world.js';

const CLIENT = 'Device.MQTT.Client.1.';
const the = conformanceWorld({
  [`${CLIENT}ConnectRetryTime`]: '1',
  [`${CLIENT}ConnectRetryIntervalMultiplier`]: '2000',
});

/** The MQTTClientCon:1, MQTTClientSubscribe:1, MQTTAgent:1 and MQTTController:1 profiles (TR-181). */
const PROFILES: Record<string, { readOnly?: string[]; readWrite?: string[] }> = {
  'Device.MQTT.': { readOnly: ['ClientNumberOfEntries'] },
  'Device.MQTT.Capabilities.': { readOnly: ['ProtocolVersionsSupported', 'TransportProtocolSupported'] },
  'Device.MQTT.Client.{i}.': {
    readOnly: ['Status', 'ResponseInformation', 'SubscriptionNumberOfEntries'],
    // MessageRetryTime too, which the plan waives for a 5.0-only agent; this one speaks 3.1.1 as well.
    readWrite: [
      'Enable',
      'ProtocolVersion',
      'BrokerAddress',
      'BrokerPort',
      'CleanSession',
      'KeepAliveTime',
      'Name',
      'ClientID',
      'Username',
      'Password',
      'TransportProtocol',
      'MessageRetryTime',
      'ConnectRetryTime',
      'ConnectRetryMaxInterval',
    ],
  },
  'Device.MQTT.Client.{i}.Subscription.{i}.': { readOnly: ['QoS'], readWrite: ['Topic', 'Enable'] },
  'Device.LocalAgent.MTP.{i}.MQTT.': {
    readOnly: ['Reference', 'ResponseTopicDiscovered'],
    readWrite: ['ResponseTopicConfigured'],
  },
  // MQTTController:1's Reference is status="deleted" (TR-181 2.18): only Topic is left to support.
  'Device.LocalAgent.Controller.{i}.MTP.{i}.MQTT.': { readWrite: ['Topic'] },
};

const writable = (a: unknown) => ['PARAM_READ_WRITE', 'PARAM_WRITE_ONLY', 1, 2].includes(a as never);

test('11.1 Support of Required MQTT Profiles', async (t) => {
  const w = the(t);
  if (!w) return;
  const m = await w.ctl.request('get_supported_dm', 'GET_SUPPORTED_DM', {
    obj_paths: ['Device.MQTT.', 'Device.LocalAgent.'],
    return_params: true,
    first_level_only: false,
  });
  const results = responseOf(m, 'get_supported_dm_resp').req_obj_results;
  assert.equal(results.length, 2);
  const objs = new Map<string, usp.GetSupportedDMResp.ISupportedObjectResult>();
  for (const r of results) {
    assert.equal(r.err_code ?? 0, 0, `${r.req_obj_path}: ${r.err_msg}`);
    for (const o of r.supported_objs ?? []) objs.set(o.supported_obj_path!, o);
  }
  for (const [path, want] of Object.entries(PROFILES)) {
    const o = objs.get(path);
    assert.ok(o, `${path} is supported`);
    const params = new Map((o.supported_params ?? []).map((p) => [p.param_name!, p.access]));
    for (const name of [...(want.readOnly ?? []), ...(want.readWrite ?? [])])
      assert.ok(params.has(name), `${path}${name} is supported`);
    for (const name of want.readWrite ?? []) assert.ok(writable(params.get(name)), `${path}${name} is writable`);
  }
});

const clientId = async (w: World) => resolved(await get(w, [`${CLIENT}ClientID`]))[CLIENT]?.ClientID ?? '';
const status = (w: World) => w.agent.dm.value(`${CLIENT}Status`);

test('11.4 MQTT 5.0 ClientID', async (t) => {
  const w = the(t);
  if (!w) return;
  // The deployment leaves ClientID empty: the CONNECT carries an empty ClientID, and mosquitto
  // assigns "auto-<uuid>" only then (it is the Assigned Client Identifier of the CONNACK).
  const id = await clientId(w);
  assert.match(id, /^auto-[0-9A-F-]{36}$/i, 'the Assigned Client Identifier, as the agent stores it');
});

/** Takes the agent's session over (mosquitto then disconnects the agent); returns when it happened. */
async function takeOver(w: World, id: string): Promise<number> {
  const thief = await connectAsync(`mqtt://127.0.0.1:${w.port}`, { protocolVersion: 5, clientId: id });
  const at = Date.now();
  await thief.endAsync();
  return at;
}

async function reconnected(w: World, timeoutMs: number): Promise<number> {
  for (const end = Date.now() + timeoutMs; Date.now() < end; await sleep(20))
    if (status(w) === 'Connected') return Date.now();
  throw new Error(`the agent did not reconnect within ${timeoutMs} ms (Status ${status(w)})`);
}

test('11.16 MQTT Connection Retry', async (t) => {
  const w = the(t);
  if (!w) return;
  const id = await clientId(w);
  assert.equal(status(w), 'Connected');
  const at = await takeOver(w, id);
  for (const end = Date.now() + 1000; status(w) === 'Connected' && Date.now() < end; ) await sleep(10);
  assert.notEqual(status(w), 'Connected', 'the broker ended the agent’s session');
  const back = await reconnected(w, 5000);
  const seconds = (back - at) / 1000;
  // ConnectRetryTime 1 s, multiplier 2000: the first retry between 1 s and 2 s (plus the connect).
  assert.ok(seconds >= 1 && seconds <= 2.5, `reconnected after ${seconds} s`);
});
