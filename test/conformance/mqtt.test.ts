// TP-469 section 11: MQTT subscriptions the controller adds at run time, against one agent over a
// real mosquitto (MQTT 5.0). Requests reach the new topics from an MQTT client of the test's own;
// SUBSCRIBE and UNSUBSCRIBE are seen in their effect: the agent answers on the topic, then does not.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeMsg, decodeRecord } from '../../src/usp/codec.js';
import { responseOf } from '../fixtures/usp-answer.js';
import { sleep } from '../helpers.js';
import { AGENT_ID, CTL_ID } from '../system/usp-world.js';
import { ControllerSim } from '../usp/controller-sim.js';
import { add, cleanUp, conformanceWorld, publishRaw, set, type World } from './world.js';

const the = conformanceWorld();
const CLIENT = 'Device.MQTT.Client.1.';

/** The agent's answers to a Get sent on a topic, decoded to their messages. */
async function getOn(w: World, topic: string, path: string, qos: 0 | 1 = 1) {
  const bytes = new ControllerSim(CTL_ID, AGENT_ID).request('get', 'GET', { param_paths: [path] }).bytes;
  return (await publishRaw(w, bytes, 700, topic, qos)).map((b) =>
    decodeMsg(decodeRecord(b).no_session_context!.payload),
  );
}

async function subscribeTopic(w: World, topic: string, qos?: string) {
  const m = await add(w, false, {
    path: `${CLIENT}Subscription.`,
    params: { Enable: 'true', Topic: topic, ...(qos ? { QoS: qos } : {}) },
  });
  return responseOf(m, 'add_resp').created_obj_results[0]!.oper_status!.oper_success!.instantiated_path!;
}

test('11.9 MQTT New Subscription', async (t) => {
  const w = the(t);
  if (!w) return;
  const sub = await subscribeTopic(w, 'newTopic-11-9');
  t.after(() => cleanUp(w, sub));
  await sleep(300); // SUBSCRIBE and SUBACK
  const [answer, ...more] = await getOn(w, 'newTopic-11-9', sub);
  assert.equal(more.length, 0);
  const got = responseOf(answer!, 'get_resp').req_path_results[0]!.resolved_path_results[0]!;
  assert.equal(got.resolved_path, sub);
  assert.equal(got.result_params.Topic, 'newTopic-11-9');
  // The plan's Set names the object without its trailing dot; an object path has one (7008 without).
  const off = await set(w, false, { path: sub, params: { Enable: { value: 'false', required: true } } });
  responseOf(off, 'set_resp');
  await sleep(300); // UNSUBSCRIBE
  assert.deepEqual(await getOn(w, 'newTopic-11-9', sub), [], 'unsubscribed: the agent hears nothing there');
});

test('11.13 MQTT QoS', async (t) => {
  const w = the(t);
  if (!w) return;
  const subs = [
    await subscribeTopic(w, 'newTopic-11-13-QoS0', '0'),
    await subscribeTopic(w, 'newTopic-11-13-QoS1', '1'),
  ];
  t.after(() => cleanUp(w, ...subs));
  await sleep(300);
  for (const [i, qos] of [0, 1].entries()) {
    const [answer] = await getOn(w, `newTopic-11-13-QoS${qos}`, subs[i]!, qos as 0 | 1);
    assert.equal(answer?.header.msg_type, 'GET_RESP', `answered on the QoS ${qos} topic`);
  }
});

test('11.15 MQTT 5.0 Content Type', async (t) => {
  const w = the(t);
  if (!w) return;
  const get = new ControllerSim(CTL_ID, AGENT_ID).request('get', 'GET', {
    param_paths: ['Device.LocalAgent.EndpointID'],
  });
  for (const type of ['usp.msg', 'application/vnd.bbf.usp.msg']) {
    const [answer, ...more] = await publishRaw(w, get.bytes, 500, undefined, 1, type);
    assert.equal(more.length, 0);
    const m = decodeMsg(decodeRecord(answer!).no_session_context!.payload);
    assert.equal(m.header.msg_type, 'GET_RESP', `answered with Content Type ${type}`);
  }
});
