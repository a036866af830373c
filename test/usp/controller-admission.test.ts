// Admitting unknown controllers (TP-469 2.9): only where the operator opted in, only endpoint ids
// and topics a controller can have, at most X_CPE-AGENT_MaxAdmittedControllers rows.
// test/conformance/untrusted.test.ts runs it over mosquitto.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { admitController } from '../../src/usp/controller-admission.js';
import { agent, newModel } from '../helpers.js';

const CT = 'Device.LocalAgent.ControllerTrust.';

function model(admit: boolean, max = 8) {
  const dm = newModel();
  dm.update(CT, {
    'X_CPE-AGENT_AdmitUnknownControllers': String(admit),
    'X_CPE-AGENT_MaxAdmittedControllers': String(max),
  });
  const role = dm.addInstance(`${CT}Role.`, { Enable: 'true', Name: 'Untrusted' });
  dm.update(CT, { UntrustedRole: role.slice(0, -1) });
  return { dm, role: role.slice(0, -1) };
}

const rows = (dm: ReturnType<typeof newModel>) => dm.instances('Device.LocalAgent.Controller.', agent, true);

test('an admitted controller: enabled, the UntrustedRole, marked, answered on the topic it gave', () => {
  const { dm, role } = model(true);
  const a = admitController(dm, 'proto::someone', 'usp/controller/someone');
  assert.ok(a.admitted, JSON.stringify(a));
  const v = (p: string) => dm.value(`${a.row}${p}`);
  assert.deepEqual(
    [v('EndpointID'), v('Enable'), v('AssignedRole'), v('X_CPE-AGENT_Admitted')],
    ['proto::someone', 'true', role, 'true'],
  );
  assert.equal(dm.value(`${a.row}MTP.1.Protocol`), 'MQTT');
  assert.equal(dm.value(`${a.row}MTP.1.Enable`), 'true');
  assert.equal(dm.value(`${a.row}MTP.1.MQTT.Topic`), 'usp/controller/someone');
});

test('refused, and no row made: switch off, not an endpoint id, no topic or a wildcard one, the bound reached', () => {
  const off = model(false);
  assert.equal(admitController(off.dm, 'proto::someone', 't').admitted, false);
  const { dm } = model(true, 1);
  for (const [id, topic] of [
    ['not-an-endpoint-id', 't'],
    ['proto::has space', 't'],
    [`proto::${'x'.repeat(300)}`, 't'],
    ['proto::someone', undefined],
    ['proto::someone', 'a/+/b'],
    ['proto::someone', 'a/#'],
  ] as const)
    assert.equal(admitController(dm, id, topic).admitted, false, `${id} ${topic}`);
  assert.equal(rows(dm).length, 0);
  assert.ok(admitController(dm, 'proto::first', 't').admitted);
  const past = admitController(dm, 'proto::second', 't');
  assert.ok(!past.admitted && /bound is 1/.test(past.why));
  assert.equal(rows(dm).length, 1);
});
