import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { test } from 'node:test';
import type { Change } from '../../src/dm/change-feed.js';
import type { DataModel } from '../../src/dm/datamodel.js';
import { registerScheduleTimer } from '../../src/model/schedule-timer.js';
import { newModel, tempDir, usp, waitFor } from '../helpers.js';

const TIMER = 'Device.ScheduleTimer()';

function completions(dm: DataModel): Change[] {
  const seen: Change[] = [];
  dm.feed.subscribe('Device.', (c) => seen.push(c), ['operation']);
  return seen;
}
const done = (seen: Change[], key: string) =>
  seen.some((c) => c.kind === 'operation' && c.operation.state === 'complete' && c.operation.commandKey === key);

test('ScheduleTimer() fires after DelaySeconds; a timer the agent stopped on runs again later', async (t) => {
  const { dir, cleanup } = tempDir('cpe-timers-');
  t.after(cleanup);
  const first = newModel();
  const seen1 = completions(first);
  registerScheduleTimer(first, dir);
  const started = Date.now();
  const [op] = await first.operate(TIMER, { DelaySeconds: '1' }, usp, 'fires');
  assert.equal(op?.kind, 'async');
  await waitFor(() => done(seen1, 'fires'), 3000);
  assert.ok(Date.now() - started >= 950, 'not before DelaySeconds');
  assert.deepEqual(readdirSync(dir), [], 'a timer that fired is forgotten');

  await first.operate(TIMER, { DelaySeconds: '2' }, usp, 'survives');
  await first.operate(TIMER, { DelaySeconds: '2' }, usp, 'canceled');
  const [survives, canceled] = first.operations.list();
  first.operations.cancel(canceled!.id);
  first.operations.cancel(survives!.id, 'stopping');
  await waitFor(() => first.operations.list().length === 0, 1000);
  assert.equal(readdirSync(dir).length, 1, 'only the timer the agent stopped on is kept');

  const second = newModel();
  const seen2 = completions(second);
  registerScheduleTimer(second, dir).resume();
  const [resumed] = second.operations.list();
  assert.equal(resumed?.commandKey, 'survives');
  assert.deepEqual(resumed?.caller, usp, 'the OperationComplete goes to whoever asked');
  await waitFor(() => done(seen2, 'survives'), 4000);
  assert.ok(!done(seen2, 'canceled'), 'a canceled timer stays canceled');
  assert.deepEqual(readdirSync(dir), []);
});
