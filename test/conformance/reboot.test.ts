// TP-469 cases that reboot the agent (Device.Reboot()), against one agent over a real mosquitto. The
// agent restarts in its process, from its state directory; a persistent Boot! subscription shows
// that it is back and talking to the controller.

import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import type { DecodedMsg } from '../../src/usp/codec.js';
import { responseOf } from '../fixtures/usp-answer.js';
import { add, cleanUp, conformanceWorld, SUB, type World } from './world.js';

const the = conformanceWorld();

function createdPath(m: DecodedMsg): string {
  const ok = responseOf(m, 'add_resp').created_obj_results[0]?.oper_status?.oper_success;
  assert.ok(ok, `a successful AddResp: ${JSON.stringify(m.body)}`);
  return ok.instantiated_path!;
}

/** A persistent subscription to Boot!, so that the agent tells the controller when it is back. */
async function bootSubscription(t: TestContext, w: World, id: string): Promise<void> {
  const path = createdPath(
    await add(w, false, {
      path: SUB,
      params: { Enable: 'true', ID: id, NotifType: 'Event', ReferenceList: 'Device.Boot!', Persistent: 'true' },
    }),
  );
  t.after(() => cleanUp(w, path));
}

const booted = async (w: World, id: string, key: string) => {
  const boot = await w.ctl.waitForNotification((n) => n.subscriptionId === id, 15_000);
  assert.equal(boot.body.event?.event_name, 'Boot!');
  assert.equal(boot.body.event?.params.Cause, 'RemoteReboot');
  assert.equal(boot.body.event?.params.CommandKey, key);
};

test('1.62 Operate message using Reboot() with send_resp false', async (t) => {
  const w = the(t);
  if (!w) return;
  await bootSubscription(t, w, 'boot62');
  await w.ctl.post('operate', 'OPERATE', {
    command: 'Device.Reboot()',
    command_key: 'test62',
    send_resp: false,
    input_args: {},
  });
  await booted(w, 'boot62', 'test62');
  const m = await w.ctl.request('get', 'GET', { param_paths: ['Device.DeviceInfo.UpTime'], max_depth: 0 });
  assert.equal(m.body.response?.get_resp?.req_path_results[0]?.err_code, 0, 'connectivity resumed');
});

test('2.17 Permissions - Operation Allowed', async (t) => {
  const w = the(t);
  if (!w) return;
  await bootSubscription(t, w, 'boot217');
  const perm = createdPath(
    await add(w, false, {
      path: 'Device.LocalAgent.ControllerTrust.Role.1.Permission.',
      params: {
        Enable: 'true',
        Targets: 'Device.Reboot()',
        Param: 'rwxn',
        Obj: 'rwxn',
        InstantiatedObj: 'rwxn',
        CommandEvent: 'r-x-',
      },
    }),
  );
  assert.match(perm, /^Device\.LocalAgent\.ControllerTrust\.Role\.1\.Permission\.\d+\.$/);
  t.after(() => cleanUp(w, perm));
  const m = await w.ctl.request('operate', 'OPERATE', {
    command: 'Device.Reboot()',
    command_key: 'test217',
    send_resp: true,
    input_args: {},
  });
  const [r, ...more] = responseOf(m, 'operate_resp').operation_results;
  assert.equal(more.length, 0);
  assert.equal(r!.executed_command, 'Device.Reboot()');
  assert.ok(r!.req_output_args, `req_output_args: ${JSON.stringify(r)}`);
  await booted(w, 'boot217', 'test217');
});

test('1.61 Operate message using Reboot() with send_resp true', async (t) => {
  const w = the(t);
  if (!w) return;
  await bootSubscription(t, w, 'boot61');
  const m = await w.ctl.request('operate', 'OPERATE', {
    command: 'Device.Reboot()',
    command_key: 'test61',
    send_resp: true,
    input_args: {},
  });
  const results = responseOf(m, 'operate_resp').operation_results;
  assert.equal(results.length, 1, `a single operation_results element: ${JSON.stringify(results)}`);
  assert.equal(results[0]!.executed_command, 'Device.Reboot()');
  assert.equal(results[0]!.operation_resp, 'req_output_args', JSON.stringify(results[0]));
  assert.deepEqual(results[0]!.req_output_args?.output_args ?? {}, {}, 'an empty output_args');
  // The agent reboots (Boot! with the Reboot()'s cause and key) and resumes connectivity.
  await booted(w, 'boot61', 'test61');
  const g = await w.ctl.request('get', 'GET', { param_paths: ['Device.DeviceInfo.UpTime'], max_depth: 0 });
  assert.equal(g.body.response?.get_resp?.req_path_results[0]?.err_code, 0, 'connectivity resumed');
});
