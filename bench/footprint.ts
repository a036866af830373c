// The agent's footprint and start as a device runs it: the bundle (npm run bundle) started as
// docs/cpe-agent.service starts it, in its own process, with USP (real mosquitto) and CWMP (a test ACS,
// node:http) both on.
// - memory: idle 60 s after 20 DUs were installed, then again 60 s after a burst of 10,000 USP Gets
//   (Rss and Private_Dirty of /proc/<pid>/smaps_rollup; beside them a bare Node process).
// - start, with 200 DUs installed and their services running (adopted): exec -> the first MQTT publish the
//   broker hands to a subscriber of the controller's topic (the agent's MQTT connect record), exec -> the
//   first Inform the ACS receives, exec -> all 200 services reported Active over USP. Median of 5 starts.
// FOOTPRINT_COMPARE=1 also measures the memory of each runtime setting alone and of the unbundled
// build (docs/footprint.md), in agents run side by side (FOOTPRINT_COMPARE=word: the runs whose name has it).
// BENCH_FOOTPRINT_1000=1 adds the older figures with 1,000 DUs (RSS growth per DU, a Get of
// Device.SoftwareModules., start to 1,000 services Active).
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { responseOf } from '../test/fixtures/usp-answer.js';
import { repoRoot } from '../test/helpers.js';
import type { Figure } from './figures.js';
import { benchBroker, rssMB, sleep, smapsMB } from './processes.js';
import { AgentWorld, BUNDLE, buildBundle, MARK, type Runtime, serviceRuntime } from './start-world.js';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const IDLE_MS = Number(process.env.FOOTPRINT_IDLE_MS ?? 60_000);
const STARTS = 5;
const REPEAT = Number(process.env.FOOTPRINT_REPEAT ?? 3);

/** RSS of a Node process doing nothing: what any agent written for Node starts from. */
async function bareNode(): Promise<{ rss: number; privateDirty: number }> {
  const node = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e9)'], { stdio: 'ignore' });
  await sleep(3000);
  const m = smapsMB(node.pid!);
  node.kill();
  return m;
}

type Memory = { idle: { rss: number; privateDirty: number }; burst: { rss: number; privateDirty: number } };

async function memoryRun(dir: string, port: number, tag: string, rt: Runtime): Promise<Memory> {
  const w = new AgentWorld(dir, port, tag);
  await w.open();
  try {
    w.spawn(rt);
    await w.ready(0);
    await w.acs.until(() => w.acs.sessionsEnded >= 1, 60_000);
    await w.install(0, 20);
    await w.acs.until(() => w.acs.sessionsEnded >= 2, 60_000).catch(() => {});
    await sleep(IDLE_MS);
    const idle = smapsMB(w.proc!.pid!);
    await w.burst(10_000);
    await sleep(IDLE_MS);
    return { idle, burst: smapsMB(w.proc!.pid!) };
  } finally {
    await w.close();
  }
}

type Start = { publish: number; inform: number; active: number };

/** One start of an agent whose 200 DUs are installed: when the broker, the ACS and USP saw what. */
async function timeStart(w: AgentWorld, rt: Runtime, dus: number): Promise<Start> {
  const watch = await mqtt.connectAsync(`mqtt://127.0.0.1:${w.port}`);
  try {
    await watch.subscribeAsync(w.ctlTopic);
    const published = new Promise<number>((r) => watch.once('message', () => r(performance.now())));
    const informs = w.acs.informs.length;
    const informed = w.acs.until(() => w.acs.informs.length > informs, 60_000).then(() => performance.now());
    const t0 = w.spawn(rt);
    const [publish, inform] = await Promise.all([published, informed]);
    await w.ready(dus);
    return { publish: publish - t0, inform: inform - t0, active: performance.now() - t0 };
  } finally {
    await watch.endAsync();
  }
}

async function startRuns(dir: string, port: number, rt: Runtime): Promise<Start[]> {
  const w = new AgentWorld(dir, port, 's');
  await w.open();
  try {
    w.spawn(rt);
    await w.ready(0);
    await w.install(0, 200);
    if (process.env.BENCH_VERBOSE) console.log('200 DUs installed');
    const runs: Start[] = [];
    for (let i = 0; i < STARTS; i++) {
      await w.stop();
      await sleep(1000);
      runs.push(await timeStart(w, rt, 200));
      if (process.env.BENCH_VERBOSE) console.log(JSON.stringify(runs.at(-1)));
    }
    return runs;
  } finally {
    await w.close();
  }
}

/** Each runtime setting alone, the service file's together and the unbundled build without any. */
function compared(service: Runtime): Runtime[] {
  const bundle = (name: string, nodeArgs: readonly string[], env: Readonly<Record<string, string>> = {}): Runtime => ({
    name,
    nodeArgs,
    env,
    entry: BUNDLE,
  });
  return [
    { name: 'unbundled (dist/src), no settings', nodeArgs: [], env: {}, entry: join(repoRoot, 'dist/src/cli/main.js') },
    bundle('bundle, no settings', []),
    bundle('bundle, --max-semi-space-size=1', ['--max-semi-space-size=1']),
    bundle('bundle, --optimize-for-size', ['--optimize-for-size']),
    bundle('bundle, --max-old-space-size=96', ['--max-old-space-size=96']),
    bundle('bundle, --single-threaded-gc', ['--single-threaded-gc']),
    bundle('bundle, MALLOC_ARENA_MAX=2', [], { MALLOC_ARENA_MAX: '2' }),
    bundle('service file + --optimize-for-size', [...service.nodeArgs, '--optimize-for-size'], service.env),
    bundle('service file + glibc trim and mmap thresholds 128 KiB', service.nodeArgs, {
      ...service.env,
      GLIBC_TUNABLES: 'glibc.malloc.trim_threshold=131072:glibc.malloc.mmap_threshold=131072',
    }),
    // Fixed, the trim threshold is no longer raised by glibc's dynamic mmap threshold (up to 64 MB once
    // large blocks were freed), so the top of the malloc heap is given back after a burst.
    bundle('service file + MALLOC_TRIM_THRESHOLD_=128 KiB', service.nodeArgs, {
      ...service.env,
      MALLOC_TRIM_THRESHOLD_: '131072',
    }),
    bundle('service file + MALLOC_TRIM_THRESHOLD_=128 KiB, MALLOC_TOP_PAD_=0', service.nodeArgs, {
      ...service.env,
      MALLOC_TRIM_THRESHOLD_: '131072',
      MALLOC_TOP_PAD_: '0',
    }),
    service,
  ];
}

export async function footprintFigures(): Promise<Figure[]> {
  const world = await benchBroker('footprint');
  if (!world) return [];
  const { dir, port, broker } = world;
  buildBundle();
  // FOOTPRINT_RUNTIME=unbundled measures the tsc build without settings instead (the figures before the bundle).
  const service = process.env.FOOTPRINT_RUNTIME === 'unbundled' ? compared(serviceRuntime())[0]! : serviceRuntime();
  const figures: Figure[] = [];
  const row = (name: string, value: number, unit: string, target: number, better: Figure['better'] = 'lower') =>
    figures.push({ name, value, unit, target, better });
  try {
    const bare = await bareNode();
    row('bare Node idle RSS (the floor under the agent)', bare.rss, 'MB', 0, 'higher');
    row('bare Node idle private dirty', bare.privateDirty, 'MB', 0, 'higher');
    const compare = process.env.FOOTPRINT_COMPARE;
    // The service runtime REPEAT times side by side (the median of each figure), the others once.
    const runtimes = [
      ...Array.from({ length: REPEAT }, () => service),
      ...(compare
        ? compared(service).filter((rt) => rt !== service && (compare === '1' || rt.name.includes(compare)))
        : []),
    ];
    const mem = await Promise.all(runtimes.map((rt, i) => memoryRun(dir, port, `m${i}`, rt)));
    const mid = (f: (m: Memory) => number) => median(mem.slice(0, REPEAT).map(f));
    const serviceMem: Memory = {
      idle: { rss: mid((m) => m.idle.rss), privateDirty: mid((m) => m.idle.privateDirty) },
      burst: { rss: mid((m) => m.burst.rss), privateDirty: mid((m) => m.burst.privateDirty) },
    };
    [service, ...runtimes.slice(REPEAT)].forEach((rt, i) => {
      const m = i === 0 ? serviceMem : mem[REPEAT + i - 1]!;
      const how = i === 0 ? ` (median of ${REPEAT})` : ` [${rt.name}]`;
      row(`idle private dirty, USP + CWMP, 20 DUs${how}`, m.idle.privateDirty, 'MB', 25);
      row(`idle RSS, USP + CWMP, 20 DUs${how}`, m.idle.rss, 'MB', 65);
      row(`  private dirty after 10,000 Gets and ${IDLE_MS / 1000} s${how}`, m.burst.privateDirty, 'MB', 25);
      row(`  RSS after 10,000 Gets and ${IDLE_MS / 1000} s${how}`, m.burst.rss, 'MB', 65);
    });
    const starts = await startRuns(dir, port, service);
    row('exec to first MQTT publish, 200 DUs (median of 5)', median(starts.map((s) => s.publish)), 'ms', 300);
    row('exec to first CWMP Inform, 200 DUs (median of 5)', median(starts.map((s) => s.inform)), 'ms', 300);
    row('exec to 200 services Active over USP (median of 5)', median(starts.map((s) => s.active)), 'ms', 10_000);
    if (process.env.BENCH_FOOTPRINT_1000) figures.push(...(await thousand(dir, port, service)));
    return figures;
  } finally {
    await sleep(500);
    try {
      execFileSync('pkill', ['-f', `sleep ${MARK}`]);
    } catch {
      /* none left */
    }
    await broker.stop();
  }
}

/** RSS growth per installed DU from 20 to 1,000, a Get of Device.SoftwareModules. with 1,000 DUs and
 *  the time from starting the agent again to every one of the 1,000 services reported Active. */
async function thousand(dir: string, port: number, rt: Runtime): Promise<Figure[]> {
  const w = new AgentWorld(dir, port, 'k');
  await w.open();
  try {
    w.spawn(rt);
    await w.ready(0);
    await w.install(0, 20);
    await sleep(12_000);
    const rss20 = rssMB(w.proc!.pid!);
    await w.install(20, 1000);
    await sleep(12_000);
    const rss1000 = rssMB(w.proc!.pid!);
    const gets: number[] = [];
    let params = 0;
    for (let i = 0; i < 7; i++) {
      const t0 = performance.now();
      const r = await w.ctl.request('get', 'GET', { param_paths: ['Device.SoftwareModules.'] });
      gets.push(performance.now() - t0);
      params = responseOf(r, 'get_resp').req_path_results[0]!.resolved_path_results.reduce(
        (n, x) => n + Object.keys(x.result_params).length,
        0,
      );
    }
    await w.stop();
    const t0 = w.spawn(rt);
    await w.ready(1000);
    const restartMs = performance.now() - t0;
    return [
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
    await w.close();
  }
}
