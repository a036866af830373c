// An EU's runtime state (Status, fault, restart counters) and an EE's ActiveExecutionUnits live in
// memory only: never in the data model's state files, and rebuilt from the running services when the
// agent starts again (the engine adopts them).
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Agent } from '../../src/agent.js';
import { silentLogger } from '../../src/util/logger.js';
import { manifest, tarGz } from '../engine/tar-builder.js';
import { agent as caller, tempDir, waitFor } from '../helpers.js';

const EU = 'Status|ExecutionFaultCode|ExecutionFaultMessage|AutoRestart\\.(RetryCount|LastRestarted|NextRestart)';
const RUNTIME = new RegExp(`ExecutionUnit\\.\\d+\\.(${EU})"|ActiveExecutionUnits"`);

test('EU runtime state is not persisted and is rebuilt from the running services after a restart', async () => {
  const { dir, cleanup } = tempDir();
  const state = join(dir, 'state');
  writeFileSync(
    join(dir, 'app.tgz'),
    tarGz([
      { name: 'manifest.json', data: manifest({ name: 'app', services: [{ name: 'svc', command: 'bin/run.sh' }] }) },
      { name: 'bin/run.sh', data: '#!/bin/sh\nexec sleep 1000\n', mode: 0o755 },
    ]),
  );
  const newAgent = () =>
    new Agent({
      stateDir: state,
      logger: silentLogger,
      settings: { 'Device.SoftwareModules.X_CPE-AGENT_FileURLDirectory': dir },
    });
  const status = (a: Agent) => a.dm.get('Device.SoftwareModules.ExecutionUnit.1.Status', caller)[0]?.params.Status;
  let a = newAgent();
  try {
    await a.start();
    const [out] = await a.dm.operate('Device.SoftwareModules.InstallDU()', { URL: `file://${dir}/app.tgz` }, caller);
    assert.equal(out?.kind, 'async');
    if (out?.kind === 'async') assert.equal((await out.done).ok, true);
    await waitFor(() => status(a) === 'Active');
    const pid = a.containerEngine!.unitState(a.containerEngine!.deploymentUnits()[0]!.eus[0]!.euid)?.pid;
    const files = () =>
      ['datamodel.journal', 'datamodel.json'].map((f) => readFileSync(join(state, 'dm', f), 'utf8')).join('\n');
    assert.doesNotMatch(files(), RUNTIME);
    assert.doesNotMatch(JSON.stringify(a.dm.snapshot().values), RUNTIME);
    await a.stop();
    a = newAgent();
    await a.start();
    await waitFor(() => status(a) === 'Active');
    const eu = a.containerEngine!.deploymentUnits()[0]!.eus[0]!.euid;
    assert.equal(a.containerEngine!.unitState(eu)?.pid, pid, 'adopted, not started again');
    assert.equal(
      a.dm.get('Device.SoftwareModules.ExecEnv.1.ActiveExecutionUnits', caller)[0]?.params.ActiveExecutionUnits,
      'Device.SoftwareModules.ExecutionUnit.1',
    );
    assert.doesNotMatch(files(), RUNTIME);
  } finally {
    await a.containerEngine?.stopAll();
    await a.stop();
    cleanup();
  }
});
