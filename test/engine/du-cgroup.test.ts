// A unit's processes choose their cgroups' names inside the tree delegated to them: neither a name with
// ':' in it nor a forged line may lead the agent's writes of a DU's cgroup outside the unit's cgroup.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { isCleanPath, isWithin, parseCgroupLines } from '../../src/engine/cgroup-path.js';
import { DuCgroups, placesIn } from '../../src/engine/du-cgroup.js';
import { silentLogger } from '../../src/util/logger.js';
import { requireRoot, tempDir, waitFor } from '../helpers.js';

test('cgroup lines: a name with colons is one path, a dot component or a forged line is refused', () => {
  assert.deepEqual(parseCgroupLines('0::/lxc.payload.c/..:x\n'), [{ controllers: '', path: '/lxc.payload.c/..:x' }]);
  assert.deepEqual(parseCgroupLines('4:memory:/a:b:c\n1:cpu,cpuacct:/\n'), [
    { controllers: 'memory', path: '/a:b:c' },
    { controllers: 'cpu,cpuacct', path: '/' },
  ]);
  assert.equal(parseCgroupLines('0::/lxc.payload.c/..\n'), undefined);
  assert.equal(parseCgroupLines('0::/lxc.payload.c/./x\n'), undefined);
  assert.equal(parseCgroupLines('0::relative\n'), undefined);
  assert.equal(parseCgroupLines('garbage\n'), undefined);
  // A name with a newline forges a second line for the same hierarchy.
  assert.equal(parseCgroupLines('0::/lxc.payload.c/a\n0::/\n'), undefined);
  assert.ok(isCleanPath('/') && isCleanPath('/a/..:x') && !isCleanPath('/a//b') && !isCleanPath('/a/'));
});

test('containment: a cgroup counts only at or below the expected one', () => {
  assert.ok(isWithin('/lxc.payload.c', '/lxc.payload.c'));
  assert.ok(isWithin('/lxc.payload.c', '/lxc.payload.c/..:x'));
  assert.ok(isWithin('/', '/anything'));
  assert.ok(!isWithin('/lxc.payload.c', '/lxc.payload.c2'));
  assert.ok(!isWithin('/lxc.payload.c', '/lxc.payload.c/..'));
  assert.ok(!isWithin('/lxc.payload.c', '/'));
  assert.ok(!isWithin('/lxc.payload.c/..', '/x'));
});

test('places: the unified path of v2 and the memory and cpu ones of v1, none of a forged file', () => {
  const { dir, cleanup } = tempDir('cpe-cg-');
  try {
    assert.deepEqual(placesIn('0::/lxc.payload.c/..:x\n', dir, true), [{ mount: dir, path: '/lxc.payload.c/..:x' }]);
    assert.deepEqual(placesIn('0::/lxc.payload.c/..\n', dir, true), []);
    mkdirSync(join(dir, 'memory'));
    mkdirSync(join(dir, 'cpu,cpuacct'));
    assert.deepEqual(placesIn('9:memory:/c/a:b\n3:cpu,cpuacct:/c\n2:pids:/c\n0::/\n', dir, false), [
      { mount: join(dir, 'memory'), path: '/c/a:b' },
      { mount: join(dir, 'cpu,cpuacct'), path: '/c' },
    ]);
    assert.deepEqual(placesIn('9:memory:/c\n9:memory:/\n', dir, false), []);
  } finally {
    cleanup();
  }
});

// The attack on a real hierarchy: a unit moves itself into a child cgroup named '..:x' of its own; read
// with split(':') that is the parent of the unit's cgroup, where the DU's cgroup was made and the unit
// moved out of its limits.
test("a unit in a cgroup named '..:x' gets its DU's cgroup below its own, nothing is made above", async (t) => {
  if (!requireRoot(t, 'makes cgroups')) return;
  const v2 = existsSync('/sys/fs/cgroup/cgroup.controllers');
  const line = readFileSync('/proc/self/cgroup', 'utf8')
    .split('\n')
    .find((l) => (v2 ? l.startsWith('0::') : /^\d+:([^:]*,)?memory(,[^:]*)?:/.test(l)));
  if (!line) return t.skip('no memory cgroup');
  const own = join(v2 ? '/sys/fs/cgroup' : '/sys/fs/cgroup/memory', line.replace(/^\d+:[^:]*:/, ''));
  const hostile = join(own, '..:x');
  const { dir, cleanup } = tempDir('cpe-cg-');
  const duid = `t${process.pid}`;
  const cgroups = new DuCgroups((d) => join(dir, `${d}.json`), silentLogger);
  try {
    mkdirSync(hostile);
  } catch (e) {
    cleanup();
    return t.skip(`cgroups cannot be made here: ${(e as Error).message}`);
  }
  const child = spawn('/bin/sh', ['-c', `echo $$ > '${hostile}/cgroup.procs' && exec sleep 30`], { stdio: 'ignore' });
  t.after(() => {
    child.kill('SIGKILL');
    cleanup();
  });
  const pid = child.pid!;
  await waitFor(() => readFileSync(`/proc/${pid}/cgroup`, 'utf8').includes('/..:x'), 5000);
  cgroups.enter(duid, { diskKiB: -1, memoryKiB: 32 * 1024, cpuPercent: 0 }, pid, () => process.pid);
  const above = join(dirname(own), `cpe-du-${duid}`);
  const below = join(hostile, `cpe-du-${duid}`);
  try {
    assert.ok(!existsSync(above), `nothing made above the unit's cgroup (${above})`);
    assert.ok(existsSync(below), 'the DU cgroup is below the one the unit chose');
    assert.match(readFileSync(`/proc/${pid}/cgroup`, 'utf8'), new RegExp(`/\\.\\.:x/cpe-du-${duid}\\n`));
  } finally {
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    await new Promise((r) => setTimeout(r, 100));
    cgroups.remove(duid);
    for (const d of [above, below, hostile]) if (existsSync(d)) rmdirSync(d);
  }
});
