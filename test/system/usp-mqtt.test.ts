// The USP agent end to end over a real mosquitto, with MQTT 5.0 and 3.1.1. Test names carry the
// TP-469 case ids they cover; the MQTT packet-level cases (11.2, 11.3, 11.12, 11.14, 11.17) are
// asserted on the wire in test/conformance/mqtt-wire.test.ts, TLS to the broker (4.1) in
// test/conformance/mtp-tls.test.ts.

import assert from 'node:assert/strict';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import type { UspController } from '../../src/usp/controller-client.js';
import { manifest, tarGz } from '../engine/tar-builder.js';
import { responseOf } from '../fixtures/usp-answer.js';
import { sleep, spawnAgent, tempDir, waitFor } from '../helpers.js';
import { serveFiles } from '../http-files.js';
import { ControllerSim } from '../usp/controller-sim.js';
import { freePort, Mosquitto, requireMosquitto } from './mosquitto.js';
import { AGENT_ID, agentAndController, deployment } from './usp-world.js';

function defaults(port: number, version: '3.1.1' | '5.0'): Record<string, string> {
  return {
    ...deployment(port, version),
    'Device.DeviceInfo.ModelName': 'system-test',
    'Device.MQTT.Client.1.ConnectRetryTime': '1',
    'Device.MQTT.Client.1.ConnectRetryMaxInterval': '2',
    'Device.LocalAgent.Controller.1.USPNotifRetryMinimumWaitInterval': '1',
  };
}

async function world(t: TestContext, version: '3.1.1' | '5.0') {
  const bin = requireMosquitto(t);
  if (!bin) return undefined;
  const { dir, cleanup } = tempDir('cpe-usp-');
  const port = await freePort();
  const broker = new Mosquitto(bin, dir, port);
  await broker.start();
  return {
    ...(await agentAndController(t, { dir, cleanup, port, broker, version, defaults: defaults(port, version) })),
    broker,
  };
}

const subscribe = (ctl: UspController, id: string, type: string, ref: string, retry = false) =>
  ctl.request('add', 'ADD', {
    allow_partial: false,
    create_objs: [
      {
        obj_path: 'Device.LocalAgent.Subscription.',
        param_settings: [
          { param: 'ID', value: id, required: true },
          { param: 'NotifType', value: type, required: true },
          { param: 'ReferenceList', value: ref, required: true },
          { param: 'Enable', value: 'true', required: true },
          { param: 'NotifRetry', value: String(retry), required: true },
        ],
      },
    ],
  });

for (const version of ['5.0', '3.1.1'] as const) {
  test(`MQTT ${version}: the agent connects, subscribes and sends an MQTTConnect record`, async (t) => {
    const w = await world(t, version);
    if (!w) return;
    const rec = w.ctl.records.find((r) => r.mqtt_connect)!;
    assert.equal(rec.from_id, AGENT_ID);
    assert.equal(rec.mqtt_connect!.version, version === '5.0' ? 'V5' : 'V3_1_1');
    assert.equal(rec.mqtt_connect!.subscribed_topic, 'usp/agent/test');
    assert.equal(w.agent.dm.value('Device.MQTT.Client.1.Status'), 'Connected');
    if (version === '5.0') {
      // 11.4: the agent sent an empty client id and saved the one the broker assigned.
      assert.match(w.agent.dm.value('Device.MQTT.Client.1.ClientID'), /.+/);
    }
  });

  test(`MQTT ${version}: 1.36 Get answered on the controller's reply-to topic`, async (t) => {
    const w = await world(t, version);
    if (!w) return;
    const m = await w.ctl.request('get', 'GET', {
      param_paths: ['Device.DeviceInfo.ModelName', 'Device.LocalAgent.EndpointID'],
    });
    assert.equal(m.header.msg_type, 'GET_RESP');
    const res = responseOf(m, 'get_resp').req_path_results.map((r) => r.resolved_path_results[0]!.result_params);
    assert.deepEqual(res, [{ ModelName: 'system-test' }, { EndpointID: AGENT_ID }]);
  });

  test(
    `MQTT ${version}: 1.52 / 1.57 / 1.58 ValueChange, ObjectCreation and ObjectDeletion ` + `notifications`,
    async (t) => {
      const w = await world(t, version);
      if (!w) return;
      await subscribe(w.ctl, 'vc', 'ValueChange', 'Device.LocalAgent.Controller.1.ProvisioningCode');
      await subscribe(w.ctl, 'oc', 'ObjectCreation', 'Device.LocalAgent.Controller.1.BootParameter.');
      await subscribe(w.ctl, 'od', 'ObjectDeletion', 'Device.LocalAgent.Controller.1.BootParameter.');
      await w.ctl.request('set', 'SET', {
        allow_partial: false,
        update_objs: [
          {
            obj_path: 'Device.LocalAgent.Controller.1.',
            param_settings: [{ param: 'ProvisioningCode', value: 'PC-52', required: true }],
          },
        ],
      });
      const vc = await w.ctl.waitForNotification((n) => n.subscriptionId === 'vc');
      assert.deepEqual(vc.body.value_change, {
        param_path: 'Device.LocalAgent.Controller.1.ProvisioningCode',
        param_value: 'PC-52',
      });
      await w.ctl.request('add', 'ADD', {
        allow_partial: false,
        create_objs: [
          {
            obj_path: 'Device.LocalAgent.Controller.1.BootParameter.',
            param_settings: [{ param: 'ParameterName', value: 'Device.DeviceInfo.ModelName', required: true }],
          },
        ],
      });
      const oc = await w.ctl.waitForNotification((n) => n.subscriptionId === 'oc');
      assert.equal(oc.body.obj_creation?.obj_path, 'Device.LocalAgent.Controller.1.BootParameter.1.');
      await w.ctl.request('delete', 'DELETE', {
        allow_partial: false,
        obj_paths: ['Device.LocalAgent.Controller.1.BootParameter.1.'],
      });
      const od = await w.ctl.waitForNotification((n) => n.subscriptionId === 'od');
      assert.equal(od.body.obj_deletion?.obj_path, 'Device.LocalAgent.Controller.1.BootParameter.1.');
    },
  );
}

test('NotifRetry: an unacknowledged Notify is sent again with back-off, and stops once acknowledged', async (t) => {
  const w = await world(t, '5.0');
  if (!w) return;
  await subscribe(w.ctl, 'retry', 'ValueChange', 'Device.LocalAgent.Controller.1.ProvisioningCode', true);
  w.ctl.acknowledge = false;
  await w.ctl.request('set', 'SET', {
    update_objs: [
      {
        obj_path: 'Device.LocalAgent.Controller.1.',
        param_settings: [{ param: 'ProvisioningCode', value: 'PC-54', required: true }],
      },
    ],
  });
  await waitFor(() => w.ctl.notifications.filter((n) => n.subscriptionId === 'retry').length >= 2, 5000);
  const copies = w.ctl.notifications.filter((n) => n.subscriptionId === 'retry');
  assert.equal(new Set(copies.map((c) => c.msg.header.msg_id)).size, 1, 'a retry repeats the same message');
  assert.equal(copies[0]!.body.send_resp, true);
  w.ctl.acknowledge = true;
  await waitFor(() => w.agent.uspAgent!.subscriptions.pendingCount === 0, 6000);
});

test(
  'a broker restart in the middle of a stream of 300 NotifRetry notifications: every one arrives, repeats only ' +
    'as retries of the same message',
  async (t) => {
    const w = await world(t, '5.0');
    if (!w) return;
    await subscribe(w.ctl, 'stream', 'ValueChange', 'Device.LocalAgent.Controller.1.ProvisioningCode', true);
    const N = 300;
    for (let i = 0; i < N; i++) {
      w.agent.dm.update('Device.LocalAgent.Controller.1.', { ProvisioningCode: `v${i}` }, 'test');
      if (i === 100) await w.broker.stop(); // mid-stream: 200 more changes while it is down
      if (i === 200) await w.broker.start();
      await new Promise((r) => setTimeout(r, 2));
    }
    const seen = () =>
      new Set(
        w.ctl.notifications
          .filter((n) => n.subscriptionId === 'stream')
          .map((n) => n.body.value_change?.param_value as string),
      );
    await waitFor(() => seen().size === N, 30_000);
    const got = w.ctl.notifications.filter((n) => n.subscriptionId === 'stream');
    const ids = new Map<string, string>();
    for (const n of got) {
      const v = n.body.value_change?.param_value as string;
      assert.equal(
        ids.get(n.msg.header.msg_id) ?? v,
        v,
        'one msg_id, one value: a repeat is a retry of the same message',
      );
      ids.set(n.msg.header.msg_id, v);
    }
    assert.equal(ids.size, N, `one message per change (${got.length - N} retransmissions)`);
    await waitFor(() => w.agent.uspAgent!.subscriptions.pendingCount === 0, 10_000);
  },
);

test(
  'NotifRetry across an agent restart: a persistent subscription with NotifExpiration is retried after it, one ' +
    'with NotifExpiration 0 is not (TR-181)',
  async (t) => {
    const w = await world(t, '5.0');
    if (!w) return;
    for (const [id, exp] of [
      ['durable', '600'],
      ['volatile', '0'],
    ] as const) {
      await subscribe(w.ctl, id, 'ValueChange', 'Device.LocalAgent.Controller.1.ProvisioningCode', true);
      await w.ctl.request('set', 'SET', {
        update_objs: [
          {
            obj_path: `Device.LocalAgent.Subscription.[ID=="${id}"].`,
            param_settings: [
              { param: 'Persistent', value: 'true', required: true },
              { param: 'NotifExpiration', value: exp, required: true },
            ],
          },
        ],
      });
    }
    w.ctl.acknowledge = false;
    w.agent.dm.update('Device.LocalAgent.Controller.1.', { ProvisioningCode: 'before-restart' }, 'test');
    await waitFor(
      () => ['durable', 'volatile'].every((id) => w.ctl.notifications.some((n) => n.subscriptionId === id)),
      5000,
    );
    const first = w.ctl.notifications.find((n) => n.subscriptionId === 'durable')!;
    await w.agent.stop();
    const before = w.ctl.notifications.length;
    w.ctl.acknowledge = true;
    await w.agent.start();
    const again = await w.ctl.waitForNotification(
      (n) => w.ctl.notifications.indexOf(n) >= before && n.subscriptionId === 'durable',
      10_000,
    );
    assert.equal(
      again.msg.header.msg_id,
      first.msg.header.msg_id,
      'the same message, so the controller knows it for a retry',
    );
    assert.equal(again.body.value_change?.param_value, 'before-restart');
    await waitFor(() => w.agent.uspAgent!.subscriptions.pendingCount === 0, 5000);
    await new Promise((r) => setTimeout(r, 2500)); // beyond the first retry interval (1-2 s)
    assert.ok(
      !w.ctl.notifications.slice(before).some((n) => n.subscriptionId === 'volatile'),
      'NotifExpiration 0: retries end with the restart',
    );
    assert.equal(
      w.ctl.notifications.slice(before).filter((n) => n.subscriptionId === 'durable').length,
      1,
      'acknowledged: not sent again',
    );
  },
);

test(
  'a DU operation reported just before a crash is reported once after it, though the controller acknowledges ' +
    'the stored copy at once',
  async (t) => {
    const w = await world(t, '5.0');
    if (!w) return;
    const files = await serveFiles({
      'once.tgz': tarGz([{ name: 'manifest.json', data: manifest({ name: 'once', services: [] }) }]),
    });
    const copy = tempDir('cpe-usp-copy-');
    t.after(async () => {
      await files.close();
      copy.cleanup();
    });
    for (const [id, type, ref] of [
      ['du', 'Event', 'Device.SoftwareModules.DUStateChange!'],
      ['oc', 'OperationComplete', 'Device.SoftwareModules.'],
    ] as const) {
      await subscribe(w.ctl, id, type, ref, true);
      await w.ctl.request('set', 'SET', {
        update_objs: [
          {
            obj_path: `Device.LocalAgent.Subscription.[ID=="${id}"].`,
            param_settings: [
              { param: 'Persistent', value: 'true', required: true },
              { param: 'NotifExpiration', value: '600', required: true },
            ],
          },
        ],
      });
    }
    // CWMP on (its ACS unreachable): the agent's start then loads the CWMP client before it reports what
    // the crash interrupted, time enough for a stored notification sent at once to be acknowledged.
    w.agent.dm.update(
      'Device.ManagementServer.',
      { URL: 'http://127.0.0.1:9/acs', EnableCWMP: 'true', PeriodicInformEnable: 'false' },
      'test',
    );
    // The state as a kill -9 would leave it right after the DUStateChange! was stored and sent: the
    // engine's outcome still journalled, the OperationComplete not made yet.
    const stateDir = join(copy.dir, 'state');
    w.agent.containerEngine!.once('result', () => cpSync(w.stateDir, stateDir, { recursive: true }));
    await w.ctl.request('operate', 'OPERATE', {
      command: 'Device.SoftwareModules.InstallDU()',
      command_key: 'once',
      send_resp: true,
      input_args: { URL: files.url('once.tgz') },
    });
    await w.ctl.waitForNotification((n) => n.subscriptionId === 'oc', 10_000);
    const first = w.ctl.notifications.find((n) => n.subscriptionId === 'du')!;
    await w.agent.stop();
    const before = w.ctl.notifications.length;
    // Restarted as on a device: a process of its own, which has the CWMP client still to load.
    const again = spawnAgent({ stateDir, defaultsFile: w.defaultsFile, logLevel: 'error' });
    t.after(() => {
      again.kill('SIGKILL');
    });
    await w.ctl.waitForNotification(
      (n) => w.ctl.notifications.indexOf(n) >= before && n.subscriptionId === 'oc',
      10_000,
    );
    await sleep(1500); // beyond the first retry interval: anything still unacknowledged would show
    const after = w.ctl.notifications.slice(before);
    assert.deepEqual(
      after.filter((n) => n.subscriptionId === 'du').map((n) => n.msg.header.msg_id),
      [first.msg.header.msg_id],
      'DUStateChange!: only the stored copy, resent',
    );
    assert.equal(after.filter((n) => n.subscriptionId === 'oc').length, 1, 'one OperationComplete');
  },
);

test('Reboot() answers, restarts the agent and a Boot! event follows with its cause', async (t) => {
  const w = await world(t, '5.0');
  if (!w) return;
  const add = await subscribe(w.ctl, 'boot', 'Event', 'Device.Boot!');
  assert.ok(add.body.response);
  await w.ctl.request('set', 'SET', {
    update_objs: [
      {
        obj_path: 'Device.LocalAgent.Subscription.[ID=="boot"].',
        param_settings: [{ param: 'Persistent', value: 'true', required: true }],
      },
    ],
  });
  const m = await w.ctl.request('operate', 'OPERATE', {
    command: 'Device.Reboot()',
    command_key: 'reboot-61',
    send_resp: true,
    input_args: {},
  });
  assert.deepEqual(responseOf(m, 'operate_resp').operation_results[0]!, {
    executed_command: 'Device.Reboot()',
    req_output_args: { output_args: {} },
    operation_resp: 'req_output_args',
  });
  const boot = await w.ctl.waitForNotification((n) => n.subscriptionId === 'boot', 10_000);
  assert.equal(boot.body.event?.event_name, 'Boot!');
  assert.equal(boot.body.event?.params.Cause, 'RemoteReboot');
  assert.equal(boot.body.event?.params.CommandKey, 'reboot-61');
});

test('SendOnBoardRequest() sends an OnBoardRequest notification', async (t) => {
  const w = await world(t, '5.0');
  if (!w) return;
  await w.ctl.request('operate', 'OPERATE', {
    command: 'Device.LocalAgent.Controller.1.SendOnBoardRequest()',
    command_key: 'ob',
    send_resp: true,
    input_args: {},
  });
  const n = await w.ctl.waitForNotification((x) => Boolean(x.body.on_board_req));
  assert.deepEqual(n.body.on_board_req, {
    oui: '00D0F1',
    product_class: 'Test',
    serial_number: 'SN1',
    agent_supported_protocol_versions: '1.0,1.1,1.2,1.3,1.4',
  });
  assert.equal(n.subscriptionId, '');
});

test('malformed, foreign and oversized packets are dropped and the agent keeps answering', async (t) => {
  const w = await world(t, '5.0');
  if (!w) return;
  const mqtt = (await import('mqtt')).default;
  const raw = await mqtt.connectAsync(w.ctl.opts.url, { protocolVersion: 5 });
  t.after(() => raw.endAsync());
  await raw.publishAsync('usp/agent/test', Buffer.from('not a record at all'), {
    qos: 1,
    properties: { contentType: 'usp.msg', responseTopic: 'usp/controller/test' },
  });
  await raw.publishAsync('usp/agent/test', Buffer.alloc(3 * 1024 * 1024, 0x41), {
    qos: 1,
    properties: { contentType: 'usp.msg' },
  });
  await raw.publishAsync('usp/agent/test', Buffer.from([0x0a, 0x03, 0x31, 0x2e, 0x34]), {
    qos: 1,
    properties: { contentType: 'text/plain' },
  });
  const foreign = new ControllerSim('proto::intruder', AGENT_ID).request('get', 'GET', { param_paths: ['Device.'] });
  await raw.publishAsync('usp/agent/test', Buffer.from(foreign.bytes), {
    qos: 1,
    properties: { contentType: 'usp.msg', responseTopic: 'usp/controller/test' },
  });
  const m = await w.ctl.request('get', 'GET', { param_paths: ['Device.LocalAgent.EndpointID'] });
  assert.equal(
    responseOf(m, 'get_resp').req_path_results[0]!.resolved_path_results[0]!.result_params.EndpointID,
    AGENT_ID,
  );
  assert.equal(
    w.ctl.notifications.length + w.ctl.records.filter((r) => !r.mqtt_connect).length,
    0,
    'nothing answered the bad packets',
  );
});
