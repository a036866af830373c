// The shipped form (npm run bundle, dist/bundle/): it starts on the embedded default and answers a USP
// Get through its own ctl, and a run reads only the chunks it uses: with CWMP off (the embedded
// defaults give no ACS URL) the CWMP client's chunk and undici are never read, nor the chunks of
// the other subcommands. Which files Node reads is seen through a module loader hook.
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { repoRoot, tempDir } from './helpers.js';
import { freePort } from './system/mosquitto.js';

const BUNDLE = join(repoRoot, 'dist', 'bundle');
const HOOK =
  'data:text/javascript,export async function load(u,c,n){if(u.startsWith("file:"))process._rawDebug("LOADED "+u);' +
  'return n(u,c)}';
const REGISTER = `data:text/javascript,import{register}from"node:module";register(${JSON.stringify(HOOK)})`;

/** The chunk of the bundle that holds a source file. */
function chunkOf(source: string): string {
  const meta = JSON.parse(readFileSync(join(BUNDLE, 'meta.json'), 'utf8')) as {
    outputs: Record<string, { inputs: Record<string, unknown> }>;
  };
  const out = Object.entries(meta.outputs).find(([, o]) => Object.keys(o.inputs).some((i) => i.endsWith(source)));
  assert.ok(out, `${source} is in the bundle`);
  return out[0].slice(out[0].lastIndexOf('/') + 1);
}

const NAME = 'the bundle serves a USP Get over its embedded broker and reads no chunk a run without CWMP does not use';

test(NAME, async (t) => {
  execFileSync(process.execPath, [join(repoRoot, '.ci', 'bundle.mjs')], { stdio: 'ignore' });
  const { dir, cleanup } = tempDir('cpe-bundle-');
  t.after(cleanup);
  const port = await freePort();
  const agent = spawn(
    process.execPath,
    ['--import', REGISTER, join(BUNDLE, 'main.js'), 'run', '--embedded', '--broker-port', String(port)].concat([
      '--state-dir',
      join(dir, 'state'),
      '--log-level',
      'warn',
    ]),
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  agent.stderr.on('data', (d) => {
    stderr += d;
  });
  t.after(() => agent.kill('SIGTERM'));
  await new Promise<void>((ready, fail) => {
    agent.stdout.on('data', (d) => String(d).includes('cpe-agent is running') && ready());
    agent.once('exit', (code) => fail(new Error(`the bundle exited (${code}): ${stderr}`)));
  });
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [join(BUNDLE, 'main.js'), 'ctl', '--url', `mqtt://127.0.0.1:${port}`, 'get', 'Device.DeviceInfo.SoftwareVersion'],
    { timeout: 30_000 },
  );
  const { version } = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
  assert.equal(stdout.trim(), `Device.DeviceInfo.SoftwareVersion = ${version}`);
  const loaded = new Set([...stderr.matchAll(/^LOADED file:\/\/.*\/([^/]+)$/gm)].map((m) => m[1]!));
  assert.ok(loaded.has(chunkOf('src/cli/run.ts')), 'the run command was read');
  assert.ok(loaded.has(chunkOf('src/usp/mqtt/embedded-broker.ts')), 'the embedded broker was read');
  for (const unused of [
    'src/cwmp/client.ts',
    'node_modules/undici/index.js',
    'node_modules/xml2js/lib/xml2js.js',
    'src/cli/ctl.ts',
    'src/cli/du.ts',
    'src/cli/dm-import.ts',
  ])
    assert.ok(!loaded.has(chunkOf(unused)), `${unused} (${chunkOf(unused)}) was not read`);
});
