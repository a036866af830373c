// The agent's footprint as a device runs it: its own process with USP (real mosquitto) and CWMP (the
// test ACS) both on. Idle RSS with 20 DUs installed (beside the RSS of a bare Node process), RSS growth per installed
// DU (from 20 to 1,000),
// and with 1,000 DUs: a USP Get of Device.SoftwareModules. (request -> response) and the time from
// starting the agent again to every one of the 1,000 services reported Active over USP.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UspController } from '../src/usp/controller-client.js';
import { mqttDeploymentDefaults } from '../src/usp/mqtt/deployment.js';
import { TestAcs } from '../test/cwmp/acs.js';
import { manifest, tarGz } from '../test/engine/tar-builder.js';
import { spawnAgent } from '../test/helpers.js';
import type { Figure } from './figures.js';
import { benchBroker, rssMB, rssPartsMB, sleep } from './processes.js';

const AGENT = 'os::00D0F1-Foot-1';
const MS = 'Device.ManagementServer.';
// Every service of this benchmark sleeps with this argument, so that they can all be found and
// stopped at the end, whatever happened (an agent restart leaves services running, as it should).
const MARK = '7391517';
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** RSS of a Node process doing nothing: what any agent written for Node starts from. */
async function bareNodeRss(): Promise<number> {
  const node = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e9)'], { stdio: 'ignore' });
  await sleep(3000);
  const mb = rssMB(node.pid!);
  node.kill();
  return mb;
}

export async function footprintFigures(): Promise<Figure[]> {
  const world = await benchBroker('footprint');
  if (!world) return [];
  const { dir, port, broker } = world;
  const acs = new TestAcs({ username: 'cpe', password: 'acs-secret' });
  await acs.start();
  writeFileSync(
    join(dir, 'defaults.json'),
    JSON.stringify({
      ...mqttDeploymentDefaults({
        brokerPort: port,
        version: '5.0',
        agentTopic: 'foot/agent',
        controllerId: 'proto::foot',
        controllerTopic: 'foot/ctl',
        device: { oui: '00D0F1', productClass: 'Foot', serialNumber: '1' },
      }),
      [`${MS}URL`]: acs.url,
      [`${MS}Username`]: 'cpe',
      [`${MS}Password`]: 'acs-secret',
      [`${MS}EnableCWMP`]: 'true',
      [`${MS}PeriodicInformEnable`]: 'false',
      [`${MS}ConnectionRequestUsername`]: 'acs',
      [`${MS}ConnectionRequestPassword`]: 'cr-secret',
      // The packages are file: URLs from this directory, which the operator allows.
      'Device.SoftwareModules.X_CPE-AGENT_FileURLDirectory': dir,
    }),
  );
  const run = () =>
    spawnAgent({
      stateDir: join(dir, 'state'),
      defaultsFile: join(dir, 'defaults.json'),
      logLevel: process.env.BENCH_LOG ?? 'warn',
      crPort0: true,
      stdio: process.env.BENCH_VERBOSE ? 'inherit' : 'ignore',
    });
  const ctl = new UspController({
    url: `mqtt://127.0.0.1:${port}`,
    version: '5.0',
    endpointId: 'proto::foot',
    topic: 'foot/ctl',
    agentId: AGENT,
    agentTopic: 'foot/agent',
    timeoutMs: 30_000,
  });
  await ctl.connect();
  let agent: ChildProcess | undefined;
  const closers: (() => Promise<void>)[] = [];
  try {
    agent = run();
    // Requests published while the agent is down are lost (it subscribes afresh): polls time out early.
    const probe = new UspController({ ...ctl.opts, timeoutMs: 2000 });
    await probe.connect();
    closers.push(() => probe.close());
    const activeCount = async () => {
      const r = await probe.request('get', 'GET', { param_paths: ['Device.SoftwareModules.ExecutionUnit.*.Status'] });
      const results = r.body.response?.get_resp?.req_path_results[0]?.resolved_path_results ?? [];
      return results.filter((x) => x.result_params.Status === 'Active').length;
    };
    const ready = async (n: number) => {
      for (;;) {
        try {
          if ((await activeCount()) >= n) return;
        } catch {
          /* not answering yet */
        }
        await sleep(20);
      }
    };
    await ready(0);
    await acs.until(() => acs.sessionsEnded >= 1, 60_000);
    // 1,000 packages, each a DU of its own with one service.
    const pkgs = Array.from({ length: 1000 }, (_, i) => {
      const file = join(dir, `app${i}.tgz`);
      writeFileSync(
        file,
        tarGz([
          {
            name: 'manifest.json',
            data: manifest({
              name: `app${i}`,
              vendor: 'bench.example',
              services: [{ name: 'svc', command: 'bin/run.sh' }],
            }),
          },
          { name: 'bin/run.sh', data: `#!/bin/sh\nexec sleep ${MARK}\n`, mode: 0o755 },
        ]),
      );
      return `file://${file}`;
    });
    const install = async (from: number, to: number) => {
      for (let i = from; i < to; i++)
        await ctl.request('operate', 'OPERATE', {
          command: 'Device.SoftwareModules.InstallDU()',
          command_key: `i${i}`,
          send_resp: true,
          input_args: { URL: pkgs[i]! },
        });
      await ready(to);
      if (process.env.BENCH_VERBOSE) console.log(`${to} DUs installed`);
    };
    /** RSS once the agent has been idle for 12 s: the installs' CWMP sessions are over and V8's memory
     *  reducer (which runs some 8 s into idleness) has given back what it will. */
    const idleRss = async () => {
      await sleep(12_000);
      return rssMB(agent!.pid!);
    };

    await install(0, 20);
    const rss20 = await idleRss();
    const parts20 = rssPartsMB(agent.pid!);
    await install(20, 1000);
    const rss1000 = await idleRss();
    const gets: number[] = [];
    let params = 0;
    for (let i = 0; i < 7; i++) {
      const t0 = performance.now();
      const r = await ctl.request('get', 'GET', { param_paths: ['Device.SoftwareModules.'] });
      gets.push(performance.now() - t0);
      params = (r.body.response?.get_resp?.req_path_results[0]?.resolved_path_results ?? []).reduce(
        (n, x) => n + Object.keys(x.result_params).length,
        0,
      );
    }
    agent.kill('SIGTERM');
    await new Promise((r) => agent!.once('exit', r));
    const t0 = performance.now();
    agent = run();
    await ready(1000);
    const restartMs = performance.now() - t0;
    return [
      {
        name: 'bare Node idle RSS (the floor under the agent)',
        value: await bareNodeRss(),
        unit: 'MB',
        target: 0,
        better: 'higher',
      },
      { name: 'agent idle RSS, USP + CWMP on, 20 DUs', value: rss20, unit: 'MB', target: 50, better: 'lower' },
      {
        name: '  of which file pages (Node binary and libraries)',
        value: parts20.file,
        unit: 'MB',
        target: 0,
        better: 'higher',
      },
      {
        name: '  of which anonymous (heap, code, buffers, malloc)',
        value: parts20.anon,
        unit: 'MB',
        target: 0,
        better: 'higher',
      },
      {
        name: 'RSS growth per installed DU (20 -> 1,000 DUs)',
        value: ((rss1000 - rss20) * 1024) / 980,
        unit: 'KB',
        target: 100,
        better: 'lower',
      },
      {
        name: `USP Get Device.SoftwareModules. (1,000 DUs, ${params} params)`,
        value: median(gets.slice(2)),
        unit: 'ms',
        target: 1000,
        better: 'lower',
      },
      {
        name: 'agent start to 1,000 DUs Active over USP',
        value: restartMs,
        unit: 'ms',
        target: 10_000,
        better: 'lower',
      },
    ];
  } finally {
    agent?.kill('SIGTERM');
    await ctl.close();
    for (const close of closers) await close();
    await sleep(500);
    try {
      execFileSync('pkill', ['-f', `sleep ${MARK}`]);
    } catch {
      /* none left */
    }
    await broker.stop();
    await acs.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
