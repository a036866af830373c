// The InstallDU arguments and TR-181 semantics through the agent's data model and a USP endpoint:
// an unrecognized argument is ignored (R-OPR.6), a bad one is 7027 naming it, EnvVariable reaches the
// service and its EU rows, Uninstall's DUStateChange! names the removed DU's row, and ExecEnv.Reset()
// removes what was installed since the factory reset and restores the factory DUs.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Agent } from '../../src/agent.js';
import type { Change } from '../../src/dm/change-feed.js';
import { ensureRoles } from '../../src/usp/access.js';
import { UspEndpoint } from '../../src/usp/endpoint.js';
import { silentLogger } from '../../src/util/logger.js';
import { manifest, tarGz } from '../engine/tar-builder.js';
import { usp as caller, tempDir, waitFor } from '../helpers.js';
import { ControllerSim } from '../usp/controller-sim.js';

const SM = 'Device.SoftwareModules.';

function writePkg(dir: string, name: string, version: string): string {
  const file = join(dir, `${name}-${version}.tgz`);
  writeFileSync(
    file,
    tarGz([
      { name: 'manifest.json', data: manifest({ name, version, services: [{ name: 'svc', command: 'bin/run.sh' }] }) },
      { name: 'bin/run.sh', data: '#!/bin/sh\necho "MODE=$MODE"\nexec sleep 1000\n', mode: 0o755 },
    ]),
  );
  return `file://${file}`;
}

async function withAgent(
  defaults: Record<string, string>,
  body: (a: Agent, dir: string) => Promise<void>,
  prepare: (dir: string) => Record<string, string> = () => ({}),
): Promise<void> {
  const { dir, cleanup } = tempDir();
  const extra = prepare(dir);
  const file = join(dir, 'defaults.json');
  writeFileSync(
    file,
    JSON.stringify({
      'Device.LocalAgent.EndpointID': 'os::agent',
      'Device.LocalAgent.Controller.1.EndpointID': 'proto::ctl',
      'Device.LocalAgent.Controller.1.Enable': 'true',
      'Device.SoftwareModules.X_CPE-AGENT_FileURLDirectory': dir,
      ...defaults,
      ...extra,
    }),
  );
  const a = new Agent({ stateDir: join(dir, 'state'), logger: silentLogger, defaultsFile: file });
  try {
    await a.start();
    await body(a, dir);
  } finally {
    await a.containerEngine?.stopAll();
    await a.stop();
    cleanup();
  }
}

async function operate(a: Agent, path: string, input: Record<string, string>) {
  const [out] = await a.dm.operate(path, input, caller);
  assert.ok(out);
  if (out.kind === 'error') return { ok: false as const, code: out.error.code, message: out.error.message };
  assert.equal(out.kind, 'async');
  if (out.kind !== 'async') throw new Error('not async');
  return out.done;
}

const duNames = (a: Agent) =>
  a.containerEngine!.deploymentUnits().map((d) => `${d.manifest.name} ${d.manifest.version}`);

test('InstallDU over USP: an unknown argument is ignored; EnvVariable reaches the service and its rows', async () => {
  await withAgent({}, async (a, dir) => {
    const roles = ensureRoles(a.dm);
    a.dm.update('Device.LocalAgent.Controller.1.', { AssignedRole: roles.full.slice(0, -1) });
    const ep = new UspEndpoint(a.dm, silentLogger);
    const sim = new ControllerSim('proto::ctl', 'os::agent');
    const out = await ep.receive(
      sim.request('operate', 'OPERATE', {
        command: `${SM}InstallDU()`,
        command_key: 'k1',
        send_resp: true,
        input_args: {
          URL: writePkg(dir, 'app', '1.0'),
          'X_EXAMPLE-COM_NotAnArgument': 'whatever',
          'EnvVariable.1.Key': 'MODE',
          'EnvVariable.1.Value': 'blue',
          ShutdownDelay: '3',
        },
      }).bytes,
    );
    const msg = ControllerSim.decode(out!.reply!).msg!;
    assert.ok(!JSON.stringify(msg).includes('7027'), 'the unknown argument is not refused');
    await waitFor(() => a.containerEngine!.deploymentUnits().length === 1, 10_000);
    const euid = a.containerEngine!.deploymentUnits()[0]!.eus[0]!.euid;
    await waitFor(() => a.containerEngine!.unitState(euid)?.status === 'Active');
    await waitFor(() => a.containerEngine!.unitLog(euid).includes('MODE=blue'));
    assert.equal(a.dm.value(`${SM}ExecutionUnit.1.EnvVariable.1.Key`), 'MODE');
    assert.equal(a.dm.value(`${SM}ExecutionUnit.1.EnvVariable.1.Value`), 'blue');
    assert.equal(a.dm.value(`${SM}ExecutionUnit.1.ShutdownDelay`), '3');
    // An operator's ShutdownDelay on the EU row holds for that unit.
    a.dm.set([{ objPath: `${SM}ExecutionUnit.1.`, params: [{ name: 'ShutdownDelay', value: '5' }] }], caller);
    await waitFor(() => a.containerEngine!.unitOf(euid)?.eu.shutdownDelayS === 5);
    // Update() takes EnvVariable too: the unit gets the new value, the rows show it.
    const du = a.dm.value(`${SM}ExecutionUnit.1.References`);
    const up = await operate(a, `${du}.Update()`, {
      URL: writePkg(dir, 'app', '2.0'),
      'EnvVariable.1.Key': 'MODE',
      'EnvVariable.1.Value': 'green',
    });
    assert.equal(up.ok, true, JSON.stringify(up));
    const eu2 = a.containerEngine!.deploymentUnits()[0]!.eus[0]!.euid;
    await waitFor(() => a.containerEngine!.unitLog(eu2).includes('MODE=green'));
    const env = [...a.dm.node(`${SM}ExecutionUnit.1.`)!.tables.get('EnvVariable')!.rows.values()];
    assert.deepEqual(
      env.map((r) => `${r.stored('Key')}=${r.stored('Value')}`),
      ['MODE=green'],
    );
  });
});

test('a bad value of a known argument is 7027 naming it; a required role the EE lacks fails the install', async () => {
  await withAgent({}, async (a, dir) => {
    const url = writePkg(dir, 'app', '1.0');
    for (const [input, arg] of [
      [{ 'EnvVariable.1.Key': 'CPE_EUID', 'EnvVariable.1.Value': 'x' }, 'EnvVariable.1.Key'],
      [{ 'AutoRestart.Enable': 'true' }, 'AutoRestart.RetryMinimumWaitInterval'],
      [{ 'Resources.AllocatedCPUPercent': '150' }, 'Resources.AllocatedCPUPercent'],
      [{ 'HostObject.1.Source': '/etc', 'HostObject.1.Destination': '/etc' }, 'HostObject.1.Source'],
      [{ RequiredRoles: 'camera' }, 'RequiredRoles'],
    ] as const) {
      const r = await operate(a, `${SM}InstallDU()`, { URL: url, ...input });
      assert.equal(r.ok, false, arg);
      if (!r.ok) {
        assert.equal(r.code, 7027, `${arg}: ${r.message}`);
        assert.match(r.message, new RegExp(arg.replaceAll('.', '\\.')));
      }
    }
    assert.deepEqual(duNames(a), [], 'nothing was installed');
  });
});

test('RequiredRoles: installed where ModifyAvailableRoles() made the role available; kept on the DU row', async () => {
  await withAgent({}, async (a, dir) => {
    const role = a.dm.addInstance(
      'Device.LocalAgent.ControllerTrust.Role.',
      { Name: 'camera', Enable: 'true' },
      'test',
    );
    const url = writePkg(dir, 'cam', '1.0');
    assert.equal((await operate(a, `${SM}InstallDU()`, { URL: url, RequiredRoles: 'camera' })).ok, false);
    const bad = await operate(a, `${SM}ExecEnv.1.ModifyAvailableRoles()`, {
      AvailableRoles: 'Device.LocalAgent.Controller.1',
      AvailableUserRoles: '',
    });
    assert.equal(bad.ok, false);
    const ok = await operate(a, `${SM}ExecEnv.1.ModifyAvailableRoles()`, {
      AvailableRoles: role.slice(0, -1),
      AvailableUserRoles: '',
    });
    assert.equal(ok.ok, true, JSON.stringify(ok));
    const r = await operate(a, `${SM}InstallDU()`, { URL: url, RequiredRoles: 'camera', OptionalRoles: 'mic' });
    assert.equal(r.ok, true, JSON.stringify(r));
    const du = `${SM}DeploymentUnit.1.`;
    assert.equal(a.dm.value(`${du}X_CPE-AGENT_RequiredRoles`), 'camera');
    assert.equal(a.dm.value(`${du}X_CPE-AGENT_OptionalRoles`), 'mic');
  });
});

test('AutoRestart.* and Resources.* kept with the DU, shown on its EU; Uninstall names the removed DU', async () => {
  await withAgent({}, async (a, dir) => {
    const r = await operate(a, `${SM}InstallDU()`, {
      URL: writePkg(dir, 'app', '1.0'),
      'AutoRestart.Enable': 'true',
      'AutoRestart.RetryMinimumWaitInterval': '7',
      'AutoRestart.RetryMaximumWaitInterval': '70',
      'AutoRestart.RetryIntervalMultiplier': '1500',
      'AutoRestart.MaximumRetryCount': '4',
      'Resources.AllocatedMemory': '32768',
      RequiredRoles: '',
    });
    assert.equal(r.ok, true);
    const eu = `${SM}ExecutionUnit.1.`;
    assert.equal(a.dm.value(`${eu}AutoRestart.RetryMinimumWaitInterval`), '7');
    assert.equal(a.dm.value(`${eu}AutoRestart.RetryMaximumWaitInterval`), '70');
    assert.equal(a.dm.value(`${eu}AutoRestart.RetryIntervalMultiplier`), '1500');
    assert.equal(a.dm.value(`${eu}AutoRestart.MaximumRetryCount`), '4');
    assert.equal(a.dm.value(`${eu}AllocatedMemory`), '32768');
    const events: Change[] = [];
    const off = a.dm.feed.subscribe(`${SM}DUStateChange!`, (c) => events.push(c), ['event']);
    try {
      const du = a.dm.value(`${eu}References`);
      assert.match(du, /^Device\.SoftwareModules\.DeploymentUnit\.\d+$/);
      assert.equal((await operate(a, `${du}.Uninstall()`, {})).ok, true);
      await waitFor(() => events.length === 1);
      const ev = events[0]!;
      assert.ok(ev.kind === 'event');
      if (ev.kind === 'event') {
        assert.equal(ev.args.OperationPerformed, 'Uninstall');
        assert.equal(ev.args.DeploymentUnitRef, du, 'the removed DU is named');
      }
    } finally {
      off();
    }
  });
});

test('ExecEnv.Reset(): DUs installed since are removed with their data, factory DUs restored', async () => {
  let factoryV1 = '';
  await withAgent(
    {},
    async (a, dir) => {
      await waitFor(() => duNames(a).includes('base 1.0'), 10_000);
      const base = a.containerEngine!.deploymentUnits().find((d) => d.manifest.name === 'base')!;
      const baseRow = a.dm.value(`${SM}ExecutionUnit.1.References`);
      // After the factory state: the factory DU updated, another DU installed, the factory DU's copy of
      // data written.
      assert.equal((await operate(a, `${baseRow}.Update()`, { URL: writePkg(dir, 'base', '2.0') })).ok, true);
      assert.equal((await operate(a, `${SM}InstallDU()`, { URL: writePkg(dir, 'extra', '1.0') })).ok, true);
      assert.deepEqual(duNames(a).sort(), ['base 2.0', 'extra 1.0']);
      const extra = a.containerEngine!.deploymentUnits().find((d) => d.manifest.name === 'extra')!;
      const extraData = a.containerEngine!.dataDir(extra.uuid, extra.ee);
      const events: Change[] = [];
      const off = a.dm.feed.subscribe(`${SM}DUStateChange!`, (c) => events.push(c), ['event']);
      try {
        const reset = await operate(a, `${SM}ExecEnv.1.Reset()`, {});
        assert.equal(reset.ok, true, JSON.stringify(reset));
        assert.deepEqual(
          duNames(a),
          ['base 1.0'],
          'the installed DU is gone, the factory DU is at its factory version',
        );
        assert.equal(a.containerEngine!.deploymentUnits()[0]!.uuid, base.uuid);
        const { existsSync } = await import('node:fs');
        assert.ok(!existsSync(extraData), 'the removed DU data is gone');
        await waitFor(() => events.length === 2);
        const ops = events.map((e) =>
          e.kind === 'event' ? `${e.args.OperationPerformed} ${e.args.CurrentState}` : '',
        );
        assert.deepEqual(ops.sort(), ['Uninstall Uninstalled', 'Update Installed']);
        assert.ok(
          events.every((e) => e.kind === 'event' && e.args.DeploymentUnitRef !== ''),
          'each names its DU',
        );
        // A factory DU uninstalled since the factory reset is installed again.
        const row = a.dm.value(`${SM}ExecutionUnit.1.References`);
        assert.equal((await operate(a, `${row}.Uninstall()`, {})).ok, true);
        assert.deepEqual(duNames(a), []);
        assert.equal((await operate(a, `${SM}ExecEnv.1.Reset()`, {})).ok, true);
        assert.deepEqual(duNames(a), ['base 1.0']);
      } finally {
        off();
      }
    },
    (dir) => {
      factoryV1 = writePkg(dir, 'base', '1.0');
      return { [`${SM}ExecEnv.1.Name`]: 'native', [`${SM}ExecEnv.1.X_CPE-AGENT_FactoryDeploymentUnits`]: factoryV1 };
    },
  );
});
