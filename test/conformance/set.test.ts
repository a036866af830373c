// TP-469 section 1: the Set cases, against one agent over a real mosquitto. Each test makes the
// Subscription objects its setup asks for and deletes them after.

import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import type { DecodedMsg } from '../../src/usp/codec.js';
import type * as usp from '../../src/usp/generated/usp-msg.js';
import { errorOf, responseOf } from '../fixtures/usp-answer.js';
import { add, cleanUp, conformanceWorld, get, resolved, SUB, set, type World } from './world.js';

const the = conformanceWorld();
const REQ = (value: string) => ({ value, required: true });

/** The world with `count` subscriptions (NotifRetry false, NotifExpiration 30), removed after the test. */
async function withSubscriptions(t: TestContext, count: number): Promise<{ w: World; rows: string[] } | undefined> {
  const w = the(t);
  if (!w) return undefined;
  const rows: string[] = [];
  for (let i = 0; i < count; i++) {
    const m = await add(w, false, {
      path: SUB,
      params: { ID: `set-${i}`, NotifType: 'ValueChange', ReferenceList: 'Device.LocalAgent.SoftwareVersion' },
    });
    rows.push(responseOf(m, 'add_resp').created_obj_results[0]!.oper_status!.oper_success!.instantiated_path!);
  }
  responseOf(await set(w, false, { path: rows[0]!, params: { NotifExpiration: REQ('30') } }), 'set_resp');
  t.after(() => cleanUp(w, ...rows));
  return { w, rows };
}

/** The instance results of the one successful UpdatedObjectResult at index i. */
function updated(m: DecodedMsg, i = 0): usp.SetResp.IUpdatedInstanceResult[] {
  const r = responseOf(m, 'set_resp').updated_obj_results[i];
  const ok = r?.oper_status?.oper_success;
  assert.ok(ok, `expected OperationSuccess, got ${JSON.stringify(r)}`);
  return ok.updated_inst_results ?? [];
}

function assertOnlyNotifRetry(r: usp.SetResp.IUpdatedInstanceResult | undefined, path: string) {
  assert.equal(r?.affected_path, path);
  assert.deepEqual(Object.keys(r?.updated_params ?? {}), ['NotifRetry']);
}

const notifRetry = async (w: World, ...rows: string[]) => {
  const got = resolved(
    await get(
      w,
      rows.map((r) => `${r}NotifRetry`),
    ),
  );
  return rows.map((r) => got[r]?.NotifRetry);
};

for (const [name, allowPartial] of [
  ['1.11 Set message with allow partial false, required parameters pass', false],
  ['1.12 Set message with allow partial true, required parameters pass', true],
] as const) {
  test(name, async (t) => {
    const s = await withSubscriptions(t, 1);
    if (!s) return;
    const [row] = s.rows;
    const res = updated(await set(s.w, allowPartial, { path: row!, params: { NotifRetry: REQ('true') } }));
    assert.equal(res.length, 1);
    assertOnlyNotifRetry(res[0], row!);
    assert.deepEqual(await notifRetry(s.w, row!), ['true']);
  });
}

test('1.13 Set message with allow partial false, multiple objects', async (t) => {
  const s = await withSubscriptions(t, 2);
  if (!s) return;
  const m = await set(s.w, false, ...s.rows.map((path) => ({ path, params: { NotifRetry: REQ('true') } })));
  assert.equal(responseOf(m, 'set_resp').updated_obj_results.length, 2);
  for (const [i, row] of s.rows.entries()) {
    const res = updated(m, i);
    assert.equal(res.length, 1);
    assertOnlyNotifRetry(res[0], row);
  }
  assert.deepEqual(await notifRetry(s.w, ...s.rows), ['true', 'true']);
});

test('1.14 Set message with allow partial false, required parameters fail', async (t) => {
  const s = await withSubscriptions(t, 1);
  if (!s) return;
  const [row] = s.rows;
  const e = errorOf(await set(s.w, false, { path: row!, params: { InvalidParameter: REQ('IrrelevantValue') } }));
  assert.ok(e.err_code >= 7000);
  assert.equal(e.param_errs.length, 1);
  assert.equal(e.param_errs[0]!.param_path, `${row}InvalidParameter`);
  assert.ok(e.param_errs[0]!.err_code >= 7000);
  const got = resolved(await get(s.w, [row!]));
  assert.ok(got[row!] && !('InvalidParameter' in got[row!]!));
});

const T15 = '1.15 Set message with allow partial false, multiple objects, required parameters fail in single object';
test(T15, async (t) => {
  const s = await withSubscriptions(t, 2);
  if (!s) return;
  const [a, b] = s.rows;
  const e = errorOf(
    await set(
      s.w,
      false,
      { path: a!, params: { NotifRetry: REQ('true') } },
      { path: b!, params: { InvalidParameter: REQ('IrrelevantValue') } },
    ),
  );
  assert.equal(e.param_errs.length, 1);
  assert.equal(e.param_errs[0]!.param_path, `${b}InvalidParameter`);
  assert.deepEqual(await notifRetry(s.w, a!), ['false'], 'the first object was not updated either');
});

test('1.16 Set message with allow partial true, required parameter fails, multiple objects', async (t) => {
  const s = await withSubscriptions(t, 2);
  if (!s) return;
  const [a, b] = s.rows;
  const m = await set(
    s.w,
    true,
    { path: a!, params: { NotifRetry: REQ('true') } },
    { path: b!, params: { InvalidParameter: REQ('IrrelevantValue') } },
  );
  const ok = updated(m, 0);
  assert.equal(ok.length, 1);
  assertOnlyNotifRetry(ok[0], a!);
  const failure = responseOf(m, 'set_resp').updated_obj_results[1]?.oper_status?.oper_failure;
  assert.ok(failure && failure.err_code >= 7000, JSON.stringify(failure));
  assert.equal(failure.updated_inst_failures.length, 1);
  assert.equal(failure.updated_inst_failures[0]!.affected_path, b);
  const [pe, ...more] = failure.updated_inst_failures[0]!.param_errs;
  assert.equal(more.length, 0);
  assert.equal(pe!.param, 'InvalidParameter');
  assert.ok(pe!.err_code >= 7000);
  assert.deepEqual(await notifRetry(s.w, a!), ['true']);
});

test('1.17 Set message with allow partial true, non-required parameter fails, multiple parameters', async (t) => {
  const s = await withSubscriptions(t, 1);
  if (!s) return;
  const [row] = s.rows;
  const m = await set(s.w, true, { path: row!, params: { NotifRetry: 'true', InvalidParameter: 'IrrelevantValue' } });
  const [r, ...more] = updated(m);
  assert.equal(more.length, 0);
  assertOnlyNotifRetry(r, row!);
  assert.equal(r!.param_errs?.length, 1);
  assert.equal(r!.param_errs![0]!.param, 'InvalidParameter');
  assert.ok((r!.param_errs![0]!.err_code ?? 0) >= 7000);
  assert.deepEqual(await notifRetry(s.w, row!), ['true']);
});

test('1.18 Set message with unique key addressing in path', async (t) => {
  const s = await withSubscriptions(t, 1);
  if (!s) return;
  const [row] = s.rows;
  const m = await set(s.w, false, { path: `${SUB}[ID=="set-0"].`, params: { NotifRetry: REQ('true') } });
  const res = updated(m);
  assert.equal(res.length, 1);
  assertOnlyNotifRetry(res[0], row!);
  assert.deepEqual(await notifRetry(s.w, row!), ['true']);
});

test('1.19 Set message with wildcard search path, allow partial false, required parameters pass', async (t) => {
  const s = await withSubscriptions(t, 2);
  if (!s) return;
  const res = updated(await set(s.w, false, { path: `${SUB}*.`, params: { NotifRetry: REQ('true') } }));
  assert.ok(res.length >= 2);
  for (const row of s.rows)
    assertOnlyNotifRetry(
      res.find((r) => r.affected_path === row),
      row,
    );
  assert.deepEqual(await notifRetry(s.w, ...s.rows), ['true', 'true']);
});

test('1.20 Set message with wildcard search path, allow partial false, required parameters fail', async (t) => {
  const s = await withSubscriptions(t, 2);
  if (!s) return;
  const e = errorOf(await set(s.w, false, { path: `${SUB}*.`, params: { InvalidParameter: REQ('IrrelevantValue') } }));
  assert.ok(e.err_code >= 7000);
  assert.ok(e.param_errs.length >= 1);
  for (const pe of e.param_errs) {
    assert.match(pe.param_path, /^Device\.LocalAgent\.Subscription\.\d+\.InvalidParameter$/);
    assert.ok(pe.err_code >= 7000);
  }
  for (const values of Object.values(resolved(await get(s.w, [SUB])))) assert.ok(!('InvalidParameter' in values));
});

test('1.21 Set message with wildcard search path, allow partial true, required parameters fail', async (t) => {
  const s = await withSubscriptions(t, 2);
  if (!s) return;
  const m = await set(s.w, true, { path: `${SUB}*.`, params: { Enable: REQ('InvalidValue') } });
  const results = responseOf(m, 'set_resp').updated_obj_results;
  assert.equal(results.length, 1);
  const failure = results[0]!.oper_status?.oper_failure;
  assert.ok(failure && failure.err_code >= 7000, JSON.stringify(results[0]));
  assert.ok(failure.updated_inst_failures.length >= 1);
  for (const f of failure.updated_inst_failures) {
    assert.match(f.affected_path, /^Device\.LocalAgent\.Subscription\.\d+\.$/);
    assert.equal(f.param_errs.length, 1);
    assert.equal(f.param_errs[0]!.param, 'Enable');
    assert.ok(f.param_errs[0]!.err_code >= 7000);
  }
  for (const values of Object.values(resolved(await get(s.w, [SUB])))) assert.notEqual(values.Enable, 'InvalidValue');
});

test('1.22 Set message with search expression search path', async (t) => {
  const s = await withSubscriptions(t, 2);
  if (!s) return;
  const [row] = s.rows;
  const m = await set(s.w, false, { path: `${SUB}[NotifExpiration>0].`, params: { NotifRetry: REQ('true') } });
  const res = updated(m);
  assertOnlyNotifRetry(
    res.find((r) => r.affected_path === row),
    row!,
  );
  assert.deepEqual(await notifRetry(s.w, ...s.rows), ['true', 'false'], 'only the matching object');
});

test('1.23 Set message with path that matches no objects', async (t) => {
  const w = the(t);
  if (!w) return;
  const m = await set(w, true, { path: `${SUB}[Recipient=="InvalidValue"].`, params: { NotifRetry: REQ('true') } });
  const results = responseOf(m, 'set_resp').updated_obj_results;
  assert.equal(results.length, 1);
  const ok = results[0]!.oper_status?.oper_success;
  assert.ok(ok, JSON.stringify(results[0]));
  assert.deepEqual(ok.updated_inst_results ?? [], []);
});
