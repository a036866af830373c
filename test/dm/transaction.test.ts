// Add and Delete share one per-request transaction loop (dm/transaction.ts applyEach): without
// allowPartial the first failure undoes every request and nothing goes out on the change feed; with
// it, only the failing request is undone and the rest is committed and published once.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Change } from '../../src/dm/change-feed.js';
import { DmError } from '../../src/dm/errors.js';
import { newModel, usp } from '../helpers.js';

const CTL = 'Device.LocalAgent.Controller.';

function withOneController() {
  const dm = newModel();
  dm.add(CTL, [{ name: 'EndpointID', value: 'proto::a' }], usp);
  const batches: Change[][] = [];
  let batch: Change[] | undefined;
  dm.feed.subscribe('Device.', (c) => {
    batch ??= [];
    batch.push(c);
    queueMicrotask(() => {
      if (batch) batches.push(batch);
      batch = undefined;
    });
  });
  return { dm, batches };
}

test('addAll without allowPartial: a failing request undoes the others, instance numbers included', async () => {
  const { dm, batches } = withOneController();
  const dup = [{ name: 'EndpointID', value: 'proto::a' }];
  assert.throws(
    () =>
      dm.addAll(
        [
          { objPath: CTL, params: [{ name: 'EndpointID', value: 'proto::b' }] },
          { objPath: CTL, params: dup },
        ],
        usp,
      ),
    (e: unknown) => e instanceof DmError,
  );
  await Promise.resolve();
  assert.deepEqual(
    dm.instances(CTL, usp).map((i) => i.path),
    [`${CTL}1.`],
  );
  assert.equal(batches.length, 0);
  const [next] = dm.add(CTL, [{ name: 'EndpointID', value: 'proto::c' }], usp);
  assert.equal(next!.path, `${CTL}2.`);
});

test('addAll with allowPartial: the bad request is answered with its error and gives its instance back', async () => {
  const { dm, batches } = withOneController();
  const out = dm.addAll(
    [
      { objPath: CTL, params: [{ name: 'EndpointID', value: 'proto::a' }] },
      { objPath: CTL, params: [{ name: 'EndpointID', value: 'proto::b' }] },
    ],
    usp,
    true,
  );
  assert.equal(out[0]!.ok, false);
  assert.equal(out[1]!.ok, true);
  await Promise.resolve();
  assert.deepEqual(
    dm.instances(CTL, usp).map((i) => i.path),
    [`${CTL}1.`, `${CTL}2.`],
  );
  assert.deepEqual(
    batches.map((b) => b.map((c) => `${c.kind} ${c.path}`)),
    [[`add ${CTL}2.`]],
  );
});

test('delete without allowPartial: one bad path keeps every row; with it, the others go', async () => {
  const { dm, batches } = withOneController();
  dm.add(CTL, [{ name: 'EndpointID', value: 'proto::b' }], usp);
  await Promise.resolve();
  batches.length = 0;
  assert.throws(
    () => dm.delete([`${CTL}1.`, 'Device.LocalAgent.'], usp),
    (e: unknown) => e instanceof DmError,
  );
  assert.equal(dm.instances(CTL, usp).length, 2);
  const out = dm.delete([`${CTL}1.`, 'Device.LocalAgent.', `${CTL}9.`], usp, true);
  assert.deepEqual(
    out.map((o) => [o.requested, o.deleted, o.error?.code]),
    [
      [`${CTL}1.`, [`${CTL}1.`], undefined],
      ['Device.LocalAgent.', [], 7026],
      [`${CTL}9.`, [], undefined],
    ],
  );
  await Promise.resolve();
  assert.deepEqual(
    batches.map((b) => b.map((c) => `${c.kind} ${c.path}`)),
    [[`delete ${CTL}1.`]],
  );
});
