// The back-off of every retry in the agent, against the tables and rules of the standards: TR-069
// §3.2.1.1, USP R-NOT.1/2, TR-181 MQTT ConnectRetry* and ExecutionUnit AutoRestart. Deterministic:
// random and the clock are injected.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  autoRestart,
  type Backoff,
  cwmpSessionRetry,
  mqttConnectRetry,
  Retry,
  retryWaitMs,
  retryWindow,
  uspNotifRetry,
} from '../../src/util/retry.js';

/** The standards' default table (m = 5 s, k = 2000): #1 5-10 s, ..., "#10 and subsequent" 2560-5120 s. */
const DEFAULT_TABLE: [number, number][] = [
  [5, 10],
  [10, 20],
  [20, 40],
  [40, 80],
  [80, 160],
  [160, 320],
  [320, 640],
  [640, 1280],
  [1280, 2560],
  [2560, 5120],
];

const windows = (b: Backoff, upTo: number) =>
  Array.from({ length: upTo }, (_, i) => {
    const w = retryWindow(b, i + 1);
    return [w.lo, w.hi];
  });

/** The extremes of a draw: random() at 0 and just under 1. */
const low = () => 0;
const high = () => 1 - Number.EPSILON;

for (const [name, b] of [
  ['TR-069 session retry', cwmpSessionRetry(5, 2000)],
  ['USP NotifRetry', uspNotifRetry(5, 2000)],
] as const) {
  test(`${name}: the default table, then the 10th window for every later retry`, () => {
    assert.deepEqual(windows(b, 10), DEFAULT_TABLE);
    for (const n of [11, 12, 50, 1000]) assert.deepEqual(retryWindow(b, n), { lo: 2560, hi: 5120 });
    assert.equal(retryWaitMs(b, 1, low), 5000);
    assert.equal(retryWaitMs(b, 1, high), 10_000);
    assert.equal(retryWaitMs(b, 30, high), 5_120_000);
  });
}

test('TR-069: other parameters follow m·(k/1000)^(n-1) .. m·(k/1000)^n', () => {
  const b = cwmpSessionRetry(1, 3000);
  assert.deepEqual(windows(b, 3), [
    [1, 3],
    [3, 9],
    [9, 27],
  ]);
  assert.deepEqual(retryWindow(b, 11), retryWindow(b, 10));
  assert.deepEqual(retryWindow(cwmpSessionRetry(7, 1000), 9), { lo: 7, hi: 7 }, 'k = 1.000: a fixed wait');
});

test('MQTT ConnectRetry: as above up to n = 10; a drawn wait above ConnectRetryMaxInterval is the maximum', () => {
  // defaults (5, 2000, 30720): the maximum is never reached, n stops at 10
  const d = mqttConnectRetry(5, 2000, 30720);
  assert.deepEqual(windows(d, 10), DEFAULT_TABLE);
  assert.equal(retryWaitMs(d, 40, high), 5_120_000);

  const b = mqttConnectRetry(5, 2000, 30);
  assert.equal(retryWaitMs(b, 1, high), 10_000);
  assert.equal(retryWaitMs(b, 3, low), 20_000);
  assert.equal(
    retryWaitMs(b, 3, () => 0.25),
    25_000,
    'under the maximum: as drawn',
  );
  assert.equal(
    retryWaitMs(b, 3, () => 0.75),
    30_000,
    'drawn 35 s: the maximum',
  );
  assert.equal(retryWaitMs(b, 4, low), 30_000, 'the whole window past the maximum');
  assert.equal(
    retryWaitMs(b, 11, () => 0.5),
    30_000,
  );
});

test('AutoRestart: m·(k/1000)^n .. m·(k/1000)^(n+1) for RetryCount n, then [max·1000/k, max]', () => {
  const b = autoRestart(5, 2000, 60, 0);
  // RetryCount 0, 1, 2: 5-10, 10-20, 20-40; RetryCount 3 starts at 40 < 60: ends at the maximum delay;
  // RetryCount 4 would start at 80 >= 60: 30-60 from then on.
  assert.deepEqual(windows(b, 7), [
    [5, 10],
    [10, 20],
    [20, 40],
    [40, 60],
    [30, 60],
    [30, 60],
    [30, 60],
  ]);
  assert.deepEqual(retryWindow(b, 10_000), { lo: 30, hi: 60 }, 'no overflow however long it fails');
  assert.deepEqual(retryWindow(autoRestart(5, 3000, 100, 0), 4), { lo: 100 / 3, hi: 100 });
  assert.deepEqual(retryWindow(autoRestart(90, 2000, 60, 0), 1), { lo: 30, hi: 60 }, 'm above the maximum');
});

test('a wait lies in its window whatever random() says', () => {
  let seed = 42;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  for (const b of [
    cwmpSessionRetry(5, 2000),
    uspNotifRetry(3, 1500),
    mqttConnectRetry(5, 2000, 100),
    autoRestart(2, 2500, 300, 0),
  ]) {
    for (let n = 1; n <= 15; n++) {
      const { lo, hi } = retryWindow(b, n);
      const cap = b.maxRule === 'draw' ? b.maxWait! : Number.POSITIVE_INFINITY;
      for (let i = 0; i < 200; i++) {
        const s = retryWaitMs(b, n, random) / 1000;
        assert.ok(s >= Math.min(lo, cap) - 0.001 && s <= Math.min(hi, cap) + 0.001, `${n}: ${s} in [${lo}, ${hi}]`);
      }
    }
  }
  const spread = new Set(Array.from({ length: 50 }, () => retryWaitMs(cwmpSessionRetry(5, 2000), 1)));
  assert.ok(spread.size > 10, 'Math.random by default: the waits differ');
});

test('unreadable or out-of-range parameters never give a negative or shrinking wait', () => {
  assert.deepEqual(retryWindow(cwmpSessionRetry(5, 500), 3), { lo: 5, hi: 5 });
  assert.deepEqual(retryWindow(cwmpSessionRetry(Number.NaN, Number.NaN), 3), { lo: 0, hi: 0 });
  assert.deepEqual(retryWindow(cwmpSessionRetry(5, 2000), 0), { lo: 5, hi: 10 }, 'n below 1 is the first retry');
});

test('Retry: counts, is due at now + wait, and a success starts again', () => {
  let clock = 1_000_000;
  const r = new Retry(() => cwmpSessionRetry(5, 2000), { random: high, now: () => clock });
  assert.equal(r.count, 0);
  const first = r.next()!;
  assert.deepEqual(first, { n: 1, waitMs: 10_000, at: 1_010_000 });
  clock += 10_000;
  assert.deepEqual(r.next(), { n: 2, waitMs: 20_000, at: 1_030_000 });
  for (let i = 0; i < 20; i++) r.next();
  assert.equal(r.count, 22);
  assert.equal(r.next()!.waitMs, 5_120_000, 'capped');
  r.reset();
  assert.equal(r.count, 0);
  assert.equal(r.next()!.waitMs, 10_000, 'after a success: the first window again');
});

test('Retry: MaximumRetryCount retries, then it gives up until reset', () => {
  const r = new Retry(() => autoRestart(1, 2000, 60, 3), { random: low });
  assert.deepEqual(
    [r.next(), r.next(), r.next()].map((s) => s?.waitMs),
    [1000, 2000, 4000],
  );
  assert.equal(r.next(), undefined, 'the fourth: given up');
  assert.equal(r.next(), undefined);
  assert.equal(r.count, 3, 'giving up does not count');
  r.reset();
  assert.equal(r.next()?.n, 1);
  const unlimited = new Retry(() => autoRestart(1, 2000, 60, 0));
  for (let i = 0; i < 100; i++) assert.ok(unlimited.next(), '0: unlimited');
});

test('Retry: the policy is read at every retry, the count may live elsewhere', () => {
  let m = 5;
  const kept = { value: 4, writes: 0 };
  const r = new Retry(() => cwmpSessionRetry(m, 2000), {
    random: low,
    count: {
      get: () => kept.value,
      set: (n) => {
        kept.value = n;
        kept.writes++;
      },
    },
  });
  assert.equal(r.count, 4, 'a count restored from elsewhere (a state file)');
  assert.equal(r.next()!.waitMs, 5000 * 16, 'the 5th retry');
  m = 1;
  assert.equal(r.next()!.waitMs, 1000 * 32, 'new parameters apply to the next retry');
  assert.equal(kept.value, 6);
  r.reset();
  assert.equal(kept.value, 0);
  const writes = kept.writes;
  r.reset();
  assert.equal(kept.writes, writes, 'a reset of nothing writes nothing');
});
