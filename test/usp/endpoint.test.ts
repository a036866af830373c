// USP message handling at the record layer, in process (the MQTT transport has its own tests).
// Test names carry the TP-469 case ids they cover.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DataModel } from '../../src/dm/datamodel.js';
import { ensureRoles } from '../../src/usp/access.js';
import type { RequestBody, RequestKind, RequestType } from '../../src/usp/codec.js';
import { UspEndpoint } from '../../src/usp/endpoint.js';
import { Subscriptions } from '../../src/usp/subscriptions.js';
import { silentLogger } from '../../src/util/logger.js';
import { errorOf, responseOf } from '../fixtures/usp-answer.js';
import { loadSchema } from '../helpers.js';
import { ControllerSim } from './controller-sim.js';

function setup() {
  const dm = new DataModel({
    schema: loadSchema(),
    defaults: {
      'Device.LocalAgent.EndpointID': 'os::agent',
      'Device.LocalAgent.Controller.1.EndpointID': 'proto::ctl',
      'Device.LocalAgent.Controller.1.Enable': 'true',
      'Device.LocalAgent.Controller.2.EndpointID': 'proto::viewer',
      'Device.LocalAgent.Controller.2.Enable': 'true',
    },
  });
  Subscriptions.register(dm);
  dm.open();
  const roles = ensureRoles(dm);
  dm.update('Device.LocalAgent.Controller.1.', { AssignedRole: roles.full.slice(0, -1) });
  dm.update('Device.LocalAgent.Controller.2.', { AssignedRole: roles.readOnly.slice(0, -1) });
  const ep = new UspEndpoint(dm, silentLogger);
  const ctl = new ControllerSim('proto::ctl', 'os::agent');
  const call = async <K extends RequestKind>(kind: K, type: RequestType<K>, body: RequestBody<K>, sim = ctl) => {
    const { msgId, bytes } = sim.request(kind, type, body);
    const out = await ep.receive(bytes);
    assert.ok(out?.reply, `no answer to ${kind}`);
    const { msg } = ControllerSim.decode(out.reply);
    assert.equal(msg!.header.msg_id, msgId);
    return msg!;
  };
  return { dm, ep, ctl, call };
}

test('1.36 / 1.41 / 1.42 Get of valid and invalid parameters', async () => {
  const { call } = setup();
  const m = await call('get', 'GET', {
    param_paths: ['Device.LocalAgent.EndpointID', 'Device.LocalAgent.InvalidParameter'],
  });
  assert.equal(m.header.msg_type, 'GET_RESP');
  const [ok, bad] = responseOf(m, 'get_resp').req_path_results;
  assert.deepEqual(ok!.resolved_path_results, [
    { resolved_path: 'Device.LocalAgent.', result_params: { EndpointID: 'os::agent' } },
  ]);
  assert.equal(bad!.err_code, 7026);
});

test('Get with max_depth 1 returns only the object itself', async () => {
  const { call } = setup();
  const m = await call('get', 'GET', { param_paths: ['Device.LocalAgent.'], max_depth: 1 });
  assert.deepEqual(
    responseOf(m, 'get_resp').req_path_results[0]!.resolved_path_results.map((r) => r.resolved_path),
    ['Device.LocalAgent.'],
  );
});

test('Add generates the unique keys it returns, and Alias differs from ID', async () => {
  const { call } = setup();
  const m = await call('add', 'ADD', {
    allow_partial: false,
    create_objs: [
      {
        obj_path: 'Device.LocalAgent.Subscription.',
        param_settings: [{ param: 'NotifType', value: 'ValueChange', required: true }],
      },
    ],
  });
  const s = responseOf(m, 'add_resp').created_obj_results[0]!.oper_status?.oper_success;
  assert.ok(s);
  assert.equal(s.instantiated_path, 'Device.LocalAgent.Subscription.1.');
  assert.deepEqual(Object.keys(s.unique_keys).sort(), ['Alias', 'ID', 'Recipient']);
  assert.notEqual(s.unique_keys.Alias, s.unique_keys.ID);
  assert.equal(s.unique_keys.Recipient, 'Device.LocalAgent.Controller.1');
});

test('a failed required parameter is an Error naming the parameter path', async () => {
  const { call } = setup();
  const a = await call('add', 'ADD', {
    allow_partial: false,
    create_objs: [
      {
        obj_path: 'Device.LocalAgent.Subscription.',
        param_settings: [{ param: 'Enable', value: 'InvalidValue', required: true }],
      },
    ],
  });
  assert.equal(a.header.msg_type, 'ERROR');
  assert.equal(errorOf(a).param_errs[0]!.param_path, 'Device.LocalAgent.Subscription.1.Enable');
  assert.equal(errorOf(a).param_errs[0]!.err_code, 7011);
  const s = await call('set', 'SET', {
    allow_partial: false,
    update_objs: [
      {
        obj_path: 'Device.LocalAgent.Controller.1.',
        param_settings: [{ param: 'PeriodicNotifInterval', value: 'x', required: true }],
      },
    ],
  });
  assert.equal(s.header.msg_type, 'ERROR');
  assert.equal(errorOf(s).param_errs[0]!.param_path, 'Device.LocalAgent.Controller.1.PeriodicNotifInterval');
});

test('1.96 a non-functional unique key can not be changed; write-once parameters too', async () => {
  const { call } = setup();
  await call('add', 'ADD', {
    create_objs: [
      {
        obj_path: 'Device.LocalAgent.Subscription.',
        param_settings: [{ param: 'ID', value: 'sub-1', required: true }],
      },
    ],
  });
  const s = await call('set', 'SET', {
    update_objs: [
      {
        obj_path: 'Device.LocalAgent.Subscription.1.',
        param_settings: [{ param: 'ID', value: 'sub-2', required: true }],
      },
    ],
  });
  assert.equal(s.header.msg_type, 'ERROR');
  assert.equal(errorOf(s).param_errs[0]!.err_code, 7013);
});

test('1.23 / 1.25 paths that match nothing succeed empty', async () => {
  const { call } = setup();
  const s = await call('set', 'SET', {
    update_objs: [
      {
        obj_path: 'Device.LocalAgent.Subscription.[ID=="none"].',
        param_settings: [{ param: 'Enable', value: 'true', required: true }],
      },
    ],
  });
  assert.deepEqual(
    responseOf(s, 'set_resp').updated_obj_results[0]!.oper_status?.oper_success?.updated_inst_results,
    [],
  );
  const d = await call('delete', 'DELETE', { allow_partial: false, obj_paths: ['Device.LocalAgent.Subscription.99.'] });
  assert.deepEqual(responseOf(d, 'delete_resp').deleted_obj_results[0]!.oper_status?.oper_success?.affected_paths, []);
  const e = await call('delete', 'DELETE', { allow_partial: false, obj_paths: ['Device.LocalAgent.InvalidObject.'] });
  assert.equal(e.header.msg_type, 'ERROR');
  assert.equal(errorOf(e).param_errs[0]!.param_path, 'Device.LocalAgent.InvalidObject.');
});

test('1.66 GetInstances, 1.80 GetSupportedProtocol', async () => {
  const { call } = setup();
  const g = await call('get_instances', 'GET_INSTANCES', {
    obj_paths: ['Device.LocalAgent.Controller.'],
    first_level_only: true,
  });
  assert.deepEqual(
    responseOf(g, 'get_instances_resp').req_path_results[0]!.curr_insts.map((i) => i.instantiated_obj_path),
    ['Device.LocalAgent.Controller.1.', 'Device.LocalAgent.Controller.2.'],
  );
  const p = await call('get_supported_protocol', 'GET_SUPPORTED_PROTO', {
    controller_supported_protocol_versions: '1.3',
  });
  assert.equal(responseOf(p, 'get_supported_protocol_resp').agent_supported_protocol_versions, '1.0,1.1,1.2,1.3,1.4');
});

test('1.77 / 1.99 GetSupportedDM', async () => {
  const { call } = setup();
  const m = await call('get_supported_dm', 'GET_SUPPORTED_DM', {
    obj_paths: ['Device.LocalAgent.', 'Device.Nope.', 'Device.Reboot()'],
    first_level_only: true,
    return_commands: true,
    return_events: true,
    return_params: true,
    return_unique_key_sets: true,
  });
  const [la, bad, reboot] = responseOf(m, 'get_supported_dm_resp').req_obj_results;
  assert.ok(la && bad && reboot);
  assert.ok(
    la.supported_objs.some(
      (o) =>
        o.supported_obj_path === 'Device.LocalAgent.Controller.{i}.' &&
        o.access === 'OBJ_ADD_DELETE' &&
        o.is_multi_instance,
    ),
  );
  const sub = la.supported_objs.find((o) => o.supported_obj_path === 'Device.LocalAgent.Subscription.{i}.');
  assert.deepEqual(
    sub?.unique_key_sets.map((k) => k.key_names),
    [['Alias'], ['Recipient', 'ID']],
  );
  assert.equal(bad.err_code, 7026);
  assert.deepEqual(
    reboot.supported_objs[0]!.supported_commands.map((c) => [c.command_name, c.command_type, c.input_arg_names]),
    [['Reboot()', 'CMD_SYNC', ['Cause', 'Reason']]],
  );
  assert.deepEqual(reboot.supported_objs[0]!.supported_params, []);
});

test('2.1 / 2.2 / 3.1 records from ourselves, for others, or malformed are dropped unanswered', async () => {
  const { ep } = setup();
  assert.equal(
    await ep.receive(
      new ControllerSim('os::agent', 'os::agent').request('get', 'GET', { param_paths: ['Device.'] }).bytes,
    ),
    undefined,
  );
  assert.equal(
    await ep.receive(
      new ControllerSim('proto::ctl', 'os::other').request('get', 'GET', { param_paths: ['Device.'] }).bytes,
    ),
    undefined,
  );
  assert.equal(
    await ep.receive(
      new ControllerSim('proto::stranger', 'os::agent').request('get', 'GET', { param_paths: ['Device.'] }).bytes,
    ),
    undefined,
  );
  assert.equal(await ep.receive(new Uint8Array([0x0a, 0xff, 0xff, 0x01])), undefined);
  assert.equal(await ep.receive(new Uint8Array(2 * 1024 * 1024)), undefined);
});

test('a session context record is answered with a Disconnect 7106', async () => {
  const { ep, ctl } = setup();
  const out = await ep.receive(ctl.sessionRecord());
  const { record } = ControllerSim.decode(out!.reply!);
  assert.equal(record.disconnect?.reason_code, 7106);
});

test('read-only role: Get works, Set/Add are denied with 7006, Operate answers cmd_failure 7006', async () => {
  const { call } = setup();
  const viewer = new ControllerSim('proto::viewer', 'os::agent');
  const g = await call('get', 'GET', { param_paths: ['Device.LocalAgent.EndpointID'] }, viewer);
  assert.equal(responseOf(g, 'get_resp').req_path_results[0]!.err_code, 0);
  const s = await call(
    'set',
    'SET',
    {
      update_objs: [
        {
          obj_path: 'Device.LocalAgent.Controller.2.',
          param_settings: [{ param: 'ProvisioningCode', value: 'x', required: true }],
        },
      ],
    },
    viewer,
  );
  assert.equal(errorOf(s).err_code, 7006);
  const a = await call(
    'add',
    'ADD',
    { create_objs: [{ obj_path: 'Device.LocalAgent.Subscription.', param_settings: [] }] },
    viewer,
  );
  assert.equal(errorOf(a).err_code, 7006);
  const o = await call(
    'operate',
    'OPERATE',
    { command: 'Device.Reboot()', command_key: 'k', send_resp: true, input_args: {} },
    viewer,
  );
  const [r] = responseOf(o, 'operate_resp').operation_results;
  assert.equal(r!.executed_command, 'Device.Reboot()');
  assert.equal(r!.cmd_failure?.err_code, 7006);
});
