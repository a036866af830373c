// The whole journey a controller makes through Device.SoftwareModules, over real mosquitto and a
// real HTTP server: InstallDU -> EU Active -> stop/start -> Update -> Uninstall, with the
// OperationComplete and DUStateChange! notifications it subscribed to. Native backend.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import { Agent } from '../../src/agent.js';
import { UspController } from '../../src/usp/controller-client.js';
import { mqttDeploymentDefaults } from '../../src/usp/mqtt/deployment.js';
import { silentLogger } from '../../src/util/logger.js';
import { manifest, tarGz } from '../engine/tar-builder.js';
import { responseOf } from '../fixtures/usp-answer.js';
import { tempDir } from '../helpers.js';
import { serveFiles } from '../http-files.js';
import { freePort, Mosquitto, requireMosquitto } from './mosquitto.js';

const SERVICE = '#!/bin/sh\necho up\ntrap "exit 0" TERM\nwhile true; do sleep 0.1; done\n';
const pkg = (v: string) =>
  tarGz([
    { name: 'manifest.json', data: manifest({ version: v, services: [{ name: 'web', command: 'bin/run.sh' }] }) },
    { name: 'bin/run.sh', data: SERVICE, mode: 0o755 },
  ]);

test('InstallDU -> EU Active -> Update -> Uninstall over USP, with OperationComplete and DUStateChange!', async (t) => {
  const bin = requireMosquitto(t);
  if (!bin) return;
  const { dir, cleanup } = tempDir('cpe-sm-');
  const port = await freePort();
  const broker = new Mosquitto(bin, dir, port);
  await broker.start();
  const files: Record<string, Buffer> = { 'app-1.tgz': pkg('1.0'), 'app-2.tgz': pkg('2.0') };
  const http = await serveFiles(files);
  const base = http.url('').slice(0, -1);
  writeFileSync(
    join(dir, 'defaults.json'),
    JSON.stringify(
      mqttDeploymentDefaults({
        brokerPort: port,
        version: '5.0',
        agentTopic: 'sm/agent',
        controllerId: 'proto::sm',
        controllerTopic: 'sm/ctl',
        device: { oui: '00D0F1', productClass: 'SM', serialNumber: '7' },
      }),
    ),
  );
  const agent = new Agent({
    stateDir: join(dir, 'state'),
    defaultsFile: join(dir, 'defaults.json'),
    logger: silentLogger,
  });
  const ctl = new UspController({
    url: `mqtt://127.0.0.1:${port}`,
    version: '5.0',
    endpointId: 'proto::sm',
    topic: 'sm/ctl',
    agentId: 'os::00D0F1-SM-7',
    agentTopic: 'sm/agent',
    timeoutMs: 10_000,
  });
  await ctl.connect();
  await agent.start();
  t.after(async () => {
    await agent.containerEngine?.stopAll();
    await ctl.close();
    await agent.stop();
    await broker.stop();
    await http.close();
    cleanup();
  });
  const sub = (id: string, type: string, ref: string) =>
    ctl.request('add', 'ADD', {
      create_objs: [
        {
          obj_path: 'Device.LocalAgent.Subscription.',
          param_settings: [
            { param: 'ID', value: id, required: true },
            { param: 'NotifType', value: type, required: true },
            { param: 'ReferenceList', value: ref, required: true },
            { param: 'Enable', value: 'true', required: true },
          ],
        },
      ],
    });
  for (let i = 0; ; i++) {
    try {
      await sub('oc', 'OperationComplete', 'Device.SoftwareModules.');
      break;
    } catch (e) {
      if (i > 20) throw e;
    }
  }
  await sub('du', 'Event', 'Device.SoftwareModules.DUStateChange!');
  await sub('eu', 'ValueChange', 'Device.SoftwareModules.ExecutionUnit.*.Status');

  const op = await ctl.request('operate', 'OPERATE', {
    command: 'Device.SoftwareModules.InstallDU()',
    command_key: 'install-1',
    send_resp: true,
    input_args: {
      URL: `${base}/app-1.tgz`,
      'ApplicationData.1.Name': 'state',
      'ApplicationData.1.Capacity': '2',
      'ApplicationData.1.Retain': 'Forever',
      'ApplicationData.1.AccessPath': '/data/state',
    },
  });
  assert.match(
    responseOf(op, 'operate_resp').operation_results[0]!.req_obj_path ?? '',
    /^Device\.LocalAgent\.Request\.\d+\.?$/,
  );
  const done = await ctl.waitForNotification((n) => n.body.oper_complete?.command_key === 'install-1');
  const out = done.body.oper_complete?.req_output_args?.output_args;
  assert.ok(out);
  assert.match(out.UUID ?? '', /^[0-9a-f-]{36}$/);
  assert.equal(out.Version, '1.0');
  const ev = await ctl.waitForNotification(
    (n) => n.subscriptionId === 'du' && n.body.event?.params.OperationPerformed === 'Install',
  );
  assert.equal(ev.body.event?.params.CurrentState, 'Installed');
  assert.equal(ev.body.event?.params['Fault.FaultCode'], '0');
  const duRef = ev.body.event?.params.DeploymentUnitRef as string;
  const euRef = ev.body.event?.params.ExecutionUnitRefList as string;
  await ctl.waitForNotification(
    (n) =>
      n.subscriptionId === 'eu' &&
      n.body.value_change?.param_path === `${euRef}.Status` &&
      n.body.value_change?.param_value === 'Active',
  );
  const get = await ctl.request('get', 'GET', {
    param_paths: [`${euRef}.Status`, `${duRef}.Version`, `${euRef}.MemoryInUse`],
  });
  const vals = responseOf(get, 'get_resp').req_path_results.map(
    (r) => Object.values(r.resolved_path_results[0]!.result_params)[0],
  );
  assert.equal(vals[0], 'Active');
  assert.equal(vals[1], '1.0');
  assert.ok(Number(vals[2]) > 0, 'memory in use comes from the running process');

  // Its application data volume is a row of its EE, referenced by the EU; Remove() waits for the DU to go.
  const vol = 'Device.SoftwareModules.ExecEnv.1.ApplicationData.1.';
  const volGet = await ctl.request('get', 'GET', { param_paths: [vol, `${euRef}.ApplicationDataList`] });
  const volParams = responseOf(volGet, 'get_resp').req_path_results[0]!.resolved_path_results[0]!.result_params;
  assert.deepEqual(
    [volParams.Name, volParams.ApplicationUUID, volParams.Capacity, volParams.Retain, volParams.Encrypted],
    ['state', out.UUID, '2', 'Forever', 'false'],
  );
  assert.equal(
    responseOf(volGet, 'get_resp').req_path_results[1]!.resolved_path_results[0]!.result_params.ApplicationDataList,
    vol.slice(0, -1),
  );
  const removeVol = () =>
    ctl.request('operate', 'OPERATE', {
      command: `${vol}Remove()`,
      command_key: 'rmvol',
      send_resp: true,
      input_args: {},
    });
  assert.equal(responseOf(await removeVol(), 'operate_resp').operation_results[0]!.cmd_failure?.err_code, 7229);

  // The service's output is a vendor log file of the device.
  const logRef = responseOf(await ctl.request('get', 'GET', { param_paths: [`${euRef}.VendorLogList`] }), 'get_resp')
    .req_path_results[0]!.resolved_path_results[0]!.result_params.VendorLogList;
  const logName = responseOf(await ctl.request('get', 'GET', { param_paths: [`${logRef}.Name`] }), 'get_resp')
    .req_path_results[0]!.resolved_path_results[0]!.result_params.Name;
  const euid = responseOf(await ctl.request('get', 'GET', { param_paths: [`${euRef}.EUID`] }), 'get_resp')
    .req_path_results[0]!.resolved_path_results[0]!.result_params.EUID;
  const logFile = agent.containerEngine!.unitLogFile(euid!);
  assert.equal(logName, basename(logFile));
  assert.match(readFileSync(logFile, 'utf8'), /^up$/m);

  await ctl.request('operate', 'OPERATE', {
    command: `${euRef}.SetRequestedState()`,
    command_key: 'stop',
    send_resp: true,
    input_args: { RequestedState: 'Idle' },
  });
  await ctl.waitForNotification((n) => n.subscriptionId === 'eu' && n.body.value_change?.param_value === 'Idle');

  await ctl.request('operate', 'OPERATE', {
    command: `${duRef}.Update()`,
    command_key: 'update-1',
    send_resp: true,
    input_args: { URL: `${base}/app-2.tgz` },
  });
  const upd = await ctl.waitForNotification(
    (n) => n.subscriptionId === 'du' && n.body.event?.params.OperationPerformed === 'Update',
  );
  assert.equal(upd.body.event?.params.Version, '2.0');

  const failing = await ctl.request('operate', 'OPERATE', {
    command: 'Device.SoftwareModules.InstallDU()',
    command_key: 'install-404',
    send_resp: true,
    input_args: { URL: `${base}/missing.tgz` },
  });
  assert.ok(responseOf(failing, 'operate_resp').operation_results[0]!.req_obj_path);
  const failed = await ctl.waitForNotification((n) => n.body.oper_complete?.command_key === 'install-404');
  assert.equal(failed.body.oper_complete?.cmd_failure?.err_code, 7033);
  const failEv = await ctl.waitForNotification(
    (n) => n.subscriptionId === 'du' && n.body.event?.params.CurrentState === 'Failed',
  );
  assert.equal(failEv.body.event?.params['Fault.FaultCode'], '7033');
  // The transfer's kind (not found) and the command key travel with the event in the agent only: USP
  // carries TR-181's arguments of DUStateChange!, nothing more.
  assert.deepEqual(Object.keys(failEv.body.event?.params ?? {}).sort(), [
    'CompleteTime',
    'CurrentState',
    'DeploymentUnitRef',
    'ExecutionUnitRefList',
    'Fault.FaultCode',
    'Fault.FaultString',
    'OperationPerformed',
    'Resolved',
    'StartTime',
    'UUID',
    'Version',
  ]);

  await ctl.request('operate', 'OPERATE', {
    command: `${duRef}.Uninstall()`,
    command_key: 'rm',
    send_resp: true,
    input_args: { RetainData: 'true' },
  });
  const un = await ctl.waitForNotification(
    (n) => n.subscriptionId === 'du' && n.body.event?.params.OperationPerformed === 'Uninstall',
  );
  assert.equal(un.body.event?.params.CurrentState, 'Uninstalled');
  // RetainData kept the Forever volume without its DU, until Remove() takes it.
  const kept = await ctl.request('get', 'GET', { param_paths: [`${vol}ApplicationUUID`] });
  assert.equal(
    responseOf(kept, 'get_resp').req_path_results[0]!.resolved_path_results[0]!.result_params.ApplicationUUID,
    out.UUID,
  );
  assert.equal(responseOf(await removeVol(), 'operate_resp').operation_results[0]!.cmd_failure, undefined);
  assert.equal(agent.containerEngine!.volumes().length, 0);
  const vols = await ctl.request('get_instances', 'GET_INSTANCES', {
    obj_paths: ['Device.SoftwareModules.ExecEnv.1.ApplicationData.'],
    first_level_only: true,
  });
  assert.equal(
    responseOf(vols, 'get_instances_resp').req_path_results[0]!.curr_insts.length,
    0,
    'the row went with the volume',
  );
  const inst = await ctl.request('get_instances', 'GET_INSTANCES', {
    obj_paths: ['Device.SoftwareModules.DeploymentUnit.', 'Device.SoftwareModules.ExecutionUnit.'],
    first_level_only: true,
  });
  assert.deepEqual(
    responseOf(inst, 'get_instances_resp').req_path_results.map((r) => r.curr_insts.length),
    [0, 0],
  );
  const logs = await ctl.request('get_instances', 'GET_INSTANCES', {
    obj_paths: ['Device.DeviceInfo.VendorLogFile.'],
    first_level_only: true,
  });
  assert.equal(
    responseOf(logs, 'get_instances_resp').req_path_results[0]!.curr_insts.length,
    0,
    'the log file row went with its EU',
  );
  assert.equal(
    ctl.notifications.filter((n) => n.subscriptionId === 'du').length,
    4,
    'one DUStateChange! per operation: install, update, failed install, uninstall',
  );
});
