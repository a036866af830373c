// The operation queue: turns one at a time in the order asked, per-DU order across the queue, a failed
// turn not blocking the next, and no more turns once detached.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EngineCode, type EngineError } from '../../src/engine/errors.js';
import { OpQueue } from '../../src/engine/op-queue.js';

const tick = () => new Promise((r) => setTimeout(r, 5));

test('turns run one at a time, in order, whatever the previous one did', async () => {
  const failed: unknown[] = [];
  const q = new OpQueue((e) => failed.push(e));
  const log: string[] = [];
  const turn = (name: string, fail = false) =>
    q.serial(async () => {
      log.push(`${name}+`);
      await tick();
      log.push(`${name}-`);
      if (fail) throw new Error(name);
      return name;
    });
  const results = await Promise.allSettled([turn('a'), turn('b', true), turn('c')]);
  assert.deepEqual(log, ['a+', 'a-', 'b+', 'b-', 'c+', 'c-']);
  assert.deepEqual(
    results.map((r) => r.status),
    ['fulfilled', 'rejected', 'fulfilled'],
  );
  assert.equal(failed.length, 1, 'the failure is heard');
});

test('operations on one DU keep their order; other DUs do not wait for them', async () => {
  const q = new OpQueue(() => undefined);
  const log: string[] = [];
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const first = q.inOrder('du-1', async () => {
    await held;
    log.push('du-1 first');
  });
  const second = q.inOrder('du-1', async () => log.push('du-1 second'));
  await q.inOrder('du-2', async () => log.push('du-2'));
  release();
  await Promise.all([first, second]);
  assert.deepEqual(log, ['du-2', 'du-1 first', 'du-1 second']);
});

test('once detached, no more turns: the turn under way finishes, the next is refused', async () => {
  const q = new OpQueue(() => undefined);
  let done = false;
  const running = q.serial(async () => {
    await tick();
    done = true;
  });
  const next = q.serial(async () => 'ran');
  await new Promise((r) => setImmediate(r)); // the first turn has begun
  const settled = q.detach();
  assert.ok(q.detached.aborted);
  await running;
  await assert.rejects(next, (e: EngineError) => e.code === EngineCode.InternalError);
  await settled;
  assert.ok(done);
});
