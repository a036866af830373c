// USP figures through a real mosquitto: Get Device.DeviceInfo. round trips one at a time and 32 in
// flight with the agent's CPU time per request, and ValueChange latency from Set to Notify. The
// agent runs as its own process, as on a device, and the broker with mosquitto's stock configuration
// (no set_tcp_nodelay), as most deployed brokers run: an agent that waits on the broker's PUBACKs is
// held back by Nagle and delayed ACKs there. Targets are obuspa v11's figures on the same machine
// (438 Get/s one at a time, 0.28 ms of CPU per Get; 0.17 ms with 32 in flight).
import type { ChildProcess } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UspController } from '../src/usp/controller-client.js';
import { mqttDeploymentDefaults } from '../src/usp/mqtt/deployment.js';
import { spawnAgent } from '../test/helpers.js';
import type { Figure } from './figures.js';
import { benchBroker, sleep } from './processes.js';

const AGENT = 'os::00D0F1-Bench-1';

/** CPU seconds (user+system) of a process, from /proc. */
function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

export async function uspFigures(): Promise<Figure[]> {
  const world = await benchBroker('usp', { stock: true });
  if (!world) return [];
  const { dir, port, broker } = world;
  let agent: ChildProcess | undefined;
  try {
    writeFileSync(
      join(dir, 'defaults.json'),
      JSON.stringify(
        mqttDeploymentDefaults({
          brokerPort: port,
          version: '5.0',
          agentTopic: 'bench/agent',
          controllerId: 'proto::bench',
          controllerTopic: 'bench/ctl',
          device: { oui: '00D0F1', productClass: 'Bench', serialNumber: '1' },
        }),
      ),
    );
    agent = spawnAgent({ stateDir: join(dir, 'state'), defaultsFile: join(dir, 'defaults.json'), logLevel: 'warn' });
    const ctl = new UspController({
      url: `mqtt://127.0.0.1:${port}`,
      version: '5.0',
      endpointId: 'proto::bench',
      topic: 'bench/ctl',
      agentId: AGENT,
      agentTopic: 'bench/agent',
      timeoutMs: 10_000,
      // Requests with QoS 0, as the agent answers: a PUBACK from a stock broker stalls either side.
      qos: 0,
    });
    await ctl.connect();
    const { serialRps, serialCpuMs, parallelRps, parallelCpuMs } = await measureGets(ctl, agent.pid);

    await ctl.request('add', 'ADD', {
      create_objs: [
        {
          obj_path: 'Device.LocalAgent.Subscription.',
          param_settings: [
            { param: 'ID', value: 'lat', required: true },
            { param: 'NotifType', value: 'ValueChange', required: true },
            { param: 'ReferenceList', value: 'Device.LocalAgent.Controller.1.ProvisioningCode', required: true },
            { param: 'Enable', value: 'true', required: true },
          ],
        },
      ],
    });
    const lat: number[] = [];
    for (let i = 0; i < 300; i++) {
      const start = performance.now();
      const seen = ctl.waitForNotification((n) => n.body.value_change?.param_value === `v${i}`, 5000);
      const answered = ctl.request('set', 'SET', {
        update_objs: [
          {
            obj_path: 'Device.LocalAgent.Controller.1.',
            param_settings: [{ param: 'ProvisioningCode', value: `v${i}`, required: true }],
          },
        ],
      });
      await seen;
      lat.push(performance.now() - start);
      await answered;
    }
    lat.sort((a, b) => a - b);
    const p99 = lat[Math.floor(lat.length * 0.99)]!;
    await ctl.close();
    return [
      {
        name: 'USP Get Device.DeviceInfo. one at a time',
        value: serialRps,
        unit: 'req/s',
        target: 438,
        better: 'higher',
      },
      {
        name: 'agent CPU per Get, one at a time',
        value: serialCpuMs ?? NaN,
        unit: 'ms',
        target: 0.28,
        better: 'lower',
      },
      {
        name: 'USP Get Device.DeviceInfo. 32 in flight',
        value: parallelRps,
        unit: 'req/s',
        target: 0,
        better: 'higher',
      },
      {
        name: 'agent CPU per Get, 32 in flight',
        value: parallelCpuMs ?? NaN,
        unit: 'ms',
        target: 0.17,
        better: 'lower',
      },
      { name: 'ValueChange latency Set -> Notify, p99', value: p99, unit: 'ms', target: 50, better: 'lower' },
      ...(await peerFigures(port)),
    ];
  } finally {
    agent?.kill('SIGTERM');
    await broker.stop();
    await sleep(200);
    rmSync(dir, { recursive: true, force: true });
  }
}

interface GetFigures {
  readonly serialRps: number;
  readonly parallelRps: number;
  /** The answering process's CPU per Get, where its pid is known. */
  readonly serialCpuMs: number | undefined;
  readonly parallelCpuMs: number | undefined;
}

/** Get Device.DeviceInfo. one at a time, then 32 in flight, after a warm-up; CPU from /proc/<pid>/stat. */
async function measureGets(ctl: UspController, pid: number | undefined): Promise<GetFigures> {
  const get = () => ctl.request('get', 'GET', { param_paths: ['Device.DeviceInfo.'] });
  for (let i = 0; ; i++) {
    try {
      await get();
      break;
    } catch (e) {
      if (i > 50) throw e;
    }
  }
  // Warm-up to the steady state a device's agent spends its life in: V8 is still optimising the hot
  // paths over the first thousand or so requests (a C agent has nothing to warm up).
  for (let i = 0; i < 2000; i++) await get();
  const cpu = () => (pid ? cpuSeconds(pid) : 0);
  const serialN = 1000;
  let cpu0 = cpu(),
    t0 = performance.now();
  for (let i = 0; i < serialN; i++) await get();
  const serialRps = serialN / ((performance.now() - t0) / 1000);
  const serialCpuMs = pid ? ((cpu() - cpu0) * 1000) / serialN : undefined;
  const parallelN = 4000;
  cpu0 = cpu();
  t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next++ < parallelN) await get();
    }),
  );
  const parallelRps = parallelN / ((performance.now() - t0) / 1000);
  const parallelCpuMs = pid ? ((cpu() - cpu0) * 1000) / parallelN : undefined;
  return { serialRps, serialCpuMs, parallelRps, parallelCpuMs };
}

/**
 * Another USP agent driven by the same requests on the same broker, for a side-by-side figure:
 * BENCH_PEER="<endpoint id>,<its agent topic>[,<its pid>]", started beforehand on the bench's broker
 * (BENCH_MQTT_PORT fixes its port) with a controller 'proto::bench' on topic 'bench/ctl' it answers.
 */
async function peerFigures(port: number): Promise<Figure[]> {
  const spec = process.env.BENCH_PEER;
  if (!spec) return [];
  const [agentId = '', agentTopic = '', pid] = spec.split(',');
  const ctl = new UspController({
    url: `mqtt://127.0.0.1:${port}`,
    version: '5.0',
    endpointId: 'proto::bench',
    topic: 'bench/ctl',
    agentId,
    agentTopic,
    timeoutMs: 10_000,
    qos: 0,
  });
  await ctl.connect();
  try {
    const f = await measureGets(ctl, pid ? Number(pid) : undefined);
    const row = (name: string, value: number | undefined, unit: string): Figure[] =>
      value === undefined ? [] : [{ name: `peer ${agentId}: ${name}`, value, unit, target: 0, better: 'higher' }];
    return [
      ...row('USP Get Device.DeviceInfo. one at a time', f.serialRps, 'req/s'),
      ...row('CPU per Get, one at a time', f.serialCpuMs, 'ms'),
      ...row('USP Get Device.DeviceInfo. 32 in flight', f.parallelRps, 'req/s'),
      ...row('CPU per Get, 32 in flight', f.parallelCpuMs, 'ms'),
    ];
  } finally {
    await ctl.close();
  }
}
