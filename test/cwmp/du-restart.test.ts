// kill -9 of the agent (its own process, started by `cpe-agent run` with the CWMP flags) while a
// ChangeDUState job runs: after the restart the job goes on from where it was, the interrupted
// operation is reported by the engine's recovery instead of running twice, and the ACS receives one
// DUStateChangeComplete with every result in order — also after a further kill once it was delivered.

import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'node:test';
import { manifest, tarGz } from '../engine/tar-builder.js';
import { sleep, spawnAgent, tempDir } from '../helpers.js';
import { serveFiles } from '../http-files.js';
import { list, type Node, TestAcs, txt } from './acs.js';
import { MS, writeDefaults } from './harness.js';

const app = (name: string, bytes: number) =>
  tarGz([
    { name: 'manifest.json', data: manifest({ name, services: [{ name: 'svc', command: 'bin/run.sh' }] }) },
    { name: 'bin/run.sh', data: '#!/bin/sh\ntrap "exit 0" TERM\nwhile true; do sleep 0.2; done\n', mode: 0o755 },
    { name: 'payload', data: randomBytes(bytes) },
  ]);

test(
  'kill -9 during a ChangeDUState job: resumed after the restart, the cut operation reported once, one ' +
    'DUStateChangeComplete',
  async (t) => {
    const { dir, cleanup } = tempDir('cpe-cwmp-kill-');
    // The first package comes slowly (about 1.5 s), so the kill lands in its download.
    const http = await serveFiles(
      { 'big.tgz': app('big', 3 * 1024 * 1024), 'small.tgz': app('small', 1024) },
      { chunkBytes: 128 * 1024, pauseMs: 60 },
    );
    const acs = new TestAcs({ username: 'cpe', password: 'acs-secret' });
    await acs.start();
    writeDefaults(dir, acs);
    let agent: ChildProcess | undefined;
    const start = () => {
      agent = spawnAgent({
        stateDir: join(dir, 'state'),
        defaultsFile: join(dir, 'defaults.json'),
        logLevel: 'error',
        crPort0: true,
      });
    };
    const kill = async () => {
      agent!.kill('SIGKILL');
      await new Promise((r) => agent!.once('exit', r));
    };
    t.after(async () => {
      agent?.kill('SIGKILL');
      const v = await acs.validateAll();
      if (v.skipped) t.diagnostic(v.skipped);
      await acs.stop();
      await http.close();
      cleanup();
      assert.ok(v.ok, `every envelope the CPE sent validates against the CWMP schema:\n${v.output}`);
    });
    start();
    await acs.until(() => acs.sessionsEnded >= 1);
    const crUrl = acs.informs[0]!.params[`${MS}ConnectionRequestURL`]!;
    assert.match(crUrl, /^http:\/\/127\.0\.0\.1:\d+\/cr\//, '--cr-host is where the Connection Request URL points');

    const op = (url: string) => `<Operations xsi:type="cwmp:InstallOpStruct"><URL>${url}</URL></Operations>`;
    const answer = acs.rpc(
      `<cwmp:ChangeDUState>${op(http.url('big.tgz'))}${op(http.url('small.tgz'))}<CommandKey>job-1</CommandKey>` +
        `</cwmp:ChangeDUState>`,
    );
    assert.equal(await TestAcs.connectionRequest(crUrl, 'acs', 'cr-secret'), 200);
    assert.equal((await answer).method, 'ChangeDUStateResponse');
    await acs.until(() => acs.sessionsEnded >= 2);
    await sleep(400);
    await kill();
    start();

    const completes = () => acs.requests.filter((r) => r.method === 'DUStateChangeComplete');
    await acs.until(() => completes().length >= 1, 30_000);
    const results = list(completes()[0]!.body.Results as Node | Node[]).map((r) => [
      txt(r.CurrentState),
      txt((r.Fault as Node).FaultCode),
      txt((r.Fault as Node).FaultString),
    ]);
    assert.equal(results.length, 2, 'one result per operation');
    assert.deepEqual(
      results[0],
      ['Failed', '9001', 'interrupted by an agent restart'],
      'the cut install, reported by the recovery',
    );
    assert.deepEqual(results[1]!.slice(0, 2), ['Installed', '0'], 'the rest of the job ran after the restart');
    assert.equal(txt(completes()[0]!.body.CommandKey), 'job-1');
    assert.equal(
      acs.informs.filter((i) => i.events.some((e) => e.code === '1 BOOT')).length,
      2,
      'the restart was a BOOT',
    );
    assert.equal(
      acs.informs.filter((i) => i.events.some((e) => e.code === 'M ChangeDUState' && e.key === 'job-1')).length,
      1,
    );

    // Delivered: a later kill and start send it no more.
    await acs.until(() => acs.sessionsEnded >= acs.informs.length);
    await kill();
    const n = acs.informs.length;
    start();
    await acs.until(() => acs.informs.length > n && acs.sessionsEnded >= n + 1);
    await sleep(300);
    assert.equal(completes().length, 1, 'exactly once');
    assert.ok(!acs.informs.at(-1)!.events.some((e) => e.code.startsWith('11 ')));
  },
);
