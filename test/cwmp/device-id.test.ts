// The Inform's DeviceId is always valid: what the defaults leave out comes from the host (OUI from the
// first Ethernet interface's MAC, SerialNumber from the machine id), and where nothing can stand in,
// no Inform goes out and the log names the parameter to set.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Agent } from '../../src/agent.js';
import { CWMP_CALLER, type RpcContext } from '../../src/cwmp/rpc/context.js';
import { CwmpSession, SessionFailed } from '../../src/cwmp/session.js';
import type { AcsConnection } from '../../src/cwmp/transport.js';
import { hostIdentity } from '../../src/model/device-info.js';
import { silentLogger } from '../../src/util/logger.js';
import { newModel, tempDir } from '../helpers.js';
import { TestAcs } from './acs.js';
import { MS } from './harness.js';

const ACS_SETTINGS = (acs: TestAcs) => ({
  [`${MS}URL`]: acs.url,
  [`${MS}Username`]: 'cpe',
  [`${MS}Password`]: 'acs-secret',
  [`${MS}EnableCWMP`]: 'true',
});

/** An agent on an empty defaults file, the test ACS and a validation of all it sent torn down after the test. */
async function emptyDefaults(t: { after: (fn: () => Promise<void>) => void; diagnostic: (m: string) => void }) {
  const { dir, cleanup } = tempDir('cpe-devid-');
  const acs = new TestAcs({ username: 'cpe', password: 'acs-secret' });
  await acs.start();
  writeFileSync(join(dir, 'defaults.json'), '{}');
  const agent = new Agent({
    stateDir: join(dir, 'state'),
    defaultsFile: join(dir, 'defaults.json'),
    logger: silentLogger,
    settings: ACS_SETTINGS(acs),
    cwmp: { connectionRequest: { host: '127.0.0.1', port: 0 } },
  });
  await agent.start();
  t.after(async () => {
    const v = await acs.validateAll();
    if (v.skipped) t.diagnostic(v.skipped);
    await agent.containerEngine?.stopAll();
    await agent.stop();
    await acs.stop();
    cleanup();
    assert.ok(v.ok, `every envelope the CPE sent validates against the CWMP schema:\n${v.output}`);
  });
  return { agent, acs };
}

test('hostIdentity: the first physical Ethernet MAC gives the OUI, the machine id the serial number', () => {
  const { dir, cleanup } = tempDir('cpe-sysnet-');
  try {
    const iface = (name: string, type: string, mac: string, index: number, physical = false) => {
      mkdirSync(join(dir, 'net', name, physical ? 'device' : ''), { recursive: true });
      writeFileSync(join(dir, 'net', name, 'type'), `${type}\n`);
      writeFileSync(join(dir, 'net', name, 'address'), `${mac}\n`);
      writeFileSync(join(dir, 'net', name, 'ifindex'), `${index}\n`);
    };
    const net = join(dir, 'net');
    const noId = join(dir, 'no-machine-id');
    assert.deepEqual(hostIdentity(net, noId), { oui: '', serialNumber: '' }, 'no interfaces at all');
    iface('lo', '772', '00:00:00:00:00:00', 1);
    iface('tun0', '65534', '', 2);
    iface('dummy0', '1', '00:00:00:00:00:00', 3);
    assert.deepEqual(hostIdentity(net, noId), { oui: '', serialNumber: '' }, 'nothing with a MAC');
    iface('br0', '1', '5e:aa:bb:cc:dd:ee', 4);
    assert.deepEqual(hostIdentity(net, noId), { oui: '5EAABB', serialNumber: '5EAABBCCDDEE' });
    iface('eth1', '1', '00:d0:f1:00:00:02', 6, true);
    iface('eth0', '1', '00:d0:f2:00:00:01', 5, true);
    assert.deepEqual(hostIdentity(net, noId), { oui: '00D0F2', serialNumber: '00D0F2000001' }, 'physical first');
    writeFileSync(join(dir, 'machine-id'), '3d1219c7c4c5404aaa1f6d2a48adfda4\n');
    assert.deepEqual(hostIdentity(net, join(dir, 'machine-id')), {
      oui: '00D0F2',
      serialNumber: '3d1219c7c4c5404aaa1f6d2a48adfda4',
    });
  } finally {
    cleanup();
  }
});

test('an empty defaults file: the Inform carries the host OUI and serial number and validates', async (t) => {
  const host = hostIdentity();
  if (!host.oui || !host.serialNumber) {
    t.skip(
      `SKIPPED LOUDLY: this host has no Ethernet MAC or machine id to derive a DeviceId from (${JSON.stringify(host)})`,
    );
    return;
  }
  const { agent, acs } = await emptyDefaults(t);
  await acs.until(() => acs.informs.length >= 1 && acs.sessionsEnded >= 1);
  const raw = acs.informs[0]!.raw;
  assert.match(raw, /<OUI>[0-9A-F]{6}<\/OUI>/);
  assert.match(raw, /<SerialNumber>[^<]+<\/SerialNumber>/);
  assert.ok(raw.includes(`<OUI>${host.oui}</OUI>`) && raw.includes(`<SerialNumber>${host.serialNumber}<`), raw);
  assert.equal(agent.dm.value('Device.DeviceInfo.ManufacturerOUI'), host.oui, 'kept in the data model');
  assert.equal(agent.dm.value('Device.DeviceInfo.SerialNumber'), host.serialNumber);
});

test('no OUI or serial number to be had: no Inform goes out, and the failure names the parameter', async () => {
  const dm = newModel(); // nothing derived: as on a host with no Ethernet interface and no machine id
  const posted: string[] = [];
  const conn = {
    post: async (body: string) => {
      posted.push(body);
      return { body: '' };
    },
  } as unknown as AcsConnection;
  const ctx = { dm, caller: CWMP_CALLER, state: {}, actions: {} } as unknown as RpcContext;
  const run = () =>
    new CwmpSession(conn, ctx, silentLogger, () => {}).run({
      events: [{ code: '1 BOOT', key: '' }],
      parameters: [],
      changed: [],
      pending: [],
      retryCount: 0,
    });
  await assert.rejects(run, (e: Error) => e instanceof SessionFailed && /DeviceInfo\.ManufacturerOUI/.test(e.message));
  dm.update('Device.DeviceInfo.', { ManufacturerOUI: '00D0F1' }, 'test');
  await assert.rejects(run, (e: Error) => e instanceof SessionFailed && /DeviceInfo\.SerialNumber/.test(e.message));
  assert.equal(posted.length, 0, 'nothing sent to the ACS');
});
