// ChangeDUState from the test ACS into a real LXC execution environment (from the defaults file):
// the DU installs into the container and its EU runs there; an unknown or disabled EE fails the one
// operation (9023, 9024); Uninstall leaves nothing; ExecEnv.{i}.Reset=true by SetParameterValues (CWMP-5.8)
// removes a DU installed since and wipes what was written into the EE, which runs again. Runs in CI;
// skipped loudly without LXC.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { execa } from 'execa';
import { list, type Node, TestAcs, txt } from '../cwmp/acs.js';
import { MS, setup } from '../cwmp/harness.js';
import { manifest, tarGz } from '../engine/tar-builder.js';
import { waitFor } from '../helpers.js';
import { serveFiles } from '../http-files.js';
import { lxcHost, requireLxc } from './lxc.js';

const EE = 'Device.SoftwareModules.ExecEnv.';
const install = (url: string, ee: string) =>
  `<Operations xsi:type="cwmp:InstallOpStruct"><URL>${url}</URL><ExecutionEnvRef>${ee}</ExecutionEnvRef></Operations>`;

test(
  'ChangeDUState into an LXC EE: Install (running in the container), 9023/9024/9025 per operation, Update, ' +
    'Uninstall, Reset=true by SetParameterValues',
  async (t) => {
    if (!(await requireLxc(t))) return;
    const app = (version: string) =>
      tarGz([
        {
          name: 'manifest.json',
          data: manifest({ name: 'lxcapp', version, services: [{ name: 'svc', command: 'bin/run.sh' }] }),
        },
        {
          name: 'bin/run.sh',
          data: `#!/bin/sh\necho ${version} > /tmp/version\ntrap "exit 0" TERM\nwhile true; do sleep 0.2; done\n`,
          mode: 0o755,
        },
      ]);
    const http = await serveFiles({ 'app.tgz': app('3.1'), 'app-2.tgz': app('3.2') });
    t.after(() => http.close());
    const { agent, acs } = await setup(
      t,
      {
        [`${EE}1.Name`]: 'apps',
        [`${EE}1.Enable`]: 'true',
        [`${EE}1.AllocatedMemory`]: '65536',
        [`${EE}1.AllocatedDiskSpace`]: '65536',
        [`${EE}2.Name`]: 'off',
        [`${EE}2.Enable`]: 'false',
      },
      { destroyContainers: true },
    );
    await acs.until(() => acs.sessionsEnded >= 1);
    const engine = agent.containerEngine!;
    const apps = engine.execEnvs().find((e) => e.name === 'apps')!;
    assert.equal(apps.backend, 'lxc');
    const cr = () => TestAcs.connectionRequest(agent.dm.value(`${MS}ConnectionRequestURL`), 'acs', 'cr-secret');
    const completes = () => acs.requests.filter((r) => r.method === 'DUStateChangeComplete');
    const results = (i: number) =>
      list(completes()[i]!.body.Results as Node | Node[]).map((r) => ({
        state: txt(r.CurrentState),
        fault: txt((r.Fault as Node).FaultCode),
        uuid: txt(r.UUID),
        eus: txt(r.ExecutionUnitRefList),
        du: txt(r.DeploymentUnitRef),
      }));

    const job = acs.rpc(
      `<cwmp:ChangeDUState>${install(http.url('app.tgz'), `${EE}1.`)}${install(http.url('app.tgz'), `${EE}9`)}` +
        `${install(http.url('app.tgz'), `${EE}2`)}<CommandKey>lxc-1</CommandKey></cwmp:ChangeDUState>`,
    );
    assert.equal(await cr(), 200);
    assert.equal((await job).method, 'ChangeDUStateResponse');
    await acs.until(() => completes().length === 1, 60_000);
    const [ok, unknown, disabled] = results(0);
    assert.deepEqual([ok!.state, ok!.fault], ['Installed', '0']);
    assert.deepEqual([unknown!.state, unknown!.fault], ['Failed', '9023']);
    assert.deepEqual([disabled!.state, disabled!.fault], ['Failed', '9024']);
    assert.equal(agent.dm.value(`${ok!.du}.ExecutionEnvRef`), `${EE}1`);
    await waitFor(() => agent.dm.value(`${ok!.eus}.Status`) === 'Active', 30_000);
    const du = engine.deploymentUnits()[0]!;
    assert.equal(du.ee, apps.id);
    // The service runs inside the container: ps there shows it.
    const ps = async () =>
      (await execa('lxc-attach', ['-P', lxcHost(engine).lxcpath, '-n', apps.container!, '--', 'ps'], { reject: false }))
        .stdout;
    await waitFor(async () => /run\.sh/.test(await ps()));

    const inside = async (...cmd: string[]) =>
      (
        await execa('lxc-attach', ['-P', lxcHost(engine).lxcpath, '-n', apps.container!, '--', ...cmd], {
          reject: false,
        })
      ).stdout.trim();
    await waitFor(async () => (await inside('cat', '/tmp/version')) === '3.1');

    // Update by UUID to 3.2: the new version runs in the same container.
    const up = acs.rpc(
      `<cwmp:ChangeDUState><Operations ` +
        `xsi:type="cwmp:UpdateOpStruct"><UUID>${ok!.uuid}</UUID><URL>${http.url('app-2.tgz')}</URL></Operations>` +
        `<CommandKey>lxc-up</CommandKey></cwmp:ChangeDUState>`,
    );
    assert.equal(await cr(), 200);
    await up;
    await acs.until(() => completes().length === 2, 60_000);
    assert.deepEqual(
      results(1).map((r) => [r.state, r.fault, r.uuid]),
      [['Installed', '0', ok!.uuid]],
    );
    assert.equal(agent.dm.value(`${ok!.du}.Version`), '3.2');
    await waitFor(async () => (await inside('cat', '/tmp/version')) === '3.2', 30_000);

    const uninstall = (ee: string) =>
      `<Operations xsi:type="cwmp:UninstallOpStruct"><UUID>${ok!.uuid}</UUID><ExecutionEnvRef>` +
      `${ee}</ExecutionEnvRef></Operations>`;
    const remove = acs.rpc(
      `<cwmp:ChangeDUState>${uninstall(`${EE}2`)}${uninstall(`${EE}1`)}<CommandKey>lxc-2</CommandKey>` +
        `</cwmp:ChangeDUState>`,
    );
    assert.equal(await cr(), 200);
    await remove;
    await acs.until(() => completes().length === 3, 60_000);
    assert.deepEqual(
      results(2).map((r) => [r.state, r.fault]),
      [
        ['Installed', '9025'],
        ['Uninstalled', '0'],
      ],
      'not in EE 2 (9025); removed from EE 1',
    );
    assert.equal(engine.deploymentUnits().length, 0);
    await waitFor(async () => !/run\.sh/.test(await ps()), 10_000).catch(async () =>
      assert.fail(`the service is gone from the container:\n${await ps()}`),
    );

    // Installed again and a file written into the EE's writable layer; Reset=true takes both away.
    const again = acs.rpc(
      `<cwmp:ChangeDUState>${install(http.url('app.tgz'), `${EE}1`)}<CommandKey>lxc-3</CommandKey>` +
        `</cwmp:ChangeDUState>`,
    );
    assert.equal(await cr(), 200);
    await again;
    await acs.until(() => completes().length === 4, 60_000);
    assert.equal(results(3)[0]!.state, 'Installed');
    await waitFor(async () => /run\.sh/.test(await ps()), 30_000);
    const probe = () => inside('sh', '-c', 'cat /etc/reset-probe 2>/dev/null || echo none');
    await inside('sh', '-c', 'echo written > /etc/reset-probe');
    assert.equal(await probe(), 'written');
    const reset = acs.rpc(
      `<cwmp:SetParameterValues><ParameterList soapenc:arrayType="cwmp:ParameterValueStruct[1]">` +
        `<ParameterValueStruct><Name>${EE}1.Reset</Name><Value xsi:type="xsd:boolean">true</Value>` +
        `</ParameterValueStruct></ParameterList><ParameterKey>lxc-reset</ParameterKey></cwmp:SetParameterValues>`,
    );
    assert.equal(await cr(), 200);
    assert.equal(txt((await reset).body.Status), '0');
    await waitFor(() => engine.deploymentUnits().length === 0, 60_000);
    // 'none' needs the container up again (lxc-attach into a stopped one prints nothing).
    await waitFor(async () => (await probe()) === 'none', 60_000);
    await waitFor(() => agent.dm.value(`${EE}1.Status`) === 'Up', 30_000);
    const state = await execa('lxc-info', ['-P', lxcHost(engine).lxcpath, '-n', apps.container!, '-s', '-H']);
    assert.equal(state.stdout.trim(), 'RUNNING', 'the EE runs again');
    assert.equal(agent.dm.value(`${EE}1.Reset`), 'false');
    assert.ok(!/run\.sh/.test(await ps()), 'the DU installed since is gone with its service');
  },
);
