// Atomic replacement costs no write and no fsync when the file already holds the content, unless the
// copy it holds was written without one and a durable copy is asked for.
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { writeFileAtomic } from '../../src/util/atomic-file.js';
import { countFsyncs } from '../fsync-counter.js';
import { tempDir } from '../helpers.js';

test('writing what a file already holds writes and flushes nothing', async () => {
  const { dir, cleanup } = tempDir();
  const fsyncs = await countFsyncs();
  try {
    const f = join(dir, 'state.json');
    writeFileAtomic(f, '{"a":1}');
    assert.equal(fsyncs.count, 2, 'the file and its directory');
    const ino = statSync(f).ino;
    fsyncs.reset();
    writeFileAtomic(f, '{"a":1}');
    writeFileAtomic(f, Buffer.from('{"a":1}'));
    assert.equal(fsyncs.count, 0);
    assert.equal(statSync(f).ino, ino, 'not replaced');
    writeFileAtomic(f, '{"a":2}');
    assert.equal(fsyncs.count, 2);
    assert.equal(readFileSync(f, 'utf8'), '{"a":2}');
  } finally {
    fsyncs.restore();
    cleanup();
  }
});

test('the same content asked durable after a write without fsync is flushed', async () => {
  const { dir, cleanup } = tempDir();
  const fsyncs = await countFsyncs();
  try {
    const f = join(dir, 'entry.json');
    writeFileAtomic(f, 'x', false);
    assert.equal(fsyncs.count, 0);
    writeFileAtomic(f, 'x', false);
    assert.equal(fsyncs.count, 0);
    writeFileAtomic(f, 'x');
    assert.equal(fsyncs.count, 2, 'not taken for a no-op: the copy on disk may not survive a power cut');
    fsyncs.reset();
    writeFileAtomic(f, 'x');
    assert.equal(fsyncs.count, 0, 'now it is durable');
  } finally {
    fsyncs.restore();
    cleanup();
  }
});
