// The engine on the native backend, with packages served by a real HTTP server on loopback.

import assert from 'node:assert/strict';
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { type DuResult, Engine } from '../../src/engine/engine.js';
import { EngineCode } from '../../src/engine/errors.js';
import { silentLogger } from '../../src/util/logger.js';
import { tempDir, waitFor } from '../helpers.js';
import { serveFiles as serve } from '../http-files.js';
import { manifest, tarGz } from './tar-builder.js';

const SERVICE = `#!/bin/sh
echo "started $CPE_EUID" >> "$CPE_DU_DATA/starts"
echo "hello from the service"
trap 'exit 0' TERM
while true; do sleep 0.1; done
`;
const CRASHER = '#!/bin/sh\necho "crashing"\nexit 3\n';

function pkg(version: string, services: Record<string, unknown>[] = [{ name: 'web', command: 'bin/run.sh' }]) {
  return tarGz([
    { name: 'manifest.json', data: manifest({ version, services }) },
    { name: 'bin/run.sh', data: SERVICE, mode: 0o755 },
    { name: 'bin/crash.sh', data: CRASHER, mode: 0o755 },
  ]);
}

const alive = (pid: number | undefined) => {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test(
  'install over HTTP, service runs, stop/start, update keeps data with RetainData, uninstall cleans ' + 'up',
  async (t) => {
    const { dir, cleanup } = tempDir('cpe-engine-');
    const http = await serve({ 'v1.tgz': pkg('1.0'), 'v2.tgz': pkg('2.0'), 'bad.tgz': Buffer.from('garbage') });
    const engine = new Engine({ stateDir: dir, logger: silentLogger, shutdownGraceMs: 2000 });
    t.after(async () => {
      await engine.stopAll();
      await http.close();
      cleanup();
    });
    await engine.start();
    const results: DuResult[] = [];
    engine.on('result', (r) => results.push(r));

    const r1 = await engine.install({ url: http.url('v1.tgz'), ee: 'native', requestTag: 't1' });
    assert.equal(r1.fault, undefined, r1.fault?.message);
    assert.match(r1.uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'a v5 UUID');
    const euid = r1.euids[0]!;
    await waitFor(() => engine.unitState(euid)?.status === 'Active');
    const pid = engine.unitState(euid)!.pid;
    assert.ok(alive(pid));
    await waitFor(() => engine.unitLog(euid).includes('hello from the service'));
    const data = engine.dataDir(r1.uuid, 'native');
    await waitFor(() => existsSync(join(data, 'starts')));

    await engine.setRequestedState(euid, 'Idle');
    assert.equal(engine.unitState(euid)!.status, 'Idle');
    assert.ok(!alive(pid));
    await engine.setRequestedState(euid, 'Active');
    await waitFor(() => engine.unitState(euid)?.status === 'Active');

    const dup = await engine.install({ url: http.url('v1.tgz'), ee: 'native', requestTag: 'dup' });
    assert.equal(dup.fault?.code, EngineCode.DuplicateDU);
    const bad = await engine.install({ url: http.url('bad.tgz'), ee: 'native', requestTag: 'bad' });
    assert.equal(bad.fault?.code, EngineCode.CorruptData);
    const missing = await engine.install({ url: http.url('nope.tgz'), ee: 'native', requestTag: 'missing' });
    assert.equal(missing.fault?.code, EngineCode.ServerUnreachable);
    assert.deepEqual(readdirSync(join(dir, 'engine/tmp')), [], 'failed installs leave nothing behind');

    writeFileSync(join(data, 'keep-me'), 'x');
    const up = await engine.update(r1.duid!, { url: http.url('v2.tgz'), requestTag: 'u', retainData: true });
    assert.equal(up.fault, undefined, up.fault?.message);
    assert.equal(engine.du(r1.duid!)!.manifest.version, '2.0');
    assert.ok(existsSync(join(data, 'keep-me')), 'RetainData kept the data directory');
    await waitFor(() => engine.unitState(euid)?.status === 'Active');

    const un = await engine.uninstall(r1.duid!, 'x');
    assert.equal(un.fault, undefined);
    assert.equal(engine.deploymentUnits().length, 0);
    assert.ok(!existsSync(join(dir, 'engine/du', r1.duid!)));
    assert.ok(!existsSync(data));
    assert.deepEqual(
      results.map((r) => [r.operation, r.requestTag, r.fault?.code ?? 0]),
      [
        ['Install', 't1', 0],
        ['Install', 'dup', EngineCode.DuplicateDU],
        ['Install', 'bad', EngineCode.CorruptData],
        ['Install', 'missing', EngineCode.ServerUnreachable],
        ['Update', 'u', 0],
        ['Uninstall', 'x', 0],
      ],
    );
  },
);

test('a crashing service is restarted with back-off and reports its fault', async (t) => {
  const { dir, cleanup } = tempDir('cpe-engine-');
  const http = await serve({ 'c.tgz': pkg('1.0', [{ name: 'crash', command: 'bin/crash.sh' }]) });
  const engine = new Engine({ stateDir: dir, logger: silentLogger });
  t.after(async () => {
    await engine.stopAll();
    await http.close();
    cleanup();
  });
  await engine.start();
  const r = await engine.install({ url: http.url('c.tgz'), ee: 'native', requestTag: 'c' });
  const euid = r.euids[0]!;
  await waitFor(() => (engine.unitState(euid)?.retryCount ?? 0) >= 1);
  const s = engine.unitState(euid)!;
  assert.equal(s.fault, 'FailureWhileActive');
  assert.match(s.faultMessage, /exited with code 3/);
  assert.notEqual(s.nextRestart, '9999-12-31T23:59:59Z', 'a restart is scheduled');
  const wait = Date.parse(s.nextRestart) - Date.now();
  assert.ok(wait >= 3000 && wait <= 11_000, `first retry within [5 s, 10 s] of the crash, got ${wait} ms`);
});

test('after the agent stops, a new engine adopts the running service instead of restarting it', async (t) => {
  const { dir, cleanup } = tempDir('cpe-engine-');
  const http = await serve({ 'v1.tgz': pkg('1.0') });
  let engine = new Engine({ stateDir: dir, logger: silentLogger, shutdownGraceMs: 2000 });
  t.after(async () => {
    await engine.stopAll();
    await http.close();
    cleanup();
  });
  await engine.start();
  const r = await engine.install({ url: http.url('v1.tgz'), ee: 'native', requestTag: 'a' });
  const euid = r.euids[0]!;
  await waitFor(() => engine.unitState(euid)?.status === 'Active');
  const pid = engine.unitState(euid)!.pid;
  engine.detach();
  engine = new Engine({ stateDir: dir, logger: silentLogger, shutdownGraceMs: 2000 });
  await engine.start();
  assert.equal(engine.unitState(euid)?.status, 'Active');
  assert.equal(engine.unitState(euid)?.pid, pid, 'the same process');
  assert.equal(
    readFileSync(join(engine.dataDir(r.uuid, 'native'), 'starts'), 'utf8')
      .split('\n')
      .filter(Boolean).length,
    1,
    'started once',
  );
  process.kill(pid!, 'SIGKILL');
  await waitFor(() => engine.unitState(euid)?.fault === 'FailureWhileActive', 3000);
});

test("an operator's AutoRestart settings govern restarts: count, wait, and giving up", async (t) => {
  const { dir, cleanup } = tempDir('cpe-engine-');
  const http = await serve({ 'c.tgz': pkg('1.0', [{ name: 'crash', command: 'bin/crash.sh', restart: 'never' }]) });
  const engine = new Engine({ stateDir: dir, logger: silentLogger });
  t.after(async () => {
    await engine.stopAll();
    await http.close();
    cleanup();
  });
  await engine.start();
  const r = await engine.install({ url: http.url('c.tgz'), ee: 'native', requestTag: 'c' });
  const euid = r.euids[0]!;
  await waitFor(() => engine.unitState(euid)?.fault === 'FailureWhileActive');
  assert.equal(engine.unitState(euid)!.retryCount, 0, 'the manifest says never');
  engine.configureUnit(euid, { restart: { enabled: true, minWait: 1, maxWait: 1, multiplier: 1000, maxRetries: 2 } });
  await engine.setRequestedState(euid, 'Active');
  await waitFor(
    () =>
      engine.unitState(euid)!.retryCount === 2 &&
      engine.unitState(euid)!.status === 'Idle' &&
      engine.unitState(euid)!.nextRestart.startsWith('9999'),
    8000,
  );
  assert.equal(engine.unitPolicy(euid)!.maxRetries, 2);
});

test(
  'a crash after an outcome was reported but before it was forgotten reports the same outcome again, not a new ' +
    'one',
  async (t) => {
    const { dir, cleanup } = tempDir('cpe-engine-');
    const copy = tempDir('cpe-engine-copy-');
    const http = await serve({ 'v1.tgz': pkg('1.0'), 'bad.tgz': Buffer.from('garbage') });
    const engine = new Engine({ stateDir: dir, logger: silentLogger, shutdownGraceMs: 2000 });
    let again: Engine | undefined;
    t.after(async () => {
      await engine.stopAll();
      await again?.stopAll();
      await http.close();
      cleanup();
      copy.cleanup();
    });
    await engine.start();
    for (const [url, tag] of [
      [http.url('v1.tgz'), 'good'],
      [http.url('bad.tgz'), 'bad'],
    ] as const) {
      const r = await engine.install({ url, ee: 'native', requestTag: tag });
      // The state as a kill -9 right now would leave it: reported, not yet forgotten.
      cpSync(dir, join(copy.dir, tag), { recursive: true });
      assert.equal(readdirSync(join(copy.dir, tag, 'engine/ops')).length, 1, 'the journal entry is still there');
      again = new Engine({ stateDir: join(copy.dir, tag), logger: silentLogger, shutdownGraceMs: 2000 });
      await again.start();
      const seen: DuResult[] = [];
      again.on('result', (x) => seen.push(x));
      again.reportRecovered();
      const plain = (x: unknown) => JSON.parse(JSON.stringify(x)) as unknown; // as journalled
      assert.deepEqual(plain(seen), plain([{ ...r, recovered: true }]), `${tag}: the same outcome, times included`);
      again.detach();
      again = undefined;
    }
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(readdirSync(join(dir, 'engine/ops')), [], 'forgotten right after');
  },
);
