import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { appendFileSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { StateStore } from '../../src/dm/state-store.js';
import { newModel, repoRoot, tempDir, usp } from '../helpers.js';

test('values, rows and instance numbers survive a restart; numbers are never reused', () => {
  const { dir, cleanup } = tempDir();
  try {
    let dm = newModel({ stateDir: dir });
    dm.add('Device.LocalAgent.Controller.', [{ name: 'EndpointID', value: 'proto::a' }], usp);
    dm.add('Device.LocalAgent.Controller.', [{ name: 'EndpointID', value: 'proto::b' }], usp);
    dm.delete(['Device.LocalAgent.Controller.2.'], usp);
    dm.set(
      [{ objPath: 'Device.ManagementServer.', params: [{ name: 'URL', value: 'http://127.0.0.1:7547/acs' }] }],
      usp,
    );
    dm.close();
    dm = newModel({ stateDir: dir });
    assert.equal(dm.value('Device.ManagementServer.URL'), 'http://127.0.0.1:7547/acs');
    assert.deepEqual(
      dm.instances('Device.LocalAgent.Controller.', usp).map((i) => i.path),
      ['Device.LocalAgent.Controller.1.'],
    );
    const [c] = dm.add('Device.LocalAgent.Controller.', [{ name: 'EndpointID', value: 'proto::c' }], usp);
    assert.equal(c!.path, 'Device.LocalAgent.Controller.3.');
    dm.close();
  } finally {
    cleanup();
  }
});

test('defaults apply on first start only, and again on factory reset', () => {
  const { dir, cleanup } = tempDir();
  const defaults = {
    'Device.LocalAgent.EndpointID': 'os::012345-cpe',
    'Device.LocalAgent.Controller.1.EndpointID': 'proto::ctl',
    'Device.LocalAgent.Controller.1.MTP.1.Protocol': 'MQTT',
    'Device.LocalAgent.Controller.3.EndpointID': 'proto::other',
  };
  try {
    let dm = newModel({ stateDir: dir, defaults });
    assert.deepEqual(
      dm.instances('Device.LocalAgent.Controller.', usp).map((i) => i.path),
      ['Device.LocalAgent.Controller.1.', 'Device.LocalAgent.Controller.1.MTP.1.', 'Device.LocalAgent.Controller.3.'],
    );
    dm.set(
      [{ objPath: 'Device.ManagementServer.', params: [{ name: 'URL', value: 'http://acs.example/changed' }] }],
      usp,
    );
    dm.delete(['Device.LocalAgent.Controller.3.'], usp);
    dm.close();
    dm = newModel({ stateDir: dir, defaults });
    assert.equal(dm.value('Device.ManagementServer.URL'), 'http://acs.example/changed');
    assert.equal(dm.value('Device.LocalAgent.EndpointID'), 'os::012345-cpe');
    assert.equal(dm.instances('Device.LocalAgent.Controller.', usp).length, 2);
    dm.factoryReset();
    assert.equal(dm.value('Device.ManagementServer.URL'), '');
    assert.equal(dm.value('Device.LocalAgent.EndpointID'), 'os::012345-cpe');
    assert.equal(dm.instances('Device.LocalAgent.Controller.', usp).length, 3);
    dm.close();
    dm = newModel({ stateDir: dir, defaults });
    assert.equal(dm.value('Device.ManagementServer.URL'), '', 'the reset state is what persists');
    dm.close();
  } finally {
    cleanup();
  }
});

test('a bad defaults file is refused with the entry named', () => {
  assert.throws(() => newModel({ defaults: { 'Device.LocalAgent.Nope': 'x' } }), /Device\.LocalAgent\.Nope/);
  assert.throws(
    () => newModel({ defaults: { 'Device.LocalAgent.Controller.1.PeriodicNotifInterval': 'soon' } }),
    /PeriodicNotifInterval.*integer/,
  );
  assert.throws(() => newModel({ defaults: { 'Device.LocalAgent.Controller.EndpointID': 'x' } }), /instance number/);
});

test('a journal torn mid-line loads without the torn transaction', () => {
  const { dir, cleanup } = tempDir();
  try {
    const dm = newModel({ stateDir: dir });
    dm.set([{ objPath: 'Device.ManagementServer.', params: [{ name: 'URL', value: 'os::one' }] }], usp);
    dm.close();
    const journal = join(dir, 'datamodel.journal');
    const size = statSync(journal).size;
    appendFileSync(journal, '[["s","Device.ManagementServer.URL","os::tw');
    const dm2 = newModel({ stateDir: dir });
    assert.equal(dm2.value('Device.ManagementServer.URL'), 'os::one');
    dm2.set([{ objPath: 'Device.ManagementServer.', params: [{ name: 'URL', value: 'os::two' }] }], usp);
    dm2.close();
    assert.ok(!readFileSync(journal, 'utf8').includes('os::tw"'), 'load compacted the torn tail away');
    // Cut the last transaction short: it never committed, so the value before it is what loads.
    StateStore.truncateJournal(dir, statSync(journal).size - 5);
    assert.equal(newModel({ stateDir: dir }).value('Device.ManagementServer.URL'), 'os::one');
    assert.ok(size > 0);
  } finally {
    cleanup();
  }
});

test('kill -9 while writing: the state dir always loads and every row is whole', async () => {
  for (let trial = 0; trial < 5; trial++) {
    const { dir, cleanup } = tempDir();
    try {
      const child = fork(join(repoRoot, 'dist/test/fixtures/dm-writer.js'), [dir], {
        stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      });
      await new Promise<void>((resolve, reject) => {
        child.once('message', () => resolve());
        child.once('exit', (code) => reject(new Error(`writer exited early (${code})`)));
      });
      await new Promise((r) => setTimeout(r, 50 + trial * 40));
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      const dm = newModel({ stateDir: dir });
      const rows = dm.instances('Device.LocalAgent.Controller.', usp, true);
      let last = 0;
      for (const [idx, r] of rows.entries()) {
        const n = Number(/\.(\d+)\.$/.exec(r.path)![1]);
        assert.ok(n > last, 'instance numbers increase');
        last = n;
        assert.match(r.keys.EndpointID!, /^proto::c\d+$/, `${r.path} was created whole`);
        assert.equal(dm.value(`${r.path}PeriodicNotifInterval`), String(Number(r.keys.EndpointID!.slice(8)) + 1));
        if (idx < rows.length - 1)
          assert.notEqual((n - 1) % 3, 0, 'rows deleted in a committed transaction stay deleted');
      }
      const [next] = dm.add('Device.LocalAgent.Controller.', [{ name: 'EndpointID', value: 'proto::after' }], usp);
      assert.ok(Number(/\.(\d+)\.$/.exec(next!.path)![1]) > last);
      dm.close();
    } finally {
      cleanup();
    }
  }
});
