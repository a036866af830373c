// The idle collector: memory a burst left behind is given back once the agent is quiet, and not while
// it works.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getHeapStatistics } from 'node:v8';
import { startIdleGc } from '../../src/util/idle-gc.js';
import { sleep } from '../helpers.js';

const MB = 2 ** 20;

test('after a burst that grew the heap, a quiet period brings one full collection and a smaller heap', async (t) => {
  const freed: number[] = [];
  const stop = startIdleGc({ periodMs: 100, slackBytes: 8 * MB, quietBytes: MB }, (bytes) => freed.push(bytes));
  t.after(stop);
  // A burst: some 40 MB of short-lived objects that outlive a few scavenges (as rows and messages of
  // a burst of installs do), then dropped.
  let burst: { id: string; row: number[] }[] | undefined = [];
  for (let i = 0; i < 300_000; i++) burst.push({ id: `row-${i}`, row: [i, i * 2, i * 3] });
  const grown = getHeapStatistics().total_heap_size;
  burst = undefined;
  assert.equal(burst, undefined);
  await sleep(600);
  assert.equal(freed.length, 1, 'one collection once quiet');
  assert.ok(freed[0]! > 8 * MB, `it gave back ${Math.round(freed[0]! / MB)} MB`);
  assert.ok(getHeapStatistics().total_heap_size < grown - 8 * MB);
  await sleep(400);
  assert.equal(freed.length, 1, 'nothing more to do while nothing grows');
});

test('while the agent keeps allocating, the collector leaves the work to V8', async (t) => {
  const freed: number[] = [];
  const stop = startIdleGc({ periodMs: 100, slackBytes: 2 * MB, quietBytes: MB }, (bytes) => freed.push(bytes));
  t.after(stop);
  const kept: string[][] = [];
  const end = Date.now() + 700;
  while (Date.now() < end) {
    kept.push(Array.from({ length: 20_000 }, (_, i) => `busy-${kept.length}-${i}`));   // ~1.5 MB held per round
    await sleep(20);
  }
  assert.ok(kept.length > 10);
  assert.deepEqual(freed, [], 'no collection forced in the middle of work');
});
