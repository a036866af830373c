// `cpe-agent ctl`, each action as people run it, against `cpe-agent run --embedded` (its broker, its
// defaults): what it prints and its exit code. operate --wait on an async command returns with the
// command's output arguments.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { manifest, tarGz } from '../engine/tar-builder.js';
import { repoRoot, tempDir, waitFor } from '../helpers.js';
import { type FileServer, serveFiles } from '../http-files.js';

const bin = join(repoRoot, 'dist/src/cli/main.js');
const ENDPOINT = 'os::00D0F1-Agent-EMBEDDED0001';
const SM = 'Device.SoftwareModules.';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

let agent: ChildProcess;
let url = '';
let files: FileServer;
const { dir, cleanup } = tempDir('cpe-ctl-');

before(async () => {
  files = await serveFiles({
    'app.tgz': tarGz([
      {
        name: 'manifest.json',
        data: manifest({
          name: 'ctl-app',
          version: '1.2',
          services: [{ name: 'svc', command: 'bin/run.sh', autostart: false }],
        }),
      },
      { name: 'bin/run.sh', data: '#!/bin/sh\nsleep 100\n', mode: 0o755 },
    ]),
  });
  agent = spawn(process.execPath, [bin, 'run', '--embedded', '--state-dir', join(dir, 'state'), '--broker-port', '0'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let out = '';
  agent.stdout!.on('data', (d) => {
    out += d;
  });
  await waitFor(() => out.includes('USP MQTT MTP up'));
  url = /MQTT broker\s+: (mqtt:\/\/127\.0\.0\.1:\d+)/.exec(out)![1]!;
});

after(async () => {
  agent.kill('SIGTERM');
  await new Promise((r) => agent.once('exit', r));
  await files.close();
  cleanup();
});

/** ctl with its defaults but the broker's URL; resolves when it exits. */
function ctl(...args: string[]): Promise<Run> {
  return outcome(start(...args));
}
function start(...args: string[]): ChildProcess {
  return spawn(process.execPath, [bin, 'ctl', '--url', url, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}
function outcome(c: ChildProcess): Promise<Run> {
  const r: Run = { code: null, stdout: '', stderr: '' };
  c.stdout!.on('data', (d) => {
    r.stdout += d;
  });
  c.stderr!.on('data', (d) => {
    r.stderr += d;
  });
  return new Promise((resolve) =>
    c.once('exit', (code) => {
      r.code = code;
      resolve(r);
    }),
  );
}

test('ctl get: one line per parameter, --json the USP response; a bad path exits 1', async () => {
  const r = await ctl('get', 'Device.LocalAgent.EndpointID');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `Device.LocalAgent.EndpointID = ${ENDPOINT}\n`);
  const j = await ctl('get', '--json', 'Device.DeviceInfo.Manufacturer');
  const body = JSON.parse(j.stdout);
  assert.equal(
    body.response.get_resp.req_path_results[0].resolved_path_results[0].result_params.Manufacturer,
    'cpe-agent project',
  );
  const bad = await ctl('get', 'Device.Nope.');
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /Device\.Nope\.: error 7026/);
});

test('ctl set: writes, prints what it set; a read-only parameter exits 1 and changes nothing', async () => {
  const r = await ctl('set', 'Device.DeviceInfo.ProvisioningCode=ctl-1');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Device\.DeviceInfo\.ProvisioningCode = ctl-1/);
  assert.equal(
    (await ctl('get', 'Device.DeviceInfo.ProvisioningCode')).stdout,
    'Device.DeviceInfo.ProvisioningCode = ctl-1\n',
  );
  const ro = await ctl('set', 'Device.DeviceInfo.Manufacturer=x');
  assert.equal(ro.code, 1);
  assert.match(ro.stderr, /error 7\d{3}/);
  assert.equal(
    (await ctl('get', 'Device.DeviceInfo.Manufacturer')).stdout,
    'Device.DeviceInfo.Manufacturer = cpe-agent project\n',
  );
});

test('ctl add, instances, delete: a row created with its keys, listed, then gone', async () => {
  const add = await ctl(
    'add',
    'Device.LocalAgent.Subscription.',
    'ID=ctl-test',
    'NotifType=ValueChange',
    'ReferenceList=Device.DeviceInfo.ProvisioningCode',
  );
  assert.equal(add.code, 0, add.stderr);
  const path = /^created (Device\.LocalAgent\.Subscription\.\d+\.) .*"ID":"ctl-test"/m.exec(add.stdout)?.[1];
  assert.ok(path, add.stdout);
  const list = await ctl('instances', 'Device.LocalAgent.Subscription.');
  assert.equal(list.code, 0, list.stderr);
  assert.ok(
    list.stdout.split('\n').some((l) => l.startsWith(`${path} `) && l.includes('"ID":"ctl-test"')),
    list.stdout,
  );
  const del = await ctl('delete', path);
  assert.equal(del.code, 0, del.stderr);
  assert.equal(del.stdout, `deleted ${path}\n`);
  assert.ok(!(await ctl('instances', 'Device.LocalAgent.Subscription.')).stdout.includes(path));
  assert.equal((await ctl('add', 'Device.DeviceInfo.')).code, 1, 'not a table');
});

test('ctl instances --first-level, supported and protocol', async () => {
  const inst = await ctl('instances', '--first-level', SM);
  assert.equal(inst.code, 0, inst.stderr);
  assert.match(inst.stdout, /^Device\.SoftwareModules\.ExecEnv\.1\. \{.*"Name":"native"/m);
  const sup = await ctl('supported', '--first-level', SM);
  assert.equal(sup.code, 0, sup.stderr);
  assert.match(sup.stdout, /^Device\.SoftwareModules\.DeploymentUnit\.\{i\}\. \(table, read-only\)$/m);
  assert.match(sup.stdout, /^ {2}InstallDU\(\) {2}async in: URL, UUID/m);
  assert.match(sup.stdout, /^ {2}DeploymentUnitNumberOfEntries {2}unsigned_int r$/m);
  const proto = await ctl('protocol');
  assert.equal(proto.code, 0, proto.stderr);
  assert.match(proto.stdout, /^(\d\.\d,)*1\.4(,\d\.\d)*\n$/);
});

test('ctl watch prints notifications until SIGINT, then removes its subscription', async () => {
  const w = start('watch', 'ValueChange', 'Device.DeviceInfo.ProvisioningCode');
  const ran = outcome(w);
  let err = '';
  w.stderr!.on('data', (d) => {
    err += d;
  });
  let out = '';
  w.stdout!.on('data', (d) => {
    out += d;
  });
  await waitFor(() => err.includes('watching ValueChange'));
  const sub = /subscription (Device\.LocalAgent\.Subscription\.\d+\.)/.exec(err)![1]!;
  assert.equal((await ctl('set', 'Device.DeviceInfo.ProvisioningCode=watched')).code, 0);
  await waitFor(() => out.includes('Device.DeviceInfo.ProvisioningCode = watched'));
  w.kill('SIGINT');
  const r = await ran;
  assert.equal(r.code, 0, r.stderr);
  assert.ok(!(await ctl('instances', 'Device.LocalAgent.Subscription.')).stdout.includes(sub), 'unsubscribed');
});

test('ctl operate --wait on async commands returns with their output arguments; a sync one at once', async () => {
  const install = await ctl('operate', `${SM}InstallDU()`, `URL=${files.url('app.tgz')}`, '--wait', '--key', 'k1');
  assert.equal(install.code, 0, install.stderr);
  assert.match(install.stdout, /^Device\.SoftwareModules\.InstallDU\(\) started: Device\.LocalAgent\.Request\.\d+\.$/m);
  const done = /^completed Device\.SoftwareModules\.InstallDU\(\) \(key k1\): (.*)$/m.exec(install.stdout);
  assert.ok(done, install.stdout);
  const output = JSON.parse(done[1]!);
  assert.match(output.UUID, /^[0-9a-f-]{36}$/);
  assert.equal(output.Version, '1.2');
  assert.equal(output.ExecEnvRef, `${SM}ExecEnv.1`);
  const du = await ctl('get', `${SM}DeploymentUnit.[UUID=="${output.UUID}"].Name`);
  assert.match(du.stdout, /DeploymentUnit\.(\d+)\.Name = ctl-app/);
  const duPath = /(Device\.SoftwareModules\.DeploymentUnit\.\d+\.)/.exec(du.stdout)![1]!;

  const eu = (await ctl('get', `${duPath}ExecutionUnitList`)).stdout.split(' = ')[1]!.trim();
  assert.match(eu, /^Device\.SoftwareModules\.ExecutionUnit\.\d+$/);
  const sync = await ctl('operate', `${eu}.SetRequestedState()`, 'RequestedState=Idle', '--wait');
  assert.equal(sync.code, 0, sync.stderr);
  assert.equal(sync.stdout, `${eu}.SetRequestedState() done {}\n`);

  const gone = await ctl('operate', `${duPath}Uninstall()`, '--wait', '--json');
  assert.equal(gone.code, 0, gone.stderr);
  const lines = gone.stdout.trim().split('\n');
  const notify = JSON.parse(lines[lines.length - 1]!);
  assert.equal(notify.oper_complete.command_name, 'Uninstall()');
  assert.ok(!notify.oper_complete.cmd_failure);
  assert.ok(!(await ctl('instances', `${SM}DeploymentUnit.`)).stdout.includes(duPath));
  // A command that fails once started: --wait returns with the failure and exit code 1.
  const missing = await ctl('operate', `${SM}InstallDU()`, `URL=${files.url('missing.tgz')}`, '--wait', '--key', 'k2');
  assert.equal(missing.code, 1, missing.stdout);
  assert.match(missing.stdout, /^completed Device\.SoftwareModules\.InstallDU\(\) \(key k2\): error 7\d{3} /m);
  const left = await ctl('get', 'Device.LocalAgent.Subscription.*.ID');
  assert.ok(!left.stdout.includes('ctl-operate-'), `--wait removes its subscription: ${left.stdout}`);
});

test('ctl operate --wait and watch where the agent sends no notifications: exit 1 at once, saying so', async () => {
  const other = ['--topic', 'usp/controller/elsewhere'];
  const op = await ctl(...other, 'operate', `${SM}ExecEnv.1.Restart()`, '--wait');
  assert.equal(op.code, 1, op.stdout);
  assert.ok(
    op.stderr.includes(
      "notifications for proto::cpe-agent-ctl to usp/controller/cpe-agent-ctl, not to this ctl's topic " +
        'usp/controller/elsewhere: none would reach it (pass --topic usp/controller/cpe-agent-ctl)',
    ),
    op.stderr,
  );
  assert.equal(op.stdout, '', 'nothing operated');
  const w = await ctl(...other, 'watch', 'ValueChange', 'Device.DeviceInfo.ProvisioningCode');
  assert.equal(w.code, 1);
  assert.match(w.stderr, /none would reach it/);
  // Without --wait the answer comes back on the reply-to topic, as for any request.
  const started = await ctl(...other, 'operate', `${SM}ExecEnv.1.Restart()`);
  assert.equal(started.code, 0, started.stderr);
  assert.match(started.stdout, /Restart\(\) started: Device\.LocalAgent\.Request\.\d+\./);
});
