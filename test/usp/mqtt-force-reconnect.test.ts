// ForceReconnect() on one Device.MQTT.Client reconnects that client only: the agent's other
// client keeps its connection. Over an in-process aedes broker that counts connections per client id.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { Aedes } from 'aedes';
import { Agent } from '../../src/agent.js';
import { mqttDeploymentDefaults } from '../../src/usp/mqtt/deployment.js';
import { silentLogger } from '../../src/util/logger.js';
import { agent as agentCaller, sleep, tempDir, waitFor } from '../helpers.js';

test('ForceReconnect() on Client.1 reconnects Client.1 and leaves Client.2 connected', async (t) => {
  const broker = await Aedes.createBroker();
  const connects = new Map<string, number>();
  const disconnects = new Map<string, number>();
  broker.on('client', (c) => connects.set(c.id, (connects.get(c.id) ?? 0) + 1));
  broker.on('clientDisconnect', (c) => disconnects.set(c.id, (disconnects.get(c.id) ?? 0) + 1));
  const server = createServer({ noDelay: true }, broker.handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  const { dir, cleanup } = tempDir('cpe-force-reconnect-');
  writeFileSync(
    join(dir, 'defaults.json'),
    JSON.stringify({
      ...mqttDeploymentDefaults({
        brokerPort: port,
        version: '3.1.1',
        agentTopic: 'usp/agent/one',
        controllerId: 'proto::ctl',
        controllerTopic: 'usp/controller',
      }),
      'Device.MQTT.Client.1.ClientID': 'agent-one',
      'Device.MQTT.Client.2.Enable': 'true',
      'Device.MQTT.Client.2.BrokerAddress': '127.0.0.1',
      'Device.MQTT.Client.2.BrokerPort': String(port),
      'Device.MQTT.Client.2.ProtocolVersion': '3.1.1',
      'Device.MQTT.Client.2.ClientID': 'agent-two',
      'Device.LocalAgent.MTP.2.Enable': 'true',
      'Device.LocalAgent.MTP.2.Protocol': 'MQTT',
      'Device.LocalAgent.MTP.2.MQTT.Reference': 'Device.MQTT.Client.2',
      'Device.LocalAgent.MTP.2.MQTT.ResponseTopicConfigured': 'usp/agent/two',
    }),
  );
  const agent = new Agent({
    stateDir: join(dir, 'state'),
    defaultsFile: join(dir, 'defaults.json'),
    logger: silentLogger,
  });
  t.after(async () => {
    await agent.stop();
    await new Promise<void>((r) => broker.close(() => server.close(() => r())));
    cleanup();
  });
  await agent.start();
  const status = (i: number) => agent.dm.value(`Device.MQTT.Client.${i}.Status`);
  await waitFor(() => status(1) === 'Connected' && status(2) === 'Connected', 10_000);
  assert.deepEqual([connects.get('agent-one'), connects.get('agent-two')], [1, 1]);

  const [out] = await agent.dm.operate('Device.MQTT.Client.1.ForceReconnect()', {}, agentCaller);
  assert.equal(out!.kind, 'sync');
  await waitFor(() => connects.get('agent-one') === 2 && status(1) === 'Connected', 10_000);
  await sleep(300); // room for a wrong reconnect of Client.2 to show
  assert.equal(disconnects.get('agent-one'), 1);
  assert.equal(connects.get('agent-two'), 1, 'Client.2 was not reconnected');
  assert.equal(disconnects.get('agent-two'), undefined, 'Client.2 was not disconnected');
  assert.equal(status(2), 'Connected');
});
