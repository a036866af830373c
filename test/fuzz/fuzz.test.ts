// The fuzzer: mutated and random inputs where the outside world reaches the agent. USP records (whole
// records, and mutated messages inside well-formed records so that they reach the handlers) into the
// USP endpoint; SOAP envelopes (mutated requests of every RPC) through the envelope parser into the
// RPC handlers. Invariants: no exception escapes, no input hangs, the heap stays bounded, and every
// failure is one of ours (a USP error or dropped record; a CwmpFault, data model error or an answer
// over its byte budget, never a TypeError). FUZZ_INPUTS scales the run: 20,000 inputs in all in npm
// test, 300,000 in npm run test:soak (the CWMP model keeps what the inputs added, so each input costs
// more than the one before).

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { parseEnvelope } from '../../src/cwmp/envelope.js';
import { CwmpFault } from '../../src/cwmp/faults.js';
import { CWMP_CALLER, type RpcContext } from '../../src/cwmp/rpc/context.js';
import { RPCS } from '../../src/cwmp/rpc/index.js';
import { CwmpState } from '../../src/cwmp/state.js';
import { DataModel } from '../../src/dm/datamodel.js';
import { DmError } from '../../src/dm/errors.js';
import { ensureRoles } from '../../src/usp/access.js';
import { encodeMsg, encodeRecord, type PlainMsg } from '../../src/usp/codec.js';
import { UspEndpoint } from '../../src/usp/endpoint.js';
import { Subscriptions } from '../../src/usp/subscriptions.js';
import { BudgetExceeded, ByteBudget } from '../../src/util/byte-budget.js';
import { silentLogger } from '../../src/util/logger.js';
import { idleCwmpActions } from '../fixtures/cwmp-actions.js';
import { loadSchema, tempDir } from '../helpers.js';

const TOTAL = Number(process.env.FUZZ_INPUTS ?? 20_000);

/** A seeded generator, so that a failure names the seed that reproduces it. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

function mutate(src: Uint8Array, r: () => number): Uint8Array {
  const b = Buffer.from(src);
  const n = 1 + Math.floor(r() * 6);
  for (let k = 0; k < n; k++) {
    const at = Math.floor(r() * b.length);
    const x = r();
    if (x < 0.4) b[at] = Math.floor(r() * 256);
    else if (x < 0.55) b[at] = b[at]! ^ (1 << Math.floor(r() * 8));
    else if (x < 0.7) b.copyWithin(at, Math.floor(r() * b.length), Math.floor(r() * b.length));
    else if (x < 0.85) return Buffer.concat([b.subarray(0, at), b.subarray(Math.floor(r() * b.length))]);
    else return b.subarray(0, at);
  }
  return b;
}

/** Values an attacker would try, for mutations that keep the structure and change what it says. */
const TOKENS = [
  '',
  '.',
  '..',
  '*',
  'Device.',
  'Device.*.',
  'Device.LocalAgent.Controller.*.',
  'Device.[a==1].',
  'Device.LocalAgent.Controller.[EndpointID=="x"&&Enable==true].Alias',
  'Device.LocalAgent.Controller.1.MTP.1.#',
  'Device.LocalAgent.Controller.1.AssignedRole+.Name',
  '-1',
  '4294967296',
  '1e999',
  'NaN',
  'true',
  '0001-01-01T00:00:00Z',
  '../../etc/passwd',
  'file:///etc/shadow',
  'http://127.0.0.1:1/',
  '%00',
  '\u0000',
  '&lt;x&gt;',
  'x'.repeat(70_000),
  'é€😀',
  'Device.SoftwareModules.InstallDU()',
  'Device.LocalAgent.Subscription.1.',
  'Device.ManagementServer.InformParameter.1.',
  '00000000-0000-0000-0000-000000000000',
  '1,2,3',
  ' ',
];

/** A copy of a plain value with some string leaves replaced by tokens. */
function twist(v: unknown, r: () => number): unknown {
  if (typeof v === 'string') return r() < 0.3 ? TOKENS[Math.floor(r() * TOKENS.length)] : v;
  if (Array.isArray(v)) return v.map((x) => twist(x, r));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, twist(x, r)]));
  return v;
}

/** An XML text with some element contents replaced by tokens (escaped, so the document stays well-formed). */
function twistXml(text: string, r: () => number): string {
  const esc = (x: string) => x.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  return text.replace(/>([^<]+)</g, (m, inner: string) =>
    r() < 0.3 ? `>${esc(TOKENS[Math.floor(r() * TOKENS.length)]!)}<` : m === '' ? m : `>${inner}<`,
  );
}

function model(): DataModel {
  const dm = new DataModel({
    schema: loadSchema(),
    defaults: {
      'Device.LocalAgent.EndpointID': 'os::agent',
      'Device.LocalAgent.Controller.1.EndpointID': 'proto::ctl',
      'Device.LocalAgent.Controller.1.Enable': 'true',
    },
  });
  Subscriptions.register(dm);
  dm.open();
  const roles = ensureRoles(dm);
  dm.update('Device.LocalAgent.Controller.1.', { AssignedRole: roles.full.slice(0, -1) });
  return dm;
}

const USP_SEEDS: [string, string, Record<string, unknown>][] = [
  ['get', 'GET', { param_paths: ['Device.DeviceInfo.', 'Device.LocalAgent.Controller.*.EndpointID'], max_depth: 2 }],
  [
    'set',
    'SET',
    {
      allow_partial: true,
      update_objs: [
        {
          obj_path: 'Device.LocalAgent.Controller.1.',
          param_settings: [{ param: 'ProvisioningCode', value: 'x', required: true }],
        },
      ],
    },
  ],
  [
    'add',
    'ADD',
    {
      allow_partial: false,
      create_objs: [
        {
          obj_path: 'Device.LocalAgent.Subscription.',
          param_settings: [
            { param: 'NotifType', value: 'ValueChange', required: true },
            { param: 'ReferenceList', value: 'Device.DeviceInfo.', required: true },
          ],
        },
      ],
    },
  ],
  [
    'delete',
    'DELETE',
    {
      allow_partial: true,
      obj_paths: ['Device.LocalAgent.Subscription.[ID=="x"].', 'Device.LocalAgent.Subscription.1.'],
    },
  ],
  [
    'operate',
    'OPERATE',
    {
      command: 'Device.LocalAgent.Controller.1.SendOnBoardRequest()',
      command_key: 'k',
      send_resp: true,
      input_args: { a: 'b' },
    },
  ],
  [
    'get_supported_dm',
    'GET_SUPPORTED_DM',
    {
      obj_paths: ['Device.SoftwareModules.'],
      first_level_only: false,
      return_commands: true,
      return_events: true,
      return_params: true,
    },
  ],
  ['get_instances', 'GET_INSTANCES', { obj_paths: ['Device.LocalAgent.'], first_level_only: false }],
  ['get_supported_protocol', 'GET_SUPPORTED_PROTO', { controller_supported_protocol_versions: '1.0,1.4' }],
];

test(
  `USP: ${Math.round(TOTAL * 0.6)} mutated and random records into the endpoint: dropped or answered, never ` +
    `thrown, never hung`,
  async () => {
    let dm = model();
    let ep = new UspEndpoint(dm, silentLogger);
    let resets = 0;
    const r = rng(0x5eed);
    const msgs = USP_SEEDS.map(
      ([kind, type, body], i): Uint8Array =>
        encodeMsg({ header: { msg_id: `m${i}`, msg_type: type }, body: { request: { [kind]: body } } } as PlainMsg),
    );
    const wrap = (payload: Uint8Array) =>
      encodeRecord({
        version: '1.4',
        to_id: 'os::agent',
        from_id: 'proto::ctl',
        payload_security: 'PLAINTEXT',
        no_session_context: { payload },
      });
    const records = msgs.map(wrap);
    const heap0 = process.memoryUsage().heapUsed;
    let answered = 0;
    const n = Math.round(TOTAL * 0.6);
    for (let i = 0; i < n; i++) {
      const kind = i % 10;
      // Good messages saying hostile things, mutated messages in good records (both reach the message
      // handlers), mutated records, and noise.
      const seed = USP_SEEDS[i % USP_SEEDS.length]!;
      const input =
        kind < 5
          ? wrap(
              encodeMsg({
                header: { msg_id: `t${i}`, msg_type: seed[1] },
                body: { request: { [seed[0]]: twist(seed[2], r) } },
              } as PlainMsg),
            )
          : kind < 7
            ? wrap(mutate(msgs[i % msgs.length]!, r))
            : kind < 9
              ? mutate(records[i % records.length]!, r)
              : randomBytes(Math.floor(r() * 512));
      let timer: NodeJS.Timeout | undefined;
      const out = await Promise.race([
        ep.receive(input),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`input ${i} hung: ${Buffer.from(input).toString('hex')}`)), 2000);
        }),
      ]).finally(() => clearTimeout(timer));
      if (out?.reply) answered++;
      // The controller has full rights and may delete or disable itself (a twisted Delete of
      // Controller.*.): the agent then rightly ignores it, so the fuzzer starts on a fresh model.
      if (
        !dm.node('Device.LocalAgent.Controller.1.') ||
        dm.value('Device.LocalAgent.Controller.1.Enable') !== 'true' ||
        dm.value('Device.LocalAgent.Controller.1.EndpointID') !== 'proto::ctl'
      ) {
        dm.close();
        dm = model();
        ep = new UspEndpoint(dm, silentLogger);
        resets++;
      }
    }
    const growthMB = (process.memoryUsage().heapUsed - heap0) / 2 ** 20;
    assert.ok(
      answered > n * 0.2,
      `a good share reached the handlers and was answered (${answered} of ${n}, ${resets} fresh models)`,
    );
    assert.ok(growthMB < 100, `the heap stayed bounded (grew ${growthMB.toFixed(1)} MB)`);
    dm.close();
  },
);

const SOAP_SEEDS = [
  '<cwmp:GetParameterValues><ParameterNames ' +
    'soapenc:arrayType="xsd:string[2]"><string>Device.DeviceInfo.</string><string>' +
    'Device.ManagementServer.URL</string></ParameterNames></cwmp:GetParameterValues>',
  '<cwmp:GetParameterNames><ParameterPath>Device.ManagementServer.</ParameterPath><NextLevel>1</NextLevel>' +
    '</cwmp:GetParameterNames>',
  '<cwmp:SetParameterValues><ParameterList ' +
    'soapenc:arrayType="cwmp:ParameterValueStruct[1]"><ParameterValueStruct><Name>' +
    'Device.ManagementServer.PeriodicInformInterval</Name><Value xsi:type="xsd:unsignedInt">60</Value>' +
    '</ParameterValueStruct></ParameterList><ParameterKey>k</ParameterKey></cwmp:SetParameterValues>',
  '<cwmp:GetParameterAttributes><ParameterNames ' +
    'soapenc:arrayType="xsd:string[1]"><string>Device.ManagementServer.</string></ParameterNames>' +
    '</cwmp:GetParameterAttributes>',
  '<cwmp:SetParameterAttributes><ParameterList ' +
    'soapenc:arrayType="cwmp:SetParameterAttributesStruct[1]"><SetParameterAttributesStruct><Name>' +
    'Device.ManagementServer.PeriodicInformInterval</Name><NotificationChange>1</NotificationChange><Notification>' +
    '2</Notification><AccessListChange>1</AccessListChange><AccessList soapenc:arrayType="xsd:string[1]"><string>' +
    'Subscriber</string></AccessList></SetParameterAttributesStruct></ParameterList></cwmp:SetParameterAttributes>',
  '<cwmp:AddObject><ObjectName>Device.ManagementServer.InformParameter.</ObjectName><ParameterKey>a</ParameterKey>' +
    '</cwmp:AddObject>',
  '<cwmp:DeleteObject><ObjectName>Device.ManagementServer.InformParameter.1.</ObjectName><ParameterKey>' +
    'd</ParameterKey></cwmp:DeleteObject>',
  '<cwmp:ScheduleInform><DelaySeconds>5</DelaySeconds><CommandKey>s</CommandKey></cwmp:ScheduleInform>',
  '<cwmp:Download><CommandKey>d</CommandKey><FileType>3 Vendor Configuration ' +
    'File</FileType><URL>http://127.0.0.1:1/x</URL><Username/><Password/><FileSize>0</FileSize><TargetFileName/>' +
    '<DelaySeconds>0</DelaySeconds><SuccessURL/><FailureURL/></cwmp:Download>',
  '<cwmp:ChangeDUState><Operations ' +
    'xsi:type="cwmp:InstallOpStruct"><URL>http://127.0.0.1:1/a.tgz</URL><UUID>' +
    '0badc0de-0000-5000-8000-000000000000</UUID></Operations><Operations xsi:type="cwmp:UninstallOpStruct"><UUID>' +
    '0badc0de-0000-5000-8000-000000000000</UUID></Operations><CommandKey>c</CommandKey></cwmp:ChangeDUState>',
  '<cwmp:Reboot><CommandKey>r</CommandKey></cwmp:Reboot>',
  '<cwmp:GetRPCMethods/>',
];
const soap = (body: string) =>
  `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" ` +
  `xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" ` +
  `xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ` +
  `xmlns:cwmp="urn:dslforum-org:cwmp-1-2"><soapenv:Header><cwmp:ID soapenv:mustUnderstand="1">1</cwmp:ID>` +
  `</soapenv:Header><soapenv:Body>${body}</soapenv:Body></soapenv:Envelope>`;

test(
  `CWMP: ${Math.round(TOTAL * 0.4)} mutated envelopes through the parser and the RPC handlers: a fault of ours ` +
    `or an answer, nothing else`,
  async (t) => {
    const { dir, cleanup } = tempDir('cpe-fuzz-');
    t.after(cleanup);
    const dm = model();
    const actions = idleCwmpActions();
    const ctx: RpcContext = { dm, caller: CWMP_CALLER, state: new CwmpState(dir), actions };
    const r = rng(0xc0ffee);
    const seeds = SOAP_SEEDS.map((b) => Buffer.from(soap(b)));
    const n = Math.round(TOTAL * 0.4);
    let handled = 0;
    for (let i = 0; i < n; i++) {
      const text =
        i % 2
          ? twistXml(soap(SOAP_SEEDS[i % SOAP_SEEDS.length]!), r)
          : Buffer.from(mutate(seeds[i % seeds.length]!, r)).toString('latin1');
      try {
        const env = await parseEnvelope(text);
        const handler = RPCS[env.method];
        if (!handler) continue;
        handled++;
        const out = await handler(ctx, env.body, new ByteBudget(5 * 2 ** 20));
        assert.equal(typeof out, 'string');
      } catch (e) {
        // An answer over the budget is ours too: the session answers it with 9004 (asCwmpFault).
        if (e instanceof CwmpFault || e instanceof DmError || e instanceof BudgetExceeded) continue;
        assert.fail(`input ${i} threw ${(e as Error).name}: ${(e as Error).message}\n${text}`);
      }
    }
    assert.ok(handled > n * 0.2, `a good share reached the handlers (${handled} of ${n})`);
    dm.close();
  },
);
