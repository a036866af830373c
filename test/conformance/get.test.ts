// TP-469 section 1: the Get, GetInstances and GetSupportedProtocol cases, against one agent over a
// real mosquitto. The cases that need no Subscription come first; the others share three
// subscriptions (NotifExpiration 5, 10 and 20; Enable false, true, false) made once.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DecodedMsg } from '../../src/usp/codec.js';
import type * as usp from '../../src/usp/generated/usp-msg.js';
import { responseOf } from '../fixtures/usp-answer.js';
import { AGENT_ID } from '../system/usp-world.js';
import { add, CTL, conformanceWorld, get, SUB, type World } from './world.js';

const the = conformanceWorld();
const LA = 'Device.LocalAgent.';

/** The one req_path_result of a GetResp for one path, checked to be that path's and without error. */
function only(m: DecodedMsg, path: string): usp.GetResp.IResolvedPathResult[] {
  const [r, ...more] = responseOf(m, 'get_resp').req_path_results;
  assert.equal(more.length, 0);
  assert.equal(r!.requested_path, path);
  assert.equal(r!.err_code ?? 0, 0, r!.err_msg ?? '');
  return r!.resolved_path_results ?? [];
}

const relative = (rs: usp.GetResp.IResolvedPathResult[]) => {
  for (const r of rs)
    for (const k of Object.keys(r.result_params ?? {})) assert.ok(!k.startsWith('Device.'), `${k} is relative`);
};

const instances = (w: World, paths: string[], firstLevelOnly: boolean) =>
  w.ctl.request('get_instances', 'GET_INSTANCES', { obj_paths: paths, first_level_only: firstLevelOnly });

const curr = (m: DecodedMsg) =>
  responseOf(m, 'get_instances_resp').req_path_results.map((r) => ({
    path: r.requested_path,
    err: r.err_code ?? 0,
    insts: r.curr_insts.map((i) => i.instantiated_obj_path),
  }));

test('1.82 Get message with unmatched search expression', async (t) => {
  const w = the(t);
  if (!w) return;
  assert.deepEqual(only(await get(w, [`${SUB}[Enable==true].`]), `${SUB}[Enable==true].`), []);
});

test('1.86 Get message with unresolved instances - using a search path', async (t) => {
  const w = the(t);
  if (!w) return;
  assert.deepEqual(only(await get(w, [`${SUB}[Enable==true].`]), `${SUB}[Enable==true].`), []);
});

test('1.87 Get message with unresolved instances - using an object path', async (t) => {
  const w = the(t);
  if (!w) return;
  assert.deepEqual(only(await get(w, [SUB]), SUB), []);
});

test('1.36 Get message with full parameter path', async (t) => {
  const w = the(t);
  if (!w) return;
  const rs = only(await get(w, [`${LA}EndpointID`]), `${LA}EndpointID`);
  assert.deepEqual(
    rs.map((r) => [r.resolved_path, r.result_params]),
    [[LA, { EndpointID: AGENT_ID }]],
  );
});

test('1.37 Get message with multiple full parameter paths, same object', async (t) => {
  const w = the(t);
  if (!w) return;
  const m = await get(w, [`${LA}EndpointID`, `${LA}SoftwareVersion`]);
  const [a, b] = responseOf(m, 'get_resp').req_path_results;
  assert.deepEqual(
    a!.resolved_path_results.map((r) => [r.resolved_path, r.result_params]),
    [[LA, { EndpointID: AGENT_ID }]],
  );
  assert.equal(b!.resolved_path_results.length, 1);
  assert.equal(b!.resolved_path_results[0]!.resolved_path, LA);
  assert.deepEqual(Object.keys(b!.resolved_path_results[0]!.result_params), ['SoftwareVersion']);
  assert.match(b!.resolved_path_results[0]!.result_params.SoftwareVersion!, /.+/);
});

test('1.39 Get message with object path', async (t) => {
  const w = the(t);
  if (!w) return;
  const rs = only(await get(w, [LA]), LA);
  assert.ok(rs.some((r) => r.resolved_path === LA && r.result_params?.EndpointID === AGENT_ID));
  assert.ok(rs.every((r) => r.resolved_path?.startsWith(LA)));
  relative(rs);
});

test('1.41 Get message with invalid parameter', async (t) => {
  const w = the(t);
  if (!w) return;
  const [r, ...more] = responseOf(await get(w, [`${LA}InvalidParameter`]), 'get_resp').req_path_results;
  assert.equal(more.length, 0);
  assert.equal(r!.requested_path, `${LA}InvalidParameter`);
  assert.ok(r!.err_code >= 7000);
});

test('1.42 Get message with invalid parameter and valid parameter', async (t) => {
  const w = the(t);
  if (!w) return;
  const [ok, bad] = responseOf(await get(w, [`${LA}EndpointID`, `${LA}InvalidParameter`]), 'get_resp').req_path_results;
  assert.equal(ok!.err_code, 0);
  assert.deepEqual(
    ok!.resolved_path_results.map((r) => [r.resolved_path, r.result_params]),
    [[LA, { EndpointID: AGENT_ID }]],
  );
  assert.equal(bad!.requested_path, `${LA}InvalidParameter`);
  assert.ok(bad!.err_code >= 7000);
});

test('1.66 GetInstances using a single object, first_level_only true', async (t) => {
  const w = the(t);
  if (!w) return;
  const [r, ...more] = curr(await instances(w, [`${LA}Controller.`], true));
  assert.equal(more.length, 0);
  assert.ok(r!.insts.length >= 1);
  for (const p of r!.insts) assert.match(p, /^Device\.LocalAgent\.Controller\.\d+\.$/);
});

test('1.67 GetInstances using a single object, first_level_only false', async (t) => {
  const w = the(t);
  if (!w) return;
  const m = await instances(w, [`${LA}Controller.`], false);
  const [r, ...more] = responseOf(m, 'get_instances_resp').req_path_results;
  assert.equal(more.length, 0, 'one req_path_results element');
  assert.equal(r!.requested_path, `${LA}Controller.`);
  assert.equal(r!.err_code ?? 0, 0, r!.err_msg ?? '');
  const listed = r!.curr_insts.map((i) => i.instantiated_obj_path!);
  assert.equal(new Set(listed).size, listed.length, `each instance once: ${listed}`);
  assert.ok(listed.includes(`${CTL}MTP.1.`), `sub-object instances too: ${listed}`);
  // Every instance the agent has under Controller., as its Get of the whole subtree shows them.
  const all = new Set<string>();
  for (const o of only(await get(w, [`${LA}Controller.`], 0), `${LA}Controller.`)) {
    const names = o.resolved_path!.split('.');
    names.forEach((n, i) => {
      if (/^\d+$/.test(n)) all.add(`${names.slice(0, i + 1).join('.')}.`);
    });
  }
  assert.ok(all.has(CTL));
  assert.deepEqual([...listed].sort(), [...all].sort(), 'all instances of Controller and of its sub-objects');
});

test('1.68 GetInstances with multiple objects', async (t) => {
  const w = the(t);
  if (!w) return;
  const rs = curr(await instances(w, [`${LA}Controller.`, `${LA}MTP.`], true));
  assert.deepEqual(
    rs.map((r) => r.path),
    [`${LA}Controller.`, `${LA}MTP.`],
  );
  for (const r of rs) assert.ok(r.insts.length >= 1, `${r.path} has instances`);
});

test('1.70 GetInstances with wildcard search path', async (t) => {
  const w = the(t);
  if (!w) return;
  const rs = curr(await instances(w, [`${LA}Controller.*.MTP.`], true));
  assert.ok(rs.some((r) => r.insts.some((p) => /^Device\.LocalAgent\.Controller\.\d+\.MTP\.\d+\.$/.test(p))));
});

test('1.80 GetSupportedProtocol', async (t) => {
  const w = the(t);
  if (!w) return;
  const m = await w.ctl.request('get_supported_protocol', 'GET_SUPPORTED_PROTO', {
    controller_supported_protocol_versions: '1.3,1.4',
  });
  const versions = responseOf(m, 'get_supported_protocol_resp').agent_supported_protocol_versions;
  assert.match(versions, /^\d+\.\d+(,\d+\.\d+)*$/);
  assert.ok(versions.split(',').includes('1.4'));
});

test('1.89 Get message using max_depth', async (t) => {
  const w = the(t);
  if (!w) return;
  const depth = async (d: number) => {
    const rs = only(await get(w, [LA], d), LA);
    relative(rs);
    return rs.map((r) => r.resolved_path!);
  };
  const own = only(await get(w, [LA], 1), LA);
  assert.deepEqual(
    own.map((r) => r.resolved_path),
    [LA],
    'at depth 1 no resolved_path_results for sub-objects',
  );
  const keys = Object.keys(own[0]!.result_params ?? {});
  assert.ok(keys.length > 0, 'the parameters of Device.LocalAgent.');
  assert.deepEqual(
    keys.filter((k) => k.includes('.')),
    [],
    'ONLY the keys of the parameters of Device.LocalAgent., none of a sub-object',
  );
  relative(own);
  const whole = only(await get(w, [LA], 0), LA).find((r) => r.resolved_path === LA);
  assert.deepEqual(keys.sort(), Object.keys(whole?.result_params ?? {}).sort(), "all of Device.LocalAgent.'s own");
  const two = await depth(2);
  assert.ok(two.includes(LA) && two.includes(CTL), `${two}`);
  assert.ok(
    two.every((p) => p.slice(LA.length).split('.').filter(Boolean).length <= 2),
    'only the immediate children',
  );
  assert.ok(!two.includes(`${CTL}MTP.1.`));
  const all = await depth(0);
  assert.ok(all.includes(`${CTL}MTP.1.`) && all.length > two.length, 'the whole subtree');
});

/** Three subscriptions for the search cases, made once (the cases above need none). */
let rows: Promise<string[]> | undefined;
function fixtures(w: World): Promise<string[]> {
  rows ??= (async () => {
    const out: string[] = [];
    for (const [ne, enable] of [
      ['5', 'false'],
      ['10', 'true'],
      ['20', 'false'],
    ]) {
      const m = await add(w, false, {
        path: SUB,
        params: {
          ID: `get-${ne}`,
          Enable: enable!,
          NotifExpiration: ne!,
          NotifType: 'ValueChange',
          ReferenceList: `${LA}SoftwareVersion`,
        },
      });
      out.push(responseOf(m, 'add_resp').created_obj_results[0]!.oper_status!.oper_success!.instantiated_path!);
    }
    return out;
  })();
  return rows;
}

test('1.38 Get message with multiple full parameter paths, different objects', async (t) => {
  const w = the(t);
  if (!w) return;
  const [, s] = await fixtures(w);
  const [a, b] = responseOf(await get(w, [`${LA}EndpointID`, `${s}Enable`]), 'get_resp').req_path_results;
  assert.deepEqual(
    a!.resolved_path_results.map((r) => [r.resolved_path, r.result_params]),
    [[LA, { EndpointID: AGENT_ID }]],
  );
  assert.deepEqual(
    b!.resolved_path_results.map((r) => [r.resolved_path, r.result_params]),
    [[s, { Enable: 'true' }]],
  );
});

test('1.40 Get message with object instance path', async (t) => {
  const w = the(t);
  if (!w) return;
  const [s] = await fixtures(w);
  const rs = only(await get(w, [s!]), s!);
  assert.equal(rs.length, 1);
  assert.equal(rs[0]!.resolved_path, s);
  assert.equal(rs[0]!.result_params?.ID, 'get-5');
  assert.equal(rs[0]!.result_params?.NotifExpiration, '5');
  relative(rs);
});

test('1.43 Get message using unique key addressing', async (t) => {
  const w = the(t);
  if (!w) return;
  const [, s] = await fixtures(w);
  const path = `${SUB}[ID=="get-10"].Enable`;
  const rs = only(await get(w, [path]), path);
  assert.deepEqual(
    rs.map((r) => [r.resolved_path, r.result_params]),
    [[s, { Enable: 'true' }]],
  );
});

test('1.44 Get message using wildcard search path on full parameter', async (t) => {
  const w = the(t);
  if (!w) return;
  const subs = await fixtures(w);
  const rs = only(await get(w, [`${SUB}*.Enable`]), `${SUB}*.Enable`);
  assert.ok(rs.length >= 2);
  for (const s of subs) {
    const r = rs.find((x) => x.resolved_path === s);
    assert.deepEqual(Object.keys(r?.result_params ?? {}), ['Enable']);
  }
});

test('1.45 Get message using wildcard search path on object path', async (t) => {
  const w = the(t);
  if (!w) return;
  const subs = await fixtures(w);
  const rs = only(await get(w, [`${SUB}*.`]), `${SUB}*.`);
  for (const s of subs) assert.ok(rs.find((r) => r.resolved_path === s)?.result_params?.ID, `${s} with its parameters`);
  relative(rs);
});

for (const [name, expr, expected] of [
  ['1.46 Get message using search expression search path (equivalence)', '[Enable==true]', ['get-10']],
  ['1.47 Get message using search expression search path (non-equivalence)', '[Enable!=true]', ['get-5', 'get-20']],
  [
    '1.48 Get message using search expression search path (exclusive greater comparison)',
    '[NotifExpiration>10]',
    ['get-20'],
  ],
  [
    '1.49 Get message using search expression search path (exclusive lesser comparison)',
    '[NotifExpiration<10]',
    ['get-5'],
  ],
  [
    '1.50 Get message using search expression search path (inclusive greater comparison)',
    '[NotifExpiration>=10]',
    ['get-10', 'get-20'],
  ],
  [
    '1.51 Get message using search expression search path (inclusive lesser comparison)',
    '[NotifExpiration<=10]',
    ['get-5', 'get-10'],
  ],
] as const) {
  test(name, async (t) => {
    const w = the(t);
    if (!w) return;
    await fixtures(w);
    const path = `${SUB}${expr}.`;
    const rs = only(await get(w, [path]), path);
    assert.deepEqual(
      rs.map((r) => r.result_params?.ID),
      [...expected],
    );
    for (const r of rs) assert.match(r.resolved_path!, /^Device\.LocalAgent\.Subscription\.\d+\.$/);
    relative(rs);
  });
}

test('1.71 GetInstances with search expression search path', async (t) => {
  const w = the(t);
  if (!w) return;
  const bp = await add(w, false, { path: `${CTL}BootParameter.`, params: { ParameterName: `${LA}SoftwareVersion` } });
  const made = responseOf(bp, 'add_resp').created_obj_results[0]!.oper_status!.oper_success!.instantiated_path!;
  const alias = (await get(w, [`${CTL}Alias`])).body.response?.get_resp?.req_path_results[0]?.resolved_path_results[0]
    ?.result_params.Alias;
  const rs = curr(await instances(w, [`${LA}Controller.[Alias=="${alias}"].BootParameter.`], false));
  assert.ok(rs[0]!.insts.includes(made), `${rs[0]!.insts}`);
});

test('1.83 GetInstances message with unmatched search expression', async (t) => {
  const w = the(t);
  if (!w) return;
  const path = `${LA}Controller.[Alias=="no-such-alias"].BootParameter.`;
  const rs = curr(await instances(w, [path], false));
  assert.deepEqual(rs, [{ path, err: 0, insts: [] }]);
});
