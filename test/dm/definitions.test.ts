import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { importTr181 } from '../../src/cli/dm-import.js';
import { loadSchema, repoRoot, requireShared, tempDir } from '../helpers.js';

test('datamodel/ is exactly what dm-import writes from the TR-181 XML', async (t) => {
  const specDir = requireShared(t, 'spec', 'tr-181');
  if (!specDir) return;
  const { dir, cleanup } = tempDir();
  try {
    await importTr181(specDir, dir);
    for (const f of readdirSync(dir)) {
      assert.equal(
        readFileSync(join(dir, f), 'utf8'),
        readFileSync(join(repoRoot, 'datamodel', f), 'utf8'),
        `datamodel/${f} differs from the import`,
      );
    }
  } finally {
    cleanup();
  }
});

test('SoftwareModules carries every object, command and event of TR-181 2.19', () => {
  const s = loadSchema();
  const sm = (p: string) => {
    const d = s.get(`Device.SoftwareModules.${p}`);
    assert.ok(d, p);
    return d!;
  };
  for (const o of [
    'ExecEnvClass.{i}.',
    'ExecEnvClass.{i}.Capability.{i}.',
    'ExecEnv.{i}.',
    'ExecEnv.{i}.ApplicationData.{i}.',
    'DeploymentUnit.{i}.',
    'ExecutionUnit.{i}.',
    'ExecutionUnit.{i}.AutoRestart.',
    'ExecutionUnit.{i}.NetworkConfig.',
    'ExecutionUnit.{i}.HostObject.{i}.',
    'ExecutionUnit.{i}.EnvVariable.{i}.',
  ])
    sm(o);
  assert.ok(sm('').commands.has('InstallDU()') && sm('').events.has('DUStateChange!'));
  assert.deepEqual([...sm('DeploymentUnit.{i}.').commands.keys()], ['Update()', 'Uninstall()']);
  assert.deepEqual([...sm('ExecutionUnit.{i}.').commands.keys()], ['SetRequestedState()', 'Restart()']);
  for (const c of ['Reset()', 'Restart()', 'Remove()', 'SetRunLevel()', 'ModifyConstraints()'])
    assert.ok(sm('ExecEnv.{i}.').commands.has(c), c);
  assert.ok(sm('ExecEnvClass.{i}.').commands.has('AddExecEnv()'));
  assert.ok(sm('ExecEnv.{i}.ApplicationData.{i}.').commands.has('Remove()'));
  assert.ok(sm('ExecEnv.{i}.').events.has('Restarted!'));
  const du = sm('').events.get('DUStateChange!')!;
  assert.deepEqual(
    du.args.params.map((p) => p.name),
    [
      'UUID',
      'DeploymentUnitRef',
      'Version',
      'CurrentState',
      'Resolved',
      'ExecutionUnitRefList',
      'StartTime',
      'CompleteTime',
      'OperationPerformed',
    ],
  );
  assert.deepEqual(
    du.args.objects.map((o) => o.path),
    ['Fault.'],
  );
  const install = sm('').commands.get('InstallDU()')!;
  assert.equal(install.async, true);
  assert.ok(install.input.params.find((p) => p.name === 'URL')?.mandatory);
  const eu = sm('ExecutionUnit.{i}.');
  assert.equal(eu.params.get('RequestedState')?.only, 'cwmp');
  assert.deepEqual(eu.params.get('Status')?.enum, ['Idle', 'Starting', 'Active', 'Stopping', 'Restarting']);
  assert.equal(
    s.get('Device.ManagementServer.DUStateChangeComplPolicy.')?.params.get('OperationTypeFilter')?.list !== undefined,
    true,
  );
});

test('passwords are secured; the ManagementServer is visible to both protocols', () => {
  const s = loadSchema();
  const ms = s.get('Device.ManagementServer.')!;
  assert.equal(ms.params.get('Password')?.secured, true);
  assert.equal(ms.params.get('ConnectionRequestPassword')?.secured, true);
  assert.equal(ms.spec.only, undefined);
  assert.equal(s.get('Device.LocalAgent.')?.spec.only, 'usp');
  assert.equal(s.get('Device.MQTT.Client.{i}.')?.params.get('Password')?.secured, true);
});
