// The outbox of notifications that must outlive a restart, on its own: what survives, what a crash
// mid-write leaves, and how the same report made again is recognised.

import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { NotifyOutbox, type StoredNotify } from '../../src/usp/notify-outbox.js';
import { tempDir } from '../helpers.js';

const notify = (id: string, key: string): StoredNotify => ({
  msg: { header: { msg_id: id, msg_type: 'NOTIFY' }, body: { request: { notify: { subscription_id: 's' } } } },
  to: 'proto::c',
  expires: Date.now() + 60_000,
  key,
});

test(
  'stored notifications come back after a restart with their keys; acknowledged ones and cut-short writes do ' + 'not',
  (t) => {
    const { dir, cleanup } = tempDir();
    t.after(cleanup);
    const a = new NotifyOutbox(dir);
    a.put(notify('m1', 'k1'));
    a.put(notify('m2', 'k2'));
    a.drop('m2');
    assert.equal(a.waiting('k1'), true);
    assert.equal(a.waiting('k2'), false, 'acknowledged: no longer waiting');
    // What a kill -9 in the middle of writeFileAtomic leaves, and a file that is not ours at all.
    writeFileSync(join(dir, '.m3.json.123.tmp'), '{"msg":');
    writeFileSync(join(dir, 'm4.json'), 'not json');
    const b = new NotifyOutbox(dir);
    assert.equal(b.waiting('k1'), false, 'nothing known before load');
    assert.deepEqual(
      b.load().map((n) => n.msg.header.msg_id),
      ['m1'],
    );
    assert.equal(b.waiting('k1'), true);
    assert.deepEqual(readdirSync(dir), ['m1.json'], 'the leftovers are removed');
  },
);
