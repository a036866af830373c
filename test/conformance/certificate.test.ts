// TP-469 9.2, Device.LocalAgent.AddCertificate(), against one agent over a real mosquitto.
// Over MQTT the controller's connection ends at the broker, not at the agent: "reconfigure the
// Controller and reestablish a connection" is a new controller client, whose requests the agent answers.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { UspController } from '../../src/usp/controller-client.js';
import { makeCertificates } from '../certs.js';
import { responseOf } from '../fixtures/usp-answer.js';
import { requireTool, tempDir } from '../helpers.js';
import { conformanceWorld, get, resolved } from './world.js';

const the = conformanceWorld();

test('9.2 Use of Device.LocalAgent.AddCertificate()', async (t) => {
  const w = the(t);
  if (!w || !requireTool(t, 'openssl')) return;
  const { dir, cleanup } = tempDir('cpe-tp469-cert-');
  t.after(cleanup);
  const pem = readFileSync(makeCertificates(dir).clientCert, 'utf8');

  const added = await w.ctl.request('operate', 'OPERATE', {
    command: 'Device.LocalAgent.AddCertificate()',
    send_resp: true,
    input_args: { Alias: 'addedCert', Certificate: pem },
  });
  const r1 = responseOf(added, 'operate_resp').operation_results[0];
  assert.equal(r1?.executed_command, 'Device.LocalAgent.AddCertificate()');
  assert.ok(r1?.req_output_args, `an OperateResponse without failure: ${JSON.stringify(r1)}`);

  const again = new UspController(w.ctl.opts);
  await again.connect();
  t.after(() => again.close());
  const rows = resolved(await get({ ...w, ctl: again }, ['Device.LocalAgent.Certificate.']));
  const row = Object.keys(rows).find((p) => rows[p]!.Alias === 'addedCert');
  assert.ok(row, `an instance with Alias addedCert: ${JSON.stringify(rows)}`);
  assert.match(rows[row]!.SerialNumber ?? '', /^[0-9A-F]+$/i);

  const deleted = await again.request('operate', 'OPERATE', { command: `${row}Delete()`, send_resp: true });
  const r5 = responseOf(deleted, 'operate_resp').operation_results[0];
  assert.equal(r5?.executed_command, `${row}Delete()`);
  assert.ok(r5?.req_output_args, `an OperateResponse without failure: ${JSON.stringify(r5)}`);
  assert.deepEqual(resolved(await get(w, ['Device.LocalAgent.Certificate.'])), {}, 'the instance is gone');
});
