// TP-469 section 1: the Delete cases, against one agent over a real mosquitto. Each test makes the
// objects its setup asks for; what it does not delete itself is removed after it.

import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import type { DecodedMsg } from '../../src/usp/codec.js';
import type * as usp from '../../src/usp/generated/usp-msg.js';
import { errorOf, responseOf } from '../fixtures/usp-answer.js';
import { add, CTL, cleanUp, conformanceWorld, del, get, resolved, SUB, type World } from './world.js';

const the = conformanceWorld();
const BP = `${CTL}BootParameter.`;
const NOWHERE = `${SUB}4242.`;

async function make(t: TestContext, w: World, table: string, params: Record<string, string>[]): Promise<string[]> {
  const rows: string[] = [];
  for (const p of params) {
    const m = await add(w, false, { path: table, params: p });
    rows.push(responseOf(m, 'add_resp').created_obj_results[0]!.oper_status!.oper_success!.instantiated_path!);
  }
  t.after(() => cleanUp(w, ...rows));
  return rows;
}

const subs = (t: TestContext, w: World, n: number) =>
  make(
    t,
    w,
    SUB,
    Array.from({ length: n }, (_, i) => ({ ID: `del-${i}`, NotifType: 'ValueChange', ReferenceList: `${CTL}Alias` })),
  );

const results = (m: DecodedMsg): usp.DeleteResp.IDeletedObjectResult[] =>
  responseOf(m, 'delete_resp').deleted_obj_results;
const affected = (r: usp.DeleteResp.IDeletedObjectResult | undefined) => {
  const ok = r?.oper_status?.oper_success;
  assert.ok(ok, `expected oper_success, got ${JSON.stringify(r)}`);
  return ok.affected_paths ?? [];
};
const existing = async (w: World, table: string) => Object.keys(resolved(await get(w, [table])));

test('1.24 Delete message with allow partial false, valid object instance', async (t) => {
  const w = the(t);
  if (!w) return;
  const [row] = await subs(t, w, 1);
  const r = results(await del(w, false, row!));
  assert.equal(r.length, 1);
  assert.equal(r[0]!.requested_path, row);
  assert.deepEqual(affected(r[0]), [row]);
  assert.ok(!(await existing(w, SUB)).includes(row!));
});

for (const [name, allowPartial] of [
  ["1.25 Delete message with allow partial false, object instance doesn't exist", false],
  ["1.29 Delete message with allow partial true, object instance doesn't exist", true],
] as const) {
  test(name, async (t) => {
    const w = the(t);
    if (!w) return;
    const r = results(await del(w, allowPartial, NOWHERE));
    assert.equal(r.length, 1);
    assert.deepEqual(affected(r[0]), []);
  });
}

test('1.26 Delete message with allow partial false, invalid object', async (t) => {
  const w = the(t);
  if (!w) return;
  const e = errorOf(await del(w, false, 'Device.LocalAgent.InvalidObject.'));
  assert.ok(e.err_code >= 7000);
  assert.equal(e.param_errs.length, 1);
  assert.equal(e.param_errs[0]!.param_path, 'Device.LocalAgent.InvalidObject.');
  assert.ok(e.param_errs[0]!.err_code >= 7000);
});

test('1.27 Delete message with allow partial false, multiple objects', async (t) => {
  const w = the(t);
  if (!w) return;
  const rows = await subs(t, w, 2);
  const r = results(await del(w, false, ...rows));
  assert.equal(r.length, 2);
  for (const [i, row] of rows.entries()) assert.deepEqual(affected(r[i]), [row]);
  const left = await existing(w, SUB);
  assert.ok(rows.every((row) => !left.includes(row)));
});

test('1.28 Delete message with allow partial false, multiple objects, invalid object', async (t) => {
  const w = the(t);
  if (!w) return;
  const [row] = await subs(t, w, 1);
  const e = errorOf(await del(w, false, row!, 'Device.LocalAgent.InvalidObject.'));
  assert.equal(e.param_errs.length, 1);
  assert.equal(e.param_errs[0]!.param_path, 'Device.LocalAgent.InvalidObject.');
  assert.ok(e.param_errs[0]!.err_code >= 7000);
  assert.ok((await existing(w, SUB)).includes(row!), 'nothing deleted');
});

test('1.30 Delete message with allow partial true, invalid object', async (t) => {
  const w = the(t);
  if (!w) return;
  const r = results(await del(w, true, 'Device.LocalAgent.InvalidObject.'));
  assert.equal(r.length, 1);
  assert.ok((r[0]!.oper_status?.oper_failure?.err_code ?? 0) >= 7000, JSON.stringify(r[0]));
});

test('1.31 Delete message with allow partial true, multiple objects, invalid object', async (t) => {
  const w = the(t);
  if (!w) return;
  const [row] = await subs(t, w, 1);
  const r = results(await del(w, true, row!, 'Device.LocalAgent.InvalidObject.'));
  assert.equal(r.length, 2);
  assert.deepEqual(affected(r[0]), [row]);
  assert.ok((r[1]!.oper_status?.oper_failure?.err_code ?? 0) >= 7000);
  assert.ok(!(await existing(w, SUB)).includes(row!));
});

test("1.32 Delete message with allow partial true, multiple objects, object doesn't exist", async (t) => {
  const w = the(t);
  if (!w) return;
  const [row] = await subs(t, w, 1);
  const r = results(await del(w, true, row!, NOWHERE));
  assert.equal(r.length, 2);
  assert.deepEqual(affected(r[0]), [row]);
  assert.deepEqual(affected(r[1]), []);
  assert.ok(!(await existing(w, SUB)).includes(row!));
});

test('1.33 Delete message with unique key addressing', async (t) => {
  const w = the(t);
  if (!w) return;
  const [row] = await make(t, w, BP, [{ ParameterName: 'Device.DeviceInfo.ModelName' }]);
  const keys = resolved(await get(w, [`${CTL}EndpointID`, `${CTL}Alias`]))[CTL]!;
  const instance = row!.slice(BP.length);
  const ctl = `Device.LocalAgent.Controller.[EndpointID=="${keys.EndpointID}"&&Alias=="${keys.Alias}"].`;
  const path = `${ctl}BootParameter.${instance}`;
  const r = results(await del(w, false, path));
  assert.equal(r.length, 1);
  assert.deepEqual(affected(r[0]), [row], 'instance number addressing in affected_path');
  assert.ok(!(await existing(w, BP)).includes(row!));
});

test('1.34 Delete message with wildcard search path, valid objects', async (t) => {
  const w = the(t);
  if (!w) return;
  const rows = await subs(t, w, 2);
  const r = results(await del(w, false, `${SUB}*.`));
  assert.equal(r.length, 1);
  const gone = affected(r[0]);
  assert.ok(rows.every((row) => gone.includes(row)));
  assert.deepEqual(await existing(w, SUB), []);
});

test('1.35 Delete message with search expression search path', async (t) => {
  const w = the(t);
  if (!w) return;
  const [on, off] = await make(t, w, BP, [
    { Enable: 'true', ParameterName: 'Device.DeviceInfo.ModelName' },
    { Enable: 'false', ParameterName: 'Device.LocalAgent.SoftwareVersion' },
  ]);
  const r = results(await del(w, false, `${BP}[Enable==true].`));
  assert.equal(r.length, 1);
  assert.deepEqual(affected(r[0]), [on]);
  const left = resolved(await get(w, [BP]));
  assert.ok(off! in left, 'the disabled BootParameter stays');
  assert.ok(Object.values(left).every((p) => p.Enable !== 'true'));
});

test('1.90 Delete message with search expression that matches no objects', async (t) => {
  const w = the(t);
  if (!w) return;
  const r = results(await del(w, false, `${SUB}[Enable==false].`));
  assert.equal(r.length, 1);
  assert.deepEqual(affected(r[0]), []);
});
