// The InstallDU arguments the engine applies: ShutdownDelay (SIGTERM, then SIGKILL after the DU's own
// delay, whatever the engine's default), the DU's own disk allowance, its AutoRestart policy and environment.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Engine } from '../../src/engine/engine.js';
import { EngineCode } from '../../src/engine/errors.js';
import { silentLogger } from '../../src/util/logger.js';
import { requireRoot, tempDir, waitFor } from '../helpers.js';
import { manifest, tarGz } from './tar-builder.js';

// Ignores SIGTERM (the sleeps of its loop die, the loop goes on): only SIGKILL ends it.
const STUBBORN = `#!/bin/sh
echo "env MODE=$MODE"
trap 'echo "got TERM"' TERM
while true; do sleep 0.1; done
`;

function writePkg(dir: string, name: string): string {
  const file = join(dir, `${name}.tgz`);
  writeFileSync(
    file,
    tarGz([
      { name: 'manifest.json', data: manifest({ name, services: [{ name: 'svc', command: 'bin/run.sh' }] }) },
      { name: 'bin/run.sh', data: STUBBORN, mode: 0o755 },
      { name: 'share/blob', data: Buffer.alloc(8192, 1) },
    ]),
  );
  return `file://${file}`;
}

async function setup(t: { after(fn: () => Promise<void>): void }) {
  const { dir, cleanup } = tempDir('cpe-settings-');
  // A long default: a stop that takes less shows the DU's own ShutdownDelay was used.
  const engine = new Engine({ stateDir: join(dir, 'state'), logger: silentLogger, shutdownGraceMs: 30_000 });
  engine.setFileUrlDirectory(dir);
  t.after(async () => {
    await engine.stopAll();
    cleanup();
  });
  await engine.start();
  return { engine, dir };
}

test('ShutdownDelay: SIGTERM first, SIGKILL after the DU own delay, not the engine default', async (t) => {
  const { engine, dir } = await setup(t);
  const stopTime = async (name: string, shutdownDelayS: number) => {
    const r = await engine.install({
      url: writePkg(dir, name),
      ee: 'native',
      requestTag: name,
      settings: { shutdownDelayS, env: [{ key: 'MODE', value: name }] },
    });
    assert.equal(r.fault, undefined, r.fault?.message);
    const euid = r.euids[0]!;
    await waitFor(() => engine.unitLog(euid).includes(`env MODE=${name}`));
    const t0 = Date.now();
    await engine.setRequestedState(euid, 'Idle');
    const took = Date.now() - t0;
    assert.equal(engine.unitState(euid)?.status, 'Idle');
    assert.match(engine.unitLog(euid), /got TERM/, 'SIGTERM came first');
    return took;
  };
  const one = await stopTime('one', 1);
  assert.ok(one >= 900 && one < 5000, `stopped after ${one} ms with a ShutdownDelay of 1 s`);
  const three = await stopTime('three', 3);
  assert.ok(three >= 2900 && three < 8000, `stopped after ${three} ms with a ShutdownDelay of 3 s`);
});

test('Resources.AllocatedDiskSpace: a package larger than the DU own allowance is refused', async (t) => {
  const { engine, dir } = await setup(t);
  const r = await engine.install({
    url: writePkg(dir, 'big'),
    ee: 'native',
    requestTag: 'big',
    settings: { resources: { diskKiB: 1, memoryKiB: -1, cpuPercent: -1 } },
  });
  assert.equal(r.fault?.code, EngineCode.ResourcesExceeded);
  assert.match(r.fault!.message, /AllocatedDiskSpace/);
  assert.equal(engine.deploymentUnits().length, 0);
});

test('AutoRestart.* of the InstallDU is the policy of the DU units, kept with the DU', async (t) => {
  const { engine, dir } = await setup(t);
  const restart = { enabled: true, minWait: 9, maxWait: 90, multiplier: 1200, maxRetries: 2, resetPeriod: 60 };
  const r = await engine.install({
    url: writePkg(dir, 'ar'),
    ee: 'native',
    requestTag: 'ar',
    settings: { restart, shutdownDelayS: 1 },
  });
  assert.equal(r.fault, undefined, r.fault?.message);
  const p = engine.unitPolicy(r.euids[0]!)!;
  assert.deepEqual([p.minWait, p.maxWait, p.multiplier, p.maxRetries, p.resetPeriod], [9, 90, 1200, 2, 60]);
  assert.deepEqual(engine.du(r.duid!)?.settings?.restart, restart);
});

test('Resources.AllocatedMemory and AllocatedCPUPercent: units run in a cgroup of their DU', async (t) => {
  if (!requireRoot(t, 'makes cgroups')) return;
  const { engine, dir } = await setup(t);
  const r = await engine.install({
    url: writePkg(dir, 'limited'),
    ee: 'native',
    requestTag: 'limited',
    settings: { shutdownDelayS: 1, resources: { diskKiB: -1, memoryKiB: 65_536, cpuPercent: 20 } },
  });
  assert.equal(r.fault, undefined, r.fault?.message);
  const euid = r.euids[0]!;
  await waitFor(() => engine.unitState(euid)?.status === 'Active');
  const pid = engine.unitState(euid)!.pid!;
  const memoryDir = () => {
    const lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n');
    const v1 = lines.find((l) => l.split(':')[1]!.split(',').includes('memory'));
    return v1
      ? `/sys/fs/cgroup/memory${v1.split(':')[2]}`
      : `/sys/fs/cgroup${lines.find((l) => l.startsWith('0::'))!.slice(3)}`;
  };
  await waitFor(() => memoryDir().endsWith(`/cpe-du-${r.duid}`));
  const dirNow = memoryDir();
  const limit = ['memory.limit_in_bytes', 'memory.max'].map((f) => join(dirNow, f)).find((f) => existsSync(f))!;
  assert.equal(readFileSync(limit, 'utf8').trim(), String(65_536 * 1024));
  const un = await engine.uninstall(r.duid!, 'rm');
  assert.equal(un.fault, undefined);
  assert.ok(!existsSync(dirNow), 'the DU cgroup is removed with the DU');
});

// A native unit in a network namespace starts through a root wrapper (unshare, sh, ip, setpriv): no
// variable of the DU's may steer it. A PATH leading to the DU's own `ip` would run it as root.
test("the DU's PATH and LD_* reach its service, never the root wrapper that starts it", async (t) => {
  if (!requireRoot(t, 'a native unit gets a namespace of its own only when the agent is root')) return;
  const { engine, dir } = await setup(t);
  const evil = join(dir, 'evil');
  const marker = join(dir, 'ran-as-root');
  mkdirSync(evil, { mode: 0o755 });
  writeFileSync(join(evil, 'ip'), `#!/bin/sh\ntouch ${marker}\n`, { mode: 0o755 });
  const file = join(dir, 'envapp.tgz');
  writeFileSync(
    file,
    tarGz([
      {
        name: 'manifest.json',
        // The package's own environment: PATH is the package's to set (an EnvVariable may not).
        data: manifest({
          name: 'envapp',
          services: [{ name: 'svc', command: 'bin/run.sh', env: { PATH: `${evil}:/usr/bin:/bin` } }],
        }),
      },
      { name: 'bin/run.sh', data: '#!/bin/sh\necho "PATH=$PATH LIB=$LD_LIBRARY_PATH"\nexec sleep 1000\n', mode: 0o755 },
    ]),
  );
  const r = await engine.install({
    url: `file://${file}`,
    ee: 'native',
    requestTag: 'env',
    settings: { env: [{ key: 'LD_LIBRARY_PATH', value: evil }] },
  });
  assert.equal(r.fault, undefined, r.fault?.message);
  const euid = r.euids[0]!;
  await waitFor(() => engine.unitLog(euid).includes('PATH='));
  assert.match(engine.unitLog(euid), new RegExp(`PATH=${evil}:/usr/bin:/bin LIB=${evil}`));
  assert.equal(existsSync(marker), false, "the DU's `ip` ran in the root wrapper");
});
