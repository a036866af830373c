// TP-469 section 2: roles and permissions (ControllerTrust), against one agent over a real
// mosquitto. The test controller's AssignedRole is writable (Role.1, full access); each test adds
// the Permission its procedure gives, with the next Order so that it decides, and deletes it after.

import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import type { DecodedMsg } from '../../src/usp/codec.js';
import { errorOf, responseOf } from '../fixtures/usp-answer.js';
import { add, cleanUp, conformanceWorld, del, get, resolved, SUB, set, type World } from './world.js';

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
