// TP-469 2.9 (the Untrusted role) and what bounds it, against one agent over a real mosquitto. The
// operator has opted in (ControllerTrust.X_CPE-AGENT_AdmitUnknownControllers true in the defaults):
// a controller the agent does not know is answered under the UntrustedRole, on a row of its own.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { type TestContext, test } from 'node:test';
import { UspController } from '../../src/usp/controller-client.js';
import { responseOf } from '../fixtures/usp-answer.js';
import { AGENT_ID } from '../system/usp-world.js';
import { cleanUp, conformanceWorld, get, resolved, set, type World } from './world.js';

const CT = 'Device.LocalAgent.ControllerTrust.';
const ADMIT = 'X_CPE-AGENT_AdmitUnknownControllers';
const MAX = 'X_CPE-AGENT_MaxAdmittedControllers';

const the = conformanceWorld({ [`${CT}${ADMIT}`]: 'true' });

/** Another controller, on a topic of its own, that the agent has never heard of; closed after the test. */
async function stranger(t: TestContext, w: World, timeoutMs = 5000): Promise<UspController> {
  const id = `proto::stranger-${randomUUID().slice(0, 8)}`;
  const ctl = new UspController({
    url: `mqtt://127.0.0.1:${w.port}`,
    version: '5.0',
    endpointId: id,
    topic: `usp/controller/${id.slice(7)}`,
    agentId: AGENT_ID,
    agentTopic: 'usp/agent/test',
    timeoutMs,
  });
  await ctl.connect();
  t.after(() => ctl.close());
  return ctl;
}

const strangerGet = (c: UspController) =>
  c.request('get', 'GET', { param_paths: ['Device.LocalAgent.SoftwareVersion'], max_depth: 0 });

/** The Controller rows, as the primary controller reads them, by EndpointID. */
async function controllerRows(w: World): Promise<Map<string, { path: string; params: Record<string, string> }>> {
  const rows = new Map<string, { path: string; params: Record<string, string> }>();
  for (const [path, params] of Object.entries(resolved(await get(w, ['Device.LocalAgent.Controller.']))))
    if (/^Device\.LocalAgent\.Controller\.\d+\.$/.test(path) && params.EndpointID)
      rows.set(params.EndpointID, { path, params });
  return rows;
}

async function setTrust(w: World, params: Record<string, string>): Promise<void> {
  responseOf(await set(w, false, { path: CT, params }), 'set_resp');
}

test('2.9 Use of the Untrusted role', async (t) => {
  const w = the(t);
  if (!w) return;
  // 1. A secondary controller connects and sends a Get: answered, as the UntrustedRole allows reading.
  const second = await stranger(t, w);
  const answer = responseOf(await strangerGet(second), 'get_resp');
  assert.equal(answer.req_path_results[0]?.err_code ?? 0, 0, JSON.stringify(answer));
  // 2. The primary controller Gets Device.LocalAgent.Controller.
  const rows = await controllerRows(w);
  const row = rows.get(second.opts.endpointId);
  assert.ok(row, `a Controller row for the secondary controller: ${JSON.stringify([...rows.keys()])}`);
  t.after(() => cleanUp(w, row.path));
  const untrusted = resolved(await get(w, [`${CT}UntrustedRole`]))[CT]?.UntrustedRole;
  assert.ok(untrusted, 'the agent has an UntrustedRole');
  // Metric 1: its AssignedRole is the UntrustedRole.
  assert.equal(row.params.AssignedRole, untrusted);
  assert.equal(row.params.Enable, 'true');
  assert.equal(row.params['X_CPE-AGENT_Admitted'], 'true');
  // Its MTP row names the topic it asked to be answered on, where notifications go too.
  const mtps = resolved(await get(w, [`${row.path}MTP.`]));
  const mqtt = Object.entries(mtps).find(([p]) => p.endsWith('.MQTT.'))?.[1];
  assert.equal(mqtt?.Topic, second.opts.topic);
});

test('Unknown controllers with the switch off: not answered, no Controller row made', async (t) => {
  const w = the(t);
  if (!w) return;
  await setTrust(w, { [ADMIT]: 'false' });
  t.after(() => setTrust(w, { [ADMIT]: 'true' }));
  const second = await stranger(t, w, 1500);
  await assert.rejects(strangerGet(second), /no answer/);
  assert.equal((await controllerRows(w)).has(second.opts.endpointId), false);
});

test('Unknown controllers past X_CPE-AGENT_MaxAdmittedControllers: not answered, no row made', async (t) => {
  const w = the(t);
  if (!w) return;
  await setTrust(w, { [MAX]: '1' });
  t.after(() => setTrust(w, { [MAX]: '8' }));
  const first = await stranger(t, w);
  responseOf(await strangerGet(first), 'get_resp');
  const row = (await controllerRows(w)).get(first.opts.endpointId);
  assert.ok(row, 'the first unknown controller is admitted');
  t.after(() => cleanUp(w, row.path));
  const second = await stranger(t, w, 1500);
  await assert.rejects(strangerGet(second), /no answer/);
  assert.equal((await controllerRows(w)).has(second.opts.endpointId), false);
  // The first one is still answered: it has a row now.
  responseOf(await strangerGet(first), 'get_resp');
});
