import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Agent } from '../src/agent.js';
import type { Change } from '../src/dm/change-feed.js';
import type { DataModel } from '../src/dm/datamodel.js';
import { silentLogger } from '../src/util/logger.js';
import { packageVersion } from '../src/util/package-info.js';
import { tempDir, usp, waitFor } from './helpers.js';

function startAgent(dir: string, defaults: Record<string, string>) {
  const file = join(dir, 'defaults.json');
  writeFileSync(file, JSON.stringify(defaults));
  const agent = new Agent({ stateDir: join(dir, 'state'), defaultsFile: file, logger: silentLogger });
  const boots: Change[] = [];
  agent.onStarted = (dm: DataModel) => {
    dm.feed.subscribe('Device.Boot!', (c) => boots.push(c), ['event']);
  };
  return { agent, boots };
}

test('the agent starts on its defaults, fills identity and live values, and announces Boot!', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const { agent, boots } = startAgent(dir, {
      'Device.DeviceInfo.ManufacturerOUI': '00D0F1',
      'Device.DeviceInfo.SerialNumber': 'SN 1/2',
      'Device.DeviceInfo.ProductClass': 'Gateway',
    });
    await agent.start();
    const dm = agent.dm;
    assert.equal(dm.value('Device.LocalAgent.EndpointID'), 'os::00D0F1-Gateway-SN%201%2F2');
    assert.equal(dm.value('Device.DeviceInfo.SoftwareVersion'), packageVersion);
    assert.equal(dm.value('Device.LocalAgent.SoftwareVersion'), packageVersion);
    assert.equal(dm.value('Device.RootDataModelVersion'), '2.19');
    assert.match(dm.value('Device.DeviceInfo.UpTime'), /^\d+$/);
    assert.ok(
      Number(dm.value('Device.DeviceInfo.MemoryStatus.Total')) >
        Number(dm.value('Device.DeviceInfo.MemoryStatus.Free')),
    );
    assert.notEqual(dm.value('Device.DeviceInfo.FirstUseDate'), '0001-01-01T00:00:00Z');
    assert.equal(boots.length, 1);
    assert.equal(boots[0]!.kind === 'event' && boots[0]!.args.Cause, 'LocalReboot');
    await agent.stop();
  } finally {
    cleanup();
  }
});

test('DeviceInfo CPUUsage measures the CPUs over the last second at least, read at most once a second', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const { agent } = startAgent(dir, {});
    await agent.start();
    const usage = () => Number(agent.dm.value('Device.DeviceInfo.ProcessStatus.CPUUsage'));
    const spin = (ms: number) => {
      const end = performance.now() + ms;
      while (performance.now() < end);
    };
    assert.ok(usage() >= 0 && usage() <= 100);
    spin(1100);
    // One CPU of this machine's kept busy for the whole second (the others may be idle).
    const busy = usage();
    assert.ok(busy >= Math.floor(100 / availableParallelism() / 2), `CPUUsage ${busy} with one CPU busy`);
    await new Promise((r) => setTimeout(r, 300)); // idle
    assert.equal(usage(), busy, 'asked again within the second: the same reading');
    await agent.stop();
  } finally {
    cleanup();
  }
});

test(
  'Reboot() restarts with the RemoteReboot cause and keeps the state; FactoryReset() restores the ' + 'defaults',
  async () => {
    const { dir, cleanup } = tempDir();
    try {
      const { agent, boots } = startAgent(dir, { 'Device.ManagementServer.URL': 'http://127.0.0.1:1/acs' });
      await agent.start();
      agent.dm.set(
        [{ objPath: 'Device.ManagementServer.', params: [{ name: 'URL', value: 'http://127.0.0.1:2/acs' }] }],
        usp,
      );
      const [r] = await agent.dm.operate('Device.Reboot()', {}, usp, 'reboot-1');
      assert.equal(r!.kind, 'sync');
      await waitFor(() => boots.length === 2);
      assert.deepEqual(boots[1]!.kind === 'event' && [boots[1]!.args.Cause, boots[1]!.args.CommandKey], [
        'RemoteReboot',
        'reboot-1',
      ]);
      assert.equal(agent.dm.value('Device.ManagementServer.URL'), 'http://127.0.0.1:2/acs');
      await agent.dm.operate('Device.FactoryReset()', {}, usp);
      await waitFor(() => boots.length === 3);
      assert.equal(boots[2]!.kind === 'event' && boots[2]!.args.Cause, 'RemoteFactoryReset');
      assert.equal(agent.dm.value('Device.ManagementServer.URL'), 'http://127.0.0.1:1/acs');
      await agent.stop();
    } finally {
      cleanup();
    }
  },
);

test('an async command shows in the Request table while it runs, and Cancel() stops it', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const { agent } = startAgent(dir, {});
    await agent.start();
    const dm = agent.dm;
    dm.command(
      'Device.SoftwareModules.InstallDU()',
      (req) =>
        new Promise((_, reject) => {
          req.signal.addEventListener('abort', () => reject(req.signal.reason));
        }),
    );
    const [run] = await dm.operate('Device.SoftwareModules.InstallDU()', { URL: 'http://127.0.0.1/a.tgz' }, usp, 'k1');
    assert.equal(run!.kind, 'async');
    if (run?.kind !== 'async') return;
    const row = run.operation.requestPath!;
    assert.deepEqual(dm.get(`${row}`, usp)[0]!.params, {
      Alias: 'cpe-1',
      Originator: usp.kind === 'usp' ? usp.endpointId : '',
      Command: 'Device.SoftwareModules.InstallDU()',
      CommandKey: 'k1',
      Status: 'Active',
    });
    const [c] = await dm.operate(`${row}Cancel()`, {}, usp);
    assert.equal(c!.kind, 'sync');
    assert.deepEqual(await run.done, { ok: false, code: 7023, message: 'operation canceled' });
    assert.equal(dm.instances('Device.LocalAgent.Request.', usp).length, 0);
    await agent.stop();
  } finally {
    cleanup();
  }
});

test('a malformed defaults file stops the start with a message naming the file', async () => {
  const { dir, cleanup } = tempDir();
  try {
    writeFileSync(join(dir, 'd.json'), '{"Device.DeviceInfo.Manufacturer": ');
    const agent = new Agent({ stateDir: join(dir, 's'), defaultsFile: join(dir, 'd.json'), logger: silentLogger });
    await assert.rejects(agent.start(), /defaults file .*d\.json/);
  } finally {
    cleanup();
  }
});
