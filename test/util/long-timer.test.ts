import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_TIMEOUT_MS, setLongTimeout } from '../../src/util/long-timer.js';

test('a wait longer than setTimeout allows does not fire early: it waits in steps', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  let fired = 0;
  setLongTimeout(() => fired++, 3 * MAX_TIMEOUT_MS);
  t.mock.timers.tick(MAX_TIMEOUT_MS);
  t.mock.timers.tick(MAX_TIMEOUT_MS);
  assert.equal(fired, 0, 'fired before its time');
  t.mock.timers.tick(MAX_TIMEOUT_MS - 1);
  assert.equal(fired, 0);
  t.mock.timers.tick(1);
  assert.equal(fired, 1);
});

test('a short wait fires once on time, and a cancelled one never', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  let a = 0;
  let b = 0;
  setLongTimeout(() => a++, 1000);
  const c = setLongTimeout(() => b++, 2 * MAX_TIMEOUT_MS);
  t.mock.timers.tick(MAX_TIMEOUT_MS);
  c.cancel();
  t.mock.timers.tick(2 * MAX_TIMEOUT_MS);
  assert.equal(a, 1);
  assert.equal(b, 0);
});
