// TP-469 9.9: a Controller row added at runtime by another controller, with an MQTT MTP row, is sent
// an OnBoardRequest by SendOnBoardRequest() and can then talk to the agent; 1.60: the test controller
// asks for its own. One agent over a real mosquitto; the secondary controller is a second client on
// the same broker.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DecodedMsg } from '../../src/usp/codec.js';
import { UspController } from '../../src/usp/controller-client.js';
import { responseOf } from '../fixtures/usp-answer.js';
import { add, CTL, cleanUp, conformanceWorld, get, resolved } from './world.js';

const the = conformanceWorld();
const SECONDARY = 'proto::tp469-secondary';

function created(m: DecodedMsg): string {
  const ok = responseOf(m, 'add_resp').created_obj_results[0]?.oper_status?.oper_success;
  assert.ok(ok, `a successful AddResp: ${JSON.stringify(m.body)}`);
  return ok.instantiated_path!;
}

test('9.9 Adding a New Controller - OnBoardRequest', async (t) => {
  const w = the(t);
  if (!w) return;
  const secondary = new UspController({ ...w.ctl.opts, endpointId: SECONDARY, topic: 'usp/controller/secondary' });
  await secondary.connect();
  t.after(() => secondary.close());

  const row = created(
    await add(w, false, {
      path: 'Device.LocalAgent.Controller.',
      params: {
        Alias: 'usp-111-Controller',
        EndpointID: SECONDARY,
        Enable: 'true',
        AssignedRole: 'Device.LocalAgent.ControllerTrust.Role.1',
      },
    }),
  );
  t.after(() => cleanUp(w, row));
  created(
    await add(w, false, {
      path: `${row}MTP.`,
      params: { Enable: 'true', Protocol: 'MQTT', 'MQTT.Topic': 'usp/controller/secondary' },
    }),
  );
  const m = await w.ctl.request('operate', 'OPERATE', { command: `${row}SendOnBoardRequest()`, send_resp: true });
  assert.equal(responseOf(m, 'operate_resp').operation_results[0]?.executed_command, `${row}SendOnBoardRequest()`);

  const n = await secondary.waitForNotification((x) => Boolean(x.body.on_board_req));
  assert.equal(n.msg.header?.msg_type, 'NOTIFY');
  assert.deepEqual(n.body.on_board_req, {
    oui: '00D0F1',
    product_class: 'Test',
    serial_number: 'SN1',
    agent_supported_protocol_versions: '1.0,1.1,1.2,1.3,1.4',
  });
  assert.equal(w.ctl.notifications.filter((x) => x.body.on_board_req).length, 0, 'only the new controller gets it');
  // The session with the secondary controller: it asks, the agent answers it.
  const own = resolved(await get({ ...w, ctl: secondary }, [`${row}EndpointID`]));
  assert.deepEqual(own, { [row]: { EndpointID: SECONDARY } });
});

test('1.60 OnBoardRequest Notification', async (t) => {
  const w = the(t);
  if (!w) return;
  // What "appropriate values" are, asked of the agent over the wire.
  const info = resolved(
    await get(w, [
      'Device.DeviceInfo.ManufacturerOUI',
      'Device.DeviceInfo.ProductClass',
      'Device.DeviceInfo.SerialNumber',
    ]),
  )['Device.DeviceInfo.']!;
  const proto = await w.ctl.request('get_supported_protocol', 'GET_SUPPORTED_PROTO', {
    controller_supported_protocol_versions: '1.4',
  });
  const versions = responseOf(proto, 'get_supported_protocol_resp').agent_supported_protocol_versions;
  const before = w.ctl.notifications.length;
  await w.ctl.post('operate', 'OPERATE', {
    command: `${CTL}SendOnBoardRequest()`,
    command_key: 'test60',
    send_resp: false,
    input_args: {},
  });
  const n = await w.ctl.waitForNotification(
    (x) => w.ctl.notifications.indexOf(x) >= before && Boolean(x.body.on_board_req),
    10_000,
  );
  assert.equal(n.subscriptionId, '', 'subscription_id is an empty string');
  assert.deepEqual(n.body.on_board_req, {
    oui: info.ManufacturerOUI,
    product_class: info.ProductClass,
    serial_number: info.SerialNumber,
    agent_supported_protocol_versions: versions,
  });
  assert.ok(info.ManufacturerOUI && info.SerialNumber && versions, JSON.stringify({ info, versions }));
});
