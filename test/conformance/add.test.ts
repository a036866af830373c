// TP-469 section 1: the Add cases (and the unique-key cases that create objects), against one
// agent over a real mosquitto. Each test is named "<case> <title>" as the test plan names it.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DecodedMsg } from '../../src/usp/codec.js';
import { errorOf, responseOf } from '../fixtures/usp-answer.js';
import { add, CTL, cleanUp, conformanceWorld, get, resolved, SUB, set, type World } from './world.js';

const the = conformanceWorld();
const SW = 'Device.LocalAgent.SoftwareVersion';
const RECIPIENT = CTL.slice(0, -1);

const sub = (id: string, extra: Record<string, string | { value: string; required: boolean }> = {}) => ({
  path: SUB,
  params: { Enable: 'true', ID: id, NotifType: 'ValueChange', ReferenceList: { value: SW, required: true }, ...extra },
});

/** The successes of an AddResp: created path and unique keys; asserts none carries a param error. */
function created(m: DecodedMsg) {
  return responseOf(m, 'add_resp').created_obj_results.map((r) => {
    const ok = r.oper_status?.oper_success;
    assert.ok(ok, `expected OperationSuccess, got ${JSON.stringify(r.oper_status)}`);
    assert.deepEqual(ok.param_errs ?? [], []);
    return { path: ok.instantiated_path!, keys: { ...ok.unique_keys } };
  });
}

async function subscriptionIds(w: World): Promise<string[]> {
  return Object.values(resolved(await get(w, [SUB]))).map((p) => p.ID!);
}

async function assertCreatedAsSent(w: World, path: string, id: string) {
  const values = resolved(await get(w, [path]))[path];
  assert.ok(values, `${path} exists`);
  assert.equal(values.Enable, 'true');
  assert.equal(values.ID, id);
  assert.equal(values.NotifType, 'ValueChange');
  assert.equal(values.ReferenceList, SW);
}

for (const [name, allowPartial] of [
  ['1.1 Add message with allow partial false, single object, required parameters succeed', false],
  ['1.2 Add message with allow partial true, single object, required parameters succeed', true],
] as const) {
  test(name, async (t) => {
    const w = the(t);
    if (!w) return;
    const id = `add${name.slice(0, 3)}`;
    const [c, ...more] = created(await add(w, allowPartial, sub(id)));
    assert.equal(more.length, 0);
    assert.deepEqual(Object.keys(c!.keys).sort(), ['Alias', 'ID', 'Recipient']);
    assert.equal(c!.keys.ID, id);
    assert.equal(c!.keys.Recipient, RECIPIENT);
    await assertCreatedAsSent(w, c!.path, id);
    await cleanUp(w, c!.path);
  });
}

test('1.3 Add message with allow partial false, single object, required parameters fail', async (t) => {
  const w = the(t);
  if (!w) return;
  const e = errorOf(await add(w, false, sub('add3', { Enable: { value: 'InvalidValue', required: true } })));
  assert.ok(e.err_code >= 7000);
  assert.equal(e.param_errs.length, 1);
  assert.match(e.param_errs[0]!.param_path, /^Device\.LocalAgent\.Subscription\.\d+\.Enable$/);
  assert.ok(e.param_errs[0]!.err_code >= 7000);
  assert.ok(!(await subscriptionIds(w)).includes('add3'));
});

test('1.4 Add message with allow partial false, single invalid object', async (t) => {
  const w = the(t);
  if (!w) return;
  const before = await subscriptionIds(w);
  const e = errorOf(await add(w, false, { path: 'Device.LocalAgent.InvalidObject.', params: { Enable: 'true' } }));
  assert.ok(e.err_code >= 7000);
  assert.equal(e.param_errs.length, 1);
  assert.equal(e.param_errs[0]!.param_path, 'Device.LocalAgent.InvalidObject.');
  assert.ok(e.param_errs[0]!.err_code >= 7000);
  assert.deepEqual(await subscriptionIds(w), before);
});

test('1.5 Add message with allow partial false, multiple objects', async (t) => {
  const w = the(t);
  if (!w) return;
  const cs = created(await add(w, false, sub('add51'), sub('add52')));
  assert.equal(cs.length, 2);
  for (const [i, c] of cs.entries()) {
    assert.deepEqual(Object.keys(c.keys).sort(), ['Alias', 'ID', 'Recipient']);
    await assertCreatedAsSent(w, c.path, `add5${i + 1}`);
  }
  await cleanUp(w, ...cs.map((c) => c.path));
});

test('1.6 Add message with allow partial false, multiple objects with an invalid object', async (t) => {
  const w = the(t);
  if (!w) return;
  const e = errorOf(
    await add(w, false, sub('add61'), { path: 'Device.LocalAgent.InvalidObject.', params: { Enable: 'true' } }),
  );
  assert.equal(e.param_errs.length, 1);
  assert.equal(e.param_errs[0]!.param_path, 'Device.LocalAgent.InvalidObject.');
  assert.ok(e.param_errs[0]!.err_code >= 7000);
  assert.ok(!(await subscriptionIds(w)).includes('add61'));
});

const T17 = '1.7 Add message with allow partial false, multiple objects, required parameters fail in single object';
test(T17, async (t) => {
  const w = the(t);
  if (!w) return;
  const e = errorOf(
    await add(w, false, sub('add71', { Enable: { value: 'InvalidValue', required: true } }), sub('add72')),
  );
  assert.equal(e.param_errs.length, 1);
  assert.match(e.param_errs[0]!.param_path, /\.Enable$/);
  const ids = await subscriptionIds(w);
  assert.ok(!ids.includes('add71') && !ids.includes('add72'), `nothing created: ${ids}`);
});

test('1.8 Add message with allow partial true, required parameters fail, invalid type, single object', async (t) => {
  const w = the(t);
  if (!w) return;
  const m = await add(w, true, sub('add8', { Enable: { value: 'InvalidValue', required: true } }));
  const [r, ...more] = responseOf(m, 'add_resp').created_obj_results;
  assert.equal(more.length, 0);
  assert.ok((r!.oper_status?.oper_failure?.err_code ?? 0) >= 7000, JSON.stringify(r));
  assert.ok(!(await subscriptionIds(w)).includes('add8'));
});

test('1.9 Add message with allow partial true, required parameters fail, multiple objects', async (t) => {
  const w = the(t);
  if (!w) return;
  const bad = sub('add92', { InvalidParameter: { value: 'IrrelevantValue', required: true } });
  const m = await add(w, true, sub('add91'), bad);
  const [ok, failed] = responseOf(m, 'add_resp').created_obj_results;
  const success = ok!.oper_status?.oper_success;
  assert.ok(success);
  assert.deepEqual(success.param_errs ?? [], []);
  assert.deepEqual(Object.keys(success.unique_keys ?? {}).sort(), ['Alias', 'ID', 'Recipient']);
  assert.ok((failed!.oper_status?.oper_failure?.err_code ?? 0) >= 7000);
  assert.ok(!(await subscriptionIds(w)).includes('add92'));
  await assertCreatedAsSent(w, success.instantiated_path!, 'add91');
  await cleanUp(w, success.instantiated_path!);
});

test('1.81 Automatic unique key generation', async (t) => {
  const w = the(t);
  if (!w) return;
  const plain = { path: SUB, params: { NotifType: 'ValueChange', ReferenceList: SW } };
  const [a, b] = created(await add(w, false, plain, plain));
  for (const c of [a!, b!]) assert.deepEqual(Object.keys(c.keys).sort(), ['Alias', 'ID', 'Recipient']);
  assert.notEqual(a!.keys.Alias, b!.keys.Alias);
  assert.notEqual(a!.keys.ID, b!.keys.ID);
  assert.equal(a!.keys.Recipient, b!.keys.Recipient);
  await cleanUp(w, a!.path, b!.path);
});

test('1.88 Add message fails when unique key is invalid', async (t) => {
  const w = the(t);
  if (!w) return;
  const m = await add(w, false, {
    path: SUB,
    params: { Enable: 'True', Alias: '88InvalidAlias', NotifType: 'ValueChange', ReferenceList: SW },
  });
  const e = errorOf(m);
  assert.ok(e.err_code >= 7000);
  assert.match(e.param_errs[0]!.param_path, /\.Alias$/, 'refused for its Alias');
  const aliases = Object.values(resolved(await get(w, [SUB]))).map((p) => p.Alias);
  assert.ok(!aliases.includes('88InvalidAlias'));
  // A duplicate Alias is refused as well (7025), and the first row keeps it.
  const [first] = created(await add(w, false, { path: SUB, params: { Alias: 'tp469-dup' } }));
  assert.equal(
    errorOf(await add(w, false, { path: SUB, params: { Alias: 'tp469-dup' } })).param_errs[0]!.err_code,
    7025,
  );
  await cleanUp(w, first!.path);
});

test('1.95 Add message with search expression', async (t) => {
  const w = the(t);
  if (!w) return;
  const m = await add(w, false, {
    path: 'Device.LocalAgent.Controller.[Enable==true].BootParameter.',
    params: { Enable: 'true', ParameterName: SW },
  });
  const cs = created(m);
  assert.ok(cs.length >= 1);
  const got = resolved(await get(w, ['Device.LocalAgent.Controller.*.BootParameter.']));
  for (const c of cs) assert.equal(got[c.path]?.ParameterName, SW);
  await cleanUp(w, ...cs.map((c) => c.path));
});

test('1.96 Non-functional Unique Key Immutability', async (t) => {
  const w = the(t);
  if (!w) return;
  const [c] = created(await add(w, false, { path: SUB, params: { ID: 'add96' } }));
  assert.equal(resolved(await get(w, [c!.path]))[c!.path]?.ID, 'add96');
  const e = errorOf(await set(w, false, { path: c!.path, params: { ID: { value: 'add96-NEW', required: true } } }));
  assert.ok(e.err_code >= 7000);
  assert.equal(resolved(await get(w, [c!.path]))[c!.path]?.ID, 'add96');
  await cleanUp(w, c!.path);
});

test('1.104 Set message on WriteOnceReadOnly parameter', async (t) => {
  const w = the(t);
  if (!w) return;
  const [c] = created(await add(w, false, { path: SUB, params: { Alias: 'test-1-104' } }));
  const e = errorOf(
    await set(w, false, { path: c!.path, params: { Alias: { value: 'test-1-104-new-alias', required: true } } }),
  );
  assert.ok(e.err_code >= 7000);
  const m = await get(w, [`${c!.path}Alias`]);
  assert.equal(resolved(m)[c!.path]?.Alias, 'test-1-104');
  await cleanUp(w, c!.path);
});

test('1.10 Add message with unique key addressing in path', async (t) => {
  const w = the(t);
  if (!w) return;
  const keys = resolved(await get(w, [`${CTL}EndpointID`, `${CTL}Alias`]))[CTL]!;
  const ctl = `Device.LocalAgent.Controller.[EndpointID=="${keys.EndpointID}"&&Alias=="${keys.Alias}"].`;
  const table = `${ctl}BootParameter.`;
  const [c, ...more] = created(await add(w, false, { path: table, params: { Enable: 'true', ParameterName: SW } }));
  assert.equal(more.length, 0);
  assert.match(c!.path, /^Device\.LocalAgent\.Controller\.1\.BootParameter\.\d+\.$/);
  assert.deepEqual(Object.keys(c!.keys).sort(), ['Alias', 'ParameterName']);
  const values = resolved(await get(w, [c!.path]))[c!.path];
  assert.equal(values?.Enable, 'true');
  assert.equal(values?.ParameterName, SW);
  await cleanUp(w, c!.path);
});
