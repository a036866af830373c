// Download bounds: how long an install from a stalled server takes to fail, against the bound that
// should end it (connect 1 s, idle 2 s, deadline 4 s here; undici checks its timers twice a second),
// for each way of stalling; and how long another install takes meanwhile (it must not wait).
// Median of 3 runs each, on the native EE, servers on loopback in this process.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../src/engine/engine.js';
import { silentLogger } from '../src/util/logger.js';
import { manifest, tarGz } from '../test/engine/tar-builder.js';
import { type Hostile, headersThenStall, oneBytePerSecond, silentServer } from '../test/hostile-servers.js';
import { serveFiles } from '../test/http-files.js';
import type { Figure } from './figures.js';

const LIMITS = { connectTimeoutMs: 1000, idleTimeoutMs: 2000, deadlineMs: 4000 };
const RUNS = 3;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

export async function downloadFigures(): Promise<Figure[]> {
  const dir = mkdtempSync(join(tmpdir(), 'cpe-bench-dl-'));
  const pkg = tarGz([{ name: 'manifest.json', data: manifest({ name: 'other', services: [] }) }]);
  const good = await serveFiles({ 'other.tgz': pkg });
  const engine = new Engine({ stateDir: join(dir, 'state'), logger: silentLogger, download: LIMITS });
  await engine.start();
  const stalls: [string, () => Promise<Hostile>, number][] = [
    ['accepts, never answers', () => silentServer('http'), LIMITS.idleTimeoutMs],
    ['headers, then nothing', headersThenStall, LIMITS.idleTimeoutMs],
    ['one byte a second', oneBytePerSecond, LIMITS.deadlineMs],
    ['https, never a TLS handshake', () => silentServer('https'), LIMITS.connectTimeoutMs],
  ];
  const figures: Figure[] = [];
  const others: number[] = [];
  try {
    for (const [name, start, bound] of stalls) {
      const server = await start();
      const runs: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const t0 = performance.now();
        const stalled = engine
          .install({ url: server.url('app.tgz'), ee: 'native', requestTag: 'stalled' })
          .then((r) => {
            if (!r.fault) throw new Error('a stalled download succeeded');
            return performance.now() - t0;
          });
        const t1 = performance.now();
        const other = await engine.install({ url: good.url('other.tgz'), ee: 'native', requestTag: 'other' });
        if (other.fault) throw new Error(other.fault.message);
        others.push(performance.now() - t1);
        await engine.uninstall(other.duid!, 'bench');
        runs.push(await stalled);
      }
      await server.close();
      figures.push({
        name: `stalled download fails: ${name} (bound ${bound / 1000} s)`,
        value: median(runs),
        unit: 'ms',
        target: bound + 1000,
        better: 'lower',
      });
    }
    figures.push({
      name: 'another install while a download is stalled',
      value: median(others),
      unit: 'ms',
      target: 1000,
      better: 'lower',
    });
    return figures;
  } finally {
    await good.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
