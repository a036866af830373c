// Hostile management traffic against the agent's own work, in process: what one controller or ACS can
// make the agent build or hold. 20,000 copies of one name (USP Get, CWMP GetParameterValues) are
// answered once with the heap growing by less than 20 MB; an answer larger than the transport carries
// is refused (USP 7005, CWMP 9004) without being built; subscriptions are limited per controller and
// in all, and SupportedNumberOfSubscriptions says so; a Set costs the same with 10,000 subscriptions
// as with 10, and so does adding one; requests in flight are limited per controller (USP) and per ACS
// (CWMP). The Maximum Packet Size of a real broker is tested in test/system/usp-mqtt-bounds.test.ts.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Parser, processors } from 'xml2js';
import { CWMP_CALLER } from '../../src/cwmp/rpc/context.js';
import { CwmpSession } from '../../src/cwmp/session.js';
import { CwmpState } from '../../src/cwmp/state.js';
import type { AcsConnection } from '../../src/cwmp/transport.js';
import { DataModel } from '../../src/dm/datamodel.js';
import type { DecodedMsg } from '../../src/usp/codec.js';
import { silentLogger } from '../../src/util/logger.js';
import { list, type Node, TestAcs, txt } from '../cwmp/acs.js';
import { faultOf, MS, setup } from '../cwmp/harness.js';
import { idleCwmpActions } from '../fixtures/cwmp-actions.js';
import { errorOf, responseOf } from '../fixtures/usp-answer.js';
import {
  answerOf,
  setProvisioningCode,
  subscription,
  unrelatedSubscription,
  uspInProcess,
} from '../fixtures/usp-in-process.js';
import { loadSchema, medianMs, tempDir } from '../helpers.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const LA = 'Device.LocalAgent.';
const ATTACK = 20_000;

/**
 * MB by which the old generation (old and large-object spaces, as committed) grew while fn ran:
 * where anything that lives through a collection, like a response being built, ends up.
 */
async function heapGrowthMB(fn: () => Promise<unknown>): Promise<{ mb: number; result: unknown }> {
  const old = () =>
    v8
      .getHeapSpaceStatistics()
      .filter((s) => s.space_name === 'old_space' || s.space_name === 'large_object_space')
      .reduce((n, s) => n + s.space_size, 0);
  gc();
  gc();
  const before = old();
  const result = await fn();
  return { mb: (old() - before) / 2 ** 20, result };
}

/** Rows that make Get Device. large: BootParameter rows of controller 1, added as the agent. */
function grow(dm: DataModel, rows: number): void {
  dm.addAll(
    Array.from({ length: rows }, (_, i) => ({
      objPath: `${LA}Controller.1.BootParameter.`,
      params: [{ name: 'ParameterName', value: `Device.DeviceInfo.X_${i}` }],
    })),
    { kind: 'agent', component: 'test' },
  );
}

test(`USP Get naming Device. ${ATTACK} times: one result, the heap grows by less than 20 MB`, async () => {
  const w = uspInProcess();
  await w.call('get', 'GET', { param_paths: Array(10).fill('Device.') }); // code paths warm
  const { mb, result } = await heapGrowthMB(() => w.call('get', 'GET', { param_paths: Array(ATTACK).fill('Device.') }));
  assert.ok(mb < 20, `the heap grew by ${mb.toFixed(1)} MB`);
  const m = result as DecodedMsg;
  assert.equal(m.header.msg_type, 'GET_RESP');
  const results = responseOf(m, 'get_resp').req_path_results;
  assert.equal(results.length, 1, 'the duplicates are answered once');
  assert.ok(results[0]!.resolved_path_results.length > 10);
  w.close();
});

test('USP: an answer larger than the MTP carries is Error 7005, and stops being built at the limit', async () => {
  const w = uspInProcess();
  grow(w.dm, 500);
  const paths = Array.from({ length: 500 }, (_, i) => `${LA}Controller.1.BootParameter.[ParameterName!="x${i}"].`);
  await w.call('get', 'GET', { param_paths: paths.slice(0, 3) });
  // 500 distinct paths, each naming all 500 rows: a 30 MB answer, refused under the 5 MiB default.
  const { mb, result } = await heapGrowthMB(() => w.call('get', 'GET', { param_paths: paths }));
  assert.ok(mb < 20, `the heap grew by ${mb.toFixed(1)} MB`);
  const m = result as DecodedMsg;
  assert.equal(m.header.msg_type, 'ERROR');
  assert.equal(errorOf(m).err_code, 7005);
  assert.match(errorOf(m).err_msg, /5242880 bytes/);

  // The limit is the configured one where the MTP states none; an answer under it is given whole.
  w.dm.update(LA, { 'X_CPE-AGENT_MaxRecordSize': '8192' });
  const small = await w.call('get', 'GET', { param_paths: ['Device.DeviceInfo.'] });
  assert.equal(small.header.msg_type, 'GET_RESP');
  const bigRequests: [string, () => Promise<DecodedMsg>][] = [
    ['get', () => w.call('get', 'GET', { param_paths: ['Device.'] })],
    [
      'get_instances',
      () => w.call('get_instances', 'GET_INSTANCES', { obj_paths: [`${LA}Controller.1.BootParameter.`] }),
    ],
    [
      'get_supported_dm',
      () =>
        w.call('get_supported_dm', 'GET_SUPPORTED_DM', {
          obj_paths: ['Device.'],
          return_params: true,
          return_commands: true,
          return_events: true,
        }),
    ],
  ];
  for (const [kind, request] of bigRequests) {
    const big = await request();
    assert.equal(big.header.msg_type, 'ERROR', `${kind} of more than 8192 bytes`);
    assert.equal(errorOf(big).err_code, 7005);
  }
  // A limit the MTP gives (an MQTT 5 broker's Maximum Packet Size) counts when it is the smaller; an
  // answer a byte over it is refused, one with a tenth to spare is given.
  w.dm.update(LA, { 'X_CPE-AGENT_MaxRecordSize': '5242880' });
  const replies: Uint8Array[] = [];
  const getVia = async (maxRecordBytes: number) =>
    answerOf(
      (await w.ep.receive(w.sims.ctl.request('get', 'GET', { param_paths: ['Device.'] }).bytes, {
        maxRecordBytes,
        send: async (r) => {
          replies.push(r);
        },
      }))!.reply!,
    );
  const size = (await w.ep.receive(w.sims.ctl.request('get', 'GET', { param_paths: ['Device.'] }).bytes))!.reply!
    .length;
  assert.equal(errorOf(await getVia(size - 1)).err_code, 7005);
  assert.equal(replies.length, 1, 'the Error went out through the MTP');
  assert.ok(replies[0]!.length < size);
  assert.equal((await getVia(Math.ceil(size * 1.1))).header.msg_type, 'GET_RESP');
  w.close();
});

test('USP: GetInstances and GetSupportedDM answer a path named many times once', async () => {
  const w = uspInProcess();
  const gi = await w.call('get_instances', 'GET_INSTANCES', { obj_paths: Array(ATTACK).fill(`${LA}Controller.`) });
  assert.equal(responseOf(gi, 'get_instances_resp').req_path_results.length, 1);
  const gsdm = await w.call('get_supported_dm', 'GET_SUPPORTED_DM', {
    obj_paths: Array(ATTACK).fill(`${LA}`),
    return_params: true,
  });
  assert.equal(responseOf(gsdm, 'get_supported_dm_resp').req_obj_results.length, 1);
  w.close();
});

test(
  'USP: subscriptions are limited per controller and in all; SupportedNumberOfSubscriptions reports the ' + 'limit',
  async () => {
    const w = uspInProcess();
    const read = async (p: string) =>
      responseOf(await w.call('get', 'GET', { param_paths: [`${LA}${p}`] }), 'get_resp').req_path_results[0]!
        .resolved_path_results[0]!.result_params[p];
    assert.equal(
      await read('SupportedNumberOfSubscriptions'),
      '2000',
      'TR-181: the most the agent supports (it read 0)',
    );
    w.dm.update(LA, { 'X_CPE-AGENT_MaxSubscriptionsPerController': '3', 'X_CPE-AGENT_MaxSubscriptions': '5' });
    assert.equal(await read('SupportedNumberOfSubscriptions'), '5');

    // Four in one Add: the fourth is over the controller's limit, and nothing is created.
    const four = await w.call('add', 'ADD', {
      allow_partial: false,
      create_objs: [0, 1, 2, 3].map((i) => subscription(`s${i}`, 'ValueChange', `${LA}Controller.1.ProvisioningCode`)),
    });
    assert.equal(four.header.msg_type, 'ERROR');
    assert.equal(errorOf(four).err_code, 7005);
    assert.equal(w.dm.node(`${LA}`)!.tables.get('Subscription')!.rows.size, 0);
    const three = await w.call('add', 'ADD', {
      allow_partial: true,
      create_objs: [0, 1, 2, 3].map((i) => subscription(`s${i}`, 'ValueChange', `${LA}Controller.1.ProvisioningCode`)),
    });
    const statuses = responseOf(three, 'add_resp').created_obj_results.map(
      (r) => r.oper_status?.oper_failure?.err_code ?? 0,
    );
    assert.deepEqual(statuses, [0, 0, 0, 7005]);
    // Another controller has its own allowance, up to the agent's.
    const other = await w.call(
      'add',
      'ADD',
      {
        allow_partial: true,
        create_objs: [0, 1, 2].map((i) => subscription(`o${i}`, 'ObjectCreation', `${LA}Controller.`)),
      },
      w.sims.other,
    );
    assert.deepEqual(
      responseOf(other, 'add_resp').created_obj_results.map((r) => r.oper_status?.oper_failure?.err_code ?? 0),
      [0, 0, 7005],
    );
    assert.match(
      responseOf(other, 'add_resp').created_obj_results[2]!.oper_status?.oper_failure?.err_msg ?? '',
      /SupportedNumberOfSubscriptions/,
    );
    // A deleted subscription frees its place.
    await w.call('delete', 'DELETE', { obj_paths: [`${LA}Subscription.[ID=="s0"].`] });
    const again = await w.call('add', 'ADD', {
      create_objs: [subscription('s9', 'ValueChange', `${LA}Controller.1.ProvisioningCode`)],
    });
    assert.equal(again.header.msg_type, 'ADD_RESP');
    // Each still works.
    await w.call('set', 'SET', {
      update_objs: [
        {
          obj_path: `${LA}Controller.1.`,
          param_settings: [{ param: 'ProvisioningCode', value: 'p1', required: true }],
        },
      ],
    });
    assert.equal(w.sent.filter((m) => m.body.request?.notify?.value_change?.param_value === 'p1').length, 3);
    w.dm.update(LA, { 'X_CPE-AGENT_MaxSubscriptions': '0' });
    assert.equal(await read('SupportedNumberOfSubscriptions'), '-1', 'no hard limit');
    w.close();
  },
);

test(
  'USP: a Set costs the same with 10,000 subscriptions as with 10, and adding the 10,000th what adding the ' +
    '10th did',
  async () => {
    const limits = {
      [`${LA}X_CPE-AGENT_MaxSubscriptions`]: '0',
      [`${LA}X_CPE-AGENT_MaxSubscriptionsPerController`]: '0',
    };
    let n = 0;
    let w = uspInProcess(limits);
    const add = async () => {
      const [type, ref] = unrelatedSubscription(n);
      const m = await w.call('add', 'ADD', { create_objs: [subscription(`u${n++}`, type, ref)] });
      assert.equal(m.header.msg_type, 'ADD_RESP');
    };
    // The code that adds is warm before the 10th is timed (a model of its own, thrown away).
    while (n < 500) await add();
    w.close();
    w = uspInProcess(limits);
    n = 0;
    let v = 0;
    const set = () => setProvisioningCode(w.call, `v${v++}`);
    // One subscription sees the Set, with 10 as with 10,000: the work that must be done is the same.
    await w.call('add', 'ADD', {
      create_objs: [subscription('seen', 'ValueChange', `${LA}Controller.1.ProvisioningCode`)],
    });
    for (let i = 0; i < 2000; i++) await set(); // warm
    while (n < 9) await add();
    const set10 = await medianMs(set, 15, 20);
    const add10 = await medianMs(add, 11, 10);
    while (n < 9_999) await add();
    const set10k = await medianMs(set, 15, 20);
    const add10k = await medianMs(add, 11, 10);
    assert.equal(
      w.sent.at(-1)!.body.request?.notify?.value_change?.param_value,
      `v${v - 1}`,
      'the one subscription still notified',
    );
    console.log(
      `Set: ${set10.toFixed(3)} ms with 10 subscriptions, ${set10k.toFixed(3)} ms with 10,000; Add: ` +
        `${add10.toFixed(3)} ms as the 10th, ${add10k.toFixed(3)} ms as the 10,000th`,
    );
    assert.ok(
      set10k < 2 * set10,
      `a Set took ${set10k.toFixed(3)} ms with 10,000 subscriptions, ${set10.toFixed(3)} ms with 10`,
    );
    assert.ok(add10k < 2 * add10, `adding the 10,000th took ${add10k.toFixed(3)} ms, the 10th ${add10.toFixed(3)} ms`);
    w.close();
  },
);

test(
  'USP: at most X_CPE-AGENT_MaxRequestsInFlight requests per controller are handled or being answered; more ' +
    'get 7005',
  async () => {
    const w = uspInProcess();
    w.dm.update(LA, { 'X_CPE-AGENT_MaxRequestsInFlight': '4' });
    // A broker that takes the answers slowly: each holds its request's place until it is sent.
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const route = {
      maxRecordBytes: undefined,
      send: (r: Uint8Array) => (answerOf(r).header.msg_type === 'ERROR' ? Promise.resolve() : gate),
    };
    const get = (sim = w.sims.ctl) =>
      w.ep.receive(sim.request('get', 'GET', { param_paths: ['Device.DeviceInfo.'] }).bytes, route);
    const held = Array.from({ length: 4 }, () => get());
    const refused = answerOf((await get())!.reply!);
    assert.equal(refused.header.msg_type, 'ERROR');
    assert.equal(errorOf(refused).err_code, 7005);
    assert.match(errorOf(refused).err_msg, /4 requests/);
    // Another controller is not held up by this one.
    assert.equal(
      answerOf(
        (await w.ep.receive(w.sims.other.request('get', 'GET', { param_paths: ['Device.DeviceInfo.'] }).bytes))!.reply!,
      ).header.msg_type,
      'GET_RESP',
    );
    release();
    for (const h of held) assert.equal(answerOf((await h)!.reply!).header.msg_type, 'GET_RESP');
    assert.equal(answerOf((await get())!.reply!).header.msg_type, 'GET_RESP', 'answered once the others went out');
    w.close();
  },
);

// ---- CWMP ---------------------------------------------------------------------------------------

const acsEnvelope = (id: string, body: string) =>
  `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" ` +
  `xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" ` +
  `xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ` +
  `xmlns:cwmp="urn:dslforum-org:cwmp-1-2"><soapenv:Header><cwmp:ID soapenv:mustUnderstand="1">${id}</cwmp:ID>` +
  `</soapenv:Header><soapenv:Body>${body}</soapenv:Body></soapenv:Envelope>`;
const gpv = (names: string[]) =>
  `<cwmp:GetParameterValues><ParameterNames ` +
  `soapenc:arrayType="xsd:string[${names.length}]">` +
  `${names.map((n) => `<string>${n}</string>`).join('')}</ParameterNames></cwmp:GetParameterValues>`;

/** One CWMP session of the agent's own code against a scripted ACS: what the CPE posted after the Inform. */
async function cwmpSession(dm: DataModel, dir: string, acsRequest: string): Promise<string[]> {
  const replies = [
    acsEnvelope('1', '<cwmp:InformResponse><MaxEnvelopes>1</MaxEnvelopes></cwmp:InformResponse>'),
    acsEnvelope('2', acsRequest),
    '',
  ];
  const posted: string[] = [];
  const conn = {
    post: async (body: string) => {
      posted.push(body);
      return { status: 200, body: replies.shift() ?? '' };
    },
    close: async () => {},
  };
  const actions = idleCwmpActions();
  const session = new CwmpSession(
    conn as unknown as AcsConnection,
    { dm, caller: CWMP_CALLER, state: new CwmpState(dir), actions },
    silentLogger,
    () => {},
  );
  await session.run({
    events: [{ code: '6 CONNECTION REQUEST', key: '' }],
    parameters: [],
    changed: [],
    pending: [],
    retryCount: 0,
  });
  return posted.slice(1).filter(Boolean);
}

async function parsed(raw: string): Promise<{ method: string; body: Node }> {
  const doc = await new Parser({
    explicitArray: false,
    tagNameProcessors: [processors.stripPrefix],
    attrNameProcessors: [processors.stripPrefix],
  }).parseStringPromise(raw);
  const body = (doc.Envelope as Node).Body as Node;
  const method = Object.keys(body).find((k) => k !== '$')!;
  return { method, body: body[method] as Node };
}

function cwmpModel(): DataModel {
  const dm = new DataModel({
    schema: loadSchema(),
    defaults: { 'Device.DeviceInfo.ManufacturerOUI': '00D0F1', 'Device.DeviceInfo.SerialNumber': 'S1' },
  });
  dm.open();
  return dm;
}

test(
  `CWMP GetParameterValues naming Device. ${ATTACK} times: each parameter once, the heap grows by less than 20 ` + `MB`,
  async (t) => {
    const { dir, cleanup } = tempDir('cpe-bounds-');
    t.after(cleanup);
    const dm = cwmpModel();
    await cwmpSession(dm, dir, gpv(Array(10).fill('Device.')));
    const { mb, result } = await heapGrowthMB(() => cwmpSession(dm, dir, gpv(Array(ATTACK).fill('Device.'))));
    assert.ok(mb < 20, `the heap grew by ${mb.toFixed(1)} MB`);
    const answer = await parsed((result as string[])[0]!);
    assert.equal(answer.method, 'GetParameterValuesResponse');
    const names = list((answer.body.ParameterList as Node).ParameterValueStruct as Node | Node[]).map((p) =>
      txt(p.Name),
    );
    assert.ok(names.length > 50);
    assert.equal(new Set(names).size, names.length, 'each parameter once');
    dm.close();
  },
);

test(
  'CWMP: an answer larger than X_CPE-AGENT_MaxEnvelopeSize is fault 9004, a smaller one is given ' + 'whole',
  async (t) => {
    const { dir, cleanup } = tempDir('cpe-bounds-');
    t.after(cleanup);
    const dm = cwmpModel();
    assert.equal(dm.value(`${MS}X_CPE-AGENT_MaxEnvelopeSize`), String(5 * 2 ** 20), "obuspa's 5 MiB by default");
    dm.addAll(
      Array.from({ length: 500 }, (_, i) => ({
        objPath: `${MS}InformParameter.`,
        params: [{ name: 'ParameterName', value: `Device.DeviceInfo.X_${i}` }],
      })),
      { kind: 'agent', component: 'test' },
    );
    dm.update(MS, { 'X_CPE-AGENT_MaxEnvelopeSize': '32768' });
    for (const request of [
      gpv([`${MS}InformParameter.`]),
      '<cwmp:GetParameterNames><ParameterPath></ParameterPath><NextLevel>0</NextLevel></cwmp:GetParameterNames>',
      `<cwmp:GetParameterAttributes><ParameterNames ` +
        `soapenc:arrayType="xsd:string[1]"><string>${MS}InformParameter.</string></ParameterNames>` +
        `</cwmp:GetParameterAttributes>`,
    ]) {
      const [raw] = await cwmpSession(dm, dir, request);
      assert.ok(Buffer.byteLength(raw!) <= 32768);
      const f = await parsed(raw!);
      assert.equal(f.method, 'Fault', request.slice(0, 40));
      assert.equal(txt(((f.body.detail as Node).Fault as Node).FaultCode), '9004');
    }
    const [ok] = await cwmpSession(dm, dir, gpv(['Device.DeviceInfo.']));
    assert.equal((await parsed(ok!)).method, 'GetParameterValuesResponse');
    dm.close();
  },
);

test(
  'CWMP: at most X_CPE-AGENT_MaxRequestsInFlight requests whose work goes on after the session (16); the next ' +
    'is fault 9004',
  async (t) => {
    const { agent, acs } = await setup(t);
    await acs.until(() => acs.sessionsEnded >= 1);
    assert.equal(agent.dm.value(`${MS}X_CPE-AGENT_MaxRequestsInFlight`), '16');
    const later = (key: string) =>
      `<cwmp:ScheduleInform><DelaySeconds>86400</DelaySeconds><CommandKey>${key}</CommandKey></cwmp:ScheduleInform>`;
    const download =
      `<cwmp:Download><CommandKey>d</CommandKey><FileType>3 Vendor Configuration ` +
      `File</FileType><URL>http://127.0.0.1:1/x</URL><Username/><Password/><FileSize>0</FileSize><TargetFileName/>` +
      `<DelaySeconds>86400</DelaySeconds><SuccessURL/><FailureURL/></cwmp:Download>`;
    const answers = [
      ...Array.from({ length: 15 }, (_, i) => acs.rpc(later(`s${i}`))),
      acs.rpc(download),
      acs.rpc(later('one too many')),
      acs.rpc(download),
    ];
    assert.equal(await TestAcs.connectionRequest(agent.dm.value(`${MS}ConnectionRequestURL`), 'acs', 'cr-secret'), 200);
    const got = await Promise.all(answers);
    assert.deepEqual(
      got.slice(0, 16).map((m) => m.method),
      [...Array(15).fill('ScheduleInformResponse'), 'DownloadResponse'],
    );
    for (const m of got.slice(16)) assert.equal(txt(faultOf(m)!.FaultCode), '9004');
  },
);
