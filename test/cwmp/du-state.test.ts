// ChangeDUState over CWMP on the native execution environment, served by a real HTTP server: results
// per operation in order (with the 90xx fault of each failure), DUStateChangeComplete in a session of its
// own with "11 DU STATE CHANGE COMPLETE" and "M ChangeDUState", EU start/stop by SetParameterValues, and
// changes made by others reported as AutonomousDUStateChangeComplete, surviving an ACS that faults them.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { manifest, tarGz } from '../engine/tar-builder.js';
import { waitFor } from '../helpers.js';
import { serveFiles } from '../http-files.js';
import { list, type Node, TestAcs, txt } from './acs.js';
import { faultOf, MS, duResults as results, setup } from './harness.js';

const SM = 'Device.SoftwareModules.';
const SERVICE = '#!/bin/sh\ntrap "exit 0" TERM\nwhile true; do sleep 0.1; done\n';
const pkg = (v: string) =>
  tarGz([
    { name: 'manifest.json', data: manifest({ version: v, services: [{ name: 'web', command: 'bin/run.sh' }] }) },
    { name: 'bin/run.sh', data: SERVICE, mode: 0o755 },
  ]);

const install = (url: string, uuid = '') =>
  `<Operations xsi:type="cwmp:InstallOpStruct"><URL>${url}</URL>${uuid ? `<UUID>${uuid}</UUID>` : ''}<Username/>` +
  `<Password/><ExecutionEnvRef/></Operations>`;
const update = (uuid: string, url: string) =>
  `<Operations xsi:type="cwmp:UpdateOpStruct"><UUID>${uuid}</UUID><Version/><URL>${url}</URL><Username/>` +
  `<Password/></Operations>`;
const uninstall = (uuid: string) =>
  `<Operations xsi:type="cwmp:UninstallOpStruct"><UUID>${uuid}</UUID><Version/><ExecutionEnvRef/></Operations>`;
const cds = (key: string, ...ops: string[]) =>
  `<cwmp:ChangeDUState>${ops.join('')}<CommandKey>${key}</CommandKey></cwmp:ChangeDUState>`;

test(
  'ChangeDUState: Install, a failure per operation (9022, 9016, 9028), Update, Uninstall; ' +
    'DUStateChangeComplete with every result in order; EUs by SetParameterValues',
  async (t) => {
    const http = await serveFiles({ 'app-1.tgz': pkg('1.0'), 'app-2.tgz': pkg('2.0') });
    t.after(() => http.close());
    const { agent, acs } = await setup(t);
    await acs.until(() => acs.sessionsEnded >= 1);
    const cr = () => TestAcs.connectionRequest(agent.dm.value(`${MS}ConnectionRequestURL`), 'acs', 'cr-secret');
    const completes = () => acs.requests.filter((r) => r.method === 'DUStateChangeComplete');

    const answer = acs.rpc(
      cds(
        'cds-1',
        install(http.url('app-1.tgz')),
        install(http.url('app-1.tgz'), 'not-a-uuid'),
        install(http.url('missing.tgz')),
        uninstall('0badc0de-0000-5000-8000-000000000000'),
      ),
    );
    const empty = acs.rpc(cds('none'));
    const wrongType = acs.rpc(
      '<cwmp:ChangeDUState><Operations xsi:type="cwmp:RebootOpStruct"><URL>x</URL></Operations></cwmp:ChangeDUState>',
    );
    assert.equal(await cr(), 200);
    assert.equal((await answer).method, 'ChangeDUStateResponse', 'answered at once, the work follows');
    assert.equal(txt(faultOf(await empty)!.FaultCode), '9003');
    assert.equal(txt(faultOf(await wrongType)!.FaultCode), '9003');

    await acs.until(() => completes().length === 1);
    const first = completes()[0]!;
    assert.equal(txt(first.body.CommandKey), 'cds-1');
    const announcing = acs.informs.at(-1)!.events;
    assert.ok(
      announcing.some((e) => e.code === '11 DU STATE CHANGE COMPLETE') &&
        announcing.some((e) => e.code === 'M ChangeDUState' && e.key === 'cds-1'),
      JSON.stringify(announcing),
    );
    const [ok, badUuid, missing, unknown] = results(first);
    assert.equal(ok!.state, 'Installed');
    assert.equal(ok!.resolved, '1');
    assert.equal(ok!.version, '1.0');
    assert.equal(ok!.fault, 0);
    assert.match(
      ok!.uuid,
      /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/,
      'the TR-181 v5 UUID of the package',
    );
    assert.match(ok!.du, /^Device\.SoftwareModules\.DeploymentUnit\.\d+$/);
    assert.match(ok!.eus, /^Device\.SoftwareModules\.ExecutionUnit\.\d+$/);
    assert.match(ok!.start, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.deepEqual(
      [badUuid!.state, badUuid!.fault, badUuid!.uuid],
      ['Failed', 9022, '00000000-0000-0000-0000-000000000000'],
    );
    assert.deepEqual(
      [missing!.state, missing!.fault, missing!.du],
      ['Failed', 9016, ''],
      'HTTP 404: the file could not be accessed',
    );
    assert.deepEqual([unknown!.state, unknown!.fault], ['Failed', 9028]);
    assert.equal(agent.dm.value(`${ok!.du}.URL`), http.url('app-1.tgz'));
    await waitFor(() => agent.dm.value(`${ok!.eus}.Status`) === 'Active');

    // The EU crashes: with active notification on its Status, the ACS hears of it at once.
    const spa = acs.rpc(
      `<cwmp:SetParameterAttributes><ParameterList ` +
        `soapenc:arrayType="cwmp:SetParameterAttributesStruct[1]"><SetParameterAttributesStruct><Name>` +
        `${ok!.eus}.Status</Name><NotificationChange>1</NotificationChange><Notification>2</Notification>` +
        `<AccessListChange>0</AccessListChange><AccessList soapenc:arrayType="xsd:string[0]"></AccessList>` +
        `</SetParameterAttributesStruct></ParameterList></cwmp:SetParameterAttributes>`,
    );
    assert.equal(await cr(), 200);
    assert.equal((await spa).method, 'SetParameterAttributesResponse');
    await acs.until(() => acs.sessionsEnded >= acs.informs.length);
    const euid = agent.dm.value(`${ok!.eus}.EUID`);
    const informed = acs.informs.length;
    process.kill(agent.containerEngine!.unitState(euid)!.pid!, 'SIGKILL');
    await acs.until(() =>
      acs.informs
        .slice(informed)
        .some((i) => i.events.some((e) => e.code === '4 VALUE CHANGE') && `${ok!.eus}.Status` in i.params),
    );
    const crashed = acs.informs.slice(informed).find((i) => `${ok!.eus}.Status` in i.params)!;
    assert.ok(
      ['Idle', 'Error'].includes(crashed.params[`${ok!.eus}.Status`]!),
      `reported ${crashed.params[`${ok!.eus}.Status`]}`,
    );
    await waitFor(() => agent.dm.value(`${ok!.eus}.Status`) === 'Active', 20_000); // AutoRestart brings it back

    // In CWMP an EU is stopped and started by setting RequestedState.
    const stop = acs.rpc(
      `<cwmp:SetParameterValues><ParameterList ` +
        `soapenc:arrayType="cwmp:ParameterValueStruct[1]"><ParameterValueStruct><Name>` +
        `${ok!.eus}.RequestedState</Name><Value xsi:type="xsd:string">Idle</Value></ParameterValueStruct>` +
        `</ParameterList><ParameterKey>stop</ParameterKey></cwmp:SetParameterValues>`,
    );
    assert.equal(await cr(), 200);
    assert.equal(txt((await stop).body.Status), '0');
    await waitFor(() => agent.dm.value(`${ok!.eus}.Status`) === 'Idle');

    // Update to 2.0 (by UUID), a second Install of the same DU (9026), an Uninstall from an unknown EE (9023), then
    // Uninstall.
    const wrongEe =
      `<Operations xsi:type="cwmp:UninstallOpStruct"><UUID>${ok!.uuid}</UUID><ExecutionEnvRef>` +
      `Device.SoftwareModules.ExecEnv.9</ExecutionEnvRef></Operations>`;
    const second = acs.rpc(
      cds(
        'cds-2',
        update(ok!.uuid, http.url('app-2.tgz')),
        install(http.url('app-2.tgz')),
        wrongEe,
        uninstall(ok!.uuid),
      ),
    );
    assert.equal(await cr(), 200);
    assert.equal((await second).method, 'ChangeDUStateResponse');
    await acs.until(() => completes().length === 2);
    const [updated, dup, misplaced, removed] = results(completes()[1]!);
    assert.deepEqual([misplaced!.state, misplaced!.fault], ['Installed', 9023], 'an EE that does not exist');
    assert.deepEqual(
      [updated!.state, updated!.version, updated!.fault, updated!.uuid],
      ['Installed', '2.0', 0, ok!.uuid],
    );
    assert.deepEqual([dup!.state, dup!.fault], ['Failed', 9026]);
    // The removed DU's row is named though it is gone (TR-181 DeploymentUnitRef of DUStateChange!).
    assert.deepEqual(
      [removed!.state, removed!.fault, removed!.du, removed!.uuid],
      ['Uninstalled', 0, ok!.du, ok!.uuid],
    );
    assert.equal(agent.dm.node(SM)!.tables.get('DeploymentUnit')!.rows.size, 0);
    await acs.until(() => acs.sessionsEnded >= 5);
    assert.equal(completes().length, 2, 'each job reported once');
  },
);

test(
  'changes by others: AutonomousDUStateChangeComplete by DUStateChangeComplPolicy; an ACS that faults it ' +
    '(8000, like GenieACS) does not loop the session',
  async (t) => {
    const http = await serveFiles({ 'app-1.tgz': pkg('1.0') });
    t.after(() => http.close());
    const { agent, acs } = await setup(t, {
      [`${MS}DUStateChangeComplPolicy.Enable`]: 'true',
      [`${MS}DUStateChangeComplPolicy.OperationTypeFilter`]: 'Install,Uninstall',
      [`${MS}DUStateChangeComplPolicy.ResultTypeFilter`]: 'Both',
    });
    await acs.until(() => acs.sessionsEnded >= 1);
    acs.faultMethods.add('AutonomousDUStateChangeComplete');
    const autonomous = () => acs.requests.filter((r) => r.method === 'AutonomousDUStateChangeComplete');

    // A USP controller (or the CLI) installs: the ACS hears of it, once, and its fault ends the matter.
    const r = await agent.containerEngine!.install({ url: http.url('app-1.tgz'), ee: 'native', requestTag: 'usp:1' });
    assert.equal(r.fault, undefined);
    await acs.until(() => autonomous().length === 1);
    const [res] = results(autonomous()[0]!);
    assert.deepEqual([res!.op, res!.state, res!.fault, res!.uuid], ['Install', 'Installed', 0, r.uuid]);
    assert.ok(acs.informs.at(-1)!.events.some((e) => e.code === '12 AUTONOMOUS DU STATE CHANGE COMPLETE'));
    await acs.until(() => acs.sessionsEnded >= 2);
    await agent.cwmpClient!.idle();
    // An Update is filtered out by OperationTypeFilter; a failed install (unknown EE) is reported.
    await agent.containerEngine!.update(r.duid!, { requestTag: 'usp:2' });
    const bad = await agent.containerEngine!.install({ url: http.url('nope.tgz'), ee: 'native', requestTag: 'usp:3' });
    assert.ok(bad.fault);
    await acs.until(() => autonomous().length === 2);
    const [failed] = results(autonomous()[1]!);
    assert.deepEqual([failed!.op, failed!.state, failed!.fault], ['Install', 'Failed', 9016]);
    await acs.until(() => acs.sessionsEnded >= 3);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(autonomous().length, 2, 'the faulted requests are not sent again, the update not at all');
  },
);

test(
  'an ACS that faults DUStateChangeComplete (8000, like GenieACS): each report is sent once and dropped, later ' +
    'jobs are still reported and the ACS still served',
  async (t) => {
    const http = await serveFiles({ 'app-1.tgz': pkg('1.0') });
    t.after(() => http.close());
    const { agent, acs } = await setup(t);
    await acs.until(() => acs.sessionsEnded >= 1);
    acs.faultMethods.add('DUStateChangeComplete');
    const cr = () => TestAcs.connectionRequest(agent.dm.value(`${MS}ConnectionRequestURL`), 'acs', 'cr-secret');
    const completes = () => acs.requests.filter((r) => r.method === 'DUStateChangeComplete');

    const first = acs.rpc(cds('faulted-1', install(http.url('app-1.tgz'))));
    assert.equal(await cr(), 200);
    assert.equal((await first).method, 'ChangeDUStateResponse');
    await acs.until(() => completes().length === 1);
    const [installed] = results(completes()[0]!);
    assert.equal(installed!.state, 'Installed');
    await acs.until(() => acs.sessionsEnded >= acs.informs.length);
    await agent.cwmpClient!.idle();

    const second = acs.rpc(cds('faulted-2', uninstall(installed!.uuid)));
    assert.equal(await cr(), 200);
    assert.equal((await second).method, 'ChangeDUStateResponse');
    await acs.until(() => completes().length === 2);
    assert.deepEqual(
      completes().map((m) => txt(m.body.CommandKey)),
      ['faulted-1', 'faulted-2'],
    );
    await acs.until(() => acs.sessionsEnded >= acs.informs.length);
    await agent.cwmpClient!.idle();
    const informs = acs.informs.length;
    const read = acs.rpc(
      `<cwmp:GetParameterValues><ParameterNames soapenc:arrayType="xsd:string[1]"><string>${MS}URL</string>` +
        `</ParameterNames></cwmp:GetParameterValues>`,
    );
    assert.equal(await cr(), 200);
    assert.equal((await read).method, 'GetParameterValuesResponse', 'the ACS is still served');
    assert.ok(
      !acs.informs.slice(informs).some((i) => i.events.some((e) => e.code === '11 DU STATE CHANGE COMPLETE')),
      'a dropped report is not announced again',
    );
    assert.equal(completes().length, 2, 'each faulted report sent once');
    assert.deepEqual(agent.cwmpClient!.state.data.pending, [], 'nothing left to send');
  },
);

test('ChangeDUState with two versions of one DU installed: an Update naming no Version is 9031', async (t) => {
  const http = await serveFiles({ 'app-1.tgz': pkg('1.0'), 'app-2.tgz': pkg('2.0'), 'app-3.tgz': pkg('3.0') });
  t.after(() => http.close());
  const { agent, acs } = await setup(t);
  await acs.until(() => acs.sessionsEnded >= 1);
  const cr = () => TestAcs.connectionRequest(agent.dm.value(`${MS}ConnectionRequestURL`), 'acs', 'cr-secret');
  const completes = () => acs.requests.filter((r) => r.method === 'DUStateChangeComplete');

  const both = acs.rpc(cds('two', install(http.url('app-1.tgz')), install(http.url('app-2.tgz'))));
  assert.equal(await cr(), 200);
  assert.equal((await both).method, 'ChangeDUStateResponse');
  await acs.until(() => completes().length === 1);
  const [one, two] = results(completes()[0]!);
  assert.deepEqual([one!.state, two!.state, one!.uuid], ['Installed', 'Installed', two!.uuid], 'one DU, two versions');
  await acs.until(() => acs.sessionsEnded >= acs.informs.length);
  await agent.cwmpClient!.idle();

  const unversioned = acs.rpc(cds('which', update(one!.uuid, http.url('app-3.tgz'))));
  assert.equal(await cr(), 200);
  assert.equal((await unversioned).method, 'ChangeDUStateResponse');
  await acs.until(() => completes().length === 2);
  const [refused] = results(completes()[1]!);
  assert.deepEqual(
    [refused!.state, refused!.fault, refused!.uuid],
    ['Installed', 9031, one!.uuid],
    'a failed Update leaves the DU installed',
  );
  assert.deepEqual(
    [...agent.dm.node(SM)!.tables.get('DeploymentUnit')!.rows.values()].map((r) => r.stored('Version')).sort(),
    ['1.0', '2.0'],
    'nothing updated',
  );
});

test(
  "ChangeDUState Update faults: 9032 to the version another DU of it has, 9030 a downgrade where the EE's " +
    'policy forbids it',
  async (t) => {
    const http = await serveFiles({ 'app-1.tgz': pkg('1.0'), 'app-2.tgz': pkg('2.0'), 'app-0.tgz': pkg('0.9') });
    t.after(() => http.close());
    const { agent, acs } = await setup(t);
    await acs.until(() => acs.sessionsEnded >= 1);
    const cr = () => TestAcs.connectionRequest(agent.dm.value(`${MS}ConnectionRequestURL`), 'acs', 'cr-secret');
    const completes = () => acs.requests.filter((r) => r.method === 'DUStateChangeComplete');
    const versions = () =>
      [...agent.dm.node(SM)!.tables.get('DeploymentUnit')!.rows.values()].map((r) => r.stored('Version')).sort();
    const updateOf = (uuid: string, version: string, url: string) =>
      `<Operations xsi:type="cwmp:UpdateOpStruct"><UUID>${uuid}</UUID><Version>${version}</Version><URL>${url}` +
      `</URL><Username/><Password/></Operations>`;
    /** One ChangeDUState, its results once reported. */
    const change = async (key: string, ...ops: string[]) => {
      const n = completes().length;
      const answer = acs.rpc(cds(key, ...ops));
      assert.equal(await cr(), 200);
      assert.equal((await answer).method, 'ChangeDUStateResponse');
      await acs.until(() => completes().length === n + 1);
      await acs.until(() => acs.sessionsEnded >= acs.informs.length);
      await agent.cwmpClient!.idle();
      return results(completes()[n]!);
    };

    const [one] = await change('two', install(http.url('app-1.tgz')), install(http.url('app-2.tgz')));
    const [twin] = await change('twin', updateOf(one!.uuid, '1.0', http.url('app-2.tgz')));
    assert.deepEqual([twin!.state, twin!.fault, twin!.version], ['Installed', 9032, '1.0'], '2.0 is there already');
    assert.deepEqual(versions(), ['1.0', '2.0'], 'nothing updated');

    const ee = 'Device.SoftwareModules.ExecEnv.1.';
    assert.equal(agent.dm.value(`${ee}X_CPE-AGENT_AllowDowngrade`), 'true', 'downgrades are permitted by default');
    agent.dm.set([{ objPath: ee, params: [{ name: 'X_CPE-AGENT_AllowDowngrade', value: 'false' }] }], {
      kind: 'local',
      user: 'test',
    });
    const [down] = await change('down', updateOf(one!.uuid, '2.0', http.url('app-0.tgz')));
    assert.deepEqual([down!.state, down!.fault, down!.version], ['Installed', 9030, '2.0'], 'refused by policy');
    const fault = list(completes().at(-1)!.body.Results as Node | Node[])[0]!.Fault as Node;
    assert.match(txt(fault.FaultString), /older than the installed 2\.0/);
    assert.deepEqual(versions(), ['1.0', '2.0'], 'nothing updated');

    agent.dm.set([{ objPath: ee, params: [{ name: 'X_CPE-AGENT_AllowDowngrade', value: 'true' }] }], {
      kind: 'local',
      user: 'test',
    });
    const [allowed] = await change('allowed', updateOf(one!.uuid, '2.0', http.url('app-0.tgz')));
    assert.deepEqual([allowed!.state, allowed!.fault, allowed!.version], ['Installed', 0, '0.9']);
    assert.deepEqual(versions(), ['0.9', '1.0']);
  },
);
