// ChangeDUState's selections over CWMP against the test ACS: an Update by URL alone, an Update of every DU, an
// Uninstall of every version, each DU acted on reported by its own result in operation order; and the per-operation
// faults 9027 (resources) and 9029 (DU state) reaching the ACS in a DUStateChangeComplete.

import assert from 'node:assert/strict';
import { mkdirSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CwmpState } from '../../src/cwmp/state.js';
import { manifest, tarGz } from '../engine/tar-builder.js';
import { tempDir, waitFor } from '../helpers.js';
import { serveFiles } from '../http-files.js';
import { TestAcs, txt } from './acs.js';
import { MS, duResults as results, setup } from './harness.js';

const SM = 'Device.SoftwareModules.';
const SERVICE = '#!/bin/sh\ntrap "exit 0" TERM\nwhile true; do sleep 0.1; done\n';
const pkg = (name: string, version: string, over: Record<string, unknown> = {}) =>
  tarGz([
    { name: 'manifest.json', data: manifest({ name, version, ...over }) },
    { name: 'bin/run.sh', data: SERVICE, mode: 0o755 },
  ]);

const install = (url: string) =>
  `<Operations xsi:type="cwmp:InstallOpStruct"><URL>${url}</URL><Username/><Password/><ExecutionEnvRef/></Operations>`;
/** An UpdateOpStruct with only the fields given (TR-069: UUID, Version and URL are each optional). */
const update = (f: { uuid?: string; version?: string; url?: string }) =>
  `<Operations xsi:type="cwmp:UpdateOpStruct">${f.uuid ? `<UUID>${f.uuid}</UUID>` : ''}` +
  `${f.version ? `<Version>${f.version}</Version>` : ''}${f.url ? `<URL>${f.url}</URL>` : ''}<Username/><Password/>` +
  `</Operations>`;
const uninstall = (uuid: string, version = '') =>
  `<Operations xsi:type="cwmp:UninstallOpStruct"><UUID>${uuid}</UUID>` +
  `${version ? `<Version>${version}</Version>` : ''}<ExecutionEnvRef/></Operations>`;

/** An agent against the test ACS; change() sends one ChangeDUState and gives its results once reported. */
async function world(t: Parameters<typeof setup>[0], files: Record<string, Buffer>) {
  const http = await serveFiles(files);
  t.after(() => http.close());
  const { agent, acs } = await setup(t);
  await acs.until(() => acs.sessionsEnded >= 1);
  const cr = () => TestAcs.connectionRequest(agent.dm.value(`${MS}ConnectionRequestURL`), 'acs', 'cr-secret');
  const completes = () => acs.requests.filter((r) => r.method === 'DUStateChangeComplete');
  const change = async (key: string, ...ops: string[]) => {
    const n = completes().length;
    const answer = acs.rpc(`<cwmp:ChangeDUState>${ops.join('')}<CommandKey>${key}</CommandKey></cwmp:ChangeDUState>`);
    assert.equal(await cr(), 200);
    assert.equal((await answer).method, 'ChangeDUStateResponse');
    await acs.until(() => completes().length === n + 1);
    await acs.until(() => acs.sessionsEnded >= acs.informs.length);
    await agent.cwmpClient!.idle();
    const done = completes()[n]!;
    assert.equal(txt(done.body.CommandKey), key);
    return results(done);
  };
  /** The DeploymentUnit rows as "name version", sorted. */
  const dus = () =>
    [...agent.dm.node(SM)!.tables.get('DeploymentUnit')!.rows.values()]
      .map((r) => `${r.stored('Name')} ${r.stored('Version')}`)
      .sort();
  return { agent, acs, http, change, dus };
}

test(
  'ChangeDUState Update by URL alone: the DU installed from that URL is updated, no other; an URL no DU came ' +
    'from is 9028',
  async (t) => {
    const files = { 'alpha.tgz': pkg('alpha', '1.0'), 'beta.tgz': pkg('beta', '1.0') };
    const { agent, http, change, dus } = await world(t, files);
    const [alpha, beta] = await change('both', install(http.url('alpha.tgz')), install(http.url('beta.tgz')));
    assert.deepEqual([alpha!.state, beta!.state], ['Installed', 'Installed']);

    files['alpha.tgz'] = pkg('alpha', '2.0');
    files['beta.tgz'] = pkg('beta', '2.0');
    const byUrl = await change('by-url', update({ url: http.url('alpha.tgz') }));
    assert.equal(byUrl.length, 1, 'one DU came from that URL: one result');
    assert.deepEqual(
      [byUrl[0]!.uuid, byUrl[0]!.du, byUrl[0]!.version, byUrl[0]!.state, byUrl[0]!.fault],
      [alpha!.uuid, alpha!.du, '2.0', 'Installed', 0],
    );
    assert.deepEqual(dus(), ['alpha 2.0', 'beta 1.0'], 'beta, from another URL, is not updated');
    assert.equal(agent.dm.value(`${alpha!.du}.URL`), http.url('alpha.tgz'));

    const [none] = await change('no-such-url', update({ url: http.url('gamma.tgz') }));
    assert.deepEqual([none!.state, none!.fault], ['Failed', 9028], 'no DU was installed from it');
    assert.deepEqual(dus(), ['alpha 2.0', 'beta 1.0']);
  },
);

test(
  'ChangeDUState Update of all DUs (neither UUID nor URL): every installed DU updated from its own URL, one ' +
    'result each, in order with the results of the other operations',
  async (t) => {
    const files = { 'alpha.tgz': pkg('alpha', '1.0'), 'beta.tgz': pkg('beta', '1.0') };
    const { agent, http, change, dus } = await world(t, files);
    const [alpha, beta] = await change('both', install(http.url('alpha.tgz')), install(http.url('beta.tgz')));

    files['alpha.tgz'] = pkg('alpha', '1.1');
    files['beta.tgz'] = pkg('beta', '1.1');
    const got = await change('all', update({}), uninstall(beta!.uuid));
    assert.deepEqual(
      got.map((r) => [r.uuid, r.du, r.version, r.state, r.fault]),
      [
        [alpha!.uuid, alpha!.du, '1.1', 'Installed', 0],
        [beta!.uuid, beta!.du, '1.1', 'Installed', 0],
        [beta!.uuid, beta!.du, '1.1', 'Uninstalled', 0],
      ],
      'the Update has a result per DU, the Uninstall that followed it after them',
    );
    assert.deepEqual(dus(), ['alpha 1.1']);
    assert.equal(agent.dm.value(`${alpha!.du}.URL`), http.url('alpha.tgz'), 'the URL it came from is kept');
  },
);

test(
  'ChangeDUState Uninstall without Version: every installed version of the DU is removed, one result each; with ' +
    'a Version only that one',
  async (t) => {
    const files = { 'a-1.tgz': pkg('app', '1.0'), 'a-2.tgz': pkg('app', '2.0'), 'a-3.tgz': pkg('app', '3.0') };
    const { agent, http, change, dus } = await world(t, files);
    const installed = await change(
      'three',
      install(http.url('a-1.tgz')),
      install(http.url('a-2.tgz')),
      install(http.url('a-3.tgz')),
    );
    assert.deepEqual(
      installed.map((r) => r.state),
      ['Installed', 'Installed', 'Installed'],
    );
    const uuid = installed[0]!.uuid;
    assert.deepEqual(dus(), ['app 1.0', 'app 2.0', 'app 3.0'], 'one DU, three versions');

    const [one] = await change('one', uninstall(uuid, '1.0'));
    assert.deepEqual([one!.uuid, one!.version, one!.state, one!.fault], [uuid, '1.0', 'Uninstalled', 0]);
    assert.deepEqual(dus(), ['app 2.0', 'app 3.0']);

    const rest = await change('every', uninstall(uuid));
    assert.deepEqual(
      rest.map((r) => [r.uuid, r.du, r.version, r.state, r.fault]),
      [
        [uuid, installed[1]!.du, '2.0', 'Uninstalled', 0],
        [uuid, installed[2]!.du, '3.0', 'Uninstalled', 0],
      ],
    );
    assert.deepEqual(dus(), []);
    assert.equal(agent.dm.node(SM)!.tables.get('ExecutionUnit')!.rows.size, 0, 'their EUs are gone with them');
  },
);

test(
  'ChangeDUState faults 9027 and 9029 in DUStateChangeComplete: an Install whose data would overcommit the ' +
    "device's disk, an Update of a DU uninstalled before its turn",
  async (t) => {
    // The package asks for a data volume of 1 TiB (the most a volume may have): more than the device's disk has
    // free. (The native EE has no disk allowance of its own to exceed: ModifyConstraints() does not apply to it.)
    const volume = { data: [{ name: 'store', capacity: 1024 * 1024, accessPath: '/var/lib/store' }] };
    // The service takes 3 s to stop: the uninstall of its DU lasts that long.
    const slowStop = '#!/bin/sh\ntrap "sleep 3; exit 0" TERM\nwhile true; do sleep 0.1; done\n';
    const files = {
      'big.tgz': pkg('big', '1.0', volume),
      'slow.tgz': tarGz([
        { name: 'manifest.json', data: manifest({ name: 'slow', version: '1.0' }) },
        { name: 'bin/run.sh', data: slowStop, mode: 0o755 },
      ]),
    };
    const { agent, acs, http, change, dus } = await world(t, files);
    const fs = statfsSync(tmpdir());
    if (fs.bavail * fs.bsize >= 1024 ** 4) return t.skip('this device has a TiB free');
    const [big] = await change('too-big', install(http.url('big.tgz')));
    assert.deepEqual([big!.state, big!.fault, big!.du], ['Failed', 9027, ''], 'System Resources Exceeded');
    assert.match(big!.message, /the device has \d+ bytes free and the package needs \d+/);
    assert.deepEqual(dus(), [], 'nothing installed');

    const [slow] = await change('slow', install(http.url('slow.tgz')));
    assert.equal(slow!.state, 'Installed');
    await waitFor(() => agent.dm.value(`${slow!.eus}.Status`) === 'Active');
    // Two ChangeDUStates in one session: the Update finds the DU's row while its Uninstall is stopping its EU,
    // and its turn on the DU comes once the DU is gone.
    const completes = () => acs.requests.filter((r) => r.method === 'DUStateChangeComplete');
    const n = completes().length;
    const removing = acs.rpc(
      `<cwmp:ChangeDUState>${uninstall(slow!.uuid)}<CommandKey>rm</CommandKey></cwmp:ChangeDUState>`,
    );
    const updating = acs.rpc(
      `<cwmp:ChangeDUState>${update({ uuid: slow!.uuid, url: http.url('slow.tgz') })}<CommandKey>up</CommandKey>` +
        '</cwmp:ChangeDUState>',
    );
    assert.equal(await TestAcs.connectionRequest(agent.dm.value(`${MS}ConnectionRequestURL`), 'acs', 'cr-secret'), 200);
    assert.equal((await removing).method, 'ChangeDUStateResponse');
    assert.equal((await updating).method, 'ChangeDUStateResponse');
    await acs.until(() => completes().length === n + 2);
    const byKey = (key: string) => results(completes().find((m) => txt(m.body.CommandKey) === key)!);
    const [removed] = byKey('rm');
    assert.deepEqual([removed!.state, removed!.fault], ['Uninstalled', 0]);
    const [refused] = byKey('up');
    assert.deepEqual(
      [refused!.uuid, refused!.fault],
      [slow!.uuid, 9029],
      `Invalid Deployment Unit State: ${refused!.message}`,
    );
    assert.equal(refused!.state, 'Failed', 'the DU is not installed any more');
    assert.deepEqual(dus(), []);
  },
);

test('a ChangeDUState job an older agent left (one result per operation) is read as one result each', (t) => {
  const { dir, cleanup } = tempDir('cpe-cds-state-');
  t.after(cleanup);
  mkdirSync(join(dir, 'cwmp'));
  const done = {
    uuid: '',
    duRef: '',
    version: '',
    state: 'Failed',
    resolved: false,
    euRefs: '',
    start: '0001-01-01T00:00:00Z',
    complete: '0001-01-01T00:00:00Z',
    fault: { code: 9016, message: 'not found' },
  };
  const ops = [{ kind: 'Install', url: 'http://x/a', uuid: '', version: '', username: '', password: '', eeRef: '' }];
  const job = { id: 'ab12', commandKey: 'old', ops: [...ops, ...ops], results: [done] };
  writeFileSync(join(dir, 'cwmp', 'state.json'), JSON.stringify({ jobs: [job] }));
  assert.deepEqual(new CwmpState(dir).data.jobs, [{ ...job, results: [[done]] }]);
});
