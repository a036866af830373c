// What a Get shows under ControllerTrust Permissions: one answer per object where the targets are
// objects, parameter by parameter where a target names a parameter or an object below.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DataModel } from '../../src/dm/datamodel.js';
import { Access } from '../../src/usp/access.js';
import { UspEndpoint } from '../../src/usp/endpoint.js';
import { silentLogger } from '../../src/util/logger.js';
import { responseOf } from '../fixtures/usp-answer.js';
import { loadSchema } from '../helpers.js';
import { ControllerSim } from './controller-sim.js';

const CT = 'Device.LocalAgent.ControllerTrust.';

/** A controller whose role reads everything, except what higher-order Permissions take away. */
function setup(denied: string[]) {
  const dm = new DataModel({
    schema: loadSchema(),
    defaults: {
      'Device.LocalAgent.EndpointID': 'os::agent',
      'Device.LocalAgent.Controller.1.EndpointID': 'proto::ctl',
      'Device.LocalAgent.Controller.1.Enable': 'true',
      'Device.DeviceInfo.SerialNumber': 'SN1',
      'Device.DeviceInfo.ModelName': 'M1',
    },
  });
  dm.open();
  const role = dm.addInstance(`${CT}Role.`, { Name: 'Reader', Enable: 'true' }, 'test');
  const perm = { Enable: 'true', Obj: 'r---', InstantiatedObj: 'r---', CommandEvent: 'r---' };
  dm.addInstance(`${role}Permission.`, { ...perm, Order: '0', Targets: 'Device.', Param: 'r---' }, 'test');
  for (const [i, t] of denied.entries())
    dm.addInstance(`${role}Permission.`, { ...perm, Order: String(i + 1), Targets: t, Param: '----' }, 'test');
  dm.update('Device.LocalAgent.Controller.1.', { AssignedRole: role.slice(0, -1) });
  const ep = new UspEndpoint(dm, silentLogger);
  const sim = new ControllerSim('proto::ctl', 'os::agent');
  const get = async (path: string) => {
    const out = await ep.receive(sim.request('get', 'GET', { param_paths: [path] }).bytes);
    return responseOf(ControllerSim.decode(out!.reply!).msg!, 'get_resp').req_path_results[0]!;
  };
  return { dm, get };
}

test('a Permission on one parameter hides it and leaves its siblings', async () => {
  const { get } = setup(['Device.DeviceInfo.SerialNumber']);
  const r = await get('Device.DeviceInfo.');
  const info = r.resolved_path_results.find((o) => o.resolved_path === 'Device.DeviceInfo.')!;
  assert.equal(info.result_params.ModelName, 'M1');
  assert.equal(info.result_params.SerialNumber, undefined);
});

test('a Permission on an object hides its parameters and nothing beside it', async () => {
  const { get } = setup(['Device.DeviceInfo.MemoryStatus.']);
  const r = await get('Device.DeviceInfo.');
  const byPath = new Map(r.resolved_path_results.map((o) => [o.resolved_path, o.result_params]));
  assert.equal(byPath.get('Device.DeviceInfo.')!.SerialNumber, 'SN1');
  assert.equal(byPath.get('Device.DeviceInfo.MemoryStatus.'), undefined);
});

test('the answer for a whole object agrees with the answers for each of its parameters', () => {
  for (const denied of [[], ['Device.DeviceInfo.SerialNumber'], ['Device.DeviceInfo.'], ['Device.LocalAgent.*.']]) {
    const { dm } = setup(denied);
    const access = Access.of(dm, 'proto::ctl');
    for (const [obj, params] of [
      ['Device.DeviceInfo.', ['SerialNumber', 'ModelName']],
      ['Device.LocalAgent.Controller.1.', ['EndpointID', 'Enable']],
      ['Device.LocalAgent.', ['EndpointID']],
    ] as const) {
      const all = access.allowsParams('Param', 'r', obj);
      const each = params.map((p) => access.allows('Param', 'r', `${obj}${p}`));
      if (all !== undefined)
        assert.deepEqual(
          each,
          each.map(() => all),
          `${obj} with ${denied.join(',')}`,
        );
    }
  }
  const { dm } = setup(['Device.DeviceInfo.SerialNumber']);
  assert.equal(Access.of(dm, 'proto::ctl').allowsParams('Param', 'r', 'Device.DeviceInfo.'), undefined);
  assert.equal(Access.of(dm, 'proto::ctl').allowsParams('Param', 'r', 'Device.LocalAgent.'), true);
});
