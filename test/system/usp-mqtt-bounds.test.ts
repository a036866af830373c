// The size of USP answers over a real mosquitto: a broker that states a Maximum Packet Size in its
// MQTT 5 CONNACK drops any client that publishes more; the agent answers such a request with Error
// 7005 instead and stays connected. Over MQTT 3.1.1, where the broker states nothing, the configured
// LocalAgent.X_CPE-AGENT_MaxRecordSize is the limit.

import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { errorOf } from '../fixtures/usp-answer.js';
import { tempDir } from '../helpers.js';
import { freePort, Mosquitto, requireMosquitto } from './mosquitto.js';
import { agentAndController, deployment } from './usp-world.js';

const MAX_PACKET = 20_000;

async function world(t: TestContext, version: '3.1.1' | '5.0', extra: Record<string, string>) {
  const bin = requireMosquitto(t);
  if (!bin) return undefined;
  const { dir, cleanup } = tempDir('cpe-usp-bounds-');
  const port = await freePort();
  const broker = new Mosquitto(bin, dir, port, undefined, `max_packet_size ${MAX_PACKET}\n`);
  await broker.start();
  // BootParameter rows make Get Device. several times the broker's limit.
  const rows: Record<string, string> = {};
  for (let i = 1; i <= 300; i++)
    rows[`Device.LocalAgent.Controller.1.BootParameter.${i}.ParameterName`] = `Device.DeviceInfo.X_${i}`;
  const { agent, ctl } = await agentAndController(t, {
    dir,
    cleanup,
    port,
    broker,
    version,
    defaults: { ...deployment(port, version), 'Device.MQTT.Client.1.ConnectRetryTime': '1', ...rows, ...extra },
  });
  return { agent, ctl };
}

test(
  `MQTT 5.0: an answer above the broker's Maximum Packet Size (${MAX_PACKET}) is Error 7005, and the agent ` +
    `stays connected`,
  async (t) => {
    const w = await world(t, '5.0', {});
    if (!w) return;
    const big = await w.ctl.request('get', 'GET', { param_paths: ['Device.'] });
    assert.equal(big.header.msg_type, 'ERROR');
    assert.equal(errorOf(big).err_code, 7005);
    const small = await w.ctl.request('get', 'GET', { param_paths: ['Device.DeviceInfo.SerialNumber'] });
    assert.equal(small.header.msg_type, 'GET_RESP', 'answered on the same connection');
    assert.equal(w.agent.dm.value('Device.MQTT.Client.1.Stats.ConnectionErrors'), '0');
    const fits = await w.ctl.request('get', 'GET', {
      param_paths: ['Device.LocalAgent.Controller.1.BootParameter.[ParameterName=="Device.DeviceInfo.X_7"].'],
    });
    assert.equal(fits.header.msg_type, 'GET_RESP');
  },
);

test('MQTT 3.1.1: the configured X_CPE-AGENT_MaxRecordSize is the limit where the broker states none', async (t) => {
  const w = await world(t, '3.1.1', { 'Device.LocalAgent.X_CPE-AGENT_MaxRecordSize': '16384' });
  if (!w) return;
  const big = await w.ctl.request('get', 'GET', { param_paths: ['Device.'] });
  assert.equal(big.header.msg_type, 'ERROR');
  assert.equal(errorOf(big).err_code, 7005);
  assert.match(errorOf(big).err_msg, /16384 bytes/);
  const small = await w.ctl.request('get', 'GET', { param_paths: ['Device.DeviceInfo.'] });
  assert.equal(small.header.msg_type, 'GET_RESP');
});
