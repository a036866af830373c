// The CWMP client in a real agent against the test ACS over HTTP on loopback: Digest both ways,
// cookies, the RPCs, notifications, retries, and every envelope checked against the CWMP schema.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { Agent } from '../../src/agent.js';
import { DataModel } from '../../src/dm/datamodel.js';
import { silentLogger } from '../../src/util/logger.js';
import { loadSchema, tempDir } from '../helpers.js';
import { list, type Node, TestAcs, txt } from './acs.js';
import { faultOf, gpv, MS, setup, values } from './harness.js';

test(
  'boot: BOOTSTRAP + BOOT Inform with DeviceId and forced parameters, Digest and cookies, then the ' + 'RPCs',
  async (t) => {
    const { agent, acs } = await setup(t);
    await acs.until(() => acs.informs.length >= 1 && acs.sessionsEnded >= 1);
    const inform = acs.informs[0]!;
    const codes = inform.events.map((e) => e.code);
    assert.ok(codes.includes('0 BOOTSTRAP') && codes.includes('1 BOOT'), codes.join(','));
    assert.ok(
      codes.every((c) => ['0 BOOTSTRAP', '1 BOOT', '4 VALUE CHANGE'].includes(c)),
      `${codes} (4: the new ConnectionRequestURL)`,
    );
    assert.match(inform.raw, /<OUI>00D0F1<\/OUI>/);
    assert.ok(
      'Device.RootDataModelVersion' in inform.params &&
        `${MS}ConnectionRequestURL` in inform.params &&
        `${MS}ParameterKey` in inform.params,
      Object.keys(inform.params).join(' '),
    );
    const crUrl = inform.params[`${MS}ConnectionRequestURL`]!;
    assert.match(crUrl, /^http:\/\/127\.0\.0\.1:\d+\/cr\/[0-9a-f]{24}$/);

    // The ACS asks for a session: wrong credentials and a wrong path start nothing; the right ones one session.
    assert.equal(await TestAcs.connectionRequest(crUrl, 'acs', 'wrong'), 401);
    assert.equal(await TestAcs.connectionRequest(crUrl.replace(/cr\/.*/, 'cr/nope'), 'acs', 'cr-secret'), 404);
    const methods = acs.rpc('<cwmp:GetRPCMethods/>');
    const names = acs.rpc(
      '<cwmp:GetParameterNames><ParameterPath>Device.ManagementServer.</ParameterPath><NextLevel>1</NextLevel>' +
        '</cwmp:GetParameterNames>',
    );
    const vals = acs.rpc(gpv('Device.DeviceInfo.', `${MS}URL`));
    const set = acs.rpc(
      `<cwmp:SetParameterValues><ParameterList ` +
        `soapenc:arrayType="cwmp:ParameterValueStruct[2]"><ParameterValueStruct><Name>` +
        `${MS}PeriodicInformInterval</Name><Value xsi:type="xsd:unsignedInt">3600</Value></ParameterValueStruct>` +
        `<ParameterValueStruct><Name>Device.DeviceInfo.ProvisioningCode</Name><Value xsi:type="xsd:string">` +
        `P1</Value></ParameterValueStruct></ParameterList><ParameterKey>key-1</ParameterKey></cwmp:SetParameterValues>`,
    );
    const badSet = acs.rpc(
      `<cwmp:SetParameterValues><ParameterList ` +
        `soapenc:arrayType="cwmp:ParameterValueStruct[3]"><ParameterValueStruct><Name>` +
        `${MS}PeriodicInformInterval</Name><Value xsi:type="xsd:unsignedInt">60</Value></ParameterValueStruct>` +
        `<ParameterValueStruct><Name>Device.DeviceInfo.Manufacturer</Name><Value xsi:type="xsd:string">x</Value>` +
        `</ParameterValueStruct><ParameterValueStruct><Name>Device.Nope.X</Name><Value>1</Value>` +
        `</ParameterValueStruct></ParameterList><ParameterKey>key-2</ParameterKey></cwmp:SetParameterValues>`,
    );
    const unknown = acs.rpc('<cwmp:ScheduleDownload><CommandKey/></cwmp:ScheduleDownload>');
    const add = acs.rpc(
      `<cwmp:AddObject><ObjectName>${MS}InformParameter.</ObjectName><ParameterKey>key-3</ParameterKey>` +
        `</cwmp:AddObject>`,
    );
    assert.equal(await TestAcs.connectionRequest(crUrl, 'acs', 'cr-secret'), 200);

    const m = await methods;
    assert.ok(
      list((m.body.MethodList as Node).string as Node | Node[])
        .map(txt)
        .includes('ChangeDUState'),
    );
    const n = await names;
    const infos = list((n.body.ParameterList as Node).ParameterInfoStruct as Node | Node[]).map(
      (p): [string, string] => [txt(p.Name), txt(p.Writable)],
    );
    assert.ok(
      infos.some(([name, w]) => name === `${MS}URL` && w === '1'),
      'URL is writable',
    );
    assert.ok(
      infos.some(([name, w]) => name === `${MS}InformParameter.` && w === '1'),
      'the table is listed as writable',
    );
    assert.ok(!infos.some(([name]) => name.startsWith(`${MS}InformParameter.1`)), 'NextLevel: nothing deeper');
    const v = values(await vals);
    assert.equal(v['Device.DeviceInfo.SerialNumber'], 'S1');
    assert.equal(v[`${MS}URL`], acs.url);
    assert.equal(txt((await set).body.Status), '0');
    assert.equal(agent.dm.value(`${MS}PeriodicInformInterval`), '3600');
    const bad = faultOf(await badSet)!;
    assert.equal(txt(bad.FaultCode), '9003');
    const perParam = Object.fromEntries(
      list(bad.SetParameterValuesFault as Node | Node[]).map((f) => [txt(f.ParameterName), txt(f.FaultCode)]),
    );
    assert.deepEqual(perParam, { 'Device.DeviceInfo.Manufacturer': '9008', 'Device.Nope.X': '9005' });
    assert.equal(agent.dm.value(`${MS}PeriodicInformInterval`), '3600', 'a refused set applies nothing');
    assert.notEqual(agent.dm.value(`${MS}ParameterKey`), 'key-2', 'the key of a refused set is not taken');
    assert.equal(txt(faultOf(await unknown)!.FaultCode), '9000');
    assert.equal(txt((await add).body.InstanceNumber), '1');
    assert.equal(agent.dm.value(`${MS}ParameterKey`), 'key-3');
    await acs.until(() => acs.informs.some((i) => i.events.some((e) => e.code === '6 CONNECTION REQUEST')));
    assert.equal(
      acs.informs.filter((i) => i.events.some((e) => e.code === '6 CONNECTION REQUEST')).length,
      1,
      'one session for the connection request',
    );
    await acs.until(() => acs.sessionsEnded >= acs.informs.length);
    // Every session on one TCP connection (the Digest challenge included: the ACS keeps no session otherwise).
    const connections = acs.connectionsPerSession();
    assert.ok(connections.length >= 2 && connections.every((n) => n === 1), `connections: ${connections.join(', ')}`);
  },
);

test(
  'attributes and notifications: active starts a 4 VALUE CHANGE session, passive rides along, forced ones ' +
    'refuse; ScheduleInform; a broken request gets 9003',
  async (t) => {
    const { agent, acs, dir, boot } = await setup(t);
    await acs.until(() => acs.sessionsEnded >= 1);
    const crUrl = acs.informs[0]!.params[`${MS}ConnectionRequestURL`]!;
    const spa = (name: string, n: number) =>
      `<cwmp:SetParameterAttributes><ParameterList ` +
      `soapenc:arrayType="cwmp:SetParameterAttributesStruct[1]"><SetParameterAttributesStruct><Name>${name}</Name>` +
      `<NotificationChange>1</NotificationChange><Notification>${n}</Notification><AccessListChange>` +
      `0</AccessListChange><AccessList soapenc:arrayType="xsd:string[0]"></AccessList>` +
      `</SetParameterAttributesStruct></ParameterList></cwmp:SetParameterAttributes>`;
    const passive = acs.rpc(spa(`${MS}PeriodicInformEnable`, 1));
    const active = acs.rpc(spa(`${MS}PeriodicInformInterval`, 2));
    const deniable = acs.rpc(spa(`${MS}ParameterKey`, 2));
    const alwaysActive = acs.rpc(spa('Device.DeviceInfo.ProvisioningCode', 0));
    const gpa = acs.rpc(
      `<cwmp:GetParameterAttributes><ParameterNames ` +
        `soapenc:arrayType="xsd:string[2]"><string>${MS}PeriodicInformInterval</string><string>` +
        `${MS}PeriodicInformEnable</string></ParameterNames></cwmp:GetParameterAttributes>`,
    );
    const broken = acs.rpc(
      '<cwmp:GetParameterValues><ParameterNames><string>Device.Nope.</string></ParameterNames>' +
        '</cwmp:GetParameterValues>',
    );
    const schedule = acs.rpc(
      '<cwmp:ScheduleInform><DelaySeconds>1</DelaySeconds><CommandKey>sched-1</CommandKey></cwmp:ScheduleInform>',
    );
    assert.equal(await TestAcs.connectionRequest(crUrl, 'acs', 'cr-secret'), 200);
    assert.equal((await passive).method, 'SetParameterAttributesResponse');
    assert.equal((await active).method, 'SetParameterAttributesResponse');
    assert.equal(txt(faultOf(await deniable)!.FaultCode), '9009', 'ParameterKey may be denied active notification');
    assert.equal(txt(faultOf(await alwaysActive)!.FaultCode), '9009', 'ProvisioningCode is always active');
    const attrs = Object.fromEntries(
      list(((await gpa).body.ParameterList as Node).ParameterAttributeStruct as Node | Node[]).map((a) => [
        txt(a.Name),
        txt(a.Notification),
      ]),
    );
    assert.deepEqual(attrs, { [`${MS}PeriodicInformInterval`]: '2', [`${MS}PeriodicInformEnable`]: '1' });
    assert.equal(txt(faultOf(await broken)!.FaultCode), '9005');
    assert.equal((await schedule).method, 'ScheduleInformResponse');
    await acs.until(() =>
      acs.informs.some((i) => i.events.some((e) => e.code === 'M ScheduleInform' && e.key === 'sched-1')),
    );
    assert.ok(acs.informs.at(-1)!.events.some((e) => e.code === '3 SCHEDULED'));

    // Changes by someone else (here the device itself, as a USP controller or the CLI would): a passive one waits...
    const before = acs.informs.length;
    const flipped = agent.dm.value(`${MS}PeriodicInformEnable`) === 'true' ? 'false' : 'true';
    agent.dm.set([{ objPath: MS, params: [{ name: 'PeriodicInformEnable', value: flipped }] }], {
      kind: 'local',
      user: 'test',
    });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(acs.informs.length, before, 'a passive change starts no session');
    // ...and rides along with the next one, which an active change starts.
    agent.dm.set([{ objPath: MS, params: [{ name: 'PeriodicInformInterval', value: '7200' }] }], {
      kind: 'usp',
      endpointId: 'proto::ctl',
    });
    await acs.until(
      () => acs.informs.length > before && acs.informs.at(-1)!.events.some((e) => e.code === '4 VALUE CHANGE'),
    );
    const vc = acs.informs.at(-1)!;
    assert.equal(vc.params[`${MS}PeriodicInformInterval`], '7200');
    assert.equal(
      vc.params[`${MS}PeriodicInformEnable`],
      flipped,
      `the passive change rides along: ` +
        `${JSON.stringify(acs.informs.slice(before).map((i) => [i.events, Object.keys(i.params)]))}`,
    );

    // The ACS's own change does not come back as a notification.
    const n = acs.informs.length;
    const own = acs.rpc(
      `<cwmp:SetParameterValues><ParameterList ` +
        `soapenc:arrayType="cwmp:ParameterValueStruct[1]"><ParameterValueStruct><Name>` +
        `${MS}PeriodicInformInterval</Name><Value xsi:type="xsd:unsignedInt">900</Value></ParameterValueStruct>` +
        `</ParameterList><ParameterKey>k</ParameterKey></cwmp:SetParameterValues>`,
    );
    assert.equal(await TestAcs.connectionRequest(crUrl, 'acs', 'cr-secret'), 200);
    await own;
    await acs.until(() => acs.sessionsEnded >= 4);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(acs.informs.length, n + 1, "no VALUE CHANGE session for the ACS's own write");

    // A change committed while no CWMP client could notice it (the agent down, or killed between the
    // commit and the notice): the next start reports it once; the ACS's own 900 is not reported.
    await agent.stop();
    const dm = new DataModel({ schema: loadSchema(), stateDir: join(dir, 'state', 'dm') });
    dm.open();
    dm.set([{ objPath: MS, params: [{ name: 'PeriodicInformInterval', value: '1800' }] }], {
      kind: 'local',
      user: 'test',
    });
    dm.close();
    const informs = acs.informs.length;
    const again = await boot();
    await acs.until(() => acs.informs.length > informs && acs.sessionsEnded >= 5);
    const boot1 = acs.informs[informs]!;
    assert.deepEqual(
      boot1.events
        .map((e) => e.code)
        .filter((c) => c.startsWith('4 ') || c.startsWith('1 '))
        .sort(),
      ['1 BOOT', '4 VALUE CHANGE'],
    );
    assert.equal(boot1.params[`${MS}PeriodicInformInterval`], '1800');
    await again.stop();
    const informs2 = acs.informs.length;
    await boot();
    await acs.until(() => acs.informs.length > informs2);
    assert.ok(!(`${MS}PeriodicInformInterval` in acs.informs[informs2]!.params), 'reported once, not at every start');
  },
);

test(
  'an ACS that is down: retried with back-off, RetryCount counts, the events are kept; a restart keeps them ' + 'too',
  async (t) => {
    const { agent, acs, boot } = await setup(t);
    await acs.until(() => acs.sessionsEnded >= 1);
    acs.failNext = 3;
    const t0 = Date.now();
    const crUrl = acs.informs[0]!.params[`${MS}ConnectionRequestURL`]!;
    assert.equal(await TestAcs.connectionRequest(crUrl, 'acs', 'cr-secret'), 200);
    await acs.until(() => acs.informs.length >= 2, 30_000);
    const retried = acs.informs[1]!;
    assert.ok(
      retried.events.some((e) => e.code === '6 CONNECTION REQUEST'),
      'the event survived the failures',
    );
    assert.equal(retried.retryCount, 3, 'three failures: the fourth attempt carries RetryCount 3');
    assert.ok(Date.now() - t0 >= 3000, 'waited (1 s here) between attempts');
    await acs.until(() => acs.sessionsEnded >= 2);

    // Down again; the agent stops before it got through: the next start delivers the event, with BOOT, once.
    acs.failNext = 1000;
    const failedBefore = acs.failed;
    assert.equal(await TestAcs.connectionRequest(crUrl, 'acs', 'cr-secret'), 200);
    await acs.until(() => acs.failed > failedBefore);
    await agent.stop();
    acs.failNext = 0;
    const n = acs.informs.length;
    const again = await boot();
    await acs.until(() => acs.informs.length > n && acs.sessionsEnded >= 3);
    const codes = acs.informs[n]!.events.map((e) => e.code);
    assert.ok(
      codes.includes('6 CONNECTION REQUEST') && codes.includes('1 BOOT') && !codes.includes('0 BOOTSTRAP'),
      codes.join(','),
    );
    assert.equal(acs.informs[n]!.retryCount, 1, 'the count survived the restart');
    await again.cwmpClient!.idle();
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(
      acs.informs.length,
      n + 1,
      `delivered once: ${JSON.stringify(acs.informs.slice(n).map((i) => i.events))}`,
    );
  },
);

test('an active change made while the Inform announcing an earlier one is out gets an Inform of its own', async (t) => {
  const { agent, acs } = await setup(t);
  await acs.until(() => acs.sessionsEnded >= 1);
  const code = 'Device.DeviceInfo.ProvisioningCode'; // always active
  const provision = (v: string) =>
    agent.dm.set([{ objPath: 'Device.DeviceInfo.', params: [{ name: 'ProvisioningCode', value: v }] }], {
      kind: 'local',
      user: 'test',
    });
  const announced = (v: string) =>
    acs.informs.some((i) => i.events.some((e) => e.code === '4 VALUE CHANGE') && i.params[code] === v);
  provision('a');
  // The ACS has the Inform with 'a' and has answered; the agent has not read the InformResponse yet (it runs
  // in this process: the waiter resumes before any I/O of the agent's), so 'b' lands inside that session.
  await acs.until(() => announced('a'));
  provision('b');
  await acs.until(() => announced('b'), 10_000);
  await agent.cwmpClient!.idle();
  assert.equal(acs.informs.filter((i) => i.params[code] === 'b').length, 1, "'b' announced once");
});

test(
  'DefaultActiveNotificationThrottle: active notifications gather, at most one such session per throttle ' + 'period',
  async (t) => {
    const { agent, acs } = await setup(t, { [`${MS}DefaultActiveNotificationThrottle`]: '2' });
    await acs.until(() => acs.sessionsEnded >= 1);
    const provision = (v: string) =>
      agent.dm.set([{ objPath: 'Device.DeviceInfo.', params: [{ name: 'ProvisioningCode', value: v }] }], {
        kind: 'local',
        user: 'test',
      });
    const vcInforms = () =>
      acs.informs.filter(
        (i) =>
          i.events.some((e) => e.code === '4 VALUE CHANGE') &&
          'Device.DeviceInfo.ProvisioningCode' in i.params &&
          i.params['Device.DeviceInfo.ProvisioningCode'] !== '',
      );
    provision('a'); // ProvisioningCode is always active
    await acs.until(() => vcInforms().length === 1);
    const t1 = Date.now();
    await acs.until(() => acs.sessionsEnded >= acs.informs.length);
    provision('b');
    provision('c');
    await acs.until(() => vcInforms().length === 2, 10_000);
    const waited = Date.now() - t1;
    assert.ok(waited >= 1800, `the second session waited for the throttle (${waited} ms)`);
    assert.equal(vcInforms()[1]!.params['Device.DeviceInfo.ProvisioningCode'], 'c', 'both changes in one session');
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(vcInforms().length, 2);
  },
);

test(
  'objects and periodic informs: AddObject/DeleteObject with ParameterKey, 9005 for a missing instance; 2 ' +
    'PERIODIC in phase with PeriodicInformTime',
  async (t) => {
    const { agent, acs } = await setup(t, {
      [`${MS}PeriodicInformEnable`]: 'true',
      [`${MS}PeriodicInformInterval`]: '2',
      [`${MS}PeriodicInformTime`]: '2020-01-01T00:00:01Z',
    });
    await acs.until(() => acs.sessionsEnded >= 1);
    const cr = () => TestAcs.connectionRequest(agent.dm.value(`${MS}ConnectionRequestURL`), 'acs', 'cr-secret');
    const table = `${MS}InformParameter.`;
    const add = acs.rpc(
      `<cwmp:AddObject><ObjectName>${table}</ObjectName><ParameterKey>add-1</ParameterKey></cwmp:AddObject>`,
    );
    const del = acs.rpc(
      `<cwmp:DeleteObject><ObjectName>${table}1.</ObjectName><ParameterKey>del-1</ParameterKey></cwmp:DeleteObject>`,
    );
    const again = acs.rpc(
      `<cwmp:DeleteObject><ObjectName>${table}1.</ObjectName><ParameterKey>del-2</ParameterKey></cwmp:DeleteObject>`,
    );
    const notTable = acs.rpc(
      `<cwmp:AddObject><ObjectName>Device.DeviceInfo.</ObjectName><ParameterKey>x</ParameterKey></cwmp:AddObject>`,
    );
    assert.equal(await cr(), 200);
    assert.equal(txt((await add).body.InstanceNumber), '1');
    assert.equal(txt((await del).body.Status), '0');
    assert.equal(txt(faultOf(await again)!.FaultCode), '9005');
    assert.ok(faultOf(await notTable), 'a single object can not be added to');
    assert.equal(agent.dm.value(`${MS}ParameterKey`), 'del-1', 'the key of the last successful change');
    assert.equal(agent.dm.instances(table, { kind: 'cwmp' }).length, 0);

    // Periodic informs every 2 s at odd seconds (the phase PeriodicInformTime sets).
    const periodic: number[] = [];
    const n = acs.informs.length;
    await acs.until(() => {
      const p = acs.informs.slice(n).filter((i) => i.events.some((e) => e.code === '2 PERIODIC')).length;
      if (p > periodic.length) periodic.push(Date.now());
      return periodic.length >= 2;
    }, 10_000);
    for (const at of periodic) {
      const phase = at % 2000;
      assert.ok(phase >= 1000 && phase < 1400, `an inform ${phase} ms into the 2 s period (expected just after 1000)`);
    }
    assert.ok(periodic[1]! - periodic[0]! >= 1500, 'one per period');
  },
);

test('Connection Requests: many at once start one session; over 30 a minute are answered 503', async (t) => {
  const { agent, acs } = await setup(t);
  await acs.until(() => acs.sessionsEnded >= 1);
  const url = agent.dm.value(`${MS}ConnectionRequestURL`);
  const statuses = await Promise.all(
    Array.from({ length: 5 }, () => TestAcs.connectionRequest(url, 'acs', 'cr-secret')),
  );
  assert.deepEqual(statuses, [200, 200, 200, 200, 200]);
  await acs.until(() => acs.sessionsEnded >= 2);
  await new Promise((r) => setTimeout(r, 300));
  assert.ok(acs.informs.length <= 3, `${acs.informs.length - 1} sessions for 5 requests at once`);
  const more: number[] = [];
  for (let i = 0; i < 30; i++) more.push(await TestAcs.connectionRequest(url, 'acs', 'cr-secret'));
  assert.equal(more.filter((s) => s === 503).length, 5, 'the 31st to 35th in a minute');
});

test(
  'Connection Requests: wrong, missing and replayed credentials start nothing; the 11th wrong answer in a ' +
    'minute meets a locked door, right password or not',
  async (t) => {
    const { agent, acs } = await setup(t);
    await acs.until(() => acs.sessionsEnded >= 1);
    const url = agent.dm.value(`${MS}ConnectionRequestURL`);
    const path = new URL(url).pathname;
    const get = (authorization?: string) =>
      fetch(url, { headers: authorization ? { authorization } : {} }).then(async (r) => ({
        status: r.status,
        challenge: r.headers.get('www-authenticate') ?? '',
      }));
    const answer = (challenge: string, password: string, nc = '00000001') => {
      const nonce = /nonce="([^"]+)"/.exec(challenge)![1]!;
      const md5 = (x: string) => createHash('md5').update(x).digest('hex');
      const response = md5(`${md5(`acs:cpe-agent:${password}`)}:${nonce}:${nc}:c0ffee:auth:${md5(`GET:${path}`)}`);
      return (
        `Digest username="acs", realm="cpe-agent", nonce="${nonce}", uri="${path}", qop=auth, nc=${nc}, ` +
        `cnonce="c0ffee", response="${response}"`
      );
    };
    const sessions = acs.sessionsEnded;
    assert.equal((await get()).status, 401, 'missing credentials');
    // A good answer once; the same answer replayed (same nonce count) is refused.
    const good = answer((await get()).challenge, 'cr-secret');
    assert.equal((await get(good)).status, 200);
    assert.equal((await get(good)).status, 401, 'a replayed answer is refused');
    await acs.until(() => acs.sessionsEnded > sessions);
    // Guessing: with the replay, ten wrong answers are 401s, then even the right one waits out the minute.
    for (let i = 0; i < 9; i++)
      assert.equal((await get(answer((await get()).challenge, `guess-${i}`))).status, 401, `guess ${i}`);
    assert.equal(await TestAcs.connectionRequest(url, 'acs', 'cr-secret'), 503, 'locked out after 10 failures');
    assert.equal((await get()).status, 503, 'no challenge either while locked out');
  },
);

test('Connection Requests: a client that never finishes its request is cut off after 10 s', async (t) => {
  const { agent, acs } = await setup(t);
  await acs.until(() => acs.sessionsEnded >= 1);
  const url = new URL(agent.dm.value(`${MS}ConnectionRequestURL`));
  const t0 = Date.now();
  const closed = await new Promise<number>((resolve, reject) => {
    const s = connect(Number(url.port), url.hostname, () =>
      s.write(`GET ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nX-Slow: `),
    );
    s.on('error', reject);
    s.on('data', () => undefined);
    s.on('close', () => resolve(Date.now() - t0));
    setTimeout(() => {
      s.destroy();
      reject(new Error('still open after 20 s'));
    }, 20_000);
  });
  assert.ok(closed >= 9_000 && closed <= 13_000, `closed after ${closed} ms`);
});

test(
  'CWMP off: the client is not even loaded; setting the URL turns it on and the first Inform is a ' + 'BOOTSTRAP',
  async (t) => {
    const { dir, cleanup } = tempDir('cpe-cwmp-off-');
    const acs = new TestAcs({ username: 'cpe', password: 'acs-secret' });
    await acs.start();
    const agent = new Agent({
      stateDir: join(dir, 'state'),
      logger: silentLogger,
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
    assert.equal(agent.cwmpClient, undefined, 'no URL: no CWMP client');
    agent.dm.set(
      [
        {
          objPath: MS,
          params: [
            { name: 'Username', value: 'cpe' },
            { name: 'Password', value: 'acs-secret' },
            { name: 'URL', value: acs.url },
          ],
        },
      ],
      { kind: 'usp', endpointId: 'proto::ctl' },
    );
    await acs.until(() => acs.informs.length >= 1);
    assert.ok(agent.cwmpClient);
    assert.ok(acs.informs[0]!.events.some((e) => e.code === '0 BOOTSTRAP'));
  },
);
