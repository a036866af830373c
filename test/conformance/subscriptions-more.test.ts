// TP-469 section 1, more subscription cases: NotifExpiration, and asynchronous Operate with and
// without a response, against one agent over a real mosquitto. The asynchronous operation is
// Device.SoftwareModules.InstallDU() from a URL nothing serves: it ends soon, in failure, which is
// an OperationComplete all the same (the plan's metrics do not ask for success).
// Substitution: 1.56 has USPNotifRetryMinimumWaitInterval 1 (not 5) and NotifExpiration 3 (not 20),
// and watches 6 s (not 60 s); 1.54 has USPNotifRetryMinimumWaitInterval 1 (not 5), so its windows are
// 1-2 s and 2-4 s (not 5-10 s and 10-20 s).

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

/**
 * How far an arrival at the controller may be from the agent's send (MQTT delivery, a loaded machine): a
 * late copy shortens the next wait as measured here and lengthens its own, so both sides have room.
 */
const EARLY = 0.5;
const LATE = 1;

test('1.54 Notification Retry using Value Change', async (t) => {
  const w = the(t);
  if (!w) return;
  // The plan's defaults scaled down: m = 1 s (not 5), k = 2000, so the n-th retry waits m*2^(n-1) to m*2^n.
  const m = 1;
  const r = await set(w, false, {
    path: CTL,
    params: {
      ProvisioningCode: 'tp469-54',
      USPNotifRetryMinimumWaitInterval: { value: String(m), required: true },
      USPNotifRetryIntervalMultiplier: { value: '2000', required: true },
    },
  });
  responseOf(r, 'set_resp');
  await subscribe(t, w, {
    ID: 'notify54',
    NotifType: 'ValueChange',
    ReferenceList: `${CTL}ProvisioningCode`,
    NotifRetry: 'true',
  });
  w.ctl.acknowledge = false;
  t.after(() => {
    w.ctl.acknowledge = true;
  });
  // Each copy is stamped as it arrives: the listener is in place before the Set that causes the Notify.
  const at = new Map<unknown, number>();
  const third = w.ctl.waitForNotification((n) => {
    if (n.subscriptionId !== 'notify54' || at.has(n)) return false;
    at.set(n, performance.now() / 1000);
    return at.size === 3;
  }, 15_000);
  const s = await set(w, false, { path: CTL, params: { ProvisioningCode: { value: 'TestValue54', required: true } } });
  responseOf(s, 'set_resp');
  await third;
  w.ctl.acknowledge = true;
  const copies = [...at.keys()] as typeof w.ctl.notifications;
  assert.equal(copies[0]!.body.send_resp, true, 'NotifRetry true: the Notify asks for a NotifyResp');
  assert.equal(copies[0]!.body.value_change?.param_value, 'TestValue54');
  assert.equal(new Set(copies.map((c) => c.msg.header.msg_id)).size, 1, 'a retry resends the same Notify');
  const [t0, t1, t2] = [...at.values()] as [number, number, number];
  const windows = [
    { n: 'first', wait: t1 - t0, lo: m, hi: 2 * m },
    { n: 'second', wait: t2 - t1, lo: 2 * m, hi: 4 * m },
  ];
  for (const x of windows)
    assert.ok(
      x.wait >= x.lo - EARLY && x.wait <= x.hi + LATE,
      `the ${x.n} retry ${x.wait.toFixed(2)} s after the previous send, not within ${x.lo}-${x.hi} s`,
    );
});
