// kill -9 of the whole agent (its own process) at random points of InstallDU, Update, Uninstall, a
// Set and an Add, 10 trials in npm test and 200 in npm run test:soak (KILL_TRIALS; KILL_SEED repeats a
// run), with USP (real mosquitto) and CWMP (the test ACS) both on. After each restart the state is
// consistent, and every operation is reported exactly once on both protocols: a repeat is allowed only
// as a retransmission of the same message (same USP msg_id; for CWMP, an identical OpResultStruct
// resent because the ACS's answer was cut off by the kill), never as a second report.

import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { RequestBody, RequestKind, RequestType } from '../../src/usp/codec.js';
import { UspController } from '../../src/usp/controller-client.js';
import type * as usp from '../../src/usp/generated/usp-msg.js';
import { mqttDeploymentDefaults } from '../../src/usp/mqtt/deployment.js';
import { list, type Node, TestAcs, txt } from '../cwmp/acs.js';
import { manifest, tarGz } from '../engine/tar-builder.js';
import { responseOf } from '../fixtures/usp-answer.js';
import { sleep, spawnAgent, tempDir } from '../helpers.js';
import { serveFiles } from '../http-files.js';
import { freePort, Mosquitto, requireMosquitto } from './mosquitto.js';

const TRIALS = Number(process.env.KILL_TRIALS ?? 10);
const SEED = Number(process.env.KILL_SEED ?? Math.floor(Math.random() * 2 ** 31));
const MS = 'Device.ManagementServer.';
const CODE = `${MS}PeriodicInformInterval`;

/** mulberry32: a small seeded generator, so that a failing run can be repeated with KILL_SEED. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const SERVICE = '#!/bin/sh\ntrap "exit 0" TERM\nwhile true; do sleep 0.2; done\n';
const pkg = (name: string, version: string) =>
  tarGz([
    { name: 'manifest.json', data: manifest({ name, version, services: [{ name: 'svc', command: 'bin/run.sh' }] }) },
    { name: 'bin/run.sh', data: SERVICE, mode: 0o755 },
    { name: 'payload', data: randomBytes(1024 * 1024) },
  ]);

type DuKind = 'Install' | 'Update' | 'Uninstall';
interface DuTrial {
  kind: DuKind;
  key: string;
  name: string;
  ok: boolean;
}

test(
  `kill -9 at random points of install/update/uninstall/set/add (${TRIALS} trials): consistent state, each ` +
    `operation reported exactly once over USP and CWMP`,
  async (t) => {
    const bin = requireMosquitto(t);
    if (!bin) return;
    t.diagnostic(`KILL_SEED=${SEED}`);
    const rnd = random(SEED);
    const { dir, cleanup } = tempDir('cpe-kill-');
    const port = await freePort();
    const broker = new Mosquitto(bin, dir, port);
    await broker.start();
    // ~1 MB packages in slow chunks: kills land in the download, the unpacking, the commit, the start.
    const pkgs: Record<string, Buffer> = {};
    const http = await serveFiles(pkgs, { chunkBytes: 128 * 1024, pauseMs: 25 });
    const base = http.url('').slice(0, -1);
    const acs = new TestAcs({ username: 'cpe', password: 'acs-secret' });
    await acs.start();
    writeFileSync(
      join(dir, 'defaults.json'),
      JSON.stringify({
        ...mqttDeploymentDefaults({
          brokerPort: port,
          version: '5.0',
          agentTopic: 'k/agent',
          controllerId: 'proto::k',
          controllerTopic: 'k/ctl',
          device: { oui: '00D0F1', productClass: 'K', serialNumber: '9' },
        }),
        // Notifications a kill cut off are retried every second (no back-off growing over the trials).
        'Device.LocalAgent.Controller.1.USPNotifRetryMinimumWaitInterval': '1',
        'Device.LocalAgent.Controller.1.USPNotifRetryIntervalMultiplier': '1000',
        [`${MS}URL`]: acs.url,
        [`${MS}Username`]: 'cpe',
        [`${MS}Password`]: 'acs-secret',
        [`${MS}EnableCWMP`]: 'true',
        [`${MS}PeriodicInformEnable`]: 'false',
        [`${MS}CWMPRetryMinimumWaitInterval`]: '1',
        [`${MS}CWMPRetryIntervalMultiplier`]: '1000',
        [`${MS}DUStateChangeComplPolicy.Enable`]: 'true',
        [`${MS}DUStateChangeComplPolicy.OperationTypeFilter`]: 'Install,Update,Uninstall',
        [`${MS}DUStateChangeComplPolicy.ResultTypeFilter`]: 'Both',
      }),
    );
    // The ACS watches the provisioning code (active notification) from its first session on.
    const spa = acs.rpc(
      `<cwmp:SetParameterAttributes><ParameterList ` +
        `soapenc:arrayType="cwmp:SetParameterAttributesStruct[1]"><SetParameterAttributesStruct><Name>` +
        `${CODE}</Name><NotificationChange>1</NotificationChange><Notification>2</Notification><AccessListChange>` +
        `0</AccessListChange><AccessList soapenc:arrayType="xsd:string[0]"></AccessList>` +
        `</SetParameterAttributesStruct></ParameterList></cwmp:SetParameterAttributes>`,
    );
    const stateDir = join(dir, 'state');
    let agent: ChildProcess | undefined;
    const startAgent = () => {
      agent = spawnAgent({
        stateDir,
        defaultsFile: join(dir, 'defaults.json'),
        logLevel: process.env.KILL_LOG ? 'debug' : 'error',
        crPort0: true,
        stdio: process.env.KILL_LOG ? ['ignore', openSync(process.env.KILL_LOG, 'a'), 'inherit'] : 'ignore',
      });
    };
    const kill = async () => {
      agent!.kill('SIGKILL');
      await new Promise((r) => agent!.once('exit', r));
    };
    const ctl = new UspController({
      url: `mqtt://127.0.0.1:${port}`,
      version: '5.0',
      endpointId: 'proto::k',
      topic: 'k/ctl',
      agentId: 'os::00D0F1-K-9',
      agentTopic: 'k/agent',
      timeoutMs: 3000,
    });
    await ctl.connect();
    // Every envelope of all the trials checked once, at the end (one xmllint run per schema).
    t.after(async () => {
      agent?.kill('SIGKILL');
      const v = await acs.validateAll();
      if (v.skipped) t.diagnostic(v.skipped);
      await ctl.close();
      await broker.stop();
      await http.close();
      await acs.stop();
      cleanup();
      assert.ok(v.ok, `every envelope the CPE sent validates against the CWMP schema:\n${v.output}`);
    });
    startAgent();
    const request = async <K extends RequestKind>(kind: K, type: RequestType<K>, body: RequestBody<K>) => {
      for (let i = 0; ; i++) {
        try {
          return await ctl.request(kind, type, body);
        } catch (e) {
          if (i > 40) throw e;
          await sleep(200);
        }
      }
    };
    const get = async (path: string) =>
      responseOf(await request('get', 'GET', { param_paths: [path] }), 'get_resp').req_path_results[0]!;
    const spaAnswer = await spa;
    assert.equal(spaAnswer.method, 'SetParameterAttributesResponse', spaAnswer.raw);
    for (const [id, type, ref] of [
      ['oc', 'OperationComplete', 'Device.SoftwareModules.'],
      ['du', 'Event', 'Device.SoftwareModules.DUStateChange!'],
      ['vc', 'ValueChange', CODE],
      ['add', 'ObjectCreation', `${MS}InformParameter.`],
    ]) {
      await request('add', 'ADD', {
        create_objs: [
          {
            obj_path: 'Device.LocalAgent.Subscription.',
            param_settings: [
              { param: 'ID', value: id!, required: true },
              { param: 'NotifType', value: type!, required: true },
              { param: 'ReferenceList', value: ref!, required: true },
              { param: 'Enable', value: 'true', required: true },
              { param: 'Persistent', value: 'true', required: true },
              { param: 'NotifRetry', value: 'true', required: true },
              { param: 'NotifExpiration', value: '3600', required: true },
            ],
          },
        ],
      });
    }
    /** Distinct USP messages (by msg_id) on a subscription that satisfy pred. */
    const uspReports = (sub: string, pred: (n: usp.Notify) => boolean) =>
      new Set(ctl.notifications.filter((n) => n.subscriptionId === sub && pred(n.body)).map((n) => n.msg.header.msg_id))
        .size;

    const installed: string[] = []; // DU names, as installed by the trials so far
    const duTrials: DuTrial[] = [];
    const log: string[] = [];
    let current = '';
    // On a failure, what was going on: the trial, and every notification the controller received.
    t.after(() =>
      t.diagnostic(
        `at ${current}; ${log.join(', ')}; notifications: ` +
          JSON.stringify(
            ctl.notifications.map((n) => [
              n.subscriptionId,
              n.msg.header.msg_id.slice(0, 8),
              n.body.value_change?.param_value ??
                n.body.oper_complete?.command_key ??
                n.body.obj_creation?.obj_path ??
                n.body.event?.params?.OperationPerformed,
            ]),
          ),
      ),
    );
    for (let trial = 0; trial < TRIALS; trial++) {
      const kinds: ('Set' | 'Add' | DuKind)[] = [
        'Install',
        'Set',
        'Add',
        ...(installed.length ? (['Update', 'Uninstall'] as const) : []),
      ];
      const kind: 'Set' | 'Add' | DuKind =
        installed.length >= 6
          ? kinds.filter((k) => k !== 'Install')[Math.floor(rnd() * 4)]!
          : kinds[Math.floor(rnd() * kinds.length)]!;
      const key = `${kind.toLowerCase()}-${trial}`;
      current = key;
      if (kind === 'Set' || kind === 'Add') {
        const old = (await get(CODE)).resolved_path_results[0]!.result_params.PeriodicInformInterval as string;
        const value = String(1000 + trial);
        const alias = `k${trial}`;
        const answered = (
          kind === 'Set'
            ? ctl.request('set', 'SET', {
                update_objs: [
                  { obj_path: MS, param_settings: [{ param: 'PeriodicInformInterval', value: value, required: true }] },
                ],
              })
            : ctl.request('add', 'ADD', {
                create_objs: [
                  {
                    obj_path: `${MS}InformParameter.`,
                    param_settings: [
                      { param: 'Alias', value: alias, required: true },
                      {
                        param: 'ParameterName',
                        value: `Device.DeviceInfo.VendorConfigFile.${trial}.Name`,
                        required: true,
                      },
                      { param: 'EventList', value: '1 BOOT', required: true },
                    ],
                  },
                ],
              })
        ).then(
          (m) => {
            if (m.body.error) throw new Error(`${key}: refused: ${JSON.stringify(m.body.error)}`);
            return true;
          },
          () => false,
        );
        await sleep(rnd() * 25);
        await kill();
        startAgent();
        const acked = await answered;
        if (kind === 'Set') {
          const now = (await get(CODE)).resolved_path_results[0]!.result_params.PeriodicInformInterval as string;
          assert.ok(now === old || now === value, `${key}: the interval is the old or the new value, not ${now}`);
          if (acked) assert.equal(now, value, `${key}: an answered Set is durable`);
          if (now === value) {
            await ctl.waitForNotification(
              (n) => n.subscriptionId === 'vc' && n.body.value_change?.param_value === value,
              30_000,
            );
            await acs.until(
              () =>
                acs.informs.some((i) => i.params[CODE] === value && i.events.some((e) => e.code === '4 VALUE CHANGE')),
              20_000,
            );
          }
          log.push(`${key}:${now === value ? 'set' : 'not set'}${acked ? '' : ' (no answer)'}`);
        } else {
          const rows = (await get(`${MS}InformParameter.[Alias=="${alias}"].`)).resolved_path_results;
          if (acked) assert.equal(rows.length, 1, `${key}: an answered Add is durable`);
          if (rows.length) {
            assert.deepEqual(
              [rows[0]!.result_params.ParameterName, rows[0]!.result_params.EventList],
              [`Device.DeviceInfo.VendorConfigFile.${trial}.Name`, '1 BOOT'],
              `${key}: the row is whole`,
            );
            await ctl.waitForNotification(
              (n) => n.subscriptionId === 'add' && n.body.obj_creation?.obj_path === rows[0]!.resolved_path,
              30_000,
            );
          }
          log.push(`${key}:${rows.length ? 'added' : 'not added'}${acked ? '' : ' (no answer)'}`);
        }
        continue;
      }
      const name = kind === 'Install' ? `app${trial}` : installed[Math.floor(rnd() * installed.length)]!;
      let du = '';
      if (kind === 'Install') pkgs[`${name}.tgz`] = pkg(name, '1.0');
      else {
        du = (await get(`Device.SoftwareModules.DeploymentUnit.[Name=="${name}"].`)).resolved_path_results[0]!
          .resolved_path as string;
        if (kind === 'Update') pkgs[`${name}-${trial}.tgz`] = pkg(name, `2.${trial}`);
      }
      const command = kind === 'Install' ? 'Device.SoftwareModules.InstallDU()' : `${du}${kind}()`;
      const args: Record<string, string> =
        kind === 'Install'
          ? { URL: `${base}/${name}.tgz` }
          : kind === 'Update'
            ? { URL: `${base}/${name}-${trial}.tgz` }
            : {};
      const versionBefore = du
        ? ((await get(`${du}Version`)).resolved_path_results[0]!.result_params.Version as string)
        : '';
      await request('operate', 'OPERATE', { command, command_key: key, send_resp: true, input_args: args });
      await sleep(rnd() * 700);
      await kill();
      startAgent();
      const done = await ctl.waitForNotification((n) => n.body.oper_complete?.command_key === key, 60_000);
      const ok = !done.body.oper_complete?.cmd_failure;
      duTrials.push({ kind, key, name, ok });
      log.push(`${key}:${ok ? 'done' : `failed ${done.body.oper_complete?.cmd_failure?.err_code}`}`);
      // The DU is whole, at the version the outcome says, or gone exactly when an uninstall succeeded.
      const rows = (await get(`Device.SoftwareModules.DeploymentUnit.[Name=="${name}"].`)).resolved_path_results;
      if (kind === 'Uninstall' && ok) {
        assert.equal(rows.length, 0, `${key}: gone`);
        installed.splice(installed.indexOf(name), 1);
        continue;
      }
      if (kind === 'Install' && !ok) {
        assert.equal(rows.length, 0, `${key}: a failed install leaves no DU`);
        continue;
      }
      assert.equal(rows.length, 1, `${key}: the DU is there`);
      assert.equal(rows[0]!.result_params.Status, 'Installed', `${key}: Installed`);
      if (kind === 'Install') installed.push(name);
      if (kind === 'Update')
        assert.equal(
          rows[0]!.result_params.Version,
          ok ? `2.${trial}` : versionBefore,
          `${key}: the version matches the reported outcome`,
        );
    }
    current = 'the final checks';

    // USP: exactly one OperationComplete per operation, one DUStateChange! per DU operation.
    for (const d of duTrials)
      assert.equal(
        uspReports('oc', (b) => b.oper_complete?.command_key === d.key),
        1,
        `one OperationComplete for ${d.key}`,
      );
    await sleep(500);
    assert.equal(
      uspReports('du', () => true),
      duTrials.length,
      'one DUStateChange! per DU operation',
    );
    for (const l of log.filter((x) => x.startsWith('set-'))) {
      const key = l.split(':')[0]!;
      const value = String(1000 + Number(key.split('-')[1]));
      assert.equal(
        uspReports('vc', (b) => b.value_change?.param_value === value),
        l.includes(':set') ? 1 : 0,
        `one ValueChange for ${key} if it was set, none if not`,
      );
      if (l.includes(':set'))
        assert.ok(
          acs.informs.filter((i) => i.params[CODE] === value).length <= 2,
          `${key}: the ACS heard it once (twice only if the kill cut off its InformResponse)`,
        );
    }
    assert.equal(
      uspReports('add', () => true),
      log.filter((x) => x.includes(':added')).length,
      'one ObjectCreation per row added',
    );

    // CWMP: one AutonomousDUStateChangeComplete result per DU operation, in order, agreeing with USP.
    const results = () => {
      const seen = new Map<string, { op: string; fault: string }>();
      for (const m of acs.requests.filter((r) => r.method === 'AutonomousDUStateChangeComplete')) {
        for (const r of list(m.body.Results as Node | Node[])) {
          const id = ['UUID', 'OperationPerformed', 'StartTime', 'CompleteTime'].map((k) => txt(r[k])).join('|');
          if (!seen.has(id)) seen.set(id, { op: txt(r.OperationPerformed), fault: txt((r.Fault as Node).FaultCode) });
        }
      }
      return [...seen.values()];
    };
    await acs.until(() => results().length >= duTrials.length, 30_000).catch(() => undefined);
    const heard = results().map((r) => `${r.op}:${r.fault === '0' ? 'ok' : 'fault'}`);
    const expected = duTrials.map((d) => `${d.kind}:${d.ok ? 'ok' : 'fault'}`);
    assert.deepEqual(
      heard,
      expected,
      `CWMP heard each DU operation once, with the outcome USP heard:\n${heard.join(' ')}\n${expected.join(' ')}`,
    );

    // The state is consistent: nothing half there, nothing waiting to be reported.
    assert.deepEqual(readdirSync(join(stateDir, 'engine/tmp')), [], 'no staging left');
    assert.deepEqual(readdirSync(join(stateDir, 'engine/ops')), [], 'no operation left unreported');
    assert.equal(readdirSync(join(stateDir, 'engine/du')).length, installed.length, 'no orphan package directories');
    const dus = (await get('Device.SoftwareModules.DeploymentUnit.*.Status')).resolved_path_results;
    assert.equal(dus.length, installed.length);
    const eus = (await get('Device.SoftwareModules.ExecutionUnit.*.Status')).resolved_path_results;
    assert.equal(eus.length, installed.length, 'one EU per DU');
    const pending = () => readdirSync(join(stateDir, 'usp/outbox')).length;
    for (let i = 0; pending() > 0 && i < 100; i++) await sleep(100);
    assert.equal(
      pending(),
      0,
      `every USP notification acknowledged: ${readdirSync(join(stateDir, 'usp/outbox'))
        .map((f) => readFileSync(join(stateDir, 'usp/outbox', f), 'utf8'))
        .join('\n')}`,
    );
    const cwmpState = JSON.parse(readFileSync(join(stateDir, 'cwmp/state.json'), 'utf8')) as { pending: unknown[] };
    assert.deepEqual(cwmpState.pending, [], 'every CWMP request acknowledged');
    // Stop the services of what is left (the agent's restart leaves them running, as it should).
    for (const name of installed) {
      const du = (await get(`Device.SoftwareModules.DeploymentUnit.[Name=="${name}"].`)).resolved_path_results[0]!
        .resolved_path as string;
      await request('operate', 'OPERATE', {
        command: `${du}Uninstall()`,
        command_key: `cleanup-${name}`,
        send_resp: true,
        input_args: {},
      });
      await ctl.waitForNotification((n) => n.body.oper_complete?.command_key === `cleanup-${name}`, 20_000);
    }
  },
);
