// Secrets at rest and in logs: with every log level on, a whole CWMP session (Digest both ways), a
// USP-style Set of passwords and a refused one never put a password in a log line; Get reads them
// empty; the state directory and the files holding them are the agent's alone.

import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { Agent } from '../src/agent.js';
import { createLogger } from '../src/util/logger.js';
import { TestAcs } from './cwmp/acs.js';
import { MS, writeDefaults } from './cwmp/harness.js';
import { tempDir, usp } from './helpers.js';

const SECRETS = ['acs-secret', 'cr-secret', 'mqtt-Secret-77', 'new-Secret-88', 'refused-Secret-99'];

test(
  'passwords never reach the logs (trace level), read back empty, and live in files only the agent can ' + 'read',
  async (t) => {
    const { dir, cleanup } = tempDir('cpe-secrets-');
    const acs = new TestAcs({ username: 'cpe', password: 'acs-secret' });
    await acs.start();
    writeDefaults(dir, acs, { 'Device.MQTT.Client.1.Password': 'mqtt-Secret-77' });
    let logged = '';
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        logged += chunk.toString();
        done();
      },
    });
    const agent = new Agent({
      stateDir: join(dir, 'state'),
      defaultsFile: join(dir, 'defaults.json'),
      logger: createLogger('trace', sink),
      cwmp: { connectionRequest: { host: '127.0.0.1', port: 0 } },
    });
    await agent.start();
    t.after(async () => {
      const v = await acs.validateAll();
      if (v.skipped) t.diagnostic(v.skipped);
      await agent.stop();
      await acs.stop();
      cleanup();
      assert.ok(v.ok, `every envelope the CPE sent validates against the CWMP schema:\n${v.output}`);
    });
    await acs.until(() => acs.sessionsEnded >= 1);
    // A session the ACS asks for (Digest towards the agent), with RPCs reading and writing passwords.
    const crUrl = agent.dm.value(`${MS}ConnectionRequestURL`);
    const read = acs.rpc(
      `<cwmp:GetParameterValues><ParameterNames ` +
        `soapenc:arrayType="xsd:string[2]"><string>${MS}Password</string><string>` +
        `Device.MQTT.Client.1.Password</string></ParameterNames></cwmp:GetParameterValues>`,
    );
    const write = acs.rpc(
      `<cwmp:SetParameterValues><ParameterList ` +
        `soapenc:arrayType="cwmp:ParameterValueStruct[1]"><ParameterValueStruct><Name>` +
        `${MS}ConnectionRequestPassword</Name><Value xsi:type="xsd:string">new-Secret-88</Value>` +
        `</ParameterValueStruct></ParameterList><ParameterKey>k</ParameterKey></cwmp:SetParameterValues>`,
    );
    assert.equal(await TestAcs.connectionRequest(crUrl, 'acs', 'cr-secret'), 200);
    const values = (await read).raw;
    assert.ok(!SECRETS.some((s) => values.includes(s)), 'GetParameterValues reads passwords empty');
    assert.equal((await write).method, 'SetParameterValuesResponse');
    agent.dm.set([{ objPath: 'Device.MQTT.Client.1.', params: [{ name: 'Password', value: 'new-Secret-88' }] }], usp);
    assert.throws(() =>
      agent.dm.set(
        [
          {
            objPath: 'Device.MQTT.Client.1.',
            params: [
              { name: 'Password', value: 'refused-Secret-99' },
              { name: 'BrokerPort', value: 'not a port' },
            ],
          },
        ],
        usp,
      ),
    );
    assert.equal(agent.dm.get('Device.MQTT.Client.1.Password', usp)[0]!.params.Password, '', 'Get reads it empty');
    for (const seen of [
      '"method":"SetParameterValues"',
      `"path":"${MS}ConnectionRequestPassword","value":"***","by":"cwmp"`,
      '"path":"Device.MQTT.Client.1.Password","value":"***","by":"usp"',
    ]) {
      assert.ok(logged.includes(seen), `the log has ${seen}:\n${logged}`);
    }
    for (const s of SECRETS) assert.ok(!logged.includes(s), `'${s}' is not in the log`);

    // At rest: the state directory and everything the agent wrote in it is readable by the agent only.
    const walk = (d: string): string[] =>
      readdirSync(d, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? [join(d, e.name), ...walk(join(d, e.name))] : [join(d, e.name)],
      );
    const state = join(dir, 'state');
    // Not secret, and read by containers' users: installed packages, and the units' resolv.conf (a gateway address).
    const shared = (p: string) => p.includes(join('engine', 'du')) || p.endsWith(join('engine', 'resolv.conf'));
    for (const p of [state, ...walk(state).filter((p) => !shared(p))]) {
      assert.equal(
        statSync(p).mode & 0o077,
        0,
        `${p} is not readable by others (${(statSync(p).mode & 0o777).toString(8)})`,
      );
    }
  },
);
