// TP-469 4.1: the MQTT MTP secured by TLS with X.509 certificates. A mosquitto that serves TLS only and
// requires client certificates from its CA; the agent with a CA that did not sign the broker's
// certificate must not connect (it checks the certificate), with the right CA it connects and answers.
// Without mosquitto or openssl the test skips loudly (fails under CI).

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { connectAsync } from 'mqtt';
import { Agent } from '../../src/agent.js';
import { UspController } from '../../src/usp/controller-client.js';
import { silentLogger } from '../../src/util/logger.js';
import { makeCertificates } from '../certs.js';
import { responseOf } from '../fixtures/usp-answer.js';
import { requireTool, sleep, tempDir, waitFor } from '../helpers.js';
import { freePort, Mosquitto, requireMosquitto } from '../system/mosquitto.js';
import { AGENT_ID, CTL_ID, deployment } from '../system/usp-world.js';

test('4.1 Use of X.509 certificates at the MTP layer', async (t) => {
  const bin = requireMosquitto(t);
  if (!bin || !requireTool(t, 'openssl')) return;
  const { dir, cleanup } = tempDir('cpe-tp469-tls-');
  t.after(cleanup);
  const certs = makeCertificates(dir);
  const port = await freePort();
  const broker = new Mosquitto(bin, dir, port, { ca: certs.ca, cert: certs.serverCert, key: certs.serverKey });
  await broker.start();
  t.after(() => broker.stop());
  // The test's precondition "MTP layer encryption is enabled": the broker speaks nothing but TLS.
  await assert.rejects(
    connectAsync(`mqtt://127.0.0.1:${port}`, { protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 2000 }),
    'a plain MQTT connection to the broker fails',
  );
  const defaults = {
    ...deployment(port, '5.0'),
    'Device.MQTT.Client.1.TransportProtocol': 'TLS',
    'Device.MQTT.Client.1.ConnectRetryTime': '1',
  };
  writeFileSync(join(dir, 'defaults.json'), JSON.stringify(defaults));
  const ctl = new UspController({
    url: `mqtts://127.0.0.1:${port}`,
    version: '5.0',
    endpointId: CTL_ID,
    topic: 'usp/controller/test',
    agentId: AGENT_ID,
    agentTopic: 'usp/agent/test',
    timeoutMs: 5000,
    tls: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey },
  });
  await ctl.connect();
  t.after(() => ctl.close());
  const agentWith = (ca: string, state: string) =>
    new Agent({
      stateDir: join(dir, state),
      defaultsFile: join(dir, 'defaults.json'),
      logger: silentLogger,
      tls: { caFile: ca, certFile: certs.clientCert, keyFile: certs.clientKey },
    });

  // The EUT processes the certificate: one its CA did not sign is refused, so nothing reaches the broker.
  const wrong = agentWith(certs.otherCa, 'wrong');
  await wrong.start();
  try {
    await sleep(2500);
    assert.equal(ctl.records.length, 0, 'no MQTTConnect record from an agent that distrusts the broker');
  } finally {
    await wrong.stop();
  }

  const agent = agentWith(certs.ca, 'state');
  await agent.start();
  t.after(() => agent.stop());
  await waitFor(() => ctl.records.some((r) => r.mqtt_connect), 8000);
  const m = await ctl.request('get_supported_protocol', 'GET_SUPPORTED_PROTO', {
    controller_supported_protocol_versions: '1.3,1.4',
  });
  const versions = responseOf(m, 'get_supported_protocol_resp').agent_supported_protocol_versions;
  assert.match(versions, /(^|,)1\.4(,|$)/, `the agent answers over TLS: ${versions}`);
  const g = await ctl.request('get', 'GET', { param_paths: ['Device.MQTT.Client.1.'], max_depth: 1 });
  const client = responseOf(g, 'get_resp').req_path_results[0]!.resolved_path_results[0]!.result_params;
  assert.equal(client.TransportProtocol, 'TLS');
  assert.equal(client.Status, 'Connected');
});
