// The whole agent with an LXC execution environment that comes from the defaults file: created
// at first start, used by InstallDU, and made afresh by FactoryReset() with nothing left behind.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Agent } from '../../src/agent.js';
import type { Change } from '../../src/dm/change-feed.js';
import { silentLogger } from '../../src/util/logger.js';
import { manifest, tarGz } from '../engine/tar-builder.js';
import { tempDir, usp, waitFor } from '../helpers.js';
import { lxcHost, requireLxc } from './lxc.js';

test('an LXC EE from the defaults file runs DUs, and FactoryReset() makes it afresh', async (t) => {
  if (!(await requireLxc(t))) return;
  const { dir, cleanup } = tempDir('cpe-lxc-agent-');
  writeFileSync(
    join(dir, 'app.tgz'),
    tarGz([
      { name: 'manifest.json', data: manifest({ name: 'web', services: [{ name: 'svc', command: 'bin/run.sh' }] }) },
      { name: 'bin/run.sh', data: '#!/bin/sh\ntrap "exit 0" TERM\nwhile true; do sleep 0.2; done\n', mode: 0o755 },
    ]),
  );
  writeFileSync(
    join(dir, 'defaults.json'),
    JSON.stringify({
      'Device.SoftwareModules.ExecEnv.1.Name': 'apps',
      'Device.SoftwareModules.ExecEnv.1.Enable': 'true',
      'Device.SoftwareModules.ExecEnv.1.AllocatedMemory': '65536',
      'Device.SoftwareModules.ExecEnv.1.AllocatedDiskSpace': '65536',
      // The packages below are file: URLs from this test's directory, which the operator allows.
      'Device.SoftwareModules.X_CPE-AGENT_FileURLDirectory': dir,
    }),
  );
  const agent = new Agent({
    stateDir: join(dir, 'state'),
    defaultsFile: join(dir, 'defaults.json'),
    logger: silentLogger,
  });
  const boots: Change[] = [];
  agent.onStarted = (dm) => {
    dm.feed.subscribe('Device.Boot!', (c) => boots.push(c), ['event']);
  };
  await agent.start();
  t.after(async () => {
    await agent.containerEngine?.factoryReset();
    await agent.stop();
    cleanup();
  });
  const ee = agent.containerEngine!.execEnvs().find((e) => e.name === 'apps')!;
  assert.equal(ee.backend, 'lxc');
  assert.equal(ee.allocatedMemoryKiB, 65536);
  assert.equal(await lxcHost(agent.containerEngine!).state(ee.container!), 'RUNNING');
  const row = agent.dm.get('Device.SoftwareModules.ExecEnv.1.', usp)[0]!.params;
  assert.deepEqual([row.Name, row.Type, row.Status, row.AllocatedMemory], ['apps', 'LXC', 'Up', '65536']);

  const [op] = await agent.dm.operate(
    'Device.SoftwareModules.InstallDU()',
    { URL: `file://${join(dir, 'app.tgz')}`, ExecutionEnvRef: 'Device.SoftwareModules.ExecEnv.1' },
    usp,
    'k',
  );
  assert.equal(op!.kind, 'async');
  if (op?.kind === 'async') assert.equal(((await op.done) as { ok: boolean }).ok, true);
  await waitFor(
    () => agent.dm.get('Device.SoftwareModules.ExecutionUnit.1.Status', usp)[0]?.params.Status === 'Active',
  );
  // The EU runs as the EE's root, which is a host id of the EE's own range, and is not privileged.
  const eu = agent.dm.get('Device.SoftwareModules.ExecutionUnit.1.', usp)[0]!.params;
  assert.deepEqual(
    [eu.AllocatedEUUID, eu.AllocatedHostUID, eu.AllocatedHostGID, eu.Privileged],
    ['0', String(ee.ids!.base), String(ee.ids!.base), 'false'],
  );

  // A privileged install is refused while the EE's policy (from the defaults file: off) forbids it,
  // with the policy named; the operator turning it on is kept with the EE.
  const privileged = {
    URL: `file://${join(dir, 'app.tgz')}`,
    ExecutionEnvRef: 'Device.SoftwareModules.ExecEnv.1',
    Privileged: 'true',
  };
  const [refused] = await agent.dm.operate('Device.SoftwareModules.InstallDU()', privileged, usp, 'p');
  const outcome =
    refused?.kind === 'async' ? ((await refused.done) as { ok: boolean; code?: number; message?: string }) : undefined;
  assert.equal(outcome?.ok, false);
  assert.match(JSON.stringify(outcome), /7004.*AllowPrivileged|AllowPrivileged.*7004/);
  assert.equal(agent.containerEngine!.deploymentUnits().length, 1);
  agent.dm.set(
    [
      {
        objPath: 'Device.SoftwareModules.ExecEnv.1.',
        params: [{ name: 'X_CPE-AGENT_AllowPrivileged', value: 'true' }],
      },
    ],
    usp,
  );
  assert.equal(agent.containerEngine!.execEnvs().find((e) => e.name === 'apps')!.allowPrivileged, true);

  const oldContainer = ee.container!;
  await agent.dm.operate('Device.FactoryReset()', {}, usp);
  await waitFor(() => boots.length === 2);
  const fresh = agent.containerEngine!.execEnvs().find((e) => e.name === 'apps')!;
  assert.notEqual(fresh.container, oldContainer, 'a new container');
  assert.equal(await lxcHost(agent.containerEngine!).state(oldContainer), 'ABSENT');
  assert.equal(agent.containerEngine!.deploymentUnits().length, 0);
  assert.equal(agent.dm.instances('Device.SoftwareModules.DeploymentUnit.', usp).length, 0);
  assert.ok(!readFileSync('/proc/mounts', 'utf8').includes(oldContainer), 'nothing of the old EE is mounted');
});
