// CWMP and USP share one way to change DUs: ChangeDUState calls the data model's SoftwareModules
// commands like a USP Operate does, and both protocols hear the same DUStateChange! events. A failed
// transfer still reaches the ACS with the 90xx of its kind, and a change by a USP controller reaches
// the ACS as AutonomousDUStateChangeComplete exactly once, also when the agent restarts before it could
// be delivered.

import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import type { Change } from '../../src/dm/change-feed.js';
import { manifest, tarGz } from '../engine/tar-builder.js';
import { sleep, usp, waitFor } from '../helpers.js';
import { httpServer } from '../hostile-servers.js';
import { serveFiles } from '../http-files.js';
import { type Node, TestAcs, txt } from './acs.js';
import { MS, duResults as results, setup } from './harness.js';

const SM = 'Device.SoftwareModules.';
const POLICY = {
  [`${MS}DUStateChangeComplPolicy.Enable`]: 'true',
  [`${MS}DUStateChangeComplPolicy.ResultTypeFilter`]: 'Both',
};
const pkg = (name: string) =>
  tarGz([
    { name: 'manifest.json', data: manifest({ name, services: [{ name: 'svc', command: 'bin/run.sh' }] }) },
    { name: 'bin/run.sh', data: '#!/bin/sh\ntrap "exit 0" TERM\nwhile true; do sleep 0.2; done\n', mode: 0o755 },
  ]);
const install = (url: string) => `<Operations xsi:type="cwmp:InstallOpStruct"><URL>${url}</URL></Operations>`;
const cds = (key: string, ...ops: string[]) =>
  `<cwmp:ChangeDUState>${ops.join('')}<CommandKey>${key}</CommandKey></cwmp:ChangeDUState>`;
const byMethod = (acs: TestAcs, method: string) => acs.requests.filter((r) => r.method === method);

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise((r) => s.close(r));
  return port;
}

test('a ChangeDUState and a USP InstallDU take the same path: one operation and one DUStateChange! each', async (t) => {
  const http = await serveFiles({ 'a.tgz': pkg('a'), 'b.tgz': pkg('b') });
  t.after(() => http.close());
  const { agent, acs } = await setup(t, POLICY);
  await acs.until(() => acs.sessionsEnded >= 1);
  const seen: Change[] = [];
  const off = agent.dm.feed.subscribe(`${SM}`, (c) => seen.push(c), ['operation', 'event']);
  t.after(off);
  let engineResults = 0;
  const onResult = () => engineResults++;
  agent.containerEngine!.on('result', onResult);
  t.after(() => agent.containerEngine?.off('result', onResult));

  const answer = acs.rpc(cds('by-acs', install(http.url('a.tgz'))));
  assert.equal(await TestAcs.connectionRequest(agent.dm.value(`${MS}ConnectionRequestURL`), 'acs', 'cr-secret'), 200);
  assert.equal((await answer).method, 'ChangeDUStateResponse');
  const [op] = await agent.dm.operate(`${SM}InstallDU()`, { URL: http.url('b.tgz') }, usp, 'by-controller');
  assert.equal(op?.kind, 'async');
  await acs.until(
    () =>
      byMethod(acs, 'DUStateChangeComplete').length === 1 &&
      byMethod(acs, 'AutonomousDUStateChangeComplete').length === 1,
  );

  const ended = seen.flatMap((c) =>
    c.kind === 'operation' && (c.operation.state === 'complete' || c.operation.state === 'failed')
      ? [{ path: c.path, by: c.cause.kind, state: c.operation.state }]
      : [],
  );
  assert.deepEqual(
    ended.sort((x, y) => x.by.localeCompare(y.by)),
    [
      { path: `${SM}InstallDU()`, by: 'cwmp', state: 'complete' },
      { path: `${SM}InstallDU()`, by: 'usp', state: 'complete' },
    ],
    'the ACS install is an InstallDU() of the data model, like the controller one',
  );
  const events = seen.filter((c) => c.kind === 'event' && c.path === `${SM}DUStateChange!`);
  assert.equal(events.length, 2, 'one DUStateChange! per install');
  assert.equal(engineResults, 2, 'one engine operation per install');

  const [mine] = results(byMethod(acs, 'DUStateChangeComplete')[0]!);
  const [theirs] = results(byMethod(acs, 'AutonomousDUStateChangeComplete')[0]!);
  assert.deepEqual([mine!.state, mine!.fault], ['Installed', 0]);
  assert.deepEqual([theirs!.state, theirs!.fault], ['Installed', 0]);
  assert.notEqual(mine!.uuid, theirs!.uuid, 'the ACS hears of its own install once, as the job result');
  const uuids = new Set(events.map((c) => (c.kind === 'event' ? c.args.UUID : '')));
  assert.deepEqual(uuids, new Set([mine!.uuid, theirs!.uuid]));
  await acs.until(() => acs.sessionsEnded >= acs.informs.length);
  await sleep(300);
  assert.equal(byMethod(acs, 'DUStateChangeComplete').length, 1);
  assert.equal(byMethod(acs, 'AutonomousDUStateChangeComplete').length, 1);
});

const TRANSFERS =
  'transfer failures reach the ACS by kind: 9012 refused credentials, 9015 unreachable, 9016 missing, 9017 cut';
test(TRANSFERS, async (t) => {
  const files = await serveFiles({});
  const refusing = await httpServer((_req, res) => res.writeHead(401).end());
  const cutting = await httpServer((_req, res) => {
    res.writeHead(200, { 'content-length': 4096 });
    res.write(Buffer.alloc(100));
    setTimeout(() => res.destroy(), 50);
  });
  t.after(async () => {
    await files.close();
    await refusing.close();
    await cutting.close();
  });
  const port = await closedPort();
  const { agent, acs } = await setup(t);
  await acs.until(() => acs.sessionsEnded >= 1);
  const download = (key: string, url: string) =>
    `<cwmp:Download><CommandKey>${key}</CommandKey><FileType>3 Vendor Configuration File</FileType><URL>${url}` +
    `</URL><Username/><Password/><FileSize>0</FileSize><TargetFileName/><DelaySeconds>0</DelaySeconds>` +
    `<SuccessURL/><FailureURL/></cwmp:Download>`;
  const answers = [
    acs.rpc(
      cds(
        'transfers',
        install(refusing.url('p.tgz')),
        install(`http://127.0.0.1:${port}/p.tgz`),
        install(files.url('missing.tgz')),
        install(cutting.url('p.tgz')),
      ),
    ),
    acs.rpc(download('dl-unreachable', `http://127.0.0.1:${port}/c.json`)),
    acs.rpc(download('dl-refused', refusing.url('c.json'))),
  ];
  assert.equal(await TestAcs.connectionRequest(agent.dm.value(`${MS}ConnectionRequestURL`), 'acs', 'cr-secret'), 200);
  for (const a of answers) assert.notEqual((await a).method, 'Fault');
  await acs.until(
    () => byMethod(acs, 'DUStateChangeComplete').length === 1 && byMethod(acs, 'TransferComplete').length === 2,
  );
  const got = results(byMethod(acs, 'DUStateChangeComplete')[0]!);
  assert.deepEqual(
    got.map((r) => [r.state, r.fault]),
    [
      ['Failed', 9012],
      ['Failed', 9015],
      ['Failed', 9016],
      ['Failed', 9017],
    ],
    JSON.stringify(got),
  );
  const transfers = Object.fromEntries(
    byMethod(acs, 'TransferComplete').map((m) => [
      txt(m.body.CommandKey),
      Number(txt((m.body.FaultStruct as Node).FaultCode)),
    ]),
  );
  assert.deepEqual(transfers, { 'dl-unreachable': 9015, 'dl-refused': 9012 });
});

const ACROSS_RESTART =
  'a USP install while the ACS is down reaches it as AutonomousDUStateChangeComplete once, across a restart';
test(ACROSS_RESTART, async (t) => {
  const http = await serveFiles({ 'a.tgz': pkg('a') });
  t.after(() => http.close());
  const { agent, acs, boot } = await setup(t, POLICY);
  await acs.until(() => acs.sessionsEnded >= 1);
  await agent.cwmpClient!.idle();
  acs.failNext = 1_000_000;
  const [op] = await agent.dm.operate(`${SM}InstallDU()`, { URL: http.url('a.tgz') }, usp, 'usp-1');
  assert.equal(op?.kind, 'async');
  const out = await (op as { done: Promise<{ ok: boolean; output?: Record<string, string> }> }).done;
  assert.ok(out.ok);
  const pending = () =>
    agent.cwmpClient!.state.data.pending.filter((p) => p.method === 'AutonomousDUStateChangeComplete');
  await waitFor(() => pending().length === 1);
  await agent.stop();

  acs.failNext = 0;
  const again = await boot();
  await acs.until(() => byMethod(acs, 'AutonomousDUStateChangeComplete').length === 1);
  await acs.until(() => acs.sessionsEnded >= acs.informs.length);
  await again.cwmpClient!.idle();
  await sleep(500);
  const reports = byMethod(acs, 'AutonomousDUStateChangeComplete');
  assert.equal(reports.length, 1, 'exactly once');
  const [r] = results(reports[0]!);
  assert.deepEqual([r!.uuid, r!.state, r!.fault], [out.output!.UUID, 'Installed', 0]);
  assert.equal(again.cwmpClient!.state.data.pending.length, 0);
});
