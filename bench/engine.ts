// Engine figures: InstallDU of a 10 MB SquashFS DU from local HTTP to its EU Active, against the
// same steps by hand (curl, mount, lxc-attach) in the same run; and an agent restart with 200 DUs
// installed until every service is adopted and reported Active in the data model.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { Agent } from '../src/agent.js';
import { Engine } from '../src/engine/engine.js';
import { silentLogger } from '../src/util/logger.js';
import type { Figure } from './figures.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean | Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) { if (Date.now() > end) throw new Error('timed out'); await sleep(2); }
}

function squashfsApp(dir: string, name: string, megabytes: number): string {
  const src = join(dir, name);
  mkdirSync(join(src, 'bin'), { recursive: true });
  writeFileSync(join(src, 'manifest.json'), JSON.stringify({ name, vendor: 'bench.example', version: '1', services: [{ name: 'svc', command: 'bin/run.sh' }] }));
  writeFileSync(join(src, 'bin/run.sh'), '#!/bin/sh\nexec sleep 100000\n', { mode: 0o755 });
  if (megabytes) writeFileSync(join(src, 'payload'), randomBytes(megabytes * 1024 * 1024));
  const out = join(dir, `${name}.sqfs`);
  execFileSync('mksquashfs', [src, out, '-all-root', '-noappend', '-quiet']);
  return out;
}

async function installFigure(dir: string): Promise<Figure[]> {
  const file = squashfsApp(dir, 'big', 10);
  // The HTTP server is a process of its own, as a real one would be: on the agent's thread it would
  // compete with the download it serves (curl, by hand, never has that handicap).
  const server = execa(process.execPath, ['-e', `
    const body = require('fs').readFileSync(${JSON.stringify(file)});
    const s = require('http').createServer((q, r) => r.writeHead(200, { 'content-length': body.length }).end(body));
    s.listen(0, '127.0.0.1', () => console.log(s.address().port));`], { reject: false });
  const port = await new Promise<string>((resolve) => server.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim())));
  const url = `http://127.0.0.1:${port}/big.sqfs`;
  const engine = new Engine({ stateDir: join(dir, 'engine-state'), logger: silentLogger, shutdownGraceMs: 1000 });
  await engine.start();
  const lxc = engine.backends.includes('lxc');
  const ee = lxc ? await engine.createEE({ name: 'bench', enabled: true, memoryKiB: -1, cpuPercent: -1, diskKiB: -1 }) : engine.execEnvs()[0]!;
  try {
    const agentRuns: number[] = [], handRuns: number[] = [];
    // 12 rounds, the first one a warm-up (JIT, first loop device) that is not counted.
    for (let i = 0; i < 12; i++) {
      // The agent: fetch, verify, unpack, commit, start the service.
      let t0 = performance.now();
      const r = await engine.install({ url, ee: ee.id, requestTag: `b${i}` });
      if (r.fault) throw new Error(r.fault.message);
      await until(() => engine.unitState(r.euids[0]!)?.status === 'Active');
      if (i > 0) agentRuns.push(performance.now() - t0);
      await engine.uninstall(r.duid!, 'x');
      // By hand: curl the image, mount it read-only, start the service in the container.
      const mnt = join(dir, `mnt${i}`);
      mkdirSync(mnt);
      t0 = performance.now();
      await execa('curl', ['-sf', '-o', join(dir, `hand${i}.sqfs`), url]);
      await execa('mount', ['-t', 'squashfs', '-o', 'loop,ro', join(dir, `hand${i}.sqfs`), mnt]);
      const child = lxc
        ? execa('lxc-attach', ['-P', engine.lxc.lxcpath, '-n', ee.container!, '--', '/bin/sleep', '100000'], { reject: false })
        : execa(join(mnt, 'bin/run.sh'), [], { reject: false, detached: true });
      await until(() => child.pid !== undefined);
      if (i > 0) handRuns.push(performance.now() - t0);
      child.kill('SIGKILL');
      await execa('umount', [mnt], { reject: false });
    }
    const med = (xs: number[]) => xs.sort((a, b) => a - b)[xs.length >> 1]!;
    if (process.env.BENCH_VERBOSE) console.log({ agentRuns, handRuns });
    const a = med(agentRuns), h = med(handRuns);
    return [
      { name: `InstallDU 10 MB SquashFS -> EU Active (${lxc ? 'LXC' : 'native'})`, value: a, unit: 'ms', target: 0, better: 'higher' },
      { name: 'same steps by hand (curl, mount, start)', value: h, unit: 'ms', target: 0, better: 'higher' },
      { name: 'InstallDU time / by hand', value: a / h, unit: 'x', target: 1.2, better: 'lower' },
    ];
  } finally {
    await engine.stopAll();
    if (lxc) await engine.lxc.destroy(ee.container!);
    server.kill();
  }
}

async function restartFigure(dir: string): Promise<Figure[]> {
  const file = squashfsApp(dir, 'tiny', 0);
  const stateDir = join(dir, 'agent-state');
  // The packages are file: URLs from this directory, which the operator allows.
  let agent = new Agent({ stateDir, logger: silentLogger, settings: { 'Device.SoftwareModules.X_CPE-AGENT_FileURLDirectory': dir } });
  await agent.start();
  const n = 200;
  for (let i = 0; i < n; i++) {
    const copy = join(dir, `tiny${i}.sqfs`);
    execFileSync('cp', [file, copy]);
    const [out] = await agent.dm.operate('Device.SoftwareModules.InstallDU()', { URL: `file://${copy}`, UUID: `00000000-0000-5000-8000-${String(i).padStart(12, '0')}` }, { kind: 'local', user: 'bench' });
    if (out?.kind === 'async') await out.done;
  }
  const activeCount = () => agent.dm.get('Device.SoftwareModules.ExecutionUnit.*.Status', { kind: 'local', user: 'bench' }).filter((r) => r.params.Status === 'Active').length;
  await until(() => activeCount() === n);
  await agent.stop();
  agent = new Agent({ stateDir, logger: silentLogger });
  const t0 = performance.now();
  await agent.start();
  await until(() => activeCount() === n);
  const ms = performance.now() - t0;
  const engine = agent.containerEngine!;
  const pids = engine.deploymentUnits().map((d) => engine.unitState(d.eus[0]!.euid)?.pid);
  for (const du of [...engine.deploymentUnits()]) await engine.uninstall(du.duid, 'cleanup');
  await agent.stop();
  if (pids.some((p) => p === undefined)) throw new Error('not all adopted');
  return [{ name: `agent restart to ${n} DUs adopted and reported`, value: ms, unit: 'ms', target: 2000, better: 'lower' }];
}

export async function engineFigures(): Promise<Figure[]> {
  const dir = mkdtempSync(join(tmpdir(), 'cpe-bench-engine-'));
  try {
    return [...(await installFigure(dir)), ...(await restartFigure(dir))];
  } finally {
    try { rmSync(dir, { recursive: true, force: true }); } catch (e) { console.log(`could not remove ${dir}: ${(e as Error).message}`); }
  }
}
