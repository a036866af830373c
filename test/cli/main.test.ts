import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot, tempDir } from '../helpers.js';

const bin = join(repoRoot, 'dist/src/cli/main.js');
const cli = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });

test('every subcommand answers --help', () => {
  const top = cli('--help');
  assert.equal(top.status, 0);
  const names = [...top.stdout.matchAll(/^ {2}([a-z-]+) {2}/gm)].map((m) => m[1]!);
  assert.ok(names.includes('run') && names.includes('dm-import'));
  for (const n of names) {
    const r = cli(n, '--help');
    assert.equal(r.status, 0, n);
    assert.match(r.stdout, new RegExp(`Usage: cpe-agent ${n}`));
  }
});

test('usage errors name the problem and exit 2', () => {
  const r = cli('run', '--bogus');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /cpe-agent run: Unknown option '--bogus'/);
  const u = cli('frobnicate');
  assert.equal(u.status, 2);
  assert.match(u.stderr, /unknown command 'frobnicate'/);
  assert.match(cli('run', '--log-level', 'loud').stderr, /unknown log level 'loud'/);
});

test('run --embedded starts, says how to reach it, and stops cleanly on SIGTERM', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const child = spawn(process.execPath, [bin, 'run', '--embedded', '--state-dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    const end = Date.now() + 10_000;
    while (!out.includes('endpoint id') && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    assert.match(out, /endpoint id\s+: os::00D0F1-Agent-EMBEDDED0001/);
    child.kill('SIGTERM');
    const code = await new Promise((r) => child.once('exit', r));
    assert.equal(code, 0);
    assert.match(out, /agent stopped/);
  } finally { cleanup(); }
});
