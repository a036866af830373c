// Hostile download servers and package URLs. A server that accepts and never answers, one that stalls
// after its headers, one at a byte a second, one that never begins TLS: each install ends in a
// timeout fault within the configured bound while another DU installs meanwhile. Credentials across
// redirects, the redirect limit, certificates that do not verify, and file: URLs, which USP
// controllers and the ACS may use only inside the directory the operator named.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { join } from 'node:path';
import { test } from 'node:test';
import { duFaultOf } from '../../src/cwmp/faults.js';
import { type DuResult, Engine, type EngineOptions } from '../../src/engine/engine.js';
import { EngineCode } from '../../src/engine/errors.js';
import { uspCodeOf } from '../../src/model/engine-faults.js';
import { trustedCAs } from '../../src/util/ca-store.js';
import { silentLogger } from '../../src/util/logger.js';
import { list, type Message, type Node, TestAcs, txt } from '../cwmp/acs.js';
import { MS, setup } from '../cwmp/harness.js';
import { manifest, tarGz } from '../engine/tar-builder.js';
import { requireTool, tempDir, usp, waitFor } from '../helpers.js';
import { headersThenStall, httpServer, oneBytePerSecond, silentServer } from '../hostile-servers.js';
import { serveFiles } from '../http-files.js';

/** The fault an ACS gets for an engine failure: through the model's USP code, then CWMP's table. */
const cwmpFault = (f: NonNullable<DuResult['fault']>) => duFaultOf({ code: uspCodeOf(f.code), transfer: f.transfer });

const LIMITS = { connectTimeoutMs: 1000, idleTimeoutMs: 2000, deadlineMs: 4000, maxRedirects: 3 };
/** undici checks its timers twice a second, and other tests share the machine. */
const SLACK_MS = 3000;
/** Long enough for the bounds above, short enough that a download that never ends fails the test. */
const TIMEOUT = { timeout: 60_000 };

const SERVICE = '#!/bin/sh\ntrap "exit 0" TERM\nwhile true; do sleep 0.1; done\n';
const pkg = (name: string, version = '1.0') =>
  tarGz([
    { name: 'manifest.json', data: manifest({ name, version, services: [{ name: 'svc', command: 'bin/run.sh' }] }) },
    { name: 'bin/run.sh', data: SERVICE, mode: 0o755 },
  ]);

async function startEngine(
  t: { after: (fn: () => Promise<void>) => void },
  extra: Partial<EngineOptions> = {},
): Promise<Engine> {
  const { dir, cleanup } = tempDir('cpe-hostile-dl-');
  const engine = new Engine({ stateDir: dir, logger: silentLogger, shutdownGraceMs: 1000, download: LIMITS, ...extra });
  t.after(async () => {
    await engine.stopAll();
    cleanup();
  });
  await engine.start();
  return engine;
}

async function closing<T extends { close(): Promise<void> }>(
  t: { after: (fn: () => Promise<void>) => void },
  server: Promise<T>,
): Promise<T> {
  const s = await server;
  t.after(() => s.close());
  return s;
}

/** A stalled install, and at once another from a good server: both results, in the order they ended. */
async function stalledWhileAnotherInstalls(engine: Engine, stalledUrl: string, goodUrl: string) {
  const ended: string[] = [];
  const t0 = performance.now();
  const stalled = engine.install({ url: stalledUrl, ee: 'native', requestTag: 'stalled' }).then((r) => {
    ended.push('stalled');
    return { r, ms: performance.now() - t0 };
  });
  const other = engine.install({ url: goodUrl, ee: 'native', requestTag: 'other' }).then((r) => {
    ended.push('other');
    return r;
  });
  const [s, o] = await Promise.all([stalled, other]);
  return { stalled: s.r, ms: s.ms, other: o, ended };
}

function assertStalledFault(
  got: Awaited<ReturnType<typeof stalledWhileAnotherInstalls>>,
  bound: number,
  transfer: string,
  message: RegExp,
  cwmp: number,
): void {
  assert.equal(got.other.fault, undefined, got.other.fault?.message);
  assert.deepEqual(got.ended, ['other', 'stalled'], 'the other install did not wait for the stalled download');
  assert.equal(got.stalled.fault?.code, EngineCode.ServerUnreachable, got.stalled.fault?.message);
  assert.equal(got.stalled.fault?.transfer, transfer);
  assert.match(got.stalled.fault!.message, message);
  assert.equal(cwmpFault(got.stalled.fault!), cwmp);
  assert.ok(
    got.ms >= bound - 100 && got.ms < bound + SLACK_MS,
    `failed after ${Math.round(got.ms)} ms; the bound is ${bound} ms`,
  );
}

test(
  'a server that accepts and never answers: the install fails once the idle timeout passes (7033, CWMP 9015); ' +
    'another DU installs meanwhile',
  TIMEOUT,
  async (t) => {
    const good = await closing(t, serveFiles({ 'a.tgz': pkg('a') }));
    const silent = await closing(t, silentServer());
    const engine = await startEngine(t);
    const got = await stalledWhileAnotherInstalls(engine, silent.url('app.tgz'), good.url('a.tgz'));
    assertStalledFault(got, LIMITS.idleTimeoutMs, 'unreachable', /sent no answer for 2 s/, 9015);
    assert.deepEqual(
      engine.deploymentUnits().map((d) => d.manifest.name),
      ['a'],
    );
  },
);

test(
  'a server that sends its headers, then nothing: the install fails once the idle timeout passes (7033, CWMP ' +
    '9017); another DU installs meanwhile',
  TIMEOUT,
  async (t) => {
    const good = await closing(t, serveFiles({ 'a.tgz': pkg('a') }));
    const stall = await closing(t, headersThenStall());
    const engine = await startEngine(t);
    const got = await stalledWhileAnotherInstalls(engine, stall.url('app.tgz'), good.url('a.tgz'));
    assertStalledFault(got, LIMITS.idleTimeoutMs, 'incomplete', /sent nothing for 2 s/, 9017);
  },
);

test(
  'a server at one byte a second, never silent for long: the deadline ends the install (7033, CWMP 9017); another ' +
    'DU installs meanwhile',
  TIMEOUT,
  async (t) => {
    const good = await closing(t, serveFiles({ 'a.tgz': pkg('a') }));
    const slow = await closing(t, oneBytePerSecond());
    const engine = await startEngine(t);
    const got = await stalledWhileAnotherInstalls(engine, slow.url('app.tgz'), good.url('a.tgz'));
    assertStalledFault(got, LIMITS.deadlineMs, 'incomplete', /did not finish within 4 s/, 9017);
  },
);

test(
  'an https server that never begins the TLS handshake: the connect timeout ends the install (7033, CWMP 9015); ' +
    'another DU installs meanwhile',
  TIMEOUT,
  async (t) => {
    const good = await closing(t, serveFiles({ 'a.tgz': pkg('a') }));
    const silent = await closing(t, silentServer('https'));
    const engine = await startEngine(t);
    const got = await stalledWhileAnotherInstalls(engine, silent.url('app.tgz'), good.url('a.tgz'));
    assertStalledFault(got, LIMITS.connectTimeoutMs, 'unreachable', /could not be connected to within 1 s/, 9015);
  },
);

test(
  'a stalled update holds only its own DU: others install meanwhile, an uninstall of the same DU waits its turn, ' +
    'the old version runs on',
  TIMEOUT,
  async (t) => {
    const good = await closing(t, serveFiles({ 'a.tgz': pkg('a'), 'b.tgz': pkg('b') }));
    const stall = await closing(t, headersThenStall());
    const engine = await startEngine(t);
    const a = await engine.install({ url: good.url('a.tgz'), ee: 'native', requestTag: 'a' });
    assert.equal(a.fault, undefined, a.fault?.message);
    await waitFor(() => engine.unitState(a.euids[0]!)?.status === 'Active');
    const pid = engine.unitState(a.euids[0]!)!.pid;
    const ended: string[] = [];
    const update = engine.update(a.duid!, { url: stall.url('a-2.tgz'), requestTag: 'u' }).then((r) => {
      ended.push('update');
      return r;
    });
    const uninstall = engine.uninstall(a.duid!, 'x').then((r) => {
      ended.push('uninstall');
      return r;
    });
    const b = await engine.install({ url: good.url('b.tgz'), ee: 'native', requestTag: 'b' });
    ended.push('install b');
    assert.equal(b.fault, undefined, b.fault?.message);
    const updated: DuResult = await update;
    assert.equal(updated.fault?.code, EngineCode.ServerUnreachable);
    assert.equal(engine.unitState(a.euids[0]!)?.pid, pid, 'the old version was never stopped');
    assert.equal((await uninstall).fault, undefined);
    assert.deepEqual(ended, ['install b', 'update', 'uninstall']);
  },
);

test(
  'credentials go only to the origin they were given for: a redirect to another port goes without them, one on ' +
    'the same server keeps them',
  TIMEOUT,
  async (t) => {
    const basic = `Basic ${Buffer.from('operator:s3cret').toString('base64')}`;
    const body = pkg('a');
    const seenElsewhere: (string | undefined)[] = [];
    const elsewhere = await closing(
      t,
      httpServer((req, res) => {
        seenElsewhere.push(req.headers.authorization);
        if (req.headers.authorization) {
          res.writeHead(403).end();
          return;
        }
        res.writeHead(200, { 'content-length': body.length }).end(body);
      }),
    );
    const seenHere: { url: string; auth: string | undefined }[] = [];
    const here = await closing(
      t,
      httpServer((req, res) => {
        seenHere.push({ url: req.url!, auth: req.headers.authorization });
        if (req.headers.authorization !== basic) {
          res.writeHead(401).end();
          return;
        }
        if (req.url === '/away') res.writeHead(302, { location: elsewhere.url('a.tgz') }).end();
        else if (req.url === '/near') res.writeHead(301, { location: '/a.tgz' }).end();
        else res.writeHead(200, { 'content-length': body.length }).end(body);
      }),
    );
    const engine = await startEngine(t);
    const away = await engine.install({
      url: here.url('away'),
      username: 'operator',
      password: 's3cret',
      ee: 'native',
      requestTag: 'away',
    });
    assert.equal(away.fault, undefined, away.fault?.message);
    assert.deepEqual(seenElsewhere, [undefined], 'the other origin never saw the credentials');
    await engine.uninstall(away.duid!, 'x');
    const near = await engine.install({
      url: here.url('near'),
      username: 'operator',
      password: 's3cret',
      ee: 'native',
      requestTag: 'near',
    });
    assert.equal(near.fault, undefined, near.fault?.message);
    assert.deepEqual(seenHere.slice(1), [
      { url: '/near', auth: basic },
      { url: '/a.tgz', auth: basic },
    ]);
  },
);

test(
  'redirects: at most the configured number are followed, then a fault that says so; a redirect to a file: URL is ' +
    'never followed',
  TIMEOUT,
  async (t) => {
    let requests = 0;
    const loop = await closing(
      t,
      httpServer((req, res) => {
        requests++;
        if (req.url === '/to-file') {
          res.writeHead(302, { location: 'file:///etc/passwd' }).end();
          return;
        }
        res.writeHead(302, { location: `/hop${requests}` }).end();
      }),
    );
    const engine = await startEngine(t);
    const r = await engine.install({ url: loop.url('start'), ee: 'native', requestTag: 'loop' });
    assert.equal(r.fault?.code, EngineCode.ServerUnreachable);
    assert.match(r.fault!.message, /more than 3 redirects \(the limit\)/);
    assert.equal(requests, 1 + LIMITS.maxRedirects);
    const toFile = await engine.install({ url: loop.url('to-file'), ee: 'native', requestTag: 'to-file' });
    assert.match(toFile.fault?.message ?? '', /redirects to a file: URL; only http and https are followed/);
    assert.equal(cwmpFault(toFile.fault!), 9013);
  },
);

test(
  'https: a self-signed certificate is refused (7034 server insecure, CWMP 9012); trusted once its certificate is ' +
    'given as the CA; the system CAs stay trusted',
  TIMEOUT,
  async (t) => {
    if (!requireTool(t, 'openssl')) return;
    const { dir, cleanup } = tempDir('cpe-tls-');
    t.after(async () => cleanup());
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        'key.pem',
        '-out',
        'cert.pem',
        '-subj',
        '/CN=127.0.0.1',
        '-days',
        '2',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { cwd: dir, stdio: 'ignore' },
    );
    const body = pkg('a');
    const server = createHttpsServer(
      { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) },
      (_req, res) => res.writeHead(200, { 'content-length': body.length }).end(body),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    t.after(
      () =>
        new Promise((r) => {
          server.closeAllConnections();
          server.close(() => r(undefined));
        }),
    );
    const url = `https://127.0.0.1:${(server.address() as { port: number }).port}/a.tgz`;

    const refusing = await startEngine(t);
    const refused = await refusing.install({ url, ee: 'native', requestTag: 'tls' });
    assert.equal(refused.fault?.code, EngineCode.ServerInsecure, refused.fault?.message);
    assert.equal(refused.fault?.transfer, 'insecure');
    assert.match(refused.fault!.message, /certificate that does not verify \(DEPTH_ZERO_SELF_SIGNED_CERT\)/);
    assert.equal(cwmpFault(refused.fault!), 9012);
    assert.equal(refusing.deploymentUnits().length, 0);

    const trusting = await startEngine(t, { caFile: join(dir, 'cert.pem') });
    const accepted = await trusting.install({ url, ee: 'native', requestTag: 'tls' });
    assert.equal(accepted.fault, undefined, accepted.fault?.message);

    const system = '/etc/ssl/certs/ca-certificates.crt';
    const trusted = trustedCAs(join(dir, 'cert.pem')).join('\n');
    assert.ok(trusted.includes(readFileSync(join(dir, 'cert.pem'), 'utf8')), "the operator's CA");
    if (existsSync(system)) assert.ok(trusted.includes(readFileSync(system, 'utf8')), 'the system bundle');
  },
);

// ChangeDUState helpers, as the ACS sends and reads them.
const cwmpInstall = (url: string) =>
  `<Operations xsi:type="cwmp:InstallOpStruct"><URL>${url}</URL><Username/><Password/><ExecutionEnvRef/></Operations>`;
const cds = (key: string, ...ops: string[]) =>
  `<cwmp:ChangeDUState>${ops.join('')}<CommandKey>${key}</CommandKey></cwmp:ChangeDUState>`;
const faultCodes = (m: Message) =>
  list(m.body.Results as Node | Node[]).map((r) => Number(txt((r.Fault as Node).FaultCode)));

test(
  'file: URLs: refused over USP and CWMP while the operator has named no directory; accepted inside it; refused ' +
    'by a name outside it or a link leading out',
  TIMEOUT,
  async (t) => {
    const { dir: files, cleanup } = tempDir('cpe-file-urls-');
    t.after(async () => cleanup());
    const allowed = join(files, 'allowed'),
      outside = join(files, 'outside');
    mkdirSync(allowed);
    mkdirSync(outside);
    for (const name of ['app-u', 'app-c']) writeFileSync(join(allowed, `${name}.tgz`), pkg(name));
    writeFileSync(join(outside, 'secret.tgz'), pkg('secret'));
    symlinkSync(join(outside, 'secret.tgz'), join(allowed, 'link.tgz'));
    const fileUrl = (path: string) => `file://${path}`;

    const { agent, acs } = await setup(t);
    await acs.until(() => acs.sessionsEnded >= 1);
    const cr = () => TestAcs.connectionRequest(agent.dm.value(`${MS}ConnectionRequestURL`), 'acs', 'cr-secret');
    const completes = () => acs.requests.filter((r) => r.method === 'DUStateChangeComplete');
    const uspInstall = async (url: string) => {
      const [op] = await agent.dm.operate('Device.SoftwareModules.InstallDU()', { URL: url }, usp);
      assert.equal(op?.kind, 'async');
      return (op?.kind === 'async' ? await op.done : undefined) as { ok: boolean; code?: number; message?: string };
    };

    // Nothing named: both protocols are refused, whatever the file.
    const uspRefused = await uspInstall(fileUrl(join(allowed, 'app-u.tgz')));
    assert.equal(uspRefused.ok, false);
    assert.equal(uspRefused.code, 7004);
    assert.match(uspRefused.message ?? '', /file: URLs are refused: the operator has named no directory for them/);
    const first = acs.rpc(cds('f1', cwmpInstall(fileUrl(join(allowed, 'app-c.tgz')))));
    assert.equal(await cr(), 200);
    assert.equal((await first).method, 'ChangeDUStateResponse');
    await acs.until(() => completes().length === 1);
    assert.deepEqual(faultCodes(completes()[0]!), [9013], 'unsupported protocol for file transfer');

    // The operator names a directory (a relative one is refused).
    const setDir = (value: string) =>
      agent.dm.set(
        [{ objPath: 'Device.SoftwareModules.', params: [{ name: 'X_CPE-AGENT_FileURLDirectory', value }] }],
        usp,
      );
    assert.throws(() => setDir('relative/dir'), /not an absolute path/);
    setDir(allowed);
    assert.equal((await uspInstall(fileUrl(join(allowed, 'app-u.tgz')))).ok, true);
    for (const [url, why] of [
      [fileUrl(join(allowed, 'link.tgz')), /leads outside/],
      [fileUrl(join(outside, 'secret.tgz')), /is outside/],
      [`${fileUrl(allowed)}/%2e%2e/outside/secret.tgz`, /is outside/],
    ] as const) {
      const r = await uspInstall(url);
      assert.deepEqual([r.ok, r.code], [false, 7004], url);
      assert.match(r.message ?? '', why, url);
    }
    const second = acs.rpc(
      cds('f2', cwmpInstall(fileUrl(join(allowed, 'app-c.tgz'))), cwmpInstall(fileUrl(join(allowed, 'link.tgz')))),
    );
    assert.equal(await cr(), 200);
    assert.equal((await second).method, 'ChangeDUStateResponse');
    await acs.until(() => completes().length === 2);
    assert.deepEqual(faultCodes(completes()[1]!), [0, 9003], 'inside: installed; a link out: invalid arguments');
    assert.deepEqual(
      agent
        .containerEngine!.deploymentUnits()
        .map((d) => d.manifest.name)
        .sort(),
      ['app-c', 'app-u'],
      'nothing from outside was installed',
    );
  },
);
