// A package made with `du pack`, signed with `du sign` and checked with `du verify`, then installed by a
// controller over USP (the agent's own endpoint, in process) into an EE that requires signatures and
// trusts the signer's certificate (Device.Security.Certificate from certs/, ExecEnv.Signers): accepted;
// tampered, unsigned, signed by an unknown key, or with credentials in the Signature URL: refused.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Agent } from '../../src/agent.js';
import type { Change } from '../../src/dm/change-feed.js';
import { ensureRoles } from '../../src/usp/access.js';
import { silentLogger } from '../../src/util/logger.js';
import { responseOf } from '../fixtures/usp-answer.js';
import { answerOf } from '../fixtures/usp-in-process.js';
import { repoRoot, requireTool, tempDir, usp, waitFor } from '../helpers.js';
import { makeSigner } from '../signing-certs.js';
import { ControllerSim } from '../usp/controller-sim.js';

const bin = join(repoRoot, 'dist/src/cli/main.js');
const cli = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
const SM = 'Device.SoftwareModules.';
const LA = 'Device.LocalAgent.';

function app(dir: string, name: string, version: string): string {
  const src = join(dir, `${name}-${version}`);
  mkdirSync(join(src, 'bin'), { recursive: true });
  writeFileSync(
    join(src, 'manifest.json'),
    JSON.stringify({ name, version, vendor: 'example.org', services: [{ name: 'svc', command: 'bin/run' }] }),
  );
  writeFileSync(join(src, 'bin/run'), '#!/bin/sh\ntrap "exit 0" TERM\nwhile true; do sleep 0.2; done\n', {
    mode: 0o755,
  });
  const out = join(dir, `${name}-${version}.tar.gz`);
  const p = cli('du', 'pack', src, '-o', out);
  assert.equal(p.status, 0, p.stderr);
  return out;
}

test('du sign and du verify', (t) => {
  if (!requireTool(t, 'openssl')) return;
  const { dir, cleanup } = tempDir('cpe-dusign-');
  try {
    const signer = makeSigner(dir, 'vendor', 'ec');
    const other = makeSigner(dir, 'other', 'rsa');
    const pkg = app(dir, 'hello', '1.0');
    const s = cli('du', 'sign', '--key', signer.keyFile, '--cert', signer.certFile, pkg, '--data-url');
    assert.equal(s.status, 0, s.stderr);
    const [line, dataUrl] = s.stdout.trim().split('\n');
    assert.match(line!, /hello-1\.0\.tar\.gz\.sig: signature of/);
    assert.equal(
      Buffer.from(dataUrl!.replace('data:application/json;base64,', ''), 'base64').toString(),
      readFileSync(`${pkg}.sig`, 'utf8'),
    );
    const ok = cli('du', 'verify', '--cert', signer.certFile, pkg);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /signed by CN=vendor/);
    const wrong = cli('du', 'verify', '--cert', other.certFile, pkg);
    assert.equal(wrong.status, 1);
    assert.match(wrong.stderr, /not one of the EE's Signers/);
    const tampered = join(dir, 'tampered.tar.gz');
    writeFileSync(tampered, Buffer.concat([readFileSync(pkg), Buffer.from([0])]));
    const bad = cli('du', 'verify', '--cert', signer.certFile, tampered, '-s', `${pkg}.sig`);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /tampered/);
    assert.match(cli('du', 'sign', pkg).stderr, /sign needs --key KEY\.pem --cert CERT\.pem PACKAGE/);
    const mismatch = cli('du', 'sign', '--key', other.keyFile, '--cert', signer.certFile, pkg, '-o', join(dir, 'x'));
    assert.equal(mismatch.status, 2);
    assert.match(mismatch.stderr, /does not belong to the certificate/);
  } finally {
    cleanup();
  }
});

test('over USP: a signed DU is installed where signatures are required; the others get 7036 or 7027', async (t) => {
  if (!requireTool(t, 'openssl')) return;
  const { dir, cleanup } = tempDir('cpe-dusign-usp-');
  const certs = join(dir, 'state', 'certs');
  mkdirSync(certs, { recursive: true });
  const signer = makeSigner(dir, 'vendor', 'ed25519');
  const stranger = makeSigner(dir, 'stranger', 'ec');
  copyFileSync(signer.certFile, join(certs, 'vendor.pem'));
  writeFileSync(
    join(dir, 'defaults.json'),
    JSON.stringify({
      [`${LA}EndpointID`]: 'os::agent',
      [`${LA}Controller.1.EndpointID`]: 'proto::ctl',
      [`${LA}Controller.1.Enable`]: 'true',
    }),
  );
  const good = app(dir, 'good', '1.0');
  const good2 = app(dir, 'good', '2.0');
  const good3 = app(dir, 'good', '3.0');
  const tampered = app(dir, 'tampered', '1.0');
  const unsigned = app(dir, 'unsigned', '1.0');
  const foreign = app(dir, 'foreign', '1.0');
  const sigOf = (pkg: string, who = signer) => {
    const r = cli('du', 'sign', '--key', who.keyFile, '--cert', who.certFile, pkg, '--data-url');
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim().split('\n')[1]!;
  };
  const goodSig = sigOf(good);
  const good2Sig = sigOf(good2);
  const tamperedSig = sigOf(tampered);
  writeFileSync(tampered, Buffer.concat([readFileSync(tampered), Buffer.alloc(512)]));
  const foreignSig = sigOf(foreign, stranger);

  const agent = new Agent({
    stateDir: join(dir, 'state'),
    defaultsFile: join(dir, 'defaults.json'),
    logger: silentLogger,
    settings: { [`${SM}X_CPE-AGENT_FileURLDirectory`]: dir },
  });
  t.after(async () => {
    await agent.containerEngine?.stopAll();
    await agent.stop();
    cleanup();
  });
  await agent.start();
  const dm = agent.dm;
  dm.update(`${LA}Controller.1.`, { AssignedRole: ensureRoles(dm).full.slice(0, -1) });
  const events: Record<string, string>[] = [];
  const off = dm.feed.subscribe(
    `${SM}DUStateChange!`,
    (c: Change) => c.kind === 'event' && events.push({ ...c.args }),
    ['event'],
  );
  t.after(off);
  const ctl = new ControllerSim('proto::ctl', 'os::agent');
  const request = async (kind: 'set' | 'operate', type: 'SET' | 'OPERATE', body: object) => {
    const out = await agent.uspAgent!.endpoint.receive(ctl.request(kind, type, body as never).bytes);
    assert.ok(out?.reply, `no answer to ${kind}`);
    return answerOf(out.reply);
  };
  const certRow = dm.get('Device.Security.Certificate.', usp, 2).find((o) => o.params.Subject === 'CN=vendor')!.path;
  const set = await request('set', 'SET', {
    allow_partial: false,
    update_objs: [
      {
        obj_path: `${SM}ExecEnv.1.`,
        param_settings: [
          { param: 'Signers', value: certRow.slice(0, -1), required: true },
          { param: 'X_CPE-AGENT_SignaturePolicy', value: 'Required', required: true },
        ],
      },
    ],
  });
  assert.equal(responseOf(set, 'set_resp').updated_obj_results[0]!.oper_status?.oper_success !== undefined, true);

  const install = async (key: string, pkg: string, signature?: string) => {
    const before = events.length;
    const answer = await request('operate', 'OPERATE', {
      command: `${SM}InstallDU()`,
      command_key: key,
      send_resp: true,
      input_args: { URL: `file://${pkg}`, ...(signature ? { Signature: signature } : {}) },
    });
    assert.match(responseOf(answer, 'operate_resp').operation_results[0]!.req_obj_path ?? '', /Request\.\d+/);
    await waitFor(() => events.length > before);
    const ev = events[events.length - 1]!;
    return { state: ev.CurrentState, code: ev['Fault.FaultCode'], message: ev['Fault.FaultString'] };
  };
  assert.deepEqual(await install('good', good, goodSig), { state: 'Installed', code: '0', message: '' });
  const t1 = await install('tampered', tampered, tamperedSig);
  assert.deepEqual([t1.state, t1.code], ['Failed', '7036']);
  assert.match(t1.message!, /tampered/);
  const u = await install('unsigned', unsigned);
  assert.deepEqual([u.state, u.code], ['Failed', '7036']);
  assert.match(u.message!, /requires signed DUs/);
  const f = await install('foreign', foreign, foreignSig);
  assert.deepEqual([f.state, f.code], ['Failed', '7036']);
  assert.match(f.message!, /not one of the EE's Signers/);
  assert.deepEqual(
    agent.containerEngine!.deploymentUnits().map((d) => d.manifest.name),
    ['good'],
    'nothing refused was installed',
  );

  // Update() checks the same way, against the Signers of the DU's EE
  const update = async (url: string, signature?: string) => {
    const before = events.length;
    const du = dm.get(`${SM}DeploymentUnit.`, usp, 2).find((o) => o.params.Name === 'good')!.path;
    await dm.operate(`${du}Update()`, { URL: `file://${url}`, ...(signature ? { Signature: signature } : {}) }, usp);
    await waitFor(() => events.length > before);
    return events[events.length - 1]!;
  };
  const unsignedUpdate = await update(good3);
  assert.deepEqual([unsignedUpdate['Fault.FaultCode'], unsignedUpdate.Version], ['7036', '1.0']);
  const signedUpdate = await update(good2, good2Sig);
  assert.deepEqual([signedUpdate['Fault.FaultCode'], signedUpdate.Version], ['0', '2.0']);

  // Credentials in the Signature URL: the command fails before the engine hears of it
  const [op] = await dm.operate(
    `${SM}InstallDU()`,
    { URL: `file://${unsigned}`, Signature: 'https://user:pw@127.0.0.1/x.sig' },
    usp,
  );
  assert.equal(op?.kind, 'async');
  const done = op?.kind === 'async' ? await op.done : undefined;
  assert.equal(done?.ok, false);
  if (done && !done.ok) {
    assert.equal(done.code, 7027);
    assert.match(done.message, /userinfo/);
  }

  // Optional again: the unsigned DU installs; a signature given is still checked
  dm.update(`${SM}ExecEnv.1.`, { 'X_CPE-AGENT_SignaturePolicy': 'Optional' }, 'test');
  assert.equal((await install('unsigned-2', unsigned)).state, 'Installed');
  assert.equal((await install('foreign-2', foreign, foreignSig)).code, '7036');
});
