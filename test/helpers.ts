// Shared test fixtures: the real definitions from datamodel/, a fresh model, a temporary state dir,
// the agent as a process of its own.
import { type ChildProcess, type StdioOptions, spawn } from 'node:child_process';
import {
  accessSync,
  constants,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Caller } from '../src/dm/caller.js';
import { DataModel, type DataModelOptions } from '../src/dm/datamodel.js';
import { Schema } from '../src/dm/schema.js';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The standards (../shared beside the clone); CPE_SHARED_DIR points elsewhere (an empty dir shows the skips). */
export const sharedPath = (...parts: string[]): string =>
  join(process.env.CPE_SHARED_DIR ?? join(repoRoot, '..', 'shared'), ...parts);

/** A test that can not run here: one loud skip line naming what is missing, or, with CI set, a failure. */
export function missing(t: { skip(msg: string): void }, what: string): void {
  if (process.env.CI) throw new Error(`${what}, and CI must run this test`);
  t.skip(`SKIPPED LOUDLY: ${what}; CI runs this test`);
}

/** A file of the standards, or undefined after one loud skip line; with CI set its absence fails the test. */
export function requireShared(t: { skip(msg: string): void }, ...parts: string[]): string | undefined {
  const p = sharedPath(...parts);
  if (existsSync(p)) return p;
  missing(t, `${p} is absent (../shared beside the clone, or set CPE_SHARED_DIR)`);
  return undefined;
}

/** The Debian package of each system tool a test runs (the agent finds them on PATH, and so do the tests). */
const PACKAGES: Record<string, string> = {
  mosquitto: 'mosquitto',
  'lxc-create': 'lxc',
  mksquashfs: 'squashfs-tools',
  unsquashfs: 'squashfs-tools',
  'mkfs.ext4': 'e2fsprogs',
  busybox: 'busybox-static',
  gcc: 'gcc libc6-dev',
  openssl: 'openssl',
  traceroute: 'traceroute',
  ip: 'iproute2',
  setfattr: 'attr',
  getfattr: 'attr',
  'docker-registry': 'docker-registry',
  htpasswd: 'apache2-utils',
  nft: 'nftables',
};

/** Where cmd is on PATH, or undefined. */
export function which(cmd: string): string | undefined {
  for (const d of (process.env.PATH ?? '').split(delimiter)) {
    const p = join(d || '.', cmd);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {}
  }
  return undefined;
}

/** True when every tool is on PATH; otherwise one loud skip line naming the missing ones (a failure with CI set). */
export function requireTool(t: { skip(msg: string): void }, ...tools: string[]): boolean {
  const absent = tools.filter((c) => !which(c));
  if (absent.length === 0) return true;
  const pkgs = [...new Set(absent.map((c) => PACKAGES[c] ?? c))].join(' ');
  missing(t, `${absent.join(', ')} not on PATH (apt-get install ${pkgs})`);
  return false;
}

/** True as root; otherwise one loud skip line saying why root is needed (a failure with CI set, which runs as root). */
export function requireRoot(t: { skip(msg: string): void }, why: string): boolean {
  if (process.getuid?.() === 0) return true;
  missing(t, `not root (${why})`);
  return false;
}

/**
 * Ends every process that still runs from dir (its cwd or command line there), as tempDir's cleanup
 * does: the DU services of an agent killed with -9 run on (a restarted agent adopts them, by design),
 * each in a session of its own, and an agent process a failed test did not stop would run on too.
 */
export function killProcessesUnder(dir: string): void {
  const under = (p: string) => p === dir || p.startsWith(`${dir}/`);
  // Again until none is found: a service may be forking a child while a pass runs.
  for (let pass = 0; pass < 100; pass++) {
    let found = 0;
    for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid)) {
      try {
        const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        if (!under(readlinkSync(`/proc/${pid}/cwd`)) && !cmd.includes(`${dir}/`)) continue;
        process.kill(Number(pid), 'SIGKILL');
        found++;
      } catch {} // gone meanwhile (or a zombie, whose cwd can not be read)
    }
    if (found === 0) return;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
  throw new Error(`processes under ${dir} outlive SIGKILL`);
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
  const cleanup = () => {
    killProcessesUnder(dir);
    rmSync(dir, { recursive: true, force: true });
  };
  return { dir, cleanup };
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
 *  Connection Request server on a free loopback port (CWMP). Output is ignored unless stdio says.
 *  runtime: node's options and environment variables (a bench runs it as the service file does). */
export function spawnAgent(o: {
  stateDir: string;
  defaultsFile: string;
  logLevel: string;
  crPort0?: boolean;
  stdio?: StdioOptions;
  runtime?: { readonly nodeArgs: readonly string[]; readonly env: Readonly<Record<string, string>> };
}): ChildProcess {
  return spawn(
    process.execPath,
    [
      ...(o.runtime?.nodeArgs ?? []),
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
    { stdio: o.stdio ?? 'ignore', env: { ...process.env, ...o.runtime?.env } },
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

/** Stops a helper process (a broker, a registry) with SIGTERM and waits for it to exit. */
export async function stopChild(p: ChildProcess | undefined): Promise<void> {
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  await new Promise<void>((r) => {
    p.once('exit', () => r());
    p.kill('SIGTERM');
  });
}
