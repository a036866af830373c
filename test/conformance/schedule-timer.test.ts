// TP-469 cases on Device.ScheduleTimer(), the plan's example of an asynchronous command with input
// arguments (1.79, 1.91, 1.100, 9.11), against one agent over a real mosquitto.
// Substitutions (allowed by the plan, reported in docs/conformance.md), to keep the run short:
// DelaySeconds is 2, not 30 (1.79) or 60 (9.11), and 1.100 waits 3 s, not 120 s, for the Notify that
// must not come.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DecodedMsg } from '../../src/usp/codec.js';
import { responseOf } from '../fixtures/usp-answer.js';
import { sleep } from '../helpers.js';
import { add, cleanUp, conformanceWorld, SUB, type World } from './world.js';

const the = conformanceWorld();
const TIMER = 'Device.ScheduleTimer()';

const operate = (w: World, commandKey: string, args: Record<string, string>) =>
  w.ctl.request('operate', 'OPERATE', { command: TIMER, command_key: commandKey, send_resp: true, input_args: args });

/** The test setup's Subscription: OperationComplete on Device.ScheduleTimer(); returns its path. */
async function subscribe(w: World, id: string): Promise<string> {
  const m = await add(w, false, {
    path: SUB,
    params: { Enable: 'true', ID: id, NotifType: 'OperationComplete', ReferenceList: { value: TIMER, required: true } },
  });
  const ok = responseOf(m, 'add_resp').created_obj_results[0]?.oper_status?.oper_success;
  assert.ok(ok, `a successful AddResp: ${JSON.stringify(m.body)}`);
  return ok.instantiated_path!;
}

function onlyResult(m: DecodedMsg) {
  const results = responseOf(m, 'operate_resp').operation_results;
  assert.equal(results.length, 1, JSON.stringify(m.body));
  return results[0]!;
}

const completions = (w: World, id: string) =>
  w.ctl.notifications.filter((n) => n.subscriptionId === id && n.body.oper_complete);

test('1.79 Operate message using input arguments', async (t) => {
  const w = the(t);
  if (!w) return;
  const sub = await subscribe(w, 'timer79');
  const sent = Date.now();
  const r = onlyResult(await operate(w, 'test79', { DelaySeconds: '2' }));
  assert.match(r.req_obj_path ?? '', /^Device\.LocalAgent\.Request\.\d+\.$/, 'req_obj_path names the Request row');
  const n = await w.ctl.waitForNotification((x) => x.subscriptionId === 'timer79' && !!x.body.oper_complete, 8000);
  assert.ok(Date.now() - sent >= 1900, 'the timer fired after DelaySeconds');
  const oc = n.body.oper_complete!;
  assert.equal(oc.command_name, 'ScheduleTimer()');
  assert.equal(oc.obj_path, 'Device.');
  assert.equal(oc.command_key, 'test79');
  assert.ok(oc.req_output_args, `a successful OperationComplete: ${JSON.stringify(oc)}`);
  await cleanUp(w, sub);
});

test('1.91 Unknown arguments in an Operate message', async (t) => {
  const w = the(t);
  if (!w) return;
  const r = onlyResult(await operate(w, '', { DelaySeconds: '10', InvalidArgument: '2' }));
  assert.equal(r.executed_command, TIMER);
  assert.equal(r.cmd_failure, undefined, `no failure: ${JSON.stringify(r)}`);
  assert.ok(r.req_obj_path, 'the operation started');
  // Not left running for the next tests' sake.
  await w.ctl.request('operate', 'OPERATE', { command: `${r.req_obj_path}Cancel()`, send_resp: true });
});

test('1.100 Command with missing mandatory input_args', async (t) => {
  const w = the(t);
  if (!w) return;
  const sub = await subscribe(w, 'timer100');
  const r = onlyResult(await operate(w, 'test100', {}));
  assert.equal(r.cmd_failure?.err_code, 7027, `7027 Invalid Command Arguments: ${JSON.stringify(r)}`);
  await sleep(3000);
  assert.equal(completions(w, 'timer100').length, 0, 'no OperationComplete for ScheduleTimer()');
  await cleanUp(w, sub);
});

test('9.11 Use of the Timer! Event', async (t) => {
  const w = the(t);
  if (!w) return;
  const sub = await subscribe(w, 'timer911');
  const r = onlyResult(await operate(w, '', { DelaySeconds: '2' }));
  assert.equal(r.executed_command, TIMER);
  const n = await w.ctl.waitForNotification((x) => x.subscriptionId === 'timer911' && !!x.body.oper_complete, 8000);
  assert.equal(n.body.oper_complete!.command_name, 'ScheduleTimer()');
  await cleanUp(w, sub);
});
