// Sessions in phase with a reference time: "2 PERIODIC" at PeriodicInformTime plus whole
// PeriodicInformIntervals, "14 HEARTBEAT" at HeartbeatPolicy.InitiationTime plus whole ReportingIntervals,
// and every Inform's CurrentTime a valid dateTime of now. A heartbeat goes alone in its Inform (no other
// event, no changed parameter) and one whose session fails is not retried (TR-069 Amendment 6, Annex O).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { forcedInformParams } from '../../src/cwmp/forced-inform.js';
import { nextPhaseDelay } from '../../src/cwmp/phased-timer.js';
import { dateTime, UNKNOWN_TIME } from '../../src/util/time.js';
import { type Inform, TestAcs } from './acs.js';
import { MS, setup } from './harness.js';

const currentTime = (i: Inform) => /<CurrentTime>([^<]*)<\/CurrentTime>/.exec(i.raw)?.[1] ?? '';

test('nextPhaseDelay: the next reference time plus whole intervals, before or after the reference', () => {
  const t0 = Date.parse('2026-01-01T00:00:00Z');
  assert.equal(nextPhaseDelay(t0 + 1000, 60_000, '2026-01-01T00:00:00Z'), 59_000);
  assert.equal(nextPhaseDelay(t0 - 1000, 60_000, '2026-01-01T00:00:00Z'), 1000, 'a reference in the future');
  assert.equal(nextPhaseDelay(t0 + 3_600_000 * 24 * 365 + 15_000, 60_000, '2026-01-01T00:00:00Z'), 45_000);
  assert.equal(nextPhaseDelay(t0, 60_000, '2026-01-01T00:00:00Z'), 60_000, 'at the moment: the next one');
  assert.equal(nextPhaseDelay(t0, 60_000, UNKNOWN_TIME), 60_000, 'no phase: one interval from now');
  assert.equal(nextPhaseDelay(t0, 60_000, 'not a time'), 60_000);
});

test('PeriodicInformTime sets the phase of "2 PERIODIC"; every CurrentTime is a valid time of now', async (t) => {
  // Informs every 2 s at odd seconds: the phase is an odd second.
  const phase = dateTime(Math.floor(Date.now() / 2000) * 2000 + 1000 - 3600_000);
  const { acs } = await setup(t, {
    [`${MS}PeriodicInformEnable`]: 'true',
    [`${MS}PeriodicInformInterval`]: '2',
    [`${MS}PeriodicInformTime`]: phase,
  });
  const periodic = () => acs.informs.filter((i) => i.events.some((e) => e.code === '2 PERIODIC'));
  await acs.until(() => periodic().length >= 3);
  for (const i of acs.informs) {
    const at = currentTime(i);
    assert.match(at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);
    assert.ok(Math.abs(Date.parse(at) - Date.now()) < 30_000, `CurrentTime ${at} is now`);
  }
  const seconds = periodic().map((i) => new Date(currentTime(i)).getUTCSeconds());
  // Under load an Inform may leave a second late; most are on the odd seconds.
  assert.ok(seconds.filter((s) => s % 2 === 1).length >= 2, `PERIODIC Informs at seconds ${seconds.join(', ')}`);
});

test('HeartbeatPolicy: "14 HEARTBEAT" at InitiationTime plus whole ReportingIntervals', async (t) => {
  // The minimum interval is 30 s: a reference 2 s ahead, less 30 s, brings the first heartbeat 2 s from now.
  const first = Math.ceil(Date.now() / 1000) * 1000 + 2000;
  const { acs } = await setup(t, {
    [`${MS}HeartbeatPolicy.Enable`]: 'true',
    [`${MS}HeartbeatPolicy.ReportingInterval`]: '30',
    [`${MS}HeartbeatPolicy.InitiationTime`]: dateTime(first - 30_000),
  });
  const beats = () => acs.informs.filter((i) => i.events.some((e) => e.code === '14 HEARTBEAT'));
  await acs.until(() => acs.sessionsEnded >= 1);
  assert.equal(beats().length, 0, 'not before its time');
  await acs.until(() => beats().length === 1, 10_000);
  const at = Date.parse(currentTime(beats()[0]!));
  assert.ok(at >= first && at <= first + 2000, `the heartbeat at ${currentTime(beats()[0]!)}, due ${dateTime(first)}`);
});

/** Heartbeats every 30 s (the minimum), the first at `first`. */
const beatEvery30 = (first: number) => ({
  [`${MS}HeartbeatPolicy.Enable`]: 'true',
  [`${MS}HeartbeatPolicy.ReportingInterval`]: '30',
  [`${MS}HeartbeatPolicy.InitiationTime`]: dateTime(first - 30_000),
});

test('HeartbeatPolicy: "14 HEARTBEAT" alone in its Inform, while a VALUE CHANGE waits its throttle', async (t) => {
  const first = Math.ceil(Date.now() / 1000) * 1000 + 5000;
  const { agent, acs } = await setup(t, { ...beatEvery30(first), [`${MS}DefaultActiveNotificationThrottle`]: '60' });
  await acs.until(() => acs.sessionsEnded >= 1);
  const provision = (v: string) =>
    agent.dm.set([{ objPath: 'Device.DeviceInfo.', params: [{ name: 'ProvisioningCode', value: v }] }], {
      kind: 'local',
      user: 'test',
    });
  const changes = () => acs.informs.filter((i) => i.events.some((e) => e.code === '4 VALUE CHANGE'));
  // PeriodicInformInterval made passive (by the ACS, in a session of its asking): a change of it (periodic informs are
  // off) rides the next Inform.
  const passive = acs.rpc(
    `<cwmp:SetParameterAttributes><ParameterList soapenc:arrayType="cwmp:SetParameterAttributesStruct[1]">` +
      `<SetParameterAttributesStruct><Name>${MS}PeriodicInformInterval</Name>` +
      `<NotificationChange>1</NotificationChange><Notification>1</Notification><AccessListChange>0` +
      `</AccessListChange><AccessList soapenc:arrayType="xsd:string[0]"></AccessList></SetParameterAttributesStruct>` +
      `</ParameterList>` +
      `</cwmp:SetParameterAttributes>`,
  );
  provision('a'); // ProvisioningCode is always active, but the boot Inform's VALUE CHANGE started its throttle
  await acs.until(() => changes().length === 1 && acs.sessionsEnded >= acs.informs.length);
  const crUrl = agent.dm.value(`${MS}ConnectionRequestURL`);
  assert.equal(await TestAcs.connectionRequest(crUrl, 'acs', 'cr-secret'), 200);
  assert.equal((await passive).method, 'SetParameterAttributesResponse');
  await acs.until(() => acs.sessionsEnded >= acs.informs.length);
  const announced = changes().length;
  provision('b'); // waits 60 s for its session
  assert.equal(agent.dm.value(`${MS}PeriodicInformEnable`), 'false');
  agent.dm.set([{ objPath: MS, params: [{ name: 'PeriodicInformInterval', value: '7200' }] }], {
    kind: 'local',
    user: 'test',
  });
  assert.ok(Date.now() < first - 500, 'the setup took too long for the heartbeat due');
  const beats = () => acs.informs.filter((i) => i.events.some((e) => e.code === '14 HEARTBEAT'));
  await acs.until(() => beats().length === 1, 10_000);
  assert.deepEqual(
    beats()[0]!.events.map((e) => e.code),
    ['14 HEARTBEAT'],
    'the heartbeat Inform carries no other event',
  );
  assert.deepEqual(
    Object.keys(beats()[0]!.params).sort(),
    forcedInformParams(agent.dm).sort(),
    'and no changed parameter: the forced ones alone',
  );
  assert.equal(beats()[0]!.params['Device.DeviceInfo.ProvisioningCode'], 'b', 'forced ones with their values now');
  await acs.until(() => acs.sessionsEnded >= acs.informs.length);
  assert.equal(changes().length, announced, 'the throttled VALUE CHANGE still waits');
});

test('HeartbeatPolicy: a heartbeat whose session fails is dropped, not retried', async (t) => {
  const first = Math.ceil(Date.now() / 1000) * 1000 + 4000;
  const { acs } = await setup(t, { ...beatEvery30(first), [`${MS}CWMPRetryMinimumWaitInterval`]: '1' });
  await acs.until(() => acs.sessionsEnded >= 1);
  assert.ok(Date.now() < first - 500, 'the setup took too long for the heartbeat due');
  const informs = acs.informs.length;
  acs.failNext = 1;
  await acs.until(() => acs.failed === 1, 10_000);
  // A retry would come 1 to 2 s later (CWMPRetryMinimumWaitInterval 1, multiplier 2000).
  await new Promise((r) => setTimeout(r, 3500));
  assert.equal(acs.informs.length, informs, 'no Inform after the failed heartbeat');
});
