// Shared test fixtures: the real definitions from datamodel/, a fresh model, a temporary state dir,
// the agent as a process of its own.
import { type ChildProcess, type StdioOptions, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Caller } from '../src/dm/caller.js';
import { DataModel, type DataModelOptions } from '../src/dm/datamodel.js';
import { Schema } from '../src/dm/schema.js';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The standards (../shared beside the clone); CPE_SHARED_DIR points elsewhere (an empty dir shows the skips). */
export const sharedPath = (...parts: string[]): string =>
  join(process.env.CPE_SHARED_DIR ?? join(repoRoot, '..', 'shared'), ...parts);

/** A file of the standards, or undefined after one loud skip line; with CI set its absence fails the test. */
export function requireShared(t: { skip(msg: string): void }, ...parts: string[]): string | undefined {
  const p = sharedPath(...parts);
  if (existsSync(p)) return p;
  if (process.env.CI) throw new Error(`${p} is missing; CI runs with ../shared beside the clone (or CPE_SHARED_DIR)`);
  t.skip(`SKIPPED LOUDLY: ${p} is absent (../shared beside the clone, or set CPE_SHARED_DIR)`);
  return undefined;
}
let schema: Schema | undefined;
export function loadSchema(): Schema {
  return (schema ??= Schema.load(join(repoRoot, 'datamodel')));
}

export function newModel(opts: Partial<DataModelOptions> = {}): DataModel {
  const dm = new DataModel({ schema: loadSchema(), ...opts });
  dm.open();
  return dm;
}

export function tempDir(prefix = 'cpe-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export const usp: Caller = { kind: 'usp', endpointId: 'proto::controller-1' };
export const cwmp: Caller = { kind: 'cwmp' };
export const agent: Caller = { kind: 'agent', component: 'test' };

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls until cond holds (it may be async); fails the test after ms. */
export async function waitFor(cond: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms`);
    await sleep(20);
  }
}

/** The agent as a device runs it: `cpe-agent run` (from dist/) in a process of its own. crPort0: a
 *  Connection Request server on a free loopback port (CWMP). Output is ignored unless stdio says. */
export function spawnAgent(o: {
  stateDir: string;
  defaultsFile: string;
  logLevel: string;
  crPort0?: boolean;
  stdio?: StdioOptions;
}): ChildProcess {
  return spawn(
    process.execPath,
    [
      join(repoRoot, 'dist/src/cli/main.js'),
      'run',
      '--state-dir',
      o.stateDir,
      '--defaults',
      o.defaultsFile,
      '--log-level',
      o.logLevel,
      ...(o.crPort0 ? ['--cr-host', '127.0.0.1', '--cr-port', '0'] : []),
    ],
    { stdio: o.stdio ?? 'ignore' },
  );
}

/** Median ms per call of fn over rounds of n calls. */
export async function medianMs(fn: () => Promise<unknown>, rounds: number, n: number): Promise<number> {
  const t: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const start = performance.now();
    for (let i = 0; i < n; i++) await fn();
    t.push((performance.now() - start) / n);
  }
  return t.sort((a, b) => a - b)[Math.floor(t.length / 2)]!;
}
