import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Change } from '../../src/dm/change-feed.js';
import { DmError } from '../../src/dm/errors.js';
import { agent, cwmp, newModel, usp } from '../helpers.js';

const err = (fn: () => unknown): DmError => {
  try {
    fn();
  } catch (e) {
    return e as DmError;
  }
  throw new Error('no error');
};

function withControllers() {
  const dm = newModel();
  dm.add(
    'Device.LocalAgent.Controller.',
    [
      { name: 'EndpointID', value: 'proto::a' },
      { name: 'Alias', value: 'ctl-a' },
    ],
    usp,
  );
  dm.add(
    'Device.LocalAgent.Controller.',
    [
      { name: 'EndpointID', value: 'proto::b' },
      { name: 'Enable', value: 'true' },
    ],
    usp,
  );
  return dm;
}

test('get of a parameter returns its object and that parameter only; secured values read empty', () => {
  const dm = newModel({
    defaults: { 'Device.ManagementServer.Password': 's3cret', 'Device.DeviceInfo.Manufacturer': 'ACME' },
  });
  assert.deepEqual(dm.get('Device.DeviceInfo.Manufacturer', usp), [
    { path: 'Device.DeviceInfo.', params: { Manufacturer: 'ACME' } },
  ]);
  assert.equal(dm.get('Device.ManagementServer.Password', cwmp)[0]!.params.Password, '');
  assert.equal(dm.value('Device.ManagementServer.Password'), 's3cret');
});

test('get of a partial path walks sub-objects, limited by max depth', () => {
  const dm = withControllers();
  const all = dm.get('Device.LocalAgent.', usp).map((r) => r.path);
  assert.ok(all.includes('Device.LocalAgent.Controller.2.'));
  assert.ok(all.includes('Device.LocalAgent.ControllerTrust.'));
  assert.deepEqual(
    dm.get('Device.LocalAgent.', usp, 1).map((r) => r.path),
    ['Device.LocalAgent.'],
  );
  const two = dm.get('Device.LocalAgent.', usp, 2).map((r) => r.path);
  assert.ok(
    two.includes('Device.LocalAgent.Controller.1.') && !two.includes('Device.LocalAgent.Controller.1.BootParameter.'),
  );
  assert.equal(dm.get('Device.LocalAgent.', usp)[0]!.params.ControllerNumberOfEntries, '2');
});

test('non-existent instance is 7026, unknown name is 7026, search without match is empty', () => {
  const dm = withControllers();
  assert.equal(err(() => dm.get('Device.LocalAgent.Controller.9.', usp)).code, 7026);
  assert.equal(err(() => dm.get('Device.LocalAgent.Nope.', usp)).code, 7026);
  assert.equal(err(() => dm.get('Device.LocalAgent.Controller.1.Nope', usp)).code, 7026);
  assert.equal(err(() => dm.get('Device.LocalAgent.Controller.Enable', usp)).code, 7026);
  assert.equal(err(() => dm.get('Device.LocalAgent.Controller.1.[', usp)).code, 7008);
  assert.deepEqual(dm.get('Device.LocalAgent.Controller.[EndpointID=="none"].', usp), []);
});

test('search expressions, wildcards, aliases and reference following', () => {
  const dm = withControllers();
  assert.deepEqual(dm.get('Device.LocalAgent.Controller.[EndpointID=="proto::b"].Enable', usp), [
    { path: 'Device.LocalAgent.Controller.2.', params: { Enable: 'true' } },
  ]);
  assert.equal(dm.get('Device.LocalAgent.Controller.*.EndpointID', usp).length, 2);
  assert.equal(
    dm.get('Device.LocalAgent.Controller.[Enable==false&&EndpointID!="proto::b"].EndpointID', usp)[0]!.params
      .EndpointID,
    'proto::a',
  );
  assert.equal(
    err(() => dm.get('Device.LocalAgent.Controller.[ctl-a].EndpointID', cwmp)).code,
    7026,
    'LocalAgent is USP-only',
  );
  assert.equal(dm.get('Device.LocalAgent.Controller.[ctl-a].EndpointID', usp)[0]!.params.EndpointID, 'proto::a');
  assert.equal(dm.get('Device.LocalAgent.Controller.[BootParameterNumberOfEntries>=0].EndpointID', usp).length, 2);
  assert.equal(
    err(() => dm.get('Device.LocalAgent.Controller.[EndpointID>"a"].Enable', usp)).code,
    7008,
    'ordering on strings',
  );
  assert.equal(
    err(() => dm.get('Device.LocalAgent.Controller.[Enable=="maybe"].Enable', usp)).code,
    7008,
    'constant of the wrong type',
  );
  // Reference following: a Role reference from a controller.
  const role = dm.addInstance('Device.LocalAgent.ControllerTrust.Role.', { Name: 'Full Access' });
  dm.set(
    [{ objPath: 'Device.LocalAgent.Controller.1.', params: [{ name: 'AssignedRole', value: role.slice(0, -1) }] }],
    agent,
  );
  assert.deepEqual(dm.get('Device.LocalAgent.Controller.1.AssignedRole+.Name', usp), [
    { path: role, params: { Name: 'Full Access' } },
  ]);
  assert.equal(
    dm.get('Device.LocalAgent.Controller.[AssignedRole+.Name=="Full Access"].EndpointID', usp)[0]!.params.EndpointID,
    'proto::a',
  );
  assert.equal(dm.get('Device.LocalAgent.Controller.2.AssignedRole+.Name', usp).length, 0, 'empty reference');
});

test('~= matches list items', () => {
  const dm = newModel();
  dm.add(
    'Device.LocalAgent.Subscription.',
    [
      { name: 'ReferenceList', value: 'Device.DeviceInfo.UpTime,Device.LocalAgent.' },
      { name: 'NotifType', value: 'ValueChange' },
    ],
    usp,
  );
  assert.equal(dm.get('Device.LocalAgent.Subscription.[ReferenceList~="Device.LocalAgent."].ID', usp).length, 1);
  assert.equal(dm.get('Device.LocalAgent.Subscription.[ReferenceList~="Device."].ID', usp).length, 0);
  assert.equal(err(() => dm.get('Device.LocalAgent.Subscription.[ID~="x"].ID', usp)).code, 7008);
});

test('set is atomic: one bad value and nothing changes, with the failing parameter named', () => {
  const dm = withControllers();
  const e = err(() =>
    dm.set(
      [
        { objPath: 'Device.LocalAgent.Controller.1.', params: [{ name: 'Enable', value: 'true' }] },
        { objPath: 'Device.LocalAgent.Controller.2.', params: [{ name: 'PeriodicNotifInterval', value: 'often' }] },
      ],
      usp,
    ),
  );
  assert.equal(e.code, 7020);
  assert.deepEqual(
    (e as DmError & { failures: { path: string; code: number }[] }).failures.map((f) => [f.path, f.code]),
    [['Device.LocalAgent.Controller.2.PeriodicNotifInterval', 7011]],
  );
  assert.equal(dm.value('Device.LocalAgent.Controller.1.Enable'), 'false');
});

test('set with allowPartial applies the good objects and reports the bad', () => {
  const dm = withControllers();
  const out = dm.set(
    [
      { objPath: 'Device.LocalAgent.Controller.1.', params: [{ name: 'Enable', value: '1' }] },
      { objPath: 'Device.LocalAgent.Controller.2.', params: [{ name: 'Nope', value: 'x' }] },
    ],
    usp,
    true,
  );
  assert.equal(out[0]!.ok, true);
  assert.equal(out[1]!.ok, false);
  assert.equal(dm.value('Device.LocalAgent.Controller.1.Enable'), 'true');
});

test('non-required parameter failures are reported and the rest applied', () => {
  const dm = withControllers();
  const [res] = dm.set(
    [
      {
        objPath: 'Device.LocalAgent.Controller.1.',
        params: [
          { name: 'Enable', value: 'true', required: false },
          { name: 'PeriodicNotifInterval', value: 'soon', required: false },
        ],
      },
    ],
    usp,
  );
  assert.ok(res!.ok);
  if (res?.ok)
    assert.deepEqual(
      res.objects[0]!.failures.map((f) => [f.path, f.code]),
      [['Device.LocalAgent.Controller.1.PeriodicNotifInterval', 7011]],
    );
  assert.equal(dm.value('Device.LocalAgent.Controller.1.Enable'), 'true');
});

test('read-only parameters, live values and counters refuse writes with 7013', () => {
  const dm = newModel();
  assert.equal(
    err(() => dm.set([{ objPath: 'Device.DeviceInfo.', params: [{ name: 'Manufacturer', value: 'x' }] }], usp)).code,
    7020,
  );
  const e = err(() =>
    dm.set([{ objPath: 'Device.DeviceInfo.', params: [{ name: 'Manufacturer', value: 'x' }] }], usp),
  ) as DmError & { failures: { code: number }[] };
  assert.equal(e.failures[0]!.code, 7013);
  const c = err(() =>
    dm.set([{ objPath: 'Device.LocalAgent.', params: [{ name: 'ControllerNumberOfEntries', value: '3' }] }], usp),
  ) as DmError & { failures: { code: number }[] };
  assert.equal(c.failures[0]!.code, 7013);
  dm.update('Device.DeviceInfo.', { Manufacturer: 'ACME' });
  assert.equal(dm.value('Device.DeviceInfo.Manufacturer'), 'ACME');
});

test('CWMP and USP views: USP-only objects are invisible to CWMP and the other way round', () => {
  const dm = newModel();
  assert.equal(err(() => dm.get('Device.LocalAgent.', cwmp)).code, 7026);
  assert.equal(err(() => dm.get('Device.SoftwareModules.ExecutionUnit.1.RequestedState', usp)).code, 7026);
  assert.equal(dm.get('Device.SoftwareModules.', cwmp)[0]!.params.ExecutionUnitNumberOfEntries, '0');
  const cmds = dm.supported('Device.SoftwareModules.', cwmp)[0]!;
  assert.ok(
    cmds.commands.has('InstallDU()'),
    'supported() lists definitions; protocol layers filter commands for CWMP',
  );
  assert.ok(dm.get('Device.ManagementServer.URL', usp).length === 1);
});

test('add assigns instance numbers that are never reused and generates unique keys', () => {
  const dm = newModel();
  const [a] = dm.add('Device.LocalAgent.Subscription.', [{ name: 'NotifType', value: 'Event' }], usp);
  assert.equal(a!.path, 'Device.LocalAgent.Subscription.1.');
  assert.deepEqual(Object.keys(a!.keys).sort(), ['Alias', 'ID', 'Recipient']);
  assert.equal(a!.keys.Alias, 'cpe-1');
  assert.ok(a!.keys.ID);
  dm.delete(['Device.LocalAgent.Subscription.1.'], usp);
  const [b] = dm.add('Device.LocalAgent.Subscription.', [{ name: 'ID', value: 'mine' }], usp);
  assert.equal(b!.path, 'Device.LocalAgent.Subscription.2.');
  assert.equal(b!.keys.ID, 'mine');
});

test('add refuses duplicate keys (7025), non-tables (7018), non-creatable tables (7019)', () => {
  const dm = withControllers();
  const e = err(() =>
    dm.add('Device.LocalAgent.Controller.', [{ name: 'EndpointID', value: 'proto::a' }], usp),
  ) as DmError & { failures: { path: string }[] };
  assert.equal(e.code, 7025);
  assert.equal(e.failures[0]!.path, 'Device.LocalAgent.Controller.3.EndpointID');
  assert.equal(
    dm.get('Device.LocalAgent.', usp)[0]!.params.ControllerNumberOfEntries,
    '2',
    'the failed add left nothing behind',
  );
  assert.equal(err(() => dm.add('Device.LocalAgent.', [], usp)).code, 7018);
  assert.equal(err(() => dm.add('Device.SoftwareModules.DeploymentUnit.', [], usp)).code, 7019);
  assert.equal(err(() => dm.add('Device.LocalAgent.Controller.', [{ name: 'Alias', value: 'ctl-a' }], usp)).code, 7025);
  // A USP Alias is write-once (TR-181 _AliasUSP): set by the Add, or generated, never changed after.
  const once = err(() =>
    dm.set([{ objPath: 'Device.LocalAgent.Controller.2.', params: [{ name: 'Alias', value: 'ctl-c' }] }], usp),
  ) as DmError & { failures: { code: number }[] };
  assert.equal(once.failures[0]!.code, 7013);
  assert.equal(dm.value('Device.LocalAgent.Controller.2.Alias'), 'cpe-2');
});

test('add sets parameters of nested single-instance sub-objects by relative path (USP Add param_settings)', () => {
  const dm = withControllers();
  const [r] = dm.add(
    'Device.LocalAgent.Controller.1.MTP.',
    [
      { name: 'Protocol', value: 'MQTT' },
      { name: 'MQTT.Topic', value: 'usp/ctl' },
      { name: 'MQTT.NoSuch', value: 'x', required: false },
      { name: 'Nope.Topic', value: 'x', required: false },
    ],
    usp,
  );
  assert.equal(dm.value(`${r!.path}MQTT.Topic`), 'usp/ctl');
  assert.deepEqual(
    r!.failures.map((f) => [f.path, f.code]),
    [
      [`${r!.path}Nope.Topic`, 7010],
      [`${r!.path}MQTT.NoSuch`, 7010],
    ],
  );
  const e = err(() => dm.add('Device.LocalAgent.Controller.1.MTP.', [{ name: 'MQTT.Topic', value: 7 as never }], usp));
  assert.equal(e.code, 7017, 'a required nested parameter that fails fails the Add');
});

test('delete removes rows and their sub-rows; search delete; 7024 for non-deletable', () => {
  const dm = withControllers();
  dm.add('Device.LocalAgent.Controller.1.MTP.', [{ name: 'Protocol', value: 'MQTT' }], usp);
  const seen: Change[] = [];
  dm.feed.subscribe('Device.LocalAgent.', (c) => seen.push(c), ['delete']);
  const [r] = dm.delete(['Device.LocalAgent.Controller.[EndpointID=="proto::a"].'], usp);
  assert.deepEqual(r!.deleted, ['Device.LocalAgent.Controller.1.']);
  assert.deepEqual(
    seen.map((c) => c.path),
    ['Device.LocalAgent.Controller.1.', 'Device.LocalAgent.Controller.1.MTP.1.'],
  );
  assert.deepEqual(dm.delete(['Device.LocalAgent.Controller.[EndpointID=="zzz"].'], usp)[0]!.deleted, []);
  const row = dm.addInstance('Device.SoftwareModules.DeploymentUnit.', {
    UUID: '6ba7b810-9dad-51d1-80b4-00c04fd430c8',
  });
  assert.equal(err(() => dm.delete([row], usp)).code, 7024);
  assert.equal(err(() => dm.delete(['Device.LocalAgent.'], usp)).code, 7026);
});

test('change feed: one change per changed value, with its cause; creations carry keys', () => {
  const dm = withControllers();
  const seen: Change[] = [];
  const off = dm.feed.subscribe(['Device.LocalAgent.Controller.*.Enable', 'Device.LocalAgent.Subscription.'], (c) =>
    seen.push(c),
  );
  dm.set([{ objPath: 'Device.LocalAgent.Controller.*.', params: [{ name: 'Enable', value: 'true' }] }], usp);
  assert.deepEqual(
    seen.map((c) => [c.kind, c.path]),
    [['value', 'Device.LocalAgent.Controller.1.Enable']],
    'controller 2 was already enabled',
  );
  assert.deepEqual(seen[0]!.cause, usp);
  dm.add('Device.LocalAgent.Subscription.', [{ name: 'ID', value: 's1' }], cwmp.kind === 'cwmp' ? usp : usp);
  const created = seen[1]!;
  assert.equal(created.kind, 'add');
  if (created.kind === 'add') assert.equal(created.keys.ID, 's1');
  assert.equal(seen.length, 2, 'initial values of a new row are not value changes');
  off();
  dm.set([{ objPath: 'Device.LocalAgent.Controller.1.', params: [{ name: 'Enable', value: 'false' }] }], usp);
  assert.equal(seen.length, 2);
});

test('instances and supported definitions', () => {
  const dm = withControllers();
  dm.add('Device.LocalAgent.Controller.1.MTP.', [{ name: 'Protocol', value: 'MQTT' }], usp);
  assert.deepEqual(
    dm.instances('Device.LocalAgent.Controller.', usp).map((i) => i.path),
    ['Device.LocalAgent.Controller.1.', 'Device.LocalAgent.Controller.1.MTP.1.', 'Device.LocalAgent.Controller.2.'],
  );
  assert.deepEqual(
    dm.instances('Device.LocalAgent.Controller.', usp, true).map((i) => i.path),
    ['Device.LocalAgent.Controller.1.', 'Device.LocalAgent.Controller.2.'],
  );
  assert.equal(dm.instances('Device.LocalAgent.Controller.', usp)[0]!.keys.EndpointID, 'proto::a');
  const sup = dm.supported('Device.SoftwareModules.', usp);
  assert.ok(sup.some((d) => d.path === 'Device.SoftwareModules.ExecutionUnit.{i}.'));
  assert.ok(sup.find((d) => d.path === 'Device.SoftwareModules.')!.commands.has('InstallDU()'));
  assert.equal(dm.supported('Device.SoftwareModules.', usp, true).length, 5);
  assert.equal(err(() => dm.supported('Device.Nope.', usp)).code, 7026);
});

test('operate: sync output, async operation with progress and cancel, argument errors 7027', async () => {
  const dm = newModel();
  dm.command('Device.SoftwareModules.ExecEnvClass.{i}.AddExecEnv()', (req) => ({
    ExecEnvRef: `made-${req.input.Name}`,
  }));
  dm.command('Device.SoftwareModules.InstallDU()', async (req) => {
    req.progress(50, 'fetching');
    await new Promise((r) => setTimeout(r, 50));
    if (req.signal.aborted) throw new DmError(7023, 'canceled');
    return {};
  });
  dm.addInstance('Device.SoftwareModules.ExecEnvClass.', { Name: 'LXC' });
  const [sync] = await dm.operate(
    'Device.SoftwareModules.ExecEnvClass.1.AddExecEnv()',
    { Name: 'ee1', ParentExecEnv: '' },
    usp,
  );
  assert.deepEqual(sync, {
    path: 'Device.SoftwareModules.ExecEnvClass.1.AddExecEnv()',
    kind: 'sync',
    output: { ExecEnvRef: 'made-ee1' },
  });
  const unknownArg = { Name: 'ee2', ParentExecEnv: '', Bogus: '1' };
  const [unknown] = await dm.operate('Device.SoftwareModules.ExecEnvClass.1.AddExecEnv()', unknownArg, usp);
  assert.deepEqual(
    unknown,
    { ...sync, output: { ExecEnvRef: 'made-ee2' } },
    'an unknown argument is ignored (R-OPR.6)',
  );
  dm.command('Device.ScheduleTimer()', () => ({}));
  const [bad] = await dm.operate('Device.ScheduleTimer()', { DelaySeconds: 'soon' }, usp);
  assert.equal(bad?.kind === 'error' && bad.error.code, 7027, 'an unsignedInt argument that is not a number');
  const [noUrl] = await dm.operate('Device.SoftwareModules.InstallDU()', {}, usp);
  assert.equal(noUrl?.kind === 'error' && noUrl.error.code, 7027, 'URL is mandatory');

  const events: string[] = [];
  dm.feed.subscribe(
    'Device.SoftwareModules.',
    (c) => {
      if (c.kind === 'operation') events.push(c.operation.state);
    },
    ['operation'],
  );
  const [run] = await dm.operate('Device.SoftwareModules.InstallDU()', { URL: 'http://127.0.0.1/x.tgz' }, usp, 'key-1');
  assert.equal(run!.kind, 'async');
  if (run?.kind === 'async') assert.deepEqual(await run.done, { ok: true, output: {} });
  assert.deepEqual(events, ['started', 'progress', 'complete']);
  const [again] = await dm.operate('Device.SoftwareModules.InstallDU()', { URL: 'http://127.0.0.1/x.tgz' }, usp);
  assert.equal(again?.kind, 'async');
  if (again?.kind === 'async') {
    dm.operations.cancel(again.operation.id);
    assert.deepEqual(await again.done, { ok: false, code: 7023, message: 'canceled' });
  }
  const [unimpl] = await dm
    .operate('Device.SoftwareModules.ExecEnvClass.1.Capability.*.Nope()', {}, usp)
    .catch((e) => [e]);
  assert.equal((unimpl as DmError).code, 7026);
});

test('events are published with their arguments', () => {
  const dm = newModel();
  const got: Change[] = [];
  dm.feed.subscribe('Device.Boot!', (c) => got.push(c), ['event']);
  dm.emit('Device.Boot!', { Cause: 'LocalReboot' }, agent);
  assert.equal(got.length, 1);
  assert.equal(err(() => dm.emit('Device.Nope!', {}, agent)).code, 7026);
});

test('a listener that throws does not stop delivery to the others', () => {
  const dm = newModel();
  let delivered = 0;
  dm.feed.subscribe('Device.', () => {
    throw new Error('boom');
  });
  dm.feed.subscribe('Device.', () => {
    delivered++;
  });
  dm.update('Device.DeviceInfo.', { Manufacturer: 'X' });
  assert.equal(delivered, 1);
});
