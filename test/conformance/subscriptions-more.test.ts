// TP-469 section 1, more subscription cases: NotifExpiration, and asynchronous Operate with and
// without a response, against one agent over a real mosquitto. The asynchronous operation is
// Device.SoftwareModules.InstallDU() from a URL nothing serves: it ends soon, in failure, which is
// an OperationComplete all the same (the plan's metrics do not ask for success).
// Substitution: 1.56 has USPNotifRetryMinimumWaitInterval 1 (not 5) and NotifExpiration 3 (not 20),
// and watches 6 s (not 60 s).

import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import type { DecodedMsg } from '../../src/usp/codec.js';
import { responseOf } from '../fixtures/usp-answer.js';
import { sleep } from '../helpers.js';
import { AGENT_ID, CTL_ID } from '../system/usp-world.js';
import { ControllerSim } from '../usp/controller-sim.js';
import { add, CTL, cleanUp, conformanceWorld, publishRaw, SUB, set, type World } from './world.js';

const the = conformanceWorld();
const INSTALL = 'Device.SoftwareModules.InstallDU()';

function createdPath(m: DecodedMsg): string {
  const ok = responseOf(m, 'add_resp').created_obj_results[0]?.oper_status?.oper_success;
  assert.ok(ok, `a successful AddResp: ${JSON.stringify(m.body)}`);
  return ok.instantiated_path!;
}

async function subscribe(t: TestContext, w: World, params: Record<string, string>): Promise<string> {
  const path = createdPath(await add(w, false, { path: SUB, params: { Enable: 'true', ...params } }));
  t.after(() => cleanUp(w, path));
  return path;
}

test('1.56 Notification Retry Expiration using Value Change', async (t) => {
  const w = the(t);
  if (!w) return;
  await subscribe(t, w, {
    ID: 'notify56',
    NotifType: 'ValueChange',
    ReferenceList: `${CTL}ProvisioningCode`,
    NotifRetry: 'true',
    NotifExpiration: '3',
  });
  w.ctl.acknowledge = false;
  t.after(() => {
    w.ctl.acknowledge = true;
  });
  const s = await set(w, false, { path: CTL, params: { ProvisioningCode: { value: 'TestValue56', required: true } } });
  responseOf(s, 'set_resp');
  const first = await w.ctl.waitForNotification((n) => n.subscriptionId === 'notify56');
  const t0 = Date.now();
  const arrivals: number[] = [];
  const seen = new Set<unknown>([first]);
  for (const end = t0 + 6000; Date.now() < end; await sleep(50))
    for (const n of w.ctl.notifications)
      if (n.subscriptionId === 'notify56' && !seen.has(n)) {
        seen.add(n);
        arrivals.push((Date.now() - t0) / 1000);
      }
  assert.ok(arrivals.length >= 1, 'the Notify is retried within NotifExpiration');
  assert.ok(
    arrivals.every((s) => s <= 3.3),
    `no retry after NotifExpiration (3 s): retries at ${arrivals.join(', ')} s`,
  );
});

const installArgs = { URL: 'http://127.0.0.1:9/tp469-nothing-here.tar' };

test('1.64 Asynchronous operation with send_resp true', async (t) => {
  const w = the(t);
  if (!w) return;
  await subscribe(t, w, { ID: 'notify64', NotifType: 'OperationComplete', ReferenceList: INSTALL });
  const m = await w.ctl.request('operate', 'OPERATE', {
    command: INSTALL,
    command_key: 'test64',
    send_resp: true,
    input_args: installArgs,
  });
  const [r, ...more] = responseOf(m, 'operate_resp').operation_results;
  assert.equal(more.length, 0);
  assert.equal(r!.executed_command, INSTALL);
  assert.match(r!.req_obj_path ?? '', /^Device\.LocalAgent\.Request\.\d+\.$/, JSON.stringify(r));
  const n = await w.ctl.waitForNotification((x) => x.subscriptionId === 'notify64', 10_000);
  const done = n.body.oper_complete;
  assert.ok(done, JSON.stringify(n.body));
  assert.equal(`${done.obj_path}${done.command_name}`, INSTALL);
  assert.equal(done.command_key, 'test64');
});

test('1.65 Asynchronous operation with send_resp false', async (t) => {
  const w = the(t);
  if (!w) return;
  await subscribe(t, w, { ID: 'notify65', NotifType: 'OperationComplete', ReferenceList: INSTALL });
  // Sent from a client of the test's own, so that an OperateResp, were there one, would come back
  // to it (the Notify goes to the controller's MTP topic all the same).
  const operate = new ControllerSim(CTL_ID, AGENT_ID).request('operate', 'OPERATE', {
    command: INSTALL,
    command_key: 'test65',
    send_resp: false,
    input_args: installArgs,
  });
  const answers = await publishRaw(w, operate.bytes, 1000);
  assert.deepEqual(answers, [], 'no OperateResp');
  const n = await w.ctl.waitForNotification((x) => x.subscriptionId === 'notify65', 10_000);
  const done = n.body.oper_complete;
  assert.ok(done, JSON.stringify(n.body));
  assert.equal(`${done.obj_path}${done.command_name}`, INSTALL);
  assert.equal(done.command_key, 'test65');
});
