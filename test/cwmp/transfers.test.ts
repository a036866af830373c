// The transfer queue as an ACS sees it: GetAllQueuedTransfers lists the Downloads and Uploads not yet
// done (1 not started, 2 in progress), CancelTransfer removes one not started (9021 for one in progress,
// 9003 for a CommandKey nothing carries), the queue survives a restart, and Upload PUTs the vendor
// configuration file or the vendor log file to a real HTTP server with TransferComplete and "M Upload".

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { test } from 'node:test';
import { waitFor } from '../helpers.js';
import { list, type Message, type Node, TestAcs, txt } from './acs.js';
import { faultOf, MS, setup } from './harness.js';

const CONFIG = '3 Vendor Configuration File';
const download = (key: string, url: string, delay = 0) =>
  `<cwmp:Download><CommandKey>${key}</CommandKey><FileType>${CONFIG}</FileType><URL>${url}</URL><Username/>` +
  `<Password/><FileSize>17</FileSize><TargetFileName/><DelaySeconds>${delay}</DelaySeconds><SuccessURL/>` +
  `<FailureURL/></cwmp:Download>`;
const upload = (key: string, type: string, url: string, user = '', password = '') =>
  `<cwmp:Upload><CommandKey>${key}</CommandKey><FileType>${type}</FileType><URL>${url}</URL>` +
  `<Username>${user}</Username><Password>${password}</Password><DelaySeconds>0</DelaySeconds></cwmp:Upload>`;
const QUEUED = '<cwmp:GetAllQueuedTransfers/>';
const cancel = (key: string) => `<cwmp:CancelTransfer><CommandKey>${key}</CommandKey></cwmp:CancelTransfer>`;
const queued = (m: Message) =>
  list((m.body.TransferList as Node).AllQueuedTransferStruct as Node | Node[]).map((q) => ({
    key: txt(q.CommandKey),
    state: txt(q.State),
    isDownload: txt(q.IsDownload),
    fileType: txt(q.FileType),
    fileSize: txt(q.FileSize),
  }));
const completes = (acs: TestAcs) =>
  acs.requests
    .filter((r) => r.method === 'TransferComplete')
    .map((m) => ({ key: txt(m.body.CommandKey), code: Number(txt((m.body.FaultStruct as Node).FaultCode)) }));

/** A file server that sends the headers and a first byte of a file, then holds the rest until released. */
async function stallingServer() {
  const held: (() => void)[] = [];
  const puts: { url: string; auth: string; body: string }[] = [];
  const body = Buffer.from(JSON.stringify({ [`${MS}PeriodicInformInterval`]: 4321 }));
  const server = createServer((req, res) => {
    if (req.method === 'PUT') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        puts.push({ url: req.url!, auth: req.headers.authorization ?? '', body: Buffer.concat(chunks).toString() });
        res.writeHead(req.url === '/denied' ? 403 : 201).end();
      });
      return;
    }
    res.writeHead(200, { 'content-length': body.length });
    res.write(body.subarray(0, 1));
    held.push(() => res.end(body.subarray(1)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    url: (p: string) => `${base}/${p}`,
    held,
    puts,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

test(
  'GetAllQueuedTransfers and CancelTransfer: a queued Download canceled, one in progress not (9021), an ' +
    'unknown CommandKey 9003; the queue survives a restart',
  async (t) => {
    const files = await stallingServer();
    t.after(() => files.close());
    const { agent, acs, boot } = await setup(t);
    await acs.until(() => acs.sessionsEnded >= 1);
    const cr = (a = agent) => TestAcs.connectionRequest(a.dm.value(`${MS}ConnectionRequestURL`), 'acs', 'cr-secret');

    const now = acs.rpc(download('now', files.url('config.json')));
    const later = acs.rpc(download('later', files.url('config.json'), 3600));
    const inSession = acs.rpc(QUEUED);
    assert.equal(await cr(), 200);
    assert.equal((await now).method, 'DownloadResponse');
    assert.equal((await later).method, 'DownloadResponse');
    assert.deepEqual(
      queued(await inSession).map((q) => [q.key, q.state]),
      [
        ['now', '1'],
        ['later', '1'],
      ],
      'accepted in this session, none started before it ends',
    );
    await waitFor(() => files.held.length === 1); // "now" is being fetched

    const listed = acs.rpc(QUEUED);
    const busy = acs.rpc(cancel('now'));
    const canceled = acs.rpc(cancel('later'));
    const unknown = acs.rpc(cancel('never-asked'));
    const after = acs.rpc(QUEUED);
    assert.equal(await cr(), 200);
    assert.deepEqual(queued(await listed), [
      { key: 'now', state: '2', isDownload: '1', fileType: CONFIG, fileSize: '17' },
      { key: 'later', state: '1', isDownload: '1', fileType: CONFIG, fileSize: '17' },
    ]);
    assert.equal(txt(faultOf(await busy)!.FaultCode), '9021', 'a transfer in progress is not canceled');
    assert.equal((await canceled).method, 'CancelTransferResponse');
    assert.equal(txt(faultOf(await unknown)!.FaultCode), '9003');
    assert.deepEqual(
      queued(await after).map((q) => q.key),
      ['now'],
    );

    files.held.shift()!();
    await acs.until(() => completes(acs).length === 1);
    assert.deepEqual(completes(acs), [{ key: 'now', code: 0 }]);
    assert.equal(agent.dm.value(`${MS}PeriodicInformInterval`), '4321');
    await acs.until(() => acs.sessionsEnded >= acs.informs.length);
    await agent.cwmpClient!.idle();
    const empty = acs.rpc(QUEUED);
    assert.equal(await cr(), 200);
    assert.deepEqual(queued(await empty), [], 'a transfer reported leaves the queue');

    // A Download an hour away is still queued after a restart.
    const persist = acs.rpc(download('persist', files.url('config.json'), 3600));
    assert.equal(await cr(), 200);
    assert.equal((await persist).method, 'DownloadResponse');
    await acs.until(() => acs.sessionsEnded >= acs.informs.length);
    await agent.stop();
    const again = await boot();
    await acs.until(
      () =>
        acs.informs.some((i) => i.events.some((e) => e.code === '1 BOOT')) && acs.sessionsEnded >= acs.informs.length,
    );
    await again.cwmpClient!.idle();
    const restarted = acs.rpc(QUEUED);
    const gone = acs.rpc(cancel('persist'));
    assert.equal(await cr(again), 200);
    assert.deepEqual(
      queued(await restarted).map((q) => [q.key, q.state]),
      [['persist', '1']],
    );
    assert.equal((await gone).method, 'CancelTransferResponse');
    assert.equal(completes(acs).length, 1, 'a canceled transfer is never reported');
  },
);

test('Upload: the configuration file PUT to an HTTP server, TransferComplete with "M Upload"; 9012', async (t) => {
  const files = await stallingServer();
  t.after(() => files.close());
  const { agent, acs } = await setup(t, { [`${MS}PeriodicInformInterval`]: '777' });
  await acs.until(() => acs.sessionsEnded >= 1);
  const cr = () => TestAcs.connectionRequest(agent.dm.value(`${MS}ConnectionRequestURL`), 'acs', 'cr-secret');

  const ok = acs.rpc(upload('up-1', '1 Vendor Configuration File', files.url('backup.json'), 'u', 'p'));
  const denied = acs.rpc(upload('up-2', '1 Vendor Configuration File', files.url('denied')));
  const ftp = acs.rpc(upload('up-3', '1 Vendor Configuration File', 'ftp://127.0.0.1/x'));
  const badType = acs.rpc(upload('up-4', '9 Nothing', files.url('x')));
  const log = acs.rpc(upload('up-5', '2 Vendor Log File', files.url('agent.log')));
  assert.equal(await cr(), 200);
  const answer = await ok;
  assert.equal(answer.method, 'UploadResponse');
  assert.equal(txt(answer.body.Status), '1', 'not done yet: TransferComplete follows');
  assert.equal((await denied).method, 'UploadResponse');
  assert.equal(txt(faultOf(await ftp)!.FaultCode), '9013');
  assert.equal(txt(faultOf(await badType)!.FaultCode), '9003');
  assert.equal((await log).method, 'UploadResponse');

  await acs.until(() => completes(acs).length === 3);
  const byKey = Object.fromEntries(completes(acs).map((c) => [c.key, c.code]));
  assert.deepEqual(byKey, { 'up-1': 0, 'up-2': 9012, 'up-5': 0 });
  const logFile = files.puts.find((p) => p.url === '/agent.log')!.body;
  assert.match(logFile, /^\S+Z session done \{"events":\[[^\]]*"1 BOOT"/m, 'the first session is in the log');
  assert.match(logFile, /upload started \{"commandKey":"up-5","fileType":"2 Vendor Log File"\}/);
  const put = files.puts.find((p) => p.url === '/backup.json')!;
  assert.equal(put.auth, `Basic ${Buffer.from('u:p').toString('base64')}`);
  const config = JSON.parse(put.body) as Record<string, string>;
  assert.equal(config[`${MS}PeriodicInformInterval`], '777');
  assert.ok(!(`${MS}Password` in config), 'no secured value leaves the device');
  assert.ok(!('Device.DeviceInfo.SerialNumber' in config), 'only what can be set back');
  const informed = acs.informs.flatMap((i) => i.events);
  assert.ok(informed.some((e) => e.code === 'M Upload' && e.key === 'up-1'));
  assert.ok(informed.some((e) => e.code === '7 TRANSFER COMPLETE'));
});

test('at most 16 transfers queued (what GetAllQueuedTransfers lists), whatever MaxRequestsInFlight', async (t) => {
  const { agent, acs } = await setup(t, { [`${MS}X_CPE-AGENT_MaxRequestsInFlight`]: '40' });
  await acs.until(() => acs.sessionsEnded >= 1);
  const answers = Array.from({ length: 17 }, (_, i) =>
    acs.rpc(download(`d${i}`, 'http://127.0.0.1:9/never.json', 3600)),
  );
  const listed = acs.rpc(QUEUED);
  assert.equal(await TestAcs.connectionRequest(agent.dm.value(`${MS}ConnectionRequestURL`), 'acs', 'cr-secret'), 200);
  const methods = await Promise.all(answers.map(async (a) => (await a).method));
  assert.deepEqual(methods.slice(0, 16), Array(16).fill('DownloadResponse'));
  assert.equal(txt(faultOf(await answers[16]!)!.FaultCode), '9004');
  assert.equal(queued(await listed).length, 16);
});

test(
  'GetAllQueuedTransfers with an Upload queued beside a Download: each listed in order, the Upload with ' +
    'IsDownload 0; the Upload canceled is never made',
  async (t) => {
    const files = await stallingServer();
    t.after(() => files.close());
    const { agent, acs } = await setup(t);
    await acs.until(() => acs.sessionsEnded >= 1);
    const cr = () => TestAcs.connectionRequest(agent.dm.value(`${MS}ConnectionRequestURL`), 'acs', 'cr-secret');
    const laterUpload =
      `<cwmp:Upload><CommandKey>up-later</CommandKey><FileType>1 Vendor Configuration File</FileType>` +
      `<URL>${files.url('backup.json')}</URL><Username/><Password/><DelaySeconds>3600</DelaySeconds></cwmp:Upload>`;

    const down = acs.rpc(download('down-later', files.url('config.json'), 3600));
    const up = acs.rpc(laterUpload);
    const inSession = acs.rpc(QUEUED);
    assert.equal(await cr(), 200);
    assert.equal((await down).method, 'DownloadResponse');
    assert.equal((await up).method, 'UploadResponse');
    const both = [
      { key: 'down-later', state: '1', isDownload: '1', fileType: CONFIG, fileSize: '17' },
      { key: 'up-later', state: '1', isDownload: '0', fileType: '1 Vendor Configuration File', fileSize: '0' },
    ];
    assert.deepEqual(queued(await inSession), both, 'both not started, in the order they came');
    await acs.until(() => acs.sessionsEnded >= acs.informs.length);
    await agent.cwmpClient!.idle();

    const listed = acs.rpc(QUEUED);
    const canceled = acs.rpc(cancel('up-later'));
    const after = acs.rpc(QUEUED);
    assert.equal(await cr(), 200);
    assert.deepEqual(queued(await listed), both, 'still queued in a later session');
    assert.equal((await canceled).method, 'CancelTransferResponse', 'an Upload not started is canceled');
    assert.deepEqual(
      queued(await after).map((q) => [q.key, q.isDownload]),
      [['down-later', '1']],
    );
    await acs.until(() => acs.sessionsEnded >= acs.informs.length);
    assert.deepEqual(files.puts, [], 'nothing uploaded');
    assert.deepEqual(completes(acs), [], 'nothing reported');
  },
);
