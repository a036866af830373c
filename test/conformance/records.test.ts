// TP-469 sections 2 and 3: records the agent must not answer (from itself, for another endpoint)
// and malformed records, sent over a real mosquitto by an MQTT client of the test's own.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeRecord } from '../../src/usp/codec.js';
import { AGENT_ID, CTL_ID } from '../system/usp-world.js';
import { ControllerSim } from '../usp/controller-sim.js';
import { conformanceWorld, publishRaw } from './world.js';

const the = conformanceWorld();
const get = (from: string, to: string) =>
  new ControllerSim(from, to).request('get', 'GET', { param_paths: ['Device.LocalAgent.'] }).bytes;

test('2.1 Agent does not accept messages from its own Endpoint ID', async (t) => {
  const w = the(t);
  if (!w) return;
  assert.deepEqual(await publishRaw(w, get(AGENT_ID, AGENT_ID)), []);
  // The same request from the controller is answered: the silence above is the from_id's doing.
  const [answer, ...more] = await publishRaw(w, get(CTL_ID, AGENT_ID));
  assert.equal(more.length, 0);
  assert.equal(decodeRecord(answer!).to_id, CTL_ID);
});

test('2.2 Agent rejects messages that do not contain its to_id in the USP Record', async (t) => {
  const w = the(t);
  if (!w) return;
  assert.deepEqual(await publishRaw(w, get(AGENT_ID, 'os::not-the-agent')), []);
  assert.deepEqual(await publishRaw(w, get(CTL_ID, 'os::not-the-agent')), []);
});

test('3.1 Bad request outside a session context', async (t) => {
  const w = the(t);
  if (!w) return;
  const answers = [
    ...(await publishRaw(w, new Uint8Array([0x0a, 0xff, 0xff, 0x01]))),
    ...(await publishRaw(w, new TextEncoder().encode('not a USP record'))),
  ];
  // Ignored, or answered with a Record-level Error; never a Message.
  for (const a of answers) assert.ok(!decodeRecord(a).no_session_context, 'no Message in answer');
  const m = await w.ctl.request('get', 'GET', { param_paths: ['Device.LocalAgent.EndpointID'] });
  assert.equal(m.header.msg_type, 'GET_RESP', 'the agent still answers');
});
