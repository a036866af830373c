// TP-469 section 2: roles and permissions (ControllerTrust), against one agent over a real
// mosquitto. The test controller's AssignedRole is writable (Role.1, full access); each test adds
// the Permission its procedure gives, with the next Order so that it decides, and deletes it after.
// Substitution: 2.20 waits 2 s (not 30 s) for the Notify that must not come.

import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import type { DecodedMsg } from '../../src/usp/codec.js';
import { errorOf, responseOf } from '../fixtures/usp-answer.js';
import { sleep } from '../helpers.js';
import { add, CTL, cleanUp, conformanceWorld, del, get, resolved, SUB, set, type World } from './world.js';

const the = conformanceWorld();
const ROLE = 'Device.LocalAgent.ControllerTrust.Role.1.';

function createdPath(m: DecodedMsg): string {
  const ok = responseOf(m, 'add_resp').created_obj_results[0]?.oper_status?.oper_success;
  assert.ok(ok, `a successful AddResp: ${JSON.stringify(m.body)}`);
  return ok.instantiated_path!;
}

/** Metric 1 of 2.11-2.18: the Permission is created (and removed again after the test). */
async function permission(t: TestContext, w: World, targets: string, rights: Record<string, string>) {
  const m = await add(w, false, {
    path: `${ROLE}Permission.`,
    params: { Enable: 'true', Targets: targets, ...rights },
  });
  const path = createdPath(m);
  assert.match(path, /^Device\.LocalAgent\.ControllerTrust\.Role\.1\.Permission\.\d+\.$/);
  t.after(() => cleanUp(w, path));
  return path;
}

const rights = (param: string, obj: string, inst: string, cmd: string) => ({
  Param: param,
  Obj: obj,
  InstantiatedObj: inst,
  CommandEvent: cmd,
});

async function subscription(t: TestContext, w: World, id: string): Promise<string> {
  const path = createdPath(
    await add(w, false, {
      path: SUB,
      params: { ID: id, NotifType: 'ValueChange', ReferenceList: 'Device.LocalAgent.SoftwareVersion' },
    }),
  );
  t.after(() => cleanUp(w, path));
  return path;
}

test('2.10 Adding a Role', async (t) => {
  const w = the(t);
  if (!w) return;
  const path = createdPath(
    await add(w, false, {
      path: 'Device.LocalAgent.ControllerTrust.Role.',
      params: { Enable: 'true', Name: 'Trusted' },
    }),
  );
  assert.match(path, /^Device\.LocalAgent\.ControllerTrust\.Role\.\d+\.$/);
  assert.equal(resolved(await get(w, [path]))[path]?.Name, 'Trusted');
  await cleanUp(w, path);
});

test('2.11 Permissions - Object Creation Allowed', async (t) => {
  const w = the(t);
  if (!w) return;
  await permission(t, w, SUB, rights('rwxn', 'rw--', 'rwxn', 'rwxn'));
  await subscription(t, w, 'perm211');
});

test('2.12 Permissions - Object Creation Not Allowed', async (t) => {
  const w = the(t);
  if (!w) return;
  await permission(t, w, SUB, rights('rwxn', 'r---', 'rwxn', 'rwxn'));
  const m = await add(w, false, { path: SUB, params: { ID: 'perm212' } });
  assert.equal(errorOf(m).err_code, 7006);
});

test('2.13 Permissions - Object Deletion Allowed', async (t) => {
  const w = the(t);
  if (!w) return;
  const sub = await subscription(t, w, 'perm213');
  await permission(t, w, SUB, rights('rwxn', 'rwxn', 'rw--', 'rwxn'));
  const d = responseOf(await del(w, false, sub), 'delete_resp').deleted_obj_results[0]!;
  assert.deepEqual(d.oper_status?.oper_success?.affected_paths, [sub]);
});

test('2.14 Permissions - Object Deletion Not Allowed', async (t) => {
  const w = the(t);
  if (!w) return;
  const sub = await subscription(t, w, 'perm214');
  const perm = await permission(t, w, SUB, rights('rwxn', 'rwxn', 'r---', 'rwxn'));
  assert.equal(errorOf(await del(w, false, sub)).err_code, 7006);
  await cleanUp(w, perm); // so that the subscription can go
});

for (const [name, param, allowed] of [
  ['2.15 Permissions - Parameter Update Allowed', 'rw--', true],
  ['2.16 Permissions - Parameter Update Not Allowed', 'r---', false],
] as const) {
  test(name, async (t) => {
    const w = the(t);
    if (!w) return;
    const sub = await subscription(t, w, `perm${name.slice(2, 4)}`);
    const perm = await permission(t, w, sub, rights(param, 'rwxn', 'rwxn', 'rwxn'));
    const m = await set(w, false, { path: sub, params: { Enable: { value: 'true', required: true } } });
    if (allowed) {
      const ok = responseOf(m, 'set_resp').updated_obj_results[0]?.oper_status?.oper_success;
      assert.deepEqual(ok?.updated_inst_results?.[0]?.updated_params, { Enable: 'true' });
    } else {
      assert.equal(errorOf(m).err_code, 7006);
      assert.equal(resolved(await get(w, [`${sub}Enable`]))[sub]?.Enable, 'false');
    }
    await cleanUp(w, perm);
  });
}

test('2.18 Permissions - Operation Not Allowed', async (t) => {
  const w = the(t);
  if (!w) return;
  await permission(t, w, 'Device.Reboot()', rights('rwxn', 'rwxn', 'rwxn', 'r---'));
  const m = await w.ctl.request('operate', 'OPERATE', {
    command: 'Device.Reboot()',
    command_key: 'tp469-2.18',
    send_resp: true,
    input_args: {},
  });
  const [r, ...more] = responseOf(m, 'operate_resp').operation_results;
  assert.equal(more.length, 0);
  assert.equal(r!.executed_command, 'Device.Reboot()');
  assert.equal(r!.cmd_failure?.err_code, 7006, JSON.stringify(r));
});

for (const [name, param, notified] of [
  ['2.19 Permissions - Value Change Notification Allowed on Parameter', 'rw-n', true],
  ['2.20 Permissions - Value Change Notification Not Allowed on Parameter', 'rw--', false],
] as const) {
  test(name, async (t) => {
    const w = the(t);
    if (!w) return;
    const target = `${CTL}PeriodicNotifInterval`;
    await permission(t, w, target, rights(param, 'rwxn', 'rwxn', 'rwxn'));
    const id = `perm${name.slice(2, 4)}`;
    const sub = createdPath(
      await add(w, false, {
        path: SUB,
        params: { Enable: 'true', ID: id, NotifType: 'ValueChange', ReferenceList: target },
      }),
    );
    t.after(() => cleanUp(w, sub));
    const value = notified ? '3600' : '7200';
    const s = await set(w, false, { path: CTL, params: { PeriodicNotifInterval: { value, required: true } } });
    assert.equal(
      responseOf(s, 'set_resp').updated_obj_results[0]?.oper_status?.oper_success?.updated_inst_results?.[0]
        ?.affected_path,
      CTL,
    );
    if (notified) {
      const n = await w.ctl.waitForNotification((x) => x.subscriptionId === id);
      assert.deepEqual(n.body.value_change, { param_path: target, param_value: value });
    } else {
      await sleep(2000);
      assert.equal(w.ctl.notifications.filter((x) => x.subscriptionId === id).length, 0);
    }
  });
}

test('2.22 Using Get when no read permissions are available on some parameters', async (t) => {
  const w = the(t);
  if (!w) return;
  const bp = createdPath(
    await add(w, false, { path: `${CTL}BootParameter.`, params: { Enable: 'true', ParameterName: `${CTL}Alias` } }),
  );
  t.after(() => cleanUp(w, bp));
  await permission(t, w, bp, rights('rw--', 'rwxn', 'rwxn', 'rwxn'));
  await permission(t, w, `${bp}ParameterName`, rights('----', 'rwxn', 'rwxn', 'rwxn'));
  const got = resolved(await get(w, [bp]))[bp];
  assert.ok(got, `${bp} is returned`);
  assert.equal(got.Enable, 'true');
  assert.ok(!('ParameterName' in got), 'the unreadable parameter is left out');
});

test('2.25 Permissions - Parameter within added object not allowed, omitted', async (t) => {
  const w = the(t);
  if (!w) return;
  await permission(t, w, `${SUB}*.Enable`, { ...rights('r---', 'rwxn', 'rwxn', 'rwxn'), Order: '1' });
  const m = await add(w, false, {
    path: SUB,
    params: {
      ID: 'add1',
      NotifType: 'ValueChange',
      ReferenceList: { value: 'Device.LocalAgent.SoftwareVersion', required: true },
    },
  });
  const sub = createdPath(m);
  t.after(() => cleanUp(w, sub));
  assert.equal(resolved(await get(w, [`${sub}Enable`]))[sub]?.Enable, 'false');
});

test('2.26 Permissions - Parameter within added object not allowed, included', async (t) => {
  const w = the(t);
  if (!w) return;
  await permission(t, w, `${SUB}*.Enable`, { ...rights('r---', 'rwxn', 'rwxn', 'rwxn'), Order: '1' });
  const m = await add(w, true, {
    path: SUB,
    params: {
      ID: 'add26',
      NotifType: 'ValueChange',
      ReferenceList: { value: 'Device.LocalAgent.SoftwareVersion', required: true },
      Enable: { value: 'true', required: true },
    },
  });
  const [r, ...more] = responseOf(m, 'add_resp').created_obj_results;
  assert.equal(more.length, 0);
  assert.ok(r!.oper_status?.oper_failure, `the Add fails: ${JSON.stringify(r)}`);
  assert.equal(r!.oper_status.oper_failure.err_code, 7006, 'Permission Denied');
  const ids = Object.values(resolved(await get(w, [SUB]))).map((p) => p.ID);
  assert.ok(!ids.includes('add26'));
});
