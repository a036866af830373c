// The RPCs whose work outlives the session: Download (a vendor configuration file applied live, a
// firmware image handed to the configured command, TransferComplete in a later session), Reboot (the
// agent restarts and says "1 BOOT" + "M Reboot") and FactoryReset (defaults again, "0 BOOTSTRAP").

import assert from 'node:assert/strict';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../helpers.js';
import { serveFiles } from '../http-files.js';
import { type Message, type Node, TestAcs, txt } from './acs.js';
import { faultOf, MS, setup } from './harness.js';

const download = (key: string, type: string, url: string) =>
  `<cwmp:Download><CommandKey>${key}</CommandKey><FileType>${type}</FileType><URL>${url}</URL><Username/>` +
  `<Password/><FileSize>0</FileSize><TargetFileName/><DelaySeconds>0</DelaySeconds><SuccessURL/><FailureURL/>` +
  `</cwmp:Download>`;
const CONFIG = '3 Vendor Configuration File';
const transfer = (m: Message) => ({
  key: txt(m.body.CommandKey),
  code: Number(txt((m.body.FaultStruct as Node).FaultCode)),
  message: txt((m.body.FaultStruct as Node).FaultString),
});

test(
  'Download: a vendor configuration file applied at once (TransferComplete 0), a broken or refused one changes ' +
    'nothing (9018), firmware without an installer 9010',
  async (t) => {
    const http = await serveFiles({
      'good.json': Buffer.from(
        JSON.stringify({ [`${MS}PeriodicInformInterval`]: 1234, 'Device.DeviceInfo.ProvisioningCode': 'from-config' }),
      ),
      'broken.json': Buffer.from('{"Device.ManagementServer.PeriodicInformInterval": '),
      'refused.json': Buffer.from(
        JSON.stringify({ [`${MS}PeriodicInformInterval`]: 99, 'Device.DeviceInfo.Manufacturer': 'evil' }),
      ),
      'fw.bin': Buffer.alloc(1024, 1),
    });
    t.after(() => http.close());
    const { agent, acs } = await setup(t);
    await acs.until(() => acs.sessionsEnded >= 1);
    const cr = () => TestAcs.connectionRequest(agent.dm.value(`${MS}ConnectionRequestURL`), 'acs', 'cr-secret');
    const completes = () => acs.requests.filter((r) => r.method === 'TransferComplete').map(transfer);

    const answers = [
      acs.rpc(download('good', CONFIG, http.url('good.json'))),
      acs.rpc(download('broken', CONFIG, http.url('broken.json'))),
      acs.rpc(download('refused', CONFIG, http.url('refused.json'))),
      acs.rpc(download('fw', '1 Firmware Upgrade Image', http.url('fw.bin'))),
      acs.rpc(download('gone', CONFIG, http.url('nothing-here.json'))),
    ];
    const webContent = acs.rpc(download('web', '2 Web Content', http.url('good.json')));
    const ftp = acs.rpc(download('ftp', CONFIG, 'ftp://127.0.0.1/x'));
    assert.equal(await cr(), 200);
    for (const a of answers) {
      const m = await a;
      assert.equal(m.method, 'DownloadResponse');
      assert.equal(txt(m.body.Status), '1', 'not done yet: TransferComplete follows');
    }
    assert.equal(txt(faultOf(await webContent)!.FaultCode), '9003');
    assert.equal(txt(faultOf(await ftp)!.FaultCode), '9013');

    await acs.until(() => completes().length === 5);
    const byKey = Object.fromEntries(completes().map((c) => [c.key, c]));
    assert.equal(byKey.good!.code, 0);
    assert.equal(agent.dm.value(`${MS}PeriodicInformInterval`), '1234');
    assert.equal(agent.dm.value('Device.DeviceInfo.ProvisioningCode'), 'from-config');
    assert.equal(byKey.broken!.code, 9018);
    assert.match(byKey.broken!.message, /not JSON/);
    assert.equal(byKey.refused!.code, 9018);
    assert.match(byKey.refused!.message, /Manufacturer/);
    assert.notEqual(agent.dm.value(`${MS}PeriodicInformInterval`), '99', 'a refused file applies nothing');
    assert.equal(byKey.fw!.code, 9010);
    assert.equal(byKey.gone!.code, 9016);
    const events = acs.informs.flatMap((i) => i.events);
    assert.ok(events.some((e) => e.code === '7 TRANSFER COMPLETE'));
    for (const key of ['good', 'broken', 'refused', 'fw', 'gone'])
      assert.equal(events.filter((e) => e.code === 'M Download' && e.key === key).length, 1, `M Download ${key} once`);
  },
);

test(
  'Download of a firmware image: handed to the configured command; its failure is 9010 with its last ' + 'words',
  async (t) => {
    const image = Buffer.from('firmware image 2.0');
    const http = await serveFiles({ 'fw-ok.bin': image, 'fw-bad.bin': Buffer.from('bad image') });
    const { dir, cleanup } = tempDir('cpe-fw-');
    t.after(async () => {
      await http.close();
      cleanup();
    });
    const installer = join(dir, 'flash.sh');
    writeFileSync(
      installer,
      `#!/bin/sh\nif grep -q bad "$1"; then echo "checksum mismatch" >&2; exit 3; fi\ncp "$1" ` +
        `${join(dir, 'flashed')}\n`,
    );
    chmodSync(installer, 0o755);
    const { agent, acs } = await setup(t, {}, { firmwareCommand: installer });
    await acs.until(() => acs.sessionsEnded >= 1);
    const ok = acs.rpc(download('fw-ok', '1 Firmware Upgrade Image', http.url('fw-ok.bin')));
    const bad = acs.rpc(download('fw-bad', '1 Firmware Upgrade Image', http.url('fw-bad.bin')));
    assert.equal(await TestAcs.connectionRequest(agent.dm.value(`${MS}ConnectionRequestURL`), 'acs', 'cr-secret'), 200);
    await ok;
    await bad;
    await acs.until(() => acs.requests.filter((r) => r.method === 'TransferComplete').length === 2);
    const byKey = Object.fromEntries(
      acs.requests
        .filter((r) => r.method === 'TransferComplete')
        .map(transfer)
        .map((c) => [c.key, c]),
    );
    assert.equal(byKey['fw-ok']!.code, 0);
    assert.deepEqual(readFileSync(join(dir, 'flashed')), image);
    assert.equal(byKey['fw-bad']!.code, 9010);
    assert.match(byKey['fw-bad']!.message, /checksum mismatch/);
  },
);

test(
  'Reboot: the agent restarts after the session and the next Inform says 1 BOOT + M Reboot; FactoryReset ' +
    'brings the defaults and 0 BOOTSTRAP back',
  async (t) => {
    const { agent, acs } = await setup(t);
    await acs.until(() => acs.sessionsEnded >= 1);
    const cr = () => TestAcs.connectionRequest(agent.dm.value(`${MS}ConnectionRequestURL`), 'acs', 'cr-secret');
    const set = acs.rpc(
      `<cwmp:SetParameterValues><ParameterList ` +
        `soapenc:arrayType="cwmp:ParameterValueStruct[1]"><ParameterValueStruct><Name>` +
        `${MS}PeriodicInformInterval</Name><Value xsi:type="xsd:unsignedInt">4321</Value></ParameterValueStruct>` +
        `</ParameterList><ParameterKey>before-reboot</ParameterKey></cwmp:SetParameterValues>`,
    );
    const reboot = acs.rpc('<cwmp:Reboot><CommandKey>rb-1</CommandKey></cwmp:Reboot>');
    assert.equal(await cr(), 200);
    await set;
    assert.equal((await reboot).method, 'RebootResponse');
    await acs.until(() => acs.informs.some((i) => i.events.some((e) => e.code === 'M Reboot')));
    const after = acs.informs.find((i) => i.events.some((e) => e.code === 'M Reboot'))!;
    const codes = after.events.map((e) => `${e.code}|${e.key}`);
    assert.ok(
      codes.includes('1 BOOT|') && codes.includes('M Reboot|rb-1') && !codes.includes('0 BOOTSTRAP|'),
      codes.join(','),
    );
    assert.equal(after.params[`${MS}ParameterKey`], 'before-reboot', 'the state survived the restart');
    assert.equal(agent.dm.value(`${MS}PeriodicInformInterval`), '4321');

    await acs.until(() => acs.sessionsEnded >= 3);
    const n = acs.informs.length;
    const reset = acs.rpc('<cwmp:FactoryReset/>');
    assert.equal(await cr(), 200);
    assert.equal((await reset).method, 'FactoryResetResponse');
    await acs.until(() => acs.informs.length > n && acs.informs.at(-1)!.events.some((e) => e.code === '0 BOOTSTRAP'));
    assert.notEqual(agent.dm.value(`${MS}PeriodicInformInterval`), '4321', 'the defaults are back');
    assert.equal(acs.informs.at(-1)!.params[`${MS}ParameterKey`], '');
  },
);
