// kill -9 of the whole agent (its own process) at points all through InstallDU, then a restart:
// the state is always consistent (no half-installed DU, nothing left in staging) and the controller
// hears exactly one OperationComplete and one DUStateChange! per install, before or after the crash.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UspController } from '../../src/usp/controller-client.js';
import { mqttDeploymentDefaults } from '../../src/usp/mqtt/deployment.js';
import type { Plain } from '../../src/usp/codec.js';
import { repoRoot, tempDir, sleep } from '../helpers.js';
import { serveFiles } from '../http-files.js';
import { freePort, Mosquitto, requireMosquitto } from './mosquitto.js';
import { manifest, tarGz } from '../engine/tar-builder.js';

const TRIALS = 8;
test(`kill -9 during InstallDU (${TRIALS} trials), Update and Uninstall: consistent state, each operation reported exactly once`, async (t) => {
  const bin = requireMosquitto(t);
  if (!bin) return;
  const { dir, cleanup } = tempDir('cpe-kill-');
  const port = await freePort();
  const broker = new Mosquitto(bin, dir, port);
  await broker.start();
  // Packages of ~3 MB sent in slow chunks, so that kills land in the download, the unpacking and the commit.
  const pkgs: Record<string, Buffer> = {};
  const http = await serveFiles(pkgs, { chunkBytes: 256 * 1024, pauseMs: 40 });
  const base = http.url('').slice(0, -1);
  writeFileSync(join(dir, 'defaults.json'), JSON.stringify(mqttDeploymentDefaults({ brokerPort: port, version: '5.0', agentTopic: 'k/agent', controllerId: 'proto::k', controllerTopic: 'k/ctl', device: { oui: '00D0F1', productClass: 'K', serialNumber: '9' } })));
  const stateDir = join(dir, 'state');
  let agent: ChildProcess | undefined;
  const startAgent = () => { agent = spawn(process.execPath, [join(repoRoot, 'dist/src/cli/main.js'), 'run', '--state-dir', stateDir, '--defaults', join(dir, 'defaults.json'), '--log-level', 'error'], { stdio: 'ignore' }); };
  const ctl = new UspController({ url: `mqtt://127.0.0.1:${port}`, version: '5.0', endpointId: 'proto::k', topic: 'k/ctl', agentId: 'os::00D0F1-K-9', agentTopic: 'k/agent', timeoutMs: 3000 });
  await ctl.connect();
  t.after(async () => { agent?.kill('SIGKILL'); await ctl.close(); await broker.stop(); await http.close(); cleanup(); });
  startAgent();
  const request = async (kind: string, type: string, body: Plain) => {
    for (let i = 0; ; i++) { try { return await ctl.request(kind, type, body); } catch (e) { if (i > 30) throw e; await sleep(200); } }
  };
  for (const [id, type, ref] of [['oc', 'OperationComplete', 'Device.SoftwareModules.'], ['du', 'Event', 'Device.SoftwareModules.DUStateChange!']]) {
    await request('add', 'ADD', { create_objs: [{ obj_path: 'Device.LocalAgent.Subscription.', param_settings: [{ param: 'ID', value: id!, required: true }, { param: 'NotifType', value: type!, required: true },
      { param: 'ReferenceList', value: ref!, required: true }, { param: 'Enable', value: 'true', required: true }, { param: 'Persistent', value: 'true', required: true }] }] });
  }
  const outcomes: string[] = [];
  for (let trial = 0; trial < TRIALS; trial++) {
    const name = `app${trial}`;
    pkgs[`${name}.tgz`] = tarGz([{ name: 'manifest.json', data: manifest({ name, services: [{ name: 'svc', command: 'bin/run.sh' }] }) },
      { name: 'bin/run.sh', data: '#!/bin/sh\ntrap "exit 0" TERM\nwhile true; do sleep 0.2; done\n', mode: 0o755 },
      { name: 'payload', data: randomBytes(3 * 1024 * 1024) }]);
    const key = `install-${trial}`;
    await request('operate', 'OPERATE', { command: 'Device.SoftwareModules.InstallDU()', command_key: key, send_resp: true, input_args: { URL: `${base}/${name}.tgz` } });
    await sleep(100 + trial * 110);
    agent!.kill('SIGKILL');
    await new Promise((r) => agent!.once('exit', r));
    startAgent();
    const done = await ctl.waitForNotification((n) => n.body.oper_complete?.command_key === key, 20_000);
    outcomes.push(done.body.oper_complete.cmd_failure ? `failed ${done.body.oper_complete.cmd_failure.err_code}` : 'installed');
    await sleep(300);
  }
  // Everything reported exactly once.
  const oc = ctl.notifications.filter((n) => n.subscriptionId === 'oc');
  for (let trial = 0; trial < TRIALS; trial++) assert.equal(oc.filter((n) => n.body.oper_complete.command_key === `install-${trial}`).length, 1, `one OperationComplete for install-${trial}`);
  assert.equal(ctl.notifications.filter((n) => n.subscriptionId === 'du').length, TRIALS, 'one DUStateChange! per install');
  // The state is consistent: every DU row is Installed with its EU, and nothing is half there.
  const inst = await request('get', 'GET', { param_paths: ['Device.SoftwareModules.DeploymentUnit.*.Status', 'Device.SoftwareModules.ExecutionUnit.*.Name'] });
  const [dus, eus] = inst.body.response.get_resp.req_path_results.map((r: Plain) => r.resolved_path_results.map((x: Plain) => Object.values(x.result_params)[0]));
  assert.equal(dus.length, outcomes.filter((o) => o === 'installed').length, `DU rows match the successful installs (${outcomes.join(', ')})`);
  assert.ok(dus.every((s: string) => s === 'Installed'));
  assert.equal(eus.length, dus.length);
  assert.deepEqual(readdirSync(join(stateDir, 'engine/tmp')), [], 'no staging left');
  assert.equal(readdirSync(join(stateDir, 'engine/du')).length, dus.length, 'no orphan package directories');
  assert.deepEqual(readdirSync(join(stateDir, 'engine/ops')), [], 'no operation left unreported');
  t.diagnostic(`install outcomes: ${outcomes.join(', ')}`);

  // Update and Uninstall, killed the same way: the DU is whole at the old or the new version, or gone.
  const duPaths = async () => (await request('get_instances', 'GET_INSTANCES', { obj_paths: ['Device.SoftwareModules.DeploymentUnit.'], first_level_only: true }))
    .body.response.get_instances_resp.req_path_results[0].curr_insts.map((i: Plain) => i.instantiated_obj_path as string);
  const installed = await duPaths();
  const later: string[] = [];
  for (const [i, du] of installed.slice(0, 4).entries()) {
    const name = (await request('get', 'GET', { param_paths: [`${du}Name`] })).body.response.get_resp.req_path_results[0].resolved_path_results[0].result_params.Name as string;
    const uninstall = i % 2 === 1;
    if (!uninstall) {
      pkgs[`${name}-2.tgz`] = tarGz([{ name: 'manifest.json', data: manifest({ name, version: '2.0', services: [{ name: 'svc', command: 'bin/run.sh' }] }) },
        { name: 'bin/run.sh', data: '#!/bin/sh\ntrap "exit 0" TERM\nwhile true; do sleep 0.2; done\n', mode: 0o755 }, { name: 'payload', data: randomBytes(3 * 1024 * 1024) }]);
    }
    const key = `${uninstall ? 'uninstall' : 'update'}-${i}`;
    await request('operate', 'OPERATE', { command: `${du}${uninstall ? 'Uninstall()' : 'Update()'}`, command_key: key, send_resp: true, input_args: uninstall ? {} : { URL: `${base}/${name}-2.tgz` } });
    await sleep(50 + i * 150);
    agent!.kill('SIGKILL');
    await new Promise((r) => agent!.once('exit', r));
    startAgent();
    const done = await ctl.waitForNotification((n) => n.body.oper_complete?.command_key === key, 20_000);
    later.push(`${key}: ${done.body.oper_complete.cmd_failure ? `failed ${done.body.oper_complete.cmd_failure.err_code}` : 'done'}`);
    await sleep(300);
    const present = (await duPaths()).includes(du);
    if (uninstall) assert.equal(present, Boolean(done.body.oper_complete.cmd_failure), `${key}: the DU is gone exactly when the uninstall succeeded`);
    else {
      assert.ok(present, `${key}: an update never loses the DU`);
      const [version, status] = (await request('get', 'GET', { param_paths: [`${du}Version`, `${du}Status`] })).body.response.get_resp.req_path_results.map((r: Plain) => Object.values(r.resolved_path_results[0].result_params)[0]);
      assert.equal(status, 'Installed');
      assert.equal(version, done.body.oper_complete.cmd_failure ? '1.0' : '2.0', `${key}: the version matches the reported outcome`);
    }
  }
  for (const k of later.map((l) => l.split(':')[0]!)) assert.equal(ctl.notifications.filter((n) => n.body.oper_complete?.command_key === k).length, 1, `one OperationComplete for ${k}`);
  assert.deepEqual(readdirSync(join(stateDir, 'engine/tmp')), []);
  assert.deepEqual(readdirSync(join(stateDir, 'engine/ops')), []);
  assert.equal(readdirSync(join(stateDir, 'engine/du')).length, (await duPaths()).length);
  t.diagnostic(`update/uninstall outcomes: ${later.join(', ')}`);
});
