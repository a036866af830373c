// The whole agent with an OCI execution environment: the OCI ExecEnvClass row, AddExecEnv() on it,
// InstallDU into it over the data model, the EU Active as the EE's root, and Remove() with nothing left.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Agent } from '../../src/agent.js';
import { silentLogger } from '../../src/util/logger.js';
import { tempDir, usp, waitFor } from '../helpers.js';
import { startAgent } from './defaults-agent.js';
import { busyboxPackage, requireRunc } from './oci.js';

test('AddExecEnv() on the OCI class makes an EE that runs DUs as runc containers; Remove() cleans', async (t) => {
  if (!(await requireRunc(t))) return;
  const { dir, cleanup } = tempDir('cpe-oci-agent-');
  writeFileSync(
    join(dir, 'app.tgz'),
    busyboxPackage('web', [{ name: 'svc', command: 'bin/run.sh' }], {
      'bin/run.sh': '#!/bin/sh\ntrap "exit 0" TERM\nwhile true; do sleep 0.2; done\n',
    }),
  );
  const agent = await startAgent(t, dir, { 'Device.SoftwareModules.X_CPE-AGENT_FileURLDirectory': dir }, cleanup);
  const classes = agent.dm.get('Device.SoftwareModules.ExecEnvClass.', usp);
  const oci = classes.find((c) => c.params.Name === 'OCI');
  assert.ok(oci, 'runc works here: an OCI ExecEnvClass row');
  const [add] = await agent.dm.operate(
    `${oci.path}AddExecEnv()`,
    { Name: 'images', ParentExecEnv: '', AllocatedDiskSpace: '32768', AllocatedMemory: '65536' },
    usp,
    'a',
  );
  if (add?.kind === 'error') assert.fail(add.error.message);
  const done = add?.kind === 'async' ? await add.done : undefined;
  if (done && !done.ok) assert.fail(done.message);
  const eeRef = add?.kind === 'sync' ? add.output.ExecEnvRef : done?.ok ? done.output.ExecEnvRef : undefined;
  assert.ok(eeRef, 'AddExecEnv() returns its row');
  const row = agent.dm.get(`${eeRef}.`, usp)[0]!.params;
  assert.deepEqual([row.Name, row.Type, row.Status], ['images', 'OCI', 'Up']);

  const [op] = await agent.dm.operate(
    'Device.SoftwareModules.InstallDU()',
    { URL: `file://${join(dir, 'app.tgz')}`, ExecutionEnvRef: eeRef },
    usp,
    'k',
  );
  if (op?.kind === 'async') assert.equal(((await op.done) as { ok: boolean }).ok, true);
  await waitFor(
    () => agent.dm.get('Device.SoftwareModules.ExecutionUnit.1.Status', usp)[0]?.params.Status === 'Active',
  );
  const ee = agent.containerEngine!.execEnvs().find((e) => e.name === 'images')!;
  const eu = agent.dm.get('Device.SoftwareModules.ExecutionUnit.1.', usp)[0]!.params;
  assert.deepEqual([eu.AllocatedEUUID, eu.AllocatedHostUID, eu.ExecutionEnvRef], ['0', String(ee.ids!.base), eeRef]);

  // Right after the start: the SIGTERM must reach the container even while runc still makes it.
  const t0 = Date.now();
  const [rm] = await agent.dm.operate(`${eeRef}.Remove()`, { Force: 'true' }, usp, 'r');
  if (rm?.kind === 'async') assert.equal(((await rm.done) as { ok: boolean }).ok, true);
  assert.ok(!readFileSync('/proc/mounts', 'utf8').includes(dir), 'no mount left');
  assert.equal(agent.dm.get('Device.SoftwareModules.ExecutionUnit.', usp).length, 0);
  assert.ok(Date.now() - t0 < 5000, 'its service stopped on SIGTERM, well before the 10 s ShutdownDelay');
});

test('an ExecEnv row of the defaults file with ExecEnvClassRef naming the OCI class becomes an OCI EE', async (t) => {
  if (!(await requireRunc(t))) return;
  const { dir, cleanup } = tempDir('cpe-oci-defaults-');
  // Class rows are numbered in the backends' order, the same on every start: a first agent tells it.
  const probe = new Agent({ stateDir: join(dir, 'probe'), logger: silentLogger });
  await probe.start();
  const ociClass = probe.dm.get('Device.SoftwareModules.ExecEnvClass.', usp).find((c) => c.params.Name === 'OCI');
  await probe.stop();
  assert.ok(ociClass, 'runc works here: an OCI ExecEnvClass row');
  const SM = 'Device.SoftwareModules.';
  const defaults = {
    [`${SM}ExecEnv.2.Name`]: 'apps',
    [`${SM}ExecEnv.2.ExecEnvClassRef`]: ociClass.path.replace(/\.$/, ''),
    [`${SM}ExecEnv.2.AllocatedDiskSpace`]: '32768',
    [`${SM}ExecEnv.3.Name`]: 'nowhere',
    [`${SM}ExecEnv.3.ExecEnvClassRef`]: `${SM}ExecEnvClass.99`,
  };
  const agent = await startAgent(t, dir, defaults, cleanup);
  const ees = agent.containerEngine!.execEnvs();
  assert.equal(ees.find((e) => e.name === 'apps')?.backend, 'oci');
  assert.equal(
    ees.find((e) => e.name === 'nowhere'),
    undefined,
    'a reference to no class makes no EE',
  );
  const rows = agent.dm.get(`${SM}ExecEnv.`, usp).map((r) => r.params);
  assert.deepEqual(
    rows.filter((r) => r.Name === 'apps').map((r) => [r.Type, r.ExecEnvClassRef]),
    [['OCI', ociClass.path.replace(/\.$/, '')]],
  );
  assert.equal(rows.filter((r) => r.Name === 'nowhere').length, 0, 'its row is dropped, as for any EE that fails');
});
