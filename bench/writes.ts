// Disk flushes per InstallDU on the native backend, end to end (operate request to the DU installed
// and its EU Active in the data model): the figure issue 18 bounds at 3.
// - Counted in the process: node:fs's fsync and fdatasync calls wrapped (test/fsync-counter.ts), the
//   largest count of 5 installs after a first one (which makes directories and first files).
// - Counted by the kernel where strace is installed: fsync and fdatasync system calls of an agent
//   process making 1 + 10 installs less those of one making 1, over 10.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { packageRoot } from '../src/util/package-info.js';
import { installFsyncs } from '../test/fixtures/install-fsyncs.js';
import type { Figure } from './figures.js';

const TARGET = 3;

export async function writesFigures(): Promise<Figure[]> {
  const { counts } = await installFsyncs(5);
  const figures: Figure[] = [
    {
      name: 'fsyncs per InstallDU, native (in process)',
      value: Math.max(...counts),
      unit: '',
      target: TARGET,
      better: 'lower',
    },
  ];
  const traced = stracedPerInstall(10);
  if (traced === undefined) console.log('writes: strace not installed; the kernel count of fsyncs is left out');
  else
    figures.push({
      name: 'fsyncs per InstallDU, native (strace)',
      value: traced,
      unit: '',
      target: TARGET,
      better: 'lower',
    });
  return figures;
}

function stracedPerInstall(n: number): number | undefined {
  const run = join(packageRoot, 'dist', 'test', 'fixtures', 'install-fsyncs-run.js');
  const calls = (installs: number): number | undefined => {
    const r = spawnSync(
      'strace',
      ['-f', '-c', '-e', 'trace=fsync,fdatasync', process.execPath, run, String(installs)],
      {
        encoding: 'utf8',
      },
    );
    if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return undefined;
    if (r.status !== 0) throw new Error(`the traced agent failed: ${r.stderr}`);
    // % time, seconds, usecs/call, calls, [errors,] total
    const total = r.stderr.split('\n').find((l) => l.trim().endsWith(' total'));
    return Number(total?.trim().split(/\s+/)[3] ?? Number.NaN);
  };
  const base = calls(0);
  const many = base === undefined ? undefined : calls(n);
  return base === undefined || many === undefined ? undefined : (many - base) / n;
}
