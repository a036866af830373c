// The QoS of the agent's records (LocalAgent.MTP.{i}.MQTT.PublishQoS) over a real mosquitto run with
// its stock TCP settings (no set_tcp_nodelay), as most deployed brokers are. Waiting on the broker's
// PUBACKs there holds each answer back by ~40 ms (Nagle on the broker, a delayed ACK on the agent); with
// QoS 0, the default, nothing does.

import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import mqtt from 'mqtt';
import { tempDir } from '../helpers.js';
import { freePort, Mosquitto, requireMosquitto } from './mosquitto.js';
import { agentAndController, deployment } from './usp-world.js';

/** A stock broker, the agent with PublishQoS (unset: the default), a controller, and an observer that
 *  sees the QoS of every record the agent publishes to the controller. */
async function world(
  t: TestContext,
  version: '3.1.1' | '5.0',
  publishQoS?: '0' | '1',
  controllerQoS?: 0 | 1,
  brokerConf = '',
) {
  const bin = requireMosquitto(t);
  if (!bin) return undefined;
  const { dir, cleanup } = tempDir('cpe-usp-qos-');
  const port = await freePort();
  const broker = new Mosquitto(bin, dir, port, undefined, brokerConf, false);
  await broker.start();
  // Subscribed with QoS 2, the observer gets each PUBLISH with the QoS the agent sent it with.
  const observer = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { protocolVersion: 5 });
  const seen: number[] = [];
  observer.on('message', (_topic, _payload, packet) => seen.push(packet.qos));
  await observer.subscribeAsync(['usp/controller/test', 'usp/controller/test/#'], { qos: 2 });
  t.after(() => observer.endAsync());
  const defaults = {
    ...deployment(port, version),
    ...(publishQoS ? { 'Device.LocalAgent.MTP.1.MQTT.PublishQoS': publishQoS } : {}),
  };
  const w = await agentAndController(t, { dir, cleanup, port, broker, version, defaults, controllerQoS });
  return { ...w, seen };
}

/** Round trips of n Gets of Device.DeviceInfo. one after the other, in ms. */
async function sequentialGets(w: NonNullable<Awaited<ReturnType<typeof world>>>, n: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    const m = await w.ctl.request('get', 'GET', { param_paths: ['Device.DeviceInfo.'] });
    times.push(performance.now() - start);
    assert.ok(m.body.response?.get_resp, 'a GetResp');
  }
  return times;
}

for (const version of ['5.0', '3.1.1'] as const) {
  for (const qos of [undefined, '0', '1'] as const) {
    test(`MQTT ${version}: PublishQoS ${qos ?? 'unset (0)'}: records go out with it, Gets answered`, async (t) => {
      const w = await world(t, version, qos);
      if (!w) return;
      assert.equal(w.agent.dm.value('Device.LocalAgent.MTP.1.MQTT.PublishQoS'), qos ?? '0');
      const times = await sequentialGets(w, 20);
      assert.equal(times.length, 20);
      // MQTTConnect and 20 GetResps, every one with the configured QoS.
      assert.ok(w.seen.length >= 21, `the observer saw ${w.seen.length} records`);
      assert.deepEqual(new Set(w.seen), new Set([Number(qos ?? 0)]));
    });
  }
}

// The controller sends its requests with QoS 0 too: the broker's PUBACK to a QoS 1 request stalls the
// answer on the controller's own socket the same way, which is no fault of the agent's.
test('stock mosquitto, default QoS: 20 sequential Gets, none held back by tens of ms', async (t) => {
  const w = await world(t, '5.0', undefined, 0);
  if (!w) return;
  await sequentialGets(w, 5); // warm-up: the first requests compile the Get path
  const times = await sequentialGets(w, 20);
  const max = Math.max(...times);
  // The Nagle stall this guards against is ~40 ms on every answer; a loaded machine adds a few ms at most
  // to some of them. Two slow ones are tolerated; a stall would make all of them slow.
  const slow = times.filter((ms) => ms >= 30);
  assert.ok(slow.length <= 2, `round trips ${times.map((ms) => ms.toFixed(1)).join(', ')} ms (max ${max.toFixed(1)})`);
});

// TR-181 PublishQoS: above the broker's Maximum QoS (MQTT 5 CONNACK) the agent uses the highest the
// broker supports. mosquitto disconnects a client that publishes above its max_qos, so an agent that
// did would answer nothing.
test('MQTT 5.0: PublishQoS 1 on a broker whose Maximum QoS is 0: published with 0, Gets answered', {
  timeout: 30_000,
}, async (t) => {
  const w = await world(t, '5.0', '1', 0, 'max_qos 0\n');
  if (!w) return;
  await sequentialGets(w, 5);
  assert.equal(w.agent.dm.value('Device.MQTT.Client.1.Status'), 'Connected');
  assert.equal(w.agent.dm.value('Device.MQTT.Client.1.Stats.ConnectionErrors'), '0');
});
