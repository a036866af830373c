// CWMP's ChangeDUState carries no Signature: into an EE whose policy requires signed DUs, an ACS
// install is refused like an unsigned USP InstallDU (7036 Bad Signature), which reaches the ACS as
// 9018 (TR-069 has no signature code among a DU operation's faults; 7036 -> 9018 in cwmp/faults.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { duFaultOf } from '../../src/cwmp/faults.js';
import { uspCodeOf } from '../../src/model/engine-faults.js';
import { manifest, tarGz } from '../engine/tar-builder.js';
import { serveFiles } from '../http-files.js';
import { list, type Node, TestAcs, txt } from './acs.js';
import { MS, setup } from './harness.js';

const SM = 'Device.SoftwareModules.';
const pkg = tarGz([
  { name: 'manifest.json', data: manifest({ name: 'acs-app', services: [{ name: 'svc', command: 'bin/run.sh' }] }) },
  { name: 'bin/run.sh', data: '#!/bin/sh\nexec sleep 1000\n', mode: 0o755 },
]);

test('the bad-signature kind is 7036 for USP and 9018 for a ChangeDUState result', () => {
  assert.equal(uspCodeOf('bad-signature'), 7036);
  assert.equal(duFaultOf({ code: 7036 }), 9018);
});

test('a ChangeDUState install into an EE that requires signatures fails with 9018', async (t) => {
  const http = await serveFiles({ 'a.tgz': pkg });
  t.after(() => http.close());
  const { agent, acs } = await setup(t);
  await acs.until(() => acs.sessionsEnded >= 1);
  agent.dm.update(`${SM}ExecEnv.1.`, { 'X_CPE-AGENT_SignaturePolicy': 'Required' }, 'test');
  const answer = acs.rpc(
    `<cwmp:ChangeDUState><Operations xsi:type="cwmp:InstallOpStruct"><URL>${http.url('a.tgz')}</URL></Operations>` +
      '<CommandKey>signed-only</CommandKey></cwmp:ChangeDUState>',
  );
  assert.equal(await TestAcs.connectionRequest(agent.dm.value(`${MS}ConnectionRequestURL`), 'acs', 'cr-secret'), 200);
  assert.equal((await answer).method, 'ChangeDUStateResponse');
  await acs.until(() => acs.requests.some((r) => r.method === 'DUStateChangeComplete'));
  const done = acs.requests.find((r) => r.method === 'DUStateChangeComplete')!;
  const [result] = list(done.body.Results as Node | Node[]);
  assert.equal(txt(result!.CurrentState), 'Failed');
  assert.equal(Number(txt((result!.Fault as Node).FaultCode)), 9018);
  assert.match(txt((result!.Fault as Node).FaultString), /requires signed DUs/);
  assert.equal(agent.containerEngine!.deploymentUnits().length, 0);
});
