// The USP system tests' world over a real mosquitto: the agent from a defaults file and a controller
// that has seen the agent's MQTTConnect record; everything is stopped and removed after the test.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { Agent } from '../../src/agent.js';
import { UspController } from '../../src/usp/controller-client.js';
import { mqttDeploymentDefaults } from '../../src/usp/mqtt/deployment.js';
import { silentLogger } from '../../src/util/logger.js';
import { waitFor } from '../helpers.js';
import type { Mosquitto } from './mosquitto.js';

export const AGENT_ID = 'os::00D0F1-Test-SN1';
export const CTL_ID = 'proto::test-controller';

/** The MQTT deployment both sides use: the agent's and the controller's topics on the broker's port. */
export const deployment = (port: number, version: '3.1.1' | '5.0'): Record<string, string> =>
  mqttDeploymentDefaults({
    brokerPort: port,
    version,
    agentTopic: 'usp/agent/test',
    controllerId: CTL_ID,
    controllerTopic: 'usp/controller/test',
    device: { oui: '00D0F1', productClass: 'Test', serialNumber: 'SN1' },
  });

export async function agentAndController(
  t: TestContext,
  o: {
    dir: string;
    cleanup: () => void;
    port: number;
    broker: Mosquitto;
    version: '3.1.1' | '5.0';
    defaults: Record<string, string>;
    /** The controller's request QoS (1 when not given). */
    controllerQoS?: 0 | 1;
  },
) {
  const defaultsFile = join(o.dir, 'defaults.json');
  writeFileSync(defaultsFile, JSON.stringify(o.defaults));
  const agent = new Agent({ stateDir: join(o.dir, 'state'), defaultsFile, logger: silentLogger });
  const ctl = new UspController({
    url: `mqtt://127.0.0.1:${o.port}`,
    version: o.version,
    endpointId: CTL_ID,
    topic: 'usp/controller/test',
    agentId: AGENT_ID,
    agentTopic: 'usp/agent/test',
    timeoutMs: 5000,
    ...(o.controllerQoS === undefined ? {} : { qos: o.controllerQoS }),
  });
  await ctl.connect();
  await agent.start();
  await waitFor(() => ctl.records.some((r) => r.mqtt_connect), 5000);
  t.after(async () => {
    await ctl.close();
    await agent.stop();
    await o.broker.stop();
    o.cleanup();
  });
  return { agent, ctl, stateDir: join(o.dir, 'state'), defaultsFile };
}
