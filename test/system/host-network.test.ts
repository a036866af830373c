// Host networking is part of an EE's privileged policy: X_CPE-AGENT_HostNetwork gives the EE's units the
// host's network namespace only while X_CPE-AGENT_AllowPrivileged is true too, from the EE's next start.
// On real LXC (the container's namespace is the host's) and on the native EE (the unit's is).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Engine } from '../../src/engine/engine.js';
import { silentLogger } from '../../src/util/logger.js';
import { manifest, tarGz } from '../engine/tar-builder.js';
import { requireRoot, tempDir, usp, waitFor } from '../helpers.js';
import { startAgent } from './defaults-agent.js';
import { requireLxc } from './lxc.js';

const HOST_NET = readlinkSync('/proc/self/ns/net');
const SM = 'Device.SoftwareModules.';

test('an LXC EE shares the host network only while both policies say so, from its next start', async (t) => {
  if (!(await requireLxc(t))) return;
  const { dir, cleanup } = tempDir('cpe-hostnet-');
  const engine = new Engine({ stateDir: join(dir, 'state'), logger: silentLogger });
  await engine.start();
  // Before the EE is made: a start that fails still leaves an EE (and its mounts) to remove.
  t.after(async () => {
    for (const e of engine.execEnvs()) if (e.container) await engine.removeEE(e.id, true);
    await engine.detach();
    cleanup();
  });
  const ee = await engine.createEE({
    name: 'hostnet',
    execEnvClass: 'LXC',
    enabled: true,
    memoryKiB: -1,
    cpuPercent: -1,
    diskKiB: 65536,
    allowPrivileged: true,
    hostNetwork: true,
  });
  const lxcpath = join(dir, 'state', 'engine', 'lxc');
  const netOfInit = () => {
    const pid = execFileSync('lxc-info', ['-P', lxcpath, '-n', ee.container!, '-pH'], { encoding: 'utf8' }).trim();
    return readlinkSync(`/proc/${pid}/ns/net`);
  };
  assert.equal(netOfInit(), HOST_NET, 'host networking: the container is in the host network namespace');

  // The privileged policy withdrawn: host networking goes with it at the next start.
  engine.setPolicy(ee.id, { allowPrivileged: false });
  await engine.restartEE(ee.id, 'policy');
  assert.notEqual(netOfInit(), HOST_NET, 'without AllowPrivileged the container has a network of its own');
});

test('a native unit shares the host network only while both policies say so (over the data model)', async (t) => {
  if (!requireRoot(t, 'a native unit gets a network of its own only when the agent is root')) return;
  const { dir, cleanup } = tempDir('cpe-hostnet-native-');
  const agent = await startAgent(t, dir, { [`${SM}X_CPE-AGENT_FileURLDirectory`]: dir }, cleanup);
  const pkg = join(dir, 'app.tgz');
  writeFileSync(
    pkg,
    tarGz([
      { name: 'manifest.json', data: manifest({ name: 'netns', services: [{ name: 'svc', command: 'bin/run.sh' }] }) },
      { name: 'bin/run.sh', data: '#!/bin/sh\nexec sleep 1000\n', mode: 0o755 },
    ]),
  );
  const done = async (path: string, input: Record<string, string>) => {
    const [r] = await agent.dm.operate(path, input, usp, path);
    const ok = r?.kind === 'async' ? (await r.done).ok : r?.kind === 'sync';
    assert.equal(ok, true, `${path}: ${JSON.stringify(r)}`);
  };
  await done(`${SM}InstallDU()`, { URL: `file://${pkg}` });
  const engine = agent.containerEngine!;
  const euid = engine.deploymentUnits()[0]!.eus[0]!.euid;
  const netOf = async () => {
    await waitFor(() => engine.unitState(euid)?.status === 'Active' && engine.unitState(euid)?.pid !== undefined);
    const pid = engine.unitState(euid)!.pid!;
    // The wrapper execs into the service: wait until the process is the service.
    await waitFor(() => /sleep/.test(execFileSync('ps', ['-o', 'args=', '-p', String(pid)], { encoding: 'utf8' })));
    return readlinkSync(`/proc/${pid}/ns/net`);
  };
  const policy = (params: Record<string, string>) =>
    agent.dm.set(
      [{ objPath: `${SM}ExecEnv.1.`, params: Object.entries(params).map(([name, value]) => ({ name, value })) }],
      usp,
    );
  // The policy holds from the EE's next start.
  const restart = () => done(`${SM}ExecEnv.1.Restart()`, { Reason: 'policy' });
  assert.notEqual(await netOf(), HOST_NET, 'by default a native unit has loopback only');
  policy({ 'X_CPE-AGENT_HostNetwork': 'true' });
  await restart();
  assert.notEqual(await netOf(), HOST_NET, 'HostNetwork without AllowPrivileged changes nothing');
  policy({ 'X_CPE-AGENT_AllowPrivileged': 'true' });
  await restart();
  assert.equal(await netOf(), HOST_NET, 'both: the host network');
  assert.equal(agent.dm.value(`${SM}ExecEnv.1.X_CPE-AGENT_HostNetwork`), 'true');
});
