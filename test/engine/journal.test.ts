// The operation journal's recovery: entries a crash left in engine/ops/ are finished at start and
// reported once reportRecovered() is called, each exactly as its state says (undone and failed, done,
// or the outcome it had already reached, even one an older agent journalled with a USP number).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { type DuResult, Engine } from '../../src/engine/engine.js';
import { EngineCode } from '../../src/engine/errors.js';
import type { OpRecord } from '../../src/engine/types.js';
import { silentLogger } from '../../src/util/logger.js';
import { tempDir } from '../helpers.js';

const T0 = '2026-01-01T00:00:00Z';

function entry(dir: string, op: Partial<OpRecord> & { id: string; kind: OpRecord['kind'] }): void {
  const ops = join(dir, 'engine', 'ops');
  mkdirSync(ops, { recursive: true });
  const full = { startTime: T0, uuid: 'u-1', staging: join(dir, 'nowhere'), requestTag: `tag-${op.id}`, ...op };
  writeFileSync(join(ops, `${op.id}.json`), JSON.stringify({ committed: false, ...full }));
}

async function recovered(dir: string): Promise<{ engine: Engine; seen: DuResult[] }> {
  const engine = new Engine({ stateDir: dir, logger: silentLogger });
  await engine.start();
  const seen: DuResult[] = [];
  engine.on('result', (r) => seen.push(r));
  engine.reportRecovered();
  return { engine, seen };
}

test('interrupted operations are undone and reported once, after reportRecovered()', async (t) => {
  const { dir, cleanup } = tempDir('cpe-journal-');
  t.after(cleanup);
  const root = join(dir, 'engine', 'du', 'native-a1');
  mkdirSync(join(root, 'bin'), { recursive: true });
  entry(dir, { id: 'a1', kind: 'install', duid: undefined, root });
  entry(dir, { id: 'b2', kind: 'uninstall', duid: 'native-gone', committed: true });
  const { engine, seen } = await recovered(dir);
  t.after(() => engine.detach());
  assert.ok(!existsSync(root), "the uncommitted install's root is gone");
  const byTag = new Map(seen.map((r) => [r.requestTag, r]));
  assert.equal(seen.length, 2, 'each entry reported once');
  const install = byTag.get('tag-a1')!;
  assert.deepEqual([install.operation, install.fault?.code, install.recovered], ['Install', 'internal', true]);
  assert.match(install.fault!.message, /interrupted by an agent restart/);
  const gone = byTag.get('tag-b2')!;
  assert.deepEqual([gone.operation, gone.fault, gone.duid], ['Uninstall', undefined, 'native-gone']);
  engine.reportRecovered();
  assert.equal(seen.length, 2, 'not reported twice');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(readdirSync(join(dir, 'engine', 'ops')), [], 'the entries are forgotten once reported');
});

test("an outcome already reached is reported as it was; an older agent's USP number is read as a kind", async (t) => {
  const { dir, cleanup } = tempDir('cpe-journal-');
  t.after(cleanup);
  const outcome = (code: number | string) => ({
    operation: 'Install',
    requestTag: `old-${code}`,
    uuid: 'u-1',
    version: '1.0',
    ee: 'native',
    duid: undefined,
    euids: [],
    fault: { code, message: 'as it was' },
    startTime: T0,
    completeTime: T0,
  });
  entry(dir, { id: 'c3', kind: 'install', outcome: outcome(7226) as unknown as DuResult });
  entry(dir, { id: 'd4', kind: 'install', outcome: outcome('corrupt-data') as unknown as DuResult });
  entry(dir, { id: 'e5', kind: 'install', outcome: outcome(7999) as unknown as DuResult });
  const { engine, seen } = await recovered(dir);
  t.after(() => engine.detach());
  const codes = Object.fromEntries(seen.map((r) => [r.requestTag, r.fault?.code]));
  assert.deepEqual(codes, {
    'old-7226': EngineCode.DuplicateDU,
    'old-corrupt-data': EngineCode.CorruptData,
    'old-7999': EngineCode.InternalError,
  });
  assert.ok(seen.every((r) => r.recovered && r.fault?.message === 'as it was' && r.completeTime === T0));
});
