// TP-469 section 1: the GetSupportedDM cases, against one agent over a real mosquitto.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type * as usp from '../../src/usp/generated/usp-msg.js';
import { responseOf } from '../fixtures/usp-answer.js';
import { conformanceWorld, type World } from './world.js';

const the = conformanceWorld();
type Obj = usp.GetSupportedDMResp.ISupportedObjectResult;
type Options = { commands: boolean; events: boolean; params: boolean; keys: boolean };
const ALL: Options = { commands: true, events: true, params: true, keys: true };
const NONE: Options = { commands: false, events: false, params: false, keys: false };

async function gsdm(w: World, paths: string[], firstLevelOnly: boolean, o: Options) {
  const m = await w.ctl.request('get_supported_dm', 'GET_SUPPORTED_DM', {
    obj_paths: paths,
    first_level_only: firstLevelOnly,
    return_commands: o.commands,
    return_events: o.events,
    return_params: o.params,
    return_unique_key_sets: o.keys,
  });
  return responseOf(m, 'get_supported_dm_resp').req_obj_results;
}

const unknown = (v: unknown) => v === undefined || v === null || /UNKNOWN/.test(String(v));

/** Metrics 3-6 of 1.72 (and alike): every element carries its fields, with valid values. */
function assertWellFormed(objs: Obj[]) {
  for (const o of objs) {
    for (const p of o.supported_params ?? []) {
      assert.match(p.param_name!, /^[A-Za-z][\w-]*$/, 'relative parameter name');
      assert.ok(!unknown(p.access) && !unknown(p.value_type) && !unknown(p.value_change), JSON.stringify(p));
    }
    for (const c of o.supported_commands ?? []) {
      assert.match(c.command_name!, /^[A-Za-z][\w-]*\(\)$/);
      assert.ok(['CMD_SYNC', 'CMD_ASYNC', 1, 2].includes(c.command_type as never), JSON.stringify(c));
      for (const a of [...(c.input_arg_names ?? []), ...(c.output_arg_names ?? [])])
        assert.ok(!a.startsWith('Device.'));
    }
    for (const e of o.supported_events ?? []) {
      assert.match(e.event_name!, /^[A-Za-z][\w-]*!$/);
      for (const a of e.arg_names ?? []) assert.ok(!a.startsWith('Device.'));
    }
    for (const k of o.unique_key_sets ?? []) {
      assert.ok(k.key_names!.length >= 1);
      const params = o.supported_params ?? [];
      for (const n of k.key_names!) assert.ok(!params.length || params.some((p) => p.param_name === n), n);
    }
  }
}

const children = (objs: Obj[], parent: string) =>
  objs.filter((o) => o.supported_obj_path !== parent && o.supported_obj_path!.startsWith(parent));
const empty = (o: Obj) =>
  !o.supported_params?.length &&
  !o.supported_commands?.length &&
  !o.supported_events?.length &&
  !o.unique_key_sets?.length;
/**
 * A child in a first_level_only answer: no parameters, commands or events. Its unique_key_sets may be
 * there: the plan's metric says none, the USP 1.4 GetSupportedDM example shows them; we follow USP.
 */
const bare = (o: Obj) => !o.supported_params?.length && !o.supported_commands?.length && !o.supported_events?.length;

test('1.72 GetSupportedDM using a single object, first_level_only false, all options', async (t) => {
  const w = the(t);
  if (!w) return;
  const [r, ...more] = await gsdm(w, ['Device.LocalAgent.'], false, ALL);
  assert.equal(more.length, 0);
  const objs = r!.supported_objs;
  const paths = objs.map((o) => o.supported_obj_path);
  for (const p of [
    'Device.LocalAgent.',
    'Device.LocalAgent.Controller.{i}.',
    'Device.LocalAgent.Controller.{i}.MTP.{i}.',
  ])
    assert.ok(paths.includes(p), `${p} in ${paths}`);
  const la = objs.find((o) => o.supported_obj_path === 'Device.LocalAgent.')!;
  assert.ok(la.supported_params?.some((p) => p.param_name === 'EndpointID'));
  assert.ok(la.supported_events?.some((e) => e.event_name === 'Periodic!'));
  const sub = objs.find((o) => o.supported_obj_path === 'Device.LocalAgent.Subscription.{i}.')!;
  assert.ok(sub.unique_key_sets?.length);
  assertWellFormed(objs);
});

for (const [name, options] of [
  ['1.73 GetSupportedDM using a single object, first_level_only true, all options', ALL],
  ['1.74 GetSupportedDM using a single object, first_level_only true, no options', NONE],
] as const) {
  test(name, async (t) => {
    const w = the(t);
    if (!w) return;
    const [r] = await gsdm(w, ['Device.LocalAgent.'], true, options);
    const objs = r!.supported_objs;
    const [self, ...kids] = [
      objs.find((o) => o.supported_obj_path === 'Device.LocalAgent.')!,
      ...children(objs, 'Device.LocalAgent.'),
    ];
    assert.ok(self);
    assert.ok(kids.some((k) => k.supported_obj_path === 'Device.LocalAgent.Controller.{i}.'));
    assert.ok(
      kids.every(
        (k) => k.supported_obj_path!.slice('Device.LocalAgent.'.length).replace('{i}.', '').split('.').length === 2,
      ),
      'immediate children only',
    );
    for (const k of kids) assert.ok(bare(k), `${k.supported_obj_path} lists nothing`);
    if (options === ALL) {
      assert.ok(self.supported_params?.length && self.supported_events?.length);
      assert.deepEqual(self.unique_key_sets ?? [], [], 'a single-instance object has no unique keys');
      assertWellFormed([self]);
    } else assert.ok(empty(self));
  });
}

test('1.75 GetSupportedDM using multiple objects, first_level_only true, all options', async (t) => {
  const w = the(t);
  if (!w) return;
  const results = await gsdm(w, ['Device.LocalAgent.Controller.', 'Device.LocalAgent.MTP.'], true, ALL);
  assert.deepEqual(
    results.map((r) => r.req_obj_path),
    ['Device.LocalAgent.Controller.', 'Device.LocalAgent.MTP.'],
  );
  for (const r of results) {
    const self = r.supported_objs.find((o) => o.supported_obj_path === `${r.req_obj_path}{i}.`);
    assert.ok(self?.supported_params?.length, `${r.req_obj_path}{i}. lists its parameters`);
    for (const k of children(r.supported_objs, `${r.req_obj_path}{i}.`)) assert.ok(bare(k));
    assertWellFormed(r.supported_objs);
  }
});

test('1.76 GetSupportedDM on root object, all options', async (t) => {
  const w = the(t);
  if (!w) return;
  const [r] = await gsdm(w, ['Device.'], false, ALL);
  const objs = r!.supported_objs;
  const paths = objs.map((o) => o.supported_obj_path);
  for (const p of ['Device.', 'Device.DeviceInfo.', 'Device.LocalAgent.Subscription.{i}.', 'Device.MQTT.Client.{i}.'])
    assert.ok(paths.includes(p), p);
  assert.ok(objs.find((o) => o.supported_obj_path === 'Device.')?.supported_commands?.length);
  assertWellFormed(objs);
});

test('1.77 GetSupportedDM on unsupported object', async (t) => {
  const w = the(t);
  if (!w) return;
  const [r, ...more] = await gsdm(w, ['Device.LocalAgent.UnsupportedObject.'], false, ALL);
  assert.equal(more.length, 0);
  assert.ok((r!.err_code ?? 0) >= 7000);
});

test('1.97 GetSupportedDM on root object, commands', async (t) => {
  const w = the(t);
  if (!w) return;
  const [r] = await gsdm(w, ['Device.'], false, { ...NONE, commands: true });
  const objs = r!.supported_objs;
  assert.ok(objs.every((o) => !o.supported_params?.length && !o.supported_events?.length));
  const cmds = objs.flatMap((o) => o.supported_commands ?? []);
  assert.ok(cmds.length);
  assertWellFormed(objs);
  assert.ok(
    cmds.some((c) => c.input_arg_names?.length),
    'at least one command with input arguments',
  );
});

test('1.98 GetSupportedDM on root object, events', async (t) => {
  const w = the(t);
  if (!w) return;
  const [r] = await gsdm(w, ['Device.'], false, { ...NONE, events: true });
  const objs = r!.supported_objs;
  assert.ok(objs.every((o) => !o.supported_params?.length && !o.supported_commands?.length));
  const events = objs.flatMap((o) => o.supported_events ?? []);
  assertWellFormed(objs);
  assert.ok(
    events.some((e) => e.arg_names?.length),
    'at least one event with arguments',
  );
});

test('1.99 GetSupportedDM, unique_key_sets', async (t) => {
  const w = the(t);
  if (!w) return;
  const [r, ...more] = await gsdm(w, ['Device.LocalAgent.Subscription'], false, { ...NONE, keys: true });
  assert.equal(more.length, 0);
  assert.equal(r!.err_code ?? 0, 0, r!.err_msg ?? '');
  const sub = r!.supported_objs.find((o) => o.supported_obj_path === 'Device.LocalAgent.Subscription.{i}.');
  assert.deepEqual(
    sub?.unique_key_sets?.map((k) => [...k.key_names!].sort()),
    [['Alias'], ['ID', 'Recipient']],
  );
  assert.ok(!sub?.supported_params?.length, 'only unique_key_sets');
});

for (const [name, path, field] of [
  ['1.105 GetSupportedDM on a Command', 'Device.Reboot()', 'supported_commands'],
  ['1.106 GetSupportedDM on an Event', 'Device.Boot!', 'supported_events'],
  ['1.107 GetSupportedDM on a Parameter', 'Device.LocalAgent.EndpointID', 'supported_params'],
] as const) {
  test(name, async (t) => {
    const w = the(t);
    if (!w) return;
    const [r, ...more] = await gsdm(w, [path], false, ALL);
    assert.equal(more.length, 0);
    assert.equal(r!.err_code ?? 0, 0, r!.err_msg ?? '');
    const all = r!.supported_objs;
    const fields = ['supported_commands', 'supported_events', 'supported_params', 'unique_key_sets'] as const;
    for (const f of fields) {
      const n = all.reduce((sum, o) => sum + (o[f]?.length ?? 0), 0);
      if (f === field) assert.equal(n, 1, `${f} holds ${path}`);
      else assert.equal(n, 0, `${f} is empty`);
    }
  });
}
