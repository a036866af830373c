// The HTTP side towards the ACS: TLS with the operator's CA and a client certificate, Basic only over
// TLS, the namespace the ACS speaks, HoldRequests and the ACS's 8005 (retry request) for our requests.

import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { makeCertificates } from '../certs.js';
import { requireTool, sleep, tempDir } from '../helpers.js';
import { serveFiles } from '../http-files.js';
import { TestAcs, txt } from './acs.js';
import { gpv, MS, setup, values } from './harness.js';

/** Throw-away certificates, or undefined (the test skipped loudly) without openssl. */
function certificates(t: TestContext) {
  if (!requireTool(t, 'openssl')) return undefined;
  const { dir, cleanup } = tempDir('cpe-cwmp-tls-');
  t.after(cleanup);
  return makeCertificates(dir);
}

test(
  'TLS: the ACS verified with the operator CA, our client certificate presented, Basic accepted over ' + 'TLS',
  async (t) => {
    const c = certificates(t);
    if (!c) return;
    const { acs } = await setup(
      t,
      {},
      {
        acs: { basic: true, tls: { cert: c.serverCert, key: c.serverKey, ca: c.ca } },
        tls: { caFile: c.ca, certFile: c.clientCert, keyFile: c.clientKey },
      },
    );
    assert.match(acs.url, /^https:/);
    await acs.until(() => acs.sessionsEnded >= 1);
    assert.deepEqual(acs.clientSubjects, ['os::00D0F1-Test-SN1']);
    assert.ok(acs.authorizations.every((a) => a.startsWith('Basic ')));
  },
);

test('TLS: an ACS whose certificate the CA did not sign gets no session (and no credentials)', async (t) => {
  const c = certificates(t);
  if (!c) return;
  const { acs } = await setup(
    t,
    {},
    {
      acs: { basic: true, tls: { cert: c.serverCert, key: c.serverKey } },
      tls: { caFile: c.otherCa, certFile: c.clientCert, keyFile: c.clientKey },
    },
  );
  await sleep(2500); // long enough for the first attempt and a retry (1 s apart here)
  assert.equal(acs.informs.length, 0);
  assert.equal(acs.authorizations.length, 0);
});

test('Basic over plain HTTP: refused, the password never leaves the device', async (t) => {
  const { acs } = await setup(t, {}, { acs: { basic: true } });
  await sleep(2500);
  assert.equal(acs.informs.length, 0);
  assert.equal(acs.authorizations.length, 0);
});

test("namespace: the first Inform in the highest (cwmp-1-2), then the ACS's own (cwmp-1-0)", async (t) => {
  const { agent, acs } = await setup(t, {}, { acs: { ns: 'urn:dslforum-org:cwmp-1-0' } });
  await acs.until(() => acs.sessionsEnded >= 1);
  const get = acs.rpc(gpv('Device.DeviceInfo.SerialNumber'));
  assert.equal(await TestAcs.connectionRequest(agent.dm.value(`${MS}ConnectionRequestURL`), 'acs', 'cr-secret'), 200);
  assert.equal(values(await get)['Device.DeviceInfo.SerialNumber'], 'S1');
  await acs.until(() => acs.sessionsEnded >= 2);
  const ns = acs.namespaces.map((n) => n.slice(-3));
  assert.equal(ns[0], '1-2', 'the first Inform advertises the highest');
  assert.ok(ns.slice(1).includes('1-0'), `then the ACS's namespace: ${ns.join(' ')}`);
  assert.equal(
    ns.filter((n, i) => i > 0 && acs.received[i]!.includes('GetParameterValuesResponse') && n !== '1-0').length,
    0,
  );
});

test(
  'HoldRequests keeps our requests back (without a session loop); 8005 keeps one for later; both delivered ' +
    'afterwards',
  async (t) => {
    const http = await serveFiles({ 'c.json': Buffer.from(JSON.stringify({ [`${MS}PeriodicInformInterval`]: 777 })) });
    t.after(() => http.close());
    const { agent, acs } = await setup(t);
    await acs.until(() => acs.sessionsEnded >= 1);
    const transfers = () => acs.requests.filter((r) => r.method === 'TransferComplete');
    acs.hold = true;
    const dl = acs.rpc(
      `<cwmp:Download><CommandKey>held</CommandKey><FileType>3 Vendor Configuration ` +
        `File</FileType><URL>${http.url('c.json')}</URL><Username/><Password/><FileSize>0</FileSize>` +
        `<TargetFileName/><DelaySeconds>0</DelaySeconds><SuccessURL/><FailureURL/></cwmp:Download>`,
    );
    assert.equal(await TestAcs.connectionRequest(agent.dm.value(`${MS}ConnectionRequestURL`), 'acs', 'cr-secret'), 200);
    assert.equal((await dl).method, 'DownloadResponse');
    await acs.until(() => acs.informs.some((i) => i.events.some((e) => e.code === '7 TRANSFER COMPLETE')));
    const sessions = acs.sessionsEnded;
    await sleep(1500);
    assert.equal(transfers().length, 0, 'held');
    assert.ok(
      acs.sessionsEnded - sessions <= 2,
      `no session loop while held (${acs.sessionsEnded - sessions} sessions in 1.5 s)`,
    );

    // Released, but the ACS asks to retry it: kept, and sent again in a later session.
    acs.retryMethods.add('TransferComplete');
    acs.hold = false;
    await acs.until(() => transfers().length >= 1, 10_000);
    acs.retryMethods.clear();
    await acs.until(() => transfers().length >= 2, 10_000);
    assert.equal(txt(transfers()[1]!.body.CommandKey), 'held');
    await sleep(2500);
    assert.equal(transfers().length, 2, 'acknowledged: not sent again');
  },
);
