// The idle collector: memory a burst left behind is given back once the agent is idle, and never
// while it works. Deterministic: the heap, the collection, the busy signal and the clock are injected.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type IdleGcHooks, startIdleGc } from '../../src/util/idle-gc.js';
import { asWork, working } from '../../src/util/work.js';

const MB = 2 ** 20;

/** A heap the test moves by hand, a clock it ticks by hand. */
function world(busy = false) {
  const heap = { total: 20 * MB, used: 10 * MB };
  const w = { heap, busy, collections: 0, tick: () => {}, stopped: false };
  const hooks: IdleGcHooks = {
    heap: () => ({ ...heap }),
    gc: () => {
      w.collections++;
      heap.total = 20 * MB;
      heap.used = 10 * MB;
    },
    busy: () => w.busy,
    every: (_ms, tick) => {
      w.tick = tick;
      return () => {
        w.stopped = true;
      };
    },
  };
  return { w, hooks };
}
const opts = { periodMs: 5000, slackBytes: 8 * MB, quietBytes: MB };

test('after a burst that grew the heap, the first quiet idle period brings one full collection', () => {
  const { w, hooks } = world();
  const freed: number[] = [];
  const stop = startIdleGc(opts, (b) => freed.push(b), hooks);
  w.heap.total = 60 * MB;
  w.heap.used = 45 * MB; // the burst
  w.tick();
  assert.equal(w.collections, 0, 'the heap was still growing in that period');
  w.tick();
  assert.equal(w.collections, 1, 'one collection once quiet');
  assert.deepEqual(freed, [40 * MB]);
  w.tick();
  w.tick();
  assert.equal(w.collections, 1, 'nothing more to do while nothing grows');
  stop();
  assert.ok(w.stopped);
});

test('growth below the slack is left to V8', () => {
  const { w, hooks } = world();
  startIdleGc(opts, undefined, hooks);
  w.heap.total += 7 * MB;
  for (let i = 0; i < 5; i++) w.tick();
  assert.equal(w.collections, 0);
});

test('never in the middle of work: a quiet heap while work is in progress brings no collection', () => {
  const { w, hooks } = world(true);
  startIdleGc(opts, undefined, hooks);
  w.heap.total = 60 * MB; // grown, and then quiet: the old heuristic alone would have collected
  for (let i = 0; i < 5; i++) w.tick();
  assert.equal(w.collections, 0, 'no collection forced in the middle of work');
  w.busy = false;
  w.tick();
  assert.equal(w.collections, 1, 'collected at the first idle period');
});

test('while the heap keeps changing, the collector leaves the work to V8', () => {
  const { w, hooks } = world();
  startIdleGc(opts, undefined, hooks);
  for (let i = 0; i < 10; i++) {
    w.heap.total += 2 * MB;
    w.heap.used += 1.5 * MB;
    w.tick();
  }
  assert.equal(w.collections, 0);
});

test('the busy signal: held for the duration of work, released after it, also when it throws', async () => {
  assert.equal(working(), false);
  let release!: () => void;
  const job = asWork(
    () =>
      new Promise<void>((r) => {
        release = r;
      }),
  );
  assert.equal(working(), true);
  release();
  await job;
  assert.equal(working(), false);
  await assert.rejects(
    asWork(() => {
      throw new Error('boom');
    }),
  );
  assert.equal(working(), false);
});

test('with the real heap, collection and timer it starts and stops without keeping the process alive', () => {
  const stop = startIdleGc({ periodMs: 60_000 });
  stop();
});
