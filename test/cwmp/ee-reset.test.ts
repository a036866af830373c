// CWMP-5.8: an ACS resets an execution environment by SetParameterValues ExecEnv.{i}.Reset=true (TR-181's
// CWMP variant: a writable boolean command parameter). The native EE, packages from a real HTTP server: the
// DU the ACS installed is removed, the factory DU (the defaults file's) is brought back to its factory
// version, Reset reads false again, and each change the reset made reaches the ACS once as an
// AutonomousDUStateChangeComplete (no ChangeDUState asked for it).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { manifest, tarGz } from '../engine/tar-builder.js';
import { waitFor } from '../helpers.js';
import { serveFiles } from '../http-files.js';
import { TestAcs, txt } from './acs.js';
import { gpv, MS, duResults as results, setup, values } from './harness.js';

const SM = 'Device.SoftwareModules.';
const EE1 = `${SM}ExecEnv.1.`;
const pkg = (name: string, version: string) =>
  tarGz([
    { name: 'manifest.json', data: manifest({ name, version, services: [{ name: 'svc', command: 'bin/run.sh' }] }) },
    { name: 'bin/run.sh', data: '#!/bin/sh\ntrap "exit 0" TERM\nwhile true; do sleep 0.1; done\n', mode: 0o755 },
  ]);
const spv = (name: string, value: string, key: string) =>
  `<cwmp:SetParameterValues><ParameterList soapenc:arrayType="cwmp:ParameterValueStruct[1]"><ParameterValueStruct>` +
  `<Name>${name}</Name><Value xsi:type="xsd:boolean">${value}</Value></ParameterValueStruct></ParameterList>` +
  `<ParameterKey>${key}</ParameterKey></cwmp:SetParameterValues>`;

test(
  'SetParameterValues ExecEnv.1.Reset=true: Status 0, the ACS-installed DU removed, the factory DU back at its ' +
    'factory version, Reset reads false, each change once as AutonomousDUStateChangeComplete',
  async (t) => {
    const http = await serveFiles({
      'base-1.tgz': pkg('base', '1.0'),
      'base-2.tgz': pkg('base', '2.0'),
      'app-1.tgz': pkg('app', '1.0'),
    });
    t.after(() => http.close());
    const { agent, acs } = await setup(t, {
      [`${EE1}Name`]: 'native',
      [`${EE1}X_CPE-AGENT_FactoryDeploymentUnits`]: http.url('base-1.tgz'),
      [`${MS}DUStateChangeComplPolicy.Enable`]: 'true',
    });
    const cr = () => TestAcs.connectionRequest(agent.dm.value(`${MS}ConnectionRequestURL`), 'acs', 'cr-secret');
    const completes = () => acs.requests.filter((r) => r.method === 'DUStateChangeComplete');
    const autonomous = () => acs.requests.filter((r) => r.method === 'AutonomousDUStateChangeComplete');
    const settled = async () => {
      await acs.until(() => acs.sessionsEnded >= acs.informs.length);
      await agent.cwmpClient!.idle();
    };
    const read = async (...names: string[]) => {
      const answer = acs.rpc(gpv(...names));
      assert.equal(await cr(), 200);
      return values(await answer);
    };

    // The factory DU is installed at the first start, an autonomous change of its own.
    await acs.until(() => autonomous().length === 1);
    const [factory] = results(autonomous()[0]!);
    assert.deepEqual(
      [factory!.op, factory!.state, factory!.version, factory!.fault],
      ['Install', 'Installed', '1.0', 0],
    );
    await settled();

    // The ACS installs a DU and updates the factory one to 2.0.
    const job = acs.rpc(
      `<cwmp:ChangeDUState><Operations xsi:type="cwmp:InstallOpStruct"><URL>${http.url('app-1.tgz')}</URL>` +
        `<ExecutionEnvRef>${EE1.slice(0, -1)}</ExecutionEnvRef></Operations><Operations ` +
        `xsi:type="cwmp:UpdateOpStruct"><UUID>${factory!.uuid}</UUID><URL>${http.url('base-2.tgz')}</URL>` +
        `</Operations><CommandKey>before-reset</CommandKey></cwmp:ChangeDUState>`,
    );
    assert.equal(await cr(), 200);
    assert.equal((await job).method, 'ChangeDUStateResponse');
    await acs.until(() => completes().length === 1);
    const [app, updated] = results(completes()[0]!);
    assert.deepEqual([app!.state, app!.fault, updated!.version, updated!.fault], ['Installed', 0, '2.0', 0]);
    await settled();
    const before = autonomous().length;
    assert.equal(before, 1, 'the ACS-requested changes are no autonomous ones');

    // Status 0: the value is applied when the response goes, the reset having started; its outcome is the
    // autonomous changes that follow (TR-069's 1 is for a change that waits for a reboot, none is needed).
    const set = acs.rpc(spv(`${EE1}Reset`, 'true', 'reset-1'));
    const during = acs.rpc(gpv(`${EE1}Reset`));
    assert.equal(await cr(), 200);
    const answer = await set;
    assert.equal(answer.method, 'SetParameterValuesResponse');
    assert.equal(txt(answer.body.Status), '0');
    assert.deepEqual(
      values(await during),
      { [`${EE1}Reset`]: 'false' },
      'a command parameter reads false, also in the session that set it, while the reset runs',
    );

    await acs.until(() => autonomous().length >= before + 2, 30_000);
    const made = autonomous().slice(before).flatMap(results);
    const removed = made.find((r) => r.op === 'Uninstall');
    const restored = made.find((r) => r.op === 'Update');
    assert.deepEqual(
      [removed?.uuid, removed?.du, removed?.version, removed?.state, removed?.fault],
      [app!.uuid, app!.du, '1.0', 'Uninstalled', 0],
      'the removal names the UUID and the row the DU had',
    );
    assert.deepEqual(
      [restored?.uuid, restored?.du, restored?.version, restored?.state, restored?.fault],
      [factory!.uuid, factory!.du, '1.0', 'Installed', 0],
      'the factory DU updated back to its factory version',
    );
    assert.ok(acs.informs.at(-1)!.events.some((e) => e.code === '12 AUTONOMOUS DU STATE CHANGE COMPLETE'));
    await waitFor(() => agent.dm.value(`${EE1}Reset`) === 'false');
    await settled();

    const dus = await read(`${SM}DeploymentUnit.`);
    const urls = Object.entries(dus).filter(([k]) => k.endsWith('.URL'));
    assert.deepEqual(
      urls.map(([, v]) => v),
      [http.url('base-1.tgz')],
      'only the factory DU is left',
    );
    assert.equal(dus[`${factory!.du}.Version`], '1.0');
    assert.equal(dus[`${factory!.du}.UUID`], factory!.uuid);
    const ee = await read(`${EE1}Reset`, `${EE1}Status`);
    assert.deepEqual([ee[`${EE1}Reset`], ee[`${EE1}Status`]], ['false', 'Up'], 'Reset reads false, the EE is up');
    await waitFor(() => agent.dm.value(`${factory!.du}.ExecutionUnitList`) !== '');
    const eu = agent.dm.value(`${factory!.du}.ExecutionUnitList`).split(',')[0]!;
    await waitFor(() => agent.dm.value(`${eu}.Status`) === 'Active', 10_000);

    await settled();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(autonomous().length, before + 2, 'each change reported once');
    assert.equal(completes().length, 1, 'no DUStateChangeComplete for the reset');
  },
);
