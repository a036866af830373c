// TP-469 section 1: subscriptions and notifications (ValueChange, ObjectCreation, ObjectDeletion,
// TimeToLive, search paths, TriggerAction), against one agent over a real mosquitto.
// Substitutions (allowed by the plan, reported in docs/conformance.md), to keep the run short: the
// waits of 1.53 and 1.55 are 2 s, not 20 s, with TimeToLive 2 in 1.55; 1.59's PeriodicNotifInterval
// is 2 s (+/- 0.5 s), not 60 s (+/- 4 s).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DecodedMsg } from '../../src/usp/codec.js';
import { responseOf } from '../fixtures/usp-answer.js';
import { sleep } from '../helpers.js';
import { add, CTL, cleanUp, conformanceWorld, del, get, resolved, SUB, set, type World } from './world.js';

const the = conformanceWorld();
const PC = `${CTL}ProvisioningCode`;

const subscribe = (w: World, id: string, type: string, ref: string, extra: Record<string, string> = {}) =>
  add(w, false, {
    path: SUB,
    params: {
      Enable: 'true',
      ID: id,
      NotifType: type,
      ReferenceList: { value: ref, required: true },
      NotifRetry: 'true',
      ...extra,
    },
  });

function createdPath(m: DecodedMsg): string {
  const ok = responseOf(m, 'add_resp').created_obj_results[0]?.oper_status?.oper_success;
  assert.ok(ok, `a successful AddResp: ${JSON.stringify(m.body)}`);
  return ok.instantiated_path!;
}

const setPC = async (w: World, value: string) => {
  const m = await set(w, false, { path: CTL, params: { ProvisioningCode: { value, required: true } } });
  responseOf(m, 'set_resp');
};

const notified = (w: World, id: string) => w.ctl.notifications.filter((n) => n.subscriptionId === id);

test('1.52 Notify - Subscription creation using Value Change', async (t) => {
  const w = the(t);
  if (!w) return;
  const path = createdPath(await subscribe(w, 'notify52', 'ValueChange', PC));
  await setPC(w, 'TestValue52');
  const n = await w.ctl.waitForNotification((x) => x.subscriptionId === 'notify52');
  assert.deepEqual(n.body.value_change, { param_path: PC, param_value: 'TestValue52' });
  await cleanUp(w, path);
});

test('1.53 Notify - Subscription Deletion Using Value Change', async (t) => {
  const w = the(t);
  if (!w) return;
  const path = createdPath(await subscribe(w, 'notify53', 'ValueChange', PC));
  await setPC(w, 'TestValue53');
  await w.ctl.waitForNotification((x) => x.subscriptionId === 'notify53');
  const d = responseOf(await del(w, false, path), 'delete_resp').deleted_obj_results[0]!;
  assert.deepEqual(d.oper_status?.oper_success?.affected_paths, [path]);
  await setPC(w, 'TestValue53-2');
  await sleep(2000);
  assert.equal(notified(w, 'notify53').length, 1, 'no Notify after the subscription was deleted');
});

test('1.55 Subscription Expiration using Value Change', async (t) => {
  const w = the(t);
  if (!w) return;
  const path = createdPath(await subscribe(w, 'notify55', 'ValueChange', PC, { TimeToLive: '2' }));
  await setPC(w, 'TestValue55');
  await w.ctl.waitForNotification((x) => x.subscriptionId === 'notify55');
  await sleep(2500);
  const m = await w.ctl.request('get_instances', 'GET_INSTANCES', { obj_paths: [SUB], first_level_only: true });
  const insts = responseOf(m, 'get_instances_resp').req_path_results[0]!.curr_insts.map((i) => i.instantiated_obj_path);
  assert.ok(!insts.includes(path), `${path} expired: ${insts}`);
  await setPC(w, 'TestValue55-2');
  await sleep(300);
  assert.equal(notified(w, 'notify55').length, 1, 'no Notify after the subscription expired');
});

test('1.57 ObjectCreation Notification', async (t) => {
  const w = the(t);
  if (!w) return;
  const path = createdPath(await subscribe(w, 'notify57', 'ObjectCreation', SUB));
  const second = createdPath(await subscribe(w, 'notify57-2', 'ValueChange', PC));
  const n = await w.ctl.waitForNotification((x) => x.subscriptionId === 'notify57');
  assert.equal(n.body.obj_creation?.obj_path, second);
  assert.equal(n.body.obj_creation?.unique_keys?.ID, 'notify57-2');
  await cleanUp(w, path, second);
});

test('1.58 ObjectDeletion Notification', async (t) => {
  const w = the(t);
  if (!w) return;
  const victim = createdPath(await subscribe(w, 'victim58', 'ValueChange', PC));
  const path = createdPath(await subscribe(w, 'notify58', 'ObjectDeletion', SUB));
  responseOf(await del(w, false, victim), 'delete_resp');
  const n = await w.ctl.waitForNotification((x) => x.subscriptionId === 'notify58');
  assert.equal(n.body.obj_deletion?.obj_path, victim);
  await cleanUp(w, path);
});

test('1.84 Notification - Subscription using search paths', async (t) => {
  const w = the(t);
  if (!w) return;
  const bp = `${CTL}BootParameter.`;
  const rows = await Promise.all(
    ['Device.DeviceInfo.ModelName', 'Device.LocalAgent.SoftwareVersion'].map(async (name) =>
      createdPath(await add(w, false, { path: bp, params: { Enable: 'true', ParameterName: name } })),
    ),
  );
  const path = createdPath(await subscribe(w, 'notify84', 'ValueChange', `${bp}*.Enable`));
  responseOf(
    await set(w, false, { path: rows[1]!, params: { Enable: { value: 'false', required: true } } }),
    'set_resp',
  );
  const n = await w.ctl.waitForNotification((x) => x.subscriptionId === 'notify84');
  assert.deepEqual(n.body.value_change, { param_path: `${rows[1]}Enable`, param_value: 'false' });
  await cleanUp(w, path, ...rows);
});

for (const [name, action, n] of [
  ['1.93 Subscription using TriggerAction Config', 'Config', '93'],
  ['1.94 Subscription using TriggerAction NotifyAndConfig', 'NotifyAndConfig', '94'],
] as const) {
  const id = `notify${n}`;
  test(name, async (t) => {
    const w = the(t);
    if (!w) return;
    const path = createdPath(await subscribe(w, id, 'ValueChange', PC, { TriggerAction: action }));
    const s = await set(w, false, {
      path,
      params: { TriggerConfigSettings: { value: `${path}Enable=false`, required: true } },
    });
    responseOf(s, 'set_resp');
    const value = `TestValue${n}`;
    await setPC(w, value);
    if (action === 'NotifyAndConfig') {
      const note = await w.ctl.waitForNotification((x) => x.subscriptionId === id);
      assert.deepEqual(note.body.value_change, { param_path: PC, param_value: value });
    } else {
      await sleep(300);
      assert.equal(notified(w, id).length, 0, 'Config alone sends no Notify');
    }
    const enable = resolved(await get(w, [`${path}Enable`]))[path]?.Enable;
    assert.equal(enable, 'false', 'the trigger configured the subscription');
    await cleanUp(w, path);
  });
}

test('TriggerConfigSettings items that are not "<path>=<value>" are refused with 7012', async (t) => {
  const w = the(t);
  if (!w) return;
  const path = createdPath(await subscribe(w, 'trigger-bad', 'ValueChange', PC, { TriggerAction: 'Config' }));
  const m = await set(w, false, {
    path,
    params: { TriggerConfigSettings: { value: 'not a setting', required: true } },
  });
  assert.equal(m.body.error?.param_errs[0]?.err_code, 7012);
  await cleanUp(w, path);
});

test('1.59 Event Notification using Periodic!', async (t) => {
  const w = the(t);
  if (!w) return;
  const s = await set(w, false, {
    path: CTL,
    params: {
      PeriodicNotifInterval: { value: '2', required: true },
      PeriodicNotifTime: { value: '2019-01-01T00:00:00Z', required: true },
    },
  });
  responseOf(s, 'set_resp').updated_obj_results[0]!.oper_status!.oper_success!;
  t.after(() => set(w, false, { path: CTL, params: { PeriodicNotifInterval: '86400' } }));
  const path = createdPath(
    await add(w, false, {
      path: SUB,
      params: { Enable: 'true', ID: 'sub-103', NotifType: 'Event', ReferenceList: 'Device.LocalAgent.Periodic!' },
    }),
  );
  t.after(() => cleanUp(w, path));
  const periodic = (n: { subscriptionId: string; body: { event?: { event_name?: string | null } | null } }) =>
    n.subscriptionId === 'sub-103' && n.body.event?.event_name === 'Periodic!';
  await w.ctl.waitForNotification(periodic, 5000);
  const first = Date.now();
  await w.ctl.waitForNotification((n) => periodic(n) && notified(w, 'sub-103').length >= 2, 5000);
  const gap = (Date.now() - first) / 1000;
  assert.ok(gap > 2 - 0.5 && gap < 2 + 0.5, `the second Periodic! ${gap} s after the first`);
});

test('1.78 Removal of subscriptions that have no associated controller', async (t) => {
  const w = the(t);
  if (!w) return;
  const ctl2 = createdPath(
    await add(w, false, {
      path: 'Device.LocalAgent.Controller.',
      params: { EndpointID: 'proto::tp469-secondary', Enable: 'true' },
    }),
  );
  // The secondary controller's own subscription: made as that controller would, in the agent.
  const [sub] = w.agent.dm.add(
    SUB,
    [
      { name: 'ID', value: 'secondary-78' },
      { name: 'NotifType', value: 'ValueChange' },
      { name: 'ReferenceList', value: PC },
    ],
    { kind: 'usp', endpointId: 'proto::tp469-secondary' },
  );
  assert.equal(w.agent.dm.value(`${sub!.path}Recipient`), ctl2.slice(0, -1));
  responseOf(await del(w, false, ctl2), 'delete_resp');
  const left = resolved(await get(w, [SUB]));
  assert.ok(!(sub!.path in left), `${sub!.path} went with its controller`);
});
