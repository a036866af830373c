// TP-469 section 2, more permission cases (ControllerTrust): overlapping Permissions and an Add on a
// search path that a Permission half forbids, against one agent over a real mosquitto. The test
// controller's Role.1 gives full access; each test adds Permissions with Orders above every Order
// the role has (Order is a unique key of Permission, so the plan's "Order 1" twice cannot be kept).
// Substitution: 2.23 and 2.24 make the plan's second Controller with an Add of their own.

import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import type { DecodedMsg } from '../../src/usp/codec.js';
import { errorOf, responseOf } from '../fixtures/usp-answer.js';
import { add, CTL, cleanUp, conformanceWorld, get, resolved, set, type World } from './world.js';

const the = conformanceWorld();
const ROLE = 'Device.LocalAgent.ControllerTrust.Role.1.';

const created = (m: DecodedMsg) =>
  responseOf(m, 'add_resp').created_obj_results.map((r) => {
    const ok = r.oper_status?.oper_success;
    assert.ok(ok, `oper_success: ${JSON.stringify(r)}`);
    return ok.instantiated_path!;
  });

/** The Order above every Order the role's Permissions have now. */
async function nextOrder(w: World): Promise<number> {
  const orders = Object.values(resolved(await get(w, [`${ROLE}Permission.*.Order`]))).map((p) => Number(p.Order));
  return Math.max(0, ...orders) + 1;
}

/** A Permission's settings: Targets, the Param rights, and full rights on the rest. */
const perm = (targets: string, param: string, order: number) => ({
  path: `${ROLE}Permission.`,
  params: {
    Enable: 'true',
    Targets: targets,
    Param: param,
    Obj: 'rwxn',
    InstantiatedObj: 'rwxn',
    CommandEvent: 'rwxn',
    Order: String(order),
  },
});

/** Adds objects, removed again after the test whatever its outcome. */
async function made(t: TestContext, w: World, m: Promise<DecodedMsg>): Promise<string[]> {
  const paths = created(await m);
  t.after(() => cleanUp(w, ...[...paths].reverse()));
  return paths;
}

async function bootParameter(t: TestContext, w: World, ctl: string): Promise<string> {
  const [bp] = await made(
    t,
    w,
    add(w, false, { path: `${ctl}BootParameter.`, params: { Enable: 'true', ParameterName: `${ctl}Alias` } }),
  );
  return bp!;
}

test('2.21 Permissions - Overlapping Permissions', async (t) => {
  const w = the(t);
  if (!w) return;
  const bp = await bootParameter(t, w, CTL);
  const order = await nextOrder(w);
  // Step 1: no rights on the instance's parameters, then read and write with a higher Order.
  const perms = await made(t, w, add(w, false, perm(bp, '----', order), perm(bp, 'rw--', order + 1)));
  assert.equal(perms.length, 2, 'two oper_success, one for each Permission');
  const before = resolved(await get(w, [`${CTL}BootParameter.`]))[bp];
  assert.ok(before, `${bp} is returned`);
  assert.equal(before.Enable, 'true');
  assert.equal(before.ParameterName, `${CTL}Alias`);
  // Step 3: no rights again, with the highest Order of the three: it decides.
  assert.equal((await made(t, w, add(w, false, perm(bp, '----', order + 2)))).length, 1);
  const after = resolved(await get(w, [`${CTL}BootParameter.`]));
  assert.ok(!(bp in after), `${bp} is not returned: ${JSON.stringify(after)}`);
});

/** The plan's setup and step 1 of 2.23 and 2.24: a second controller, whose BootParameters are read-only. */
async function secondControllerReadOnly(t: TestContext, w: World): Promise<string> {
  const [ctl2] = await made(
    t,
    w,
    add(w, false, {
      path: 'Device.LocalAgent.Controller.',
      params: { EndpointID: `proto::tp469-second-${t.name.slice(0, 4)}`, Enable: 'true' },
    }),
  );
  const order = await nextOrder(w);
  const perms = await made(
    t,
    w,
    add(w, false, perm(`${CTL}BootParameter.`, 'rw--', order), perm(`${ctl2}BootParameter.`, 'r---', order + 1)),
  );
  assert.equal(perms.length, 2, 'two oper_success, one for each Permission');
  return ctl2!;
}

const bootParameters = async (w: World) =>
  Object.keys(resolved(await get(w, ['Device.LocalAgent.Controller.*.BootParameter.']))).sort();

const addBootParameters = (w: World, allowPartial: boolean) =>
  add(w, allowPartial, {
    path: 'Device.LocalAgent.Controller.*.BootParameter.',
    params: { Enable: { value: 'false', required: true } },
  });

test('2.23 Permissions - Add message with search path, allow partial true, required parameters fail', async (t) => {
  const w = the(t);
  if (!w) return;
  const ctl2 = await secondControllerReadOnly(t, w);
  const m = await addBootParameters(w, true);
  const results = responseOf(m, 'add_resp').created_obj_results;
  const made1 = results.flatMap((r) => r.oper_status?.oper_success?.instantiated_path ?? []);
  t.after(() => cleanUp(w, ...made1));
  const ctls = (await get(w, ['Device.LocalAgent.Controller.*.EndpointID'])).body.response?.get_resp;
  const count = ctls?.req_path_results[0]?.resolved_path_results.length ?? 0;
  assert.equal(results.length, count, 'one CreatedObjectResult per Controller');
  for (const r of results) assert.equal(r.requested_path, 'Device.LocalAgent.Controller.*.BootParameter.');
  const mine = made1.filter((p) => p.startsWith(`${CTL}BootParameter.`));
  assert.equal(mine.length, 1, `a BootParameter made under ${CTL}: ${JSON.stringify(results)}`);
  const denied = results.filter((r) => r.oper_status?.oper_failure);
  assert.ok(denied.length >= 1, 'the second controller gets an OperationFailure');
  for (const r of denied) assert.equal(r.oper_status!.oper_failure!.err_code, 7006);
  assert.ok(!made1.some((p) => p.startsWith(`${ctl2}BootParameter.`)), 'nothing made under the second controller');
});

test('2.24 Permissions - Add message with search path, allow partial false, required parameters fail', async (t) => {
  const w = the(t);
  if (!w) return;
  const ctl2 = await secondControllerReadOnly(t, w);
  const before = await bootParameters(w);
  const e = errorOf(await addBootParameters(w, false));
  assert.equal(e.err_code, 7006);
  assert.equal(e.param_errs.length, 1, JSON.stringify(e));
  assert.match(e.param_errs[0]!.param_path, new RegExp(`^${ctl2.replace(/\./g, '\\.')}BootParameter\\.?`));
  assert.equal(e.param_errs[0]!.err_code, 7006);
  assert.deepEqual(await bootParameters(w), before, 'no BootParameter made');
});

test('2.27 Use of SecuredRole', async (t) => {
  const w = the(t);
  if (!w) return;
  // The secured parameter: a Challenge's Value. The test controller plays the plan's secondary
  // controller as well (its Role.1 may read everything; Role.1 is not in SecuredRoles at first).
  const CT = 'Device.LocalAgent.ControllerTrust.';
  const SECRET = Buffer.from('tp469-secret').toString('base64'); // Value is base64
  const [challenge] = await made(
    t,
    w,
    add(w, false, {
      path: `${CT}Challenge.`,
      params: { Alias: 'tp469-2-27', Value: { value: SECRET, required: true } },
    }),
  );
  const secured = `${challenge}Value`;
  const roles = resolved(await get(w, [`${CT}SecuredRoles`]))[CT]?.SecuredRoles ?? '';
  assert.ok(!roles.split(',').some((r) => r.replace(/\.?$/, '.') === ROLE), `${ROLE} not in SecuredRoles`);
  t.after(() => set(w, true, { path: CT, params: { SecuredRoles: roles } }));
  assert.equal(resolved(await get(w, [secured]))[challenge!]?.Value, '', 'an empty string in place of the value');
  const s = await set(w, false, { path: CT, params: { SecuredRoles: { value: ROLE.slice(0, -1), required: true } } });
  responseOf(s, 'set_resp');
  assert.equal(resolved(await get(w, [secured]))[challenge!]?.Value, SECRET, 'the value, for a SecuredRole');
});
