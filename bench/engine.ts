// Engine figures, in an LXC execution environment where LXC is usable (else the native one):
// - InstallDU of a 10 MB SquashFS DU from local HTTP to its EU Active, against the same steps by hand
//   in the same run: the steps the engine took with that package. Where it mounted the image (the
//   native EE, and LXC EEs before they ran unprivileged) that is curl, mount, start; where it unpacked
//   it and gave it to the EE's id range (unprivileged LXC EEs) curl, unsquashfs, chown -R, start.
//   Median of 11 rounds after a warm-up; the by-hand steps' medians are printed one by one.
// - Start of 1,000 DUs installed in that EE (through InstallDU, one service each; BENCH_DUS=n for
//   fewer), until every service is reported Active in the data model: an agent restart that adopts
//   the running services, and an agent start after the EE's container was killed (the container
//   and 1,000 services start again; the DU files stay as they were, mounted where they were mounted,
//   so a device reboot costs more; also printed: when all 1,000 run in the container).
// - Memory of an idle LXC EE with no DUs: its container's cgroup memory (exact, see idleEE) plus
//   the resident set of LXC's monitor process for it on the host; median of 3 EEs, 3 s after they
//   started. Also printed: the monitor's PSS (its shared libraries are shared by every monitor) and
//   the page cache of the EE's own rootfs copy, which no cgroup of the EE is charged for.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { Agent } from '../src/agent.js';
import type { LxcBackend } from '../src/engine/backends/lxc/backend.js';
import { Engine } from '../src/engine/engine.js';
import { silentLogger } from '../src/util/logger.js';
import type { Figure } from './figures.js';

const lxcHost = (engine: Engine) => (engine.backend('lxc') as LxcBackend).host;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean | Promise<boolean>, ms = 60_000, every = 2): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('timed out');
    await sleep(every);
  }
}
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const isMountPoint = (dir: string) =>
  readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .some((l) => l.split(' ')[1] === dir);
const lxcUsable = async () => (await execa('lxc-create', ['--version'], { reject: false })).exitCode === 0;

function squashfsApp(dir: string, name: string, megabytes: number): string {
  const src = join(dir, name);
  mkdirSync(join(src, 'bin'), { recursive: true });
  writeFileSync(
    join(src, 'manifest.json'),
    JSON.stringify({ name, vendor: 'bench.example', version: '1', services: [{ name: 'svc', command: 'bin/run.sh' }] }),
  );
  writeFileSync(join(src, 'bin/run.sh'), '#!/bin/sh\nexec sleep 100000\n', { mode: 0o755 });
  if (megabytes) writeFileSync(join(src, 'payload'), randomBytes(megabytes * 1024 * 1024));
  const out = join(dir, `${name}.sqfs`);
  execFileSync('mksquashfs', [src, out, '-all-root', '-noappend', '-quiet']);
  return out;
}

/** The package served over HTTP by a process of its own, as a real server would be: on the agent's
 *  thread it would compete with the download it serves (curl, by hand, never has that handicap). */
async function serve(file: string) {
  const server = execa(
    process.execPath,
    [
      '-e',
      `
    const body = require('fs').readFileSync(${JSON.stringify(file)});
    const s = require('http').createServer((q, r) => r.writeHead(200, { 'content-length': body.length }).end(body));
    s.listen(0, '127.0.0.1', () => console.log(s.address().port));`,
    ],
    { reject: false },
  );
  const port = await new Promise<string>((resolve) =>
    server.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim())),
  );
  return { url: `http://127.0.0.1:${port}/pkg.sqfs`, stop: () => server.kill() };
}

type Steps = Record<string, number>;

/** By hand, what the engine did with the package: each step timed; the service is left running (returned). */
async function byHand(
  url: string,
  dir: string,
  i: number,
  how: { mounted: boolean; duDir: string; owner: number; attach: string[] | undefined },
) {
  const steps: Steps = {};
  const step = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const t = performance.now();
    const r = await fn();
    steps[name] = performance.now() - t;
    return r;
  };
  const file = join(dir, `hand${i}.sqfs`);
  const root = join(how.duDir, `hand${i}`);
  await step('curl', () => execa('curl', ['-sf', '-o', file, url]));
  if (how.mounted) {
    mkdirSync(root);
    await step('mount', () => execa('mount', ['-t', 'squashfs', '-o', 'loop,ro', file, root]));
  } else {
    await step('unsquashfs', () => execa('unsquashfs', ['-no-xattrs', '-f', '-d', root, file]));
    await step('chown -R', () => execa('chown', ['-R', `${how.owner}:${how.owner}`, root]));
  }
  // Wrapped: a ResultPromise awaited would wait for the service to end.
  const { child } = await step('start', async () => {
    // No pipes: lxc-attach hands its stdio to the service, which outlives the kill below.
    const c = how.attach
      ? execa('lxc-attach', [...how.attach, '--', '/bin/sleep', '100000'], { reject: false, stdio: 'ignore' })
      : execa(join(root, 'bin/run.sh'), [], { reject: false, detached: true, stdio: 'ignore' });
    await until(() => c.pid !== undefined);
    return { child: c };
  });
  return { steps, child, root, file };
}

async function installFigure(dir: string): Promise<Figure[]> {
  const { url, stop } = await serve(squashfsApp(dir, 'big', 10));
  const engine = new Engine({ stateDir: join(dir, 'engine-state'), logger: silentLogger, shutdownGraceMs: 1000 });
  await engine.start();
  const lxc = engine.backends.includes('lxc');
  const ee = lxc
    ? await engine.createEE({ name: 'bench', enabled: true, memoryKiB: -1, cpuPercent: -1, diskKiB: -1 })
    : engine.execEnvs()[0]!;
  const duDir = lxc ? lxcHost(engine).duDir(ee.container!) : dir;
  // Who owns the EE's root file system on the host: its root's host id (0 for a privileged EE).
  let owner = 0;
  try {
    if (lxc) owner = statSync(join(lxcHost(engine).lxcpath, ee.container!, 'rootfs')).uid;
  } catch {
    /* a privileged EE runs on the shared base */
  }
  const attach = lxc ? ['-P', lxcHost(engine).lxcpath, '-n', ee.container!] : undefined;
  try {
    const agentRuns: number[] = [],
      handRuns: number[] = [],
      handSteps: Steps[] = [];
    let mounted = false;
    // 12 rounds, the first one a warm-up (JIT, first loop device, page cache) that is not counted.
    for (let i = 0; i < 12; i++) {
      // The agent: fetch, verify, unpack or mount, commit, start the service.
      const t0 = performance.now();
      const r = await engine.install({ url, ee: ee.id, requestTag: `b${i}` });
      if (r.fault) throw new Error(r.fault.message);
      await until(() => engine.unitState(r.euids[0]!)?.status === 'Active');
      if (i > 0) agentRuns.push(performance.now() - t0);
      mounted = isMountPoint(engine.du(r.duid!)!.root);
      await engine.uninstall(r.duid!, 'x');
      const hand = await byHand(url, dir, i, { mounted, duDir, owner, attach });
      if (i > 0) {
        handRuns.push(Object.values(hand.steps).reduce((s, x) => s + x, 0));
        handSteps.push(hand.steps);
      }
      hand.child.kill('SIGKILL');
      await hand.child;
      if (mounted) await execa('umount', [hand.root], { reject: false });
      rmSync(hand.root, { recursive: true, force: true });
      rmSync(hand.file, { force: true });
    }
    if (process.env.BENCH_VERBOSE) console.log({ agentRuns, handRuns });
    const names = Object.keys(handSteps[0]!);
    console.log(
      `InstallDU by hand, median ms per step: ` +
        `${names.map((n) => `${n} ${med(handSteps.map((s) => s[n]!)).toFixed(1)}`).join(', ')}`,
    );
    const a = med(agentRuns),
      h = med(handRuns);
    const where = lxc ? 'LXC' : 'native';
    return [
      { name: `InstallDU 10 MB SquashFS -> EU Active (${where})`, value: a, unit: 'ms', target: 0, better: 'higher' },
      {
        name: `same steps by hand (curl, ${mounted ? 'mount' : 'unsquashfs, chown -R'}, start)`,
        value: h,
        unit: 'ms',
        target: 0,
        better: 'higher',
      },
      { name: 'InstallDU time / by hand', value: a / h, unit: 'x', target: 1.2, better: 'lower' },
    ];
  } finally {
    await engine.stopAll();
    if (lxc) await lxcHost(engine).destroy(ee.container!);
    stop();
  }
}

/** An agent whose defaults give it one LXC EE (when LXC is usable), and InstallDU's reference to it. */
function benchAgent(dir: string, lxc: boolean) {
  const defaults = join(dir, 'defaults.json');
  writeFileSync(
    defaults,
    JSON.stringify(
      lxc ? { 'Device.SoftwareModules.ExecEnv.1.Name': 'apps', 'Device.SoftwareModules.ExecEnv.1.Enable': 'true' } : {},
    ),
  );
  // The packages are file: URLs from this directory, which the operator allows.
  const make = () =>
    new Agent({
      stateDir: join(dir, 'agent-state'),
      defaultsFile: defaults,
      logger: silentLogger,
      settings: { 'Device.SoftwareModules.X_CPE-AGENT_FileURLDirectory': dir },
    });
  return { make, eeRef: lxc ? 'Device.SoftwareModules.ExecEnv.1' : '' };
}

/** The bench services (sleep) running in a container: the processes of its init's pids cgroup named sleep. */
async function servicesRunning(lxcpath: string, container: string): Promise<number> {
  const init = (await execa('lxc-info', ['-P', lxcpath, '-n', container, '-p', '-H'], { reject: false })).stdout.trim();
  if (!init) return 0;
  const line =
    readFileSync(`/proc/${init}/cgroup`, 'utf8')
      .split('\n')
      .find((l) => /^\d+:pids:/.test(l)) ?? '0::/';
  const procs = readFileSync(
    join('/sys/fs/cgroup', line.includes(':pids:') ? 'pids' : '', line.slice(line.indexOf(':/') + 1), 'cgroup.procs'),
    'utf8',
  )
    .split('\n')
    .filter(Boolean);
  return procs.filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/comm`, 'utf8') === 'sleep\n';
    } catch {
      return false;
    }
  }).length;
}

async function installMany(agent: Agent, file: string, dir: string, n: number, eeRef: string): Promise<void> {
  for (let i = 0; i < n; i++) {
    const copy = join(dir, `tiny${i}.sqfs`);
    execFileSync('cp', [file, copy]);
    const [out] = await agent.dm.operate(
      'Device.SoftwareModules.InstallDU()',
      {
        URL: `file://${copy}`,
        UUID: `00000000-0000-5000-8000-${String(i).padStart(12, '0')}`,
        ...(eeRef ? { ExecutionEnvRef: eeRef } : {}),
      },
      { kind: 'local', user: 'bench' },
    );
    if (out?.kind === 'async') {
      const done = (await out.done) as { ok?: boolean };
      if (done.ok === false) throw new Error(`InstallDU ${i} failed: ${JSON.stringify(done)}`);
    }
    rmSync(copy, { force: true });
  }
}

async function startFigures(dir: string): Promise<Figure[]> {
  const file = squashfsApp(dir, 'tiny', 0);
  const lxc = await lxcUsable();
  const { make, eeRef } = benchAgent(dir, lxc);
  const n = Number(process.env.BENCH_DUS ?? 1000);
  let agent = make();
  await agent.start();
  const ee = agent.containerEngine!.execEnvs().find((e) => e.backend === (lxc ? 'lxc' : 'native'))!;
  const lxcpath = lxcHost(agent.containerEngine!).lxcpath;
  // Counted every 20 ms: a Get of 1,000 rows every 2 ms would take a good part of a core from the agent.
  const activeCount = () =>
    agent.dm
      .get('Device.SoftwareModules.ExecutionUnit.*.Status', { kind: 'local', user: 'bench' })
      .filter((r) => r.params.Status === 'Active').length;
  const allActive = () => until(() => activeCount() === n, 180_000, 20);
  const restart = async (whileDown: () => Promise<void>) => {
    await agent.stop();
    await whileDown();
    agent = make();
    const t0 = performance.now();
    await agent.start();
    await allActive();
    return performance.now() - t0;
  };
  const where = lxc ? 'an LXC EE' : 'the native EE';
  try {
    const setup = performance.now();
    await installMany(agent, file, dir, n, eeRef);
    await allActive();
    console.log(`${n} DUs installed in ${where} in ${((performance.now() - setup) / 1000).toFixed(1)} s`);
    // Adopted: the services kept running through the agent's restart.
    const adopted = await restart(async () => undefined);
    const engine = agent.containerEngine!;
    if (engine.deploymentUnits().some((d) => engine.unitState(d.eus[0]!.euid)?.pid === undefined))
      throw new Error('not all adopted');
    const figures: Figure[] = [
      {
        name: `agent restart, ${n} DUs in ${where} adopted and reported`,
        value: adopted,
        unit: 'ms',
        target: 10_000,
        better: 'lower',
      },
    ];
    if (!lxc) return figures;
    // Started: the container, and every service in it, stopped while the agent was down.
    let t0 = 0;
    const started = await restart(async () => {
      await execa('lxc-stop', ['-P', lxcpath, '-n', ee.container!, '-k']);
      t0 = performance.now();
    });
    await until(async () => (await servicesRunning(lxcpath, ee.container!)) === n, 180_000, 100);
    console.log(
      `agent start with the EE stopped: ${n} services reported Active after ${started.toFixed(0)} ms, all running ` +
        `in the container after ${(performance.now() - t0).toFixed(0)} ms`,
    );
    figures.push({
      name: `agent start, EE stopped: container and ${n} DUs reported Active`,
      value: started,
      unit: 'ms',
      target: 10_000,
      better: 'lower',
    });
    return figures;
  } finally {
    await cleanupDUs(agent, lxc ? ee.container : undefined);
  }
}

/**
 * Takes the DUs away: in an LXC EE the container is destroyed with everything in it (1,000
 * uninstalls would take minutes and measure nothing here), in the native EE they are uninstalled.
 */
async function cleanupDUs(agent: Agent, container: string | undefined): Promise<void> {
  const engine = agent.containerEngine;
  if (engine && !container) for (const du of [...engine.deploymentUnits()]) await engine.uninstall(du.duid, 'cleanup');
  await agent.stop();
  if (engine && container) await lxcHost(engine).destroy(container);
}

/**
 * LXC's monitor process for a container on the host ("[lxc monitor] <lxcpath> <name>"): its resident set in KiB (all,
 * anonymous, proportional).
 */
function monitorKiB(lxcpath: string, container: string): { rss: number; anon: number; pss: number } {
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let cmd: string;
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
    } catch {
      continue;
    }
    if (!cmd.startsWith('[lxc monitor]') || !cmd.endsWith(` ${lxcpath} ${container}`)) continue;
    const text = readFileSync(`/proc/${pid}/status`, 'utf8') + readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(text)![1]);
    return { rss: kib('VmRSS'), anon: kib('RssAnon'), pss: kib('Pss') };
  }
  throw new Error(`no LXC monitor process for ${container}`);
}

async function cgroupValue(lxcpath: string, container: string, key: string): Promise<string> {
  return (await execa('lxc-cgroup', ['-P', lxcpath, '-n', container, key], { reject: false })).stdout.trim();
}

/** Regular files under dir, one path per inode (the busybox rootfs hard-links init to busybox). */
function filesOnce(dir: string, seen = new Set<number>(), out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) filesOnce(p, seen, out);
    else if (e.isFile() && !seen.has(statSync(p).ino)) {
      seen.add(statSync(p).ino);
      out.push(p);
    }
  }
  return out;
}

/**
 * KiB of page cache held by an EE's own copy of the base rootfs (none where EEs share the base): not charged to the
 * container.
 */
async function ownRootfsCacheKiB(lxcpath: string, container: string): Promise<number> {
  let files: string[];
  try {
    files = filesOnce(join(lxcpath, container, 'rootfs'));
  } catch {
    return 0;
  }
  const r = await execa('fincore', ['--bytes', '--noheadings', '--raw', '--output', 'RES', ...files], {
    reject: false,
  });
  return r.stdout.split('\n').reduce((sum, l) => sum + (Number(l) || 0), 0) / 1024;
}

/**
 * What an idle container holds, in KiB. Its cgroup's memory: memory.current on cgroup v2; on v1
 * rss + cache + kernel memory from memory.stat and memory.kmem (v1's usage_in_bytes is batched per
 * CPU and was off by up to 400 KiB here, half the figure).
 */
async function idleEE(lxcpath: string, container: string) {
  const stat = Object.fromEntries(
    (await cgroupValue(lxcpath, container, 'memory.stat')).split('\n').map((l) => l.split(' ') as [string, string]),
  );
  const v2 = Number(await cgroupValue(lxcpath, container, 'memory.current')) / 1024;
  const rss = Number(stat.total_rss ?? stat.anon ?? 0) / 1024,
    cache = Number(stat.total_cache ?? stat.file ?? 0) / 1024;
  const kmem = v2 ? 0 : Number(await cgroupValue(lxcpath, container, 'memory.kmem.usage_in_bytes')) / 1024;
  const fuzzy = Number(await cgroupValue(lxcpath, container, 'memory.usage_in_bytes')) / 1024;
  return {
    cgroup: v2 || rss + cache + kmem,
    rss,
    cache,
    kmem,
    fuzzy,
    monitor: monitorKiB(lxcpath, container),
    ownRootfs: await ownRootfsCacheKiB(lxcpath, container),
  };
}

async function memoryFigures(dir: string): Promise<Figure[]> {
  if (!(await lxcUsable())) return [];
  const engine = new Engine({ stateDir: join(dir, 'memory-state'), logger: silentLogger, shutdownGraceMs: 1000 });
  await engine.start();
  const ees = [];
  try {
    for (let i = 0; i < 3; i++)
      ees.push(await engine.createEE({ name: `idle${i}`, enabled: true, memoryKiB: -1, cpuPercent: -1, diskKiB: -1 }));
    await sleep(3000);
    const rows: Awaited<ReturnType<typeof idleEE>>[] = [];
    for (const ee of ees) rows.push(await idleEE(lxcHost(engine).lxcpath, ee.container!));
    const m = (f: (r: (typeof rows)[number]) => number) => med(rows.map(f));
    console.log(
      `idle LXC EE, median KiB of ${rows.length}: cgroup ${m((r) => r.cgroup)} (rss ${m((r) => r.rss)}, cache ` +
        `${m((r) => r.cache)}, kmem ${m((r) => r.kmem)}; v1 usage_in_bytes ${m((r) => r.fuzzy)}), ` +
        `monitor RSS ${m((r) => r.monitor.rss)} (anon ${m((r) => r.monitor.anon)}, PSS ` +
        `${m((r) => r.monitor.pss)}); page cache of the EE's own rootfs copy, not in its cgroup: ` +
        `${m((r) => r.ownRootfs).toFixed(0)}`,
    );
    return [
      {
        name: 'idle LXC EE: container cgroup memory',
        value: m((r) => r.cgroup) / 1024,
        unit: 'MB',
        target: 0,
        better: 'higher',
      },
      {
        name: 'idle LXC EE: lxc monitor RSS on the host',
        value: m((r) => r.monitor.rss) / 1024,
        unit: 'MB',
        target: 0,
        better: 'higher',
      },
      {
        name: 'idle LXC EE: memory overhead (both)',
        value: m((r) => r.cgroup + r.monitor.rss) / 1024,
        unit: 'MB',
        target: 0,
        better: 'higher',
      },
    ];
  } finally {
    for (const ee of ees) await lxcHost(engine).destroy(ee.container!);
  }
}

export async function engineFigures(): Promise<Figure[]> {
  const dir = mkdtempSync(join(tmpdir(), 'cpe-bench-engine-'));
  try {
    return [...(await installFigure(dir)), ...(await startFigures(dir)), ...(await memoryFigures(dir))];
  } finally {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch (e) {
      console.log(`could not remove ${dir}: ${(e as Error).message}`);
    }
  }
}
