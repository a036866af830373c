// Host ids for EEs and native DUs: blocks from the operator's pool, delegated to root for the shadow
// tools; trees given to a range without following links; users looked up without following links.

import assert from 'node:assert/strict';
import { chmodSync, lstatSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { EngineCode, type EngineError } from '../../src/engine/errors.js';
import { hostId, makePassable, shiftTree } from '../../src/engine/ids/ownership.js';
import { allocateRange, allocateUser, BLOCK, checkPool, delegatePool } from '../../src/engine/ids/pool.js';
import { lookupUser } from '../../src/engine/ids/users.js';
import { tempDir } from '../helpers.js';

const pool = { start: 1_000_000, size: 3 * BLOCK };

test(
  "EE ranges are whole blocks after the native users' block, the lowest free first, until the pool is used " + 'up',
  () => {
    const a = allocateRange(pool, []);
    assert.deepEqual(a, { base: 1_000_000 + BLOCK, size: BLOCK });
    const b = allocateRange(pool, [a]);
    assert.equal(b.base, 1_000_000 + 2 * BLOCK);
    assert.throws(
      () => allocateRange(pool, [a, b]),
      (e: EngineError) => e.code === EngineCode.ResourcesExceeded && /no block left/.test(e.message),
    );
    assert.deepEqual(allocateRange(pool, [b]), a, 'a freed block is handed out again');
    assert.equal(allocateUser(pool, [1_000_000, 1_000_001]), 1_000_002);
    assert.throws(() => checkPool({ start: 0, size: BLOCK * 4 }), /must start at 65536/);
    assert.throws(() => checkPool({ start: 2 ** 32 - BLOCK, size: BLOCK * 4 }), /below 2\^32/);
  },
);

test(
  'the pool is delegated to root once where the shadow tools write id maps, and not at all where they are ' + 'absent',
  () => {
    const { dir, cleanup } = tempDir();
    try {
      const files = [join(dir, 'subuid'), join(dir, 'subgid')];
      writeFileSync(files[0]!, 'alice:100000:65536');
      assert.deepEqual(delegatePool(pool, files, false), [], 'without newuidmap LXC writes the map itself');
      assert.deepEqual(delegatePool(pool, files, true), files);
      assert.equal(readFileSync(files[0]!, 'utf8'), `alice:100000:65536\nroot:1000000:${3 * BLOCK}\n`);
      assert.equal(readFileSync(files[1]!, 'utf8'), `root:1000000:${3 * BLOCK}\n`);
      assert.equal(statSync(files[0]!).mode & 0o777, 0o644);
      assert.deepEqual(delegatePool(pool, files, true), [], 'a second start changes nothing');
    } finally {
      cleanup();
    }
  },
);

test(
  'shiftTree re-owns every entry into the range, links included but never followed, and drops set-id bits of ' +
    'packages',
  () => {
    const { dir, cleanup } = tempDir();
    try {
      const outside = join(dir, 'host-file');
      writeFileSync(outside, 'host');
      const root = join(dir, 'pkg');
      mkdirSync(join(root, 'bin'), { recursive: true });
      writeFileSync(join(root, 'bin/tool'), 'x', { mode: 0o755 });
      chmodSync(join(root, 'bin/tool'), 0o4755);
      symlinkSync(outside, join(root, 'out'));
      symlinkSync(dir, join(root, 'up'));
      const ids = { base: 2_000_000, size: BLOCK };
      assert.equal(shiftTree(root, ids), 5);
      for (const p of ['', 'bin', 'bin/tool', 'out', 'up'])
        assert.equal(lstatSync(join(root, p)).uid, 2_000_000, `${p || '.'} belongs to the range`);
      assert.equal(statSync(outside).uid, 0, 'the file a link points at keeps its owner');
      assert.equal(statSync(dir).uid, 0, 'a linked directory is not entered');
      assert.equal(statSync(join(root, 'bin/tool')).mode & 0o7777, 0o755, 'set-uid dropped');
      chmodSync(join(root, 'bin/tool'), 0o4755);
      shiftTree(root, { base: 3_000_000, size: BLOCK }, true);
      assert.equal(statSync(join(root, 'bin/tool')).mode & 0o7777, 0o4755, 'a base rootfs keeps them');
      assert.equal(hostId(ids, 1000), 2_001_000);
      assert.equal(hostId(ids, 70_000), 2_000_000, 'an id past the range becomes its root');
    } finally {
      cleanup();
    }
  },
);

test('makePassable adds only the search bit, to every directory above, past one that has it already', () => {
  const { dir, cleanup } = tempDir();
  try {
    const deep = join(dir, 'a', 'b');
    mkdirSync(deep, { recursive: true, mode: 0o700 });
    // A passable directory inside a private one (a state directory made by hand with the default mode).
    chmodSync(join(dir, 'a'), 0o755);
    chmodSync(dir, 0o700);
    makePassable(deep);
    assert.equal(statSync(deep).mode & 0o777, 0o701);
    assert.equal(statSync(join(dir, 'a')).mode & 0o777, 0o755, 'a mode with the bit already is left alone');
    assert.equal(statSync(dir).mode & 0o777, 0o701, 'the private directory above gets the search bit');
  } finally {
    cleanup();
  }
});

test('users are looked up by name in a passwd file that is not a link, or taken by number', () => {
  const { dir, cleanup } = tempDir();
  try {
    const passwd = join(dir, 'passwd');
    writeFileSync(passwd, 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\nbad:x:zz:1::/:/bin/sh\n');
    assert.deepEqual(lookupUser(passwd, 'app'), { uid: 1000, gid: 1001 });
    assert.deepEqual(lookupUser(passwd, '4242'), { uid: 4242, gid: 4242 });
    assert.equal(lookupUser(passwd, 'bad'), undefined);
    assert.equal(lookupUser(passwd, 'nobody-here'), undefined);
    const link = join(dir, 'linked');
    symlinkSync(passwd, link);
    assert.equal(lookupUser(link, 'app'), undefined, 'a passwd that is a link is not followed');
  } finally {
    cleanup();
  }
});
