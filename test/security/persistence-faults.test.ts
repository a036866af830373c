// State under faults: a state directory on a real small tmpfs that fills up or turns read-only, and
// state files that are garbage, truncated JSON or JSON of the wrong shape. A Set, Add, Delete or
// InstallDU that can't be written is answered with an error and undone, never acknowledged and lost
// at the next start (a write to a nearly full disk can write part of a journal line and return: that
// Set was answered as done and gone after a restart). A corrupt file is moved aside as <name>.corrupt,
// logged without its content, reported in Device.DeviceInfo.X_CPE-AGENT_CorruptStateFiles before
// Boot!, and the agent starts on what it can still trust; a journal torn by a kill -9 is not corrupt.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { Agent } from '../../src/agent.js';
import { asCwmpFault, duFaultOf } from '../../src/cwmp/faults.js';
import { CwmpState } from '../../src/cwmp/state.js';
import type { Change } from '../../src/dm/change-feed.js';
import { DataModel } from '../../src/dm/datamodel.js';
import { DmError } from '../../src/dm/errors.js';
import { ensureRoles } from '../../src/usp/access.js';
import type { RequestBody, RequestKind, RequestType } from '../../src/usp/codec.js';
import { UspEndpoint } from '../../src/usp/endpoint.js';
import type * as usp from '../../src/usp/generated/usp-msg.js';
import { Subscriptions } from '../../src/usp/subscriptions.js';
import { createLogger, silentLogger } from '../../src/util/logger.js';
import { manifest, tarGz } from '../engine/tar-builder.js';
import { agent as agentCaller, cwmp, loadSchema, requireRoot, tempDir, waitFor } from '../helpers.js';
import { ControllerSim } from '../usp/controller-sim.js';

const MS = 'Device.ManagementServer.';
const SM = 'Device.SoftwareModules.';
const CORRUPT = 'Device.DeviceInfo.X_CPE-AGENT_CorruptStateFiles';

// ---- a small disk -------------------------------------------------------------------------------

/** Mounting needs root: skipped loudly without it, and CI (which runs as root) must run it. */
function needRoot(t: TestContext): boolean {
  return requireRoot(t, 'the disk fault tests mount a small tmpfs');
}

/** A tmpfs of `kib` KiB on a fresh directory, unmounted after the test. */
function smallDisk(t: TestContext, kib: number): string {
  const { dir, cleanup } = tempDir('cpe-faults-');
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${kib}k,mode=0700`, 'tmpfs', dir]);
  t.after(() => {
    // A failed test may leave a file open on it: then it is detached now and freed when that closes.
    try {
      execFileSync('umount', [dir], { stdio: 'ignore' });
    } catch {
      execFileSync('umount', ['-l', dir]);
    }
    cleanup();
  });
  return dir;
}

/** Fills the disk until `leave` bytes are free; returns what frees the space again. */
function fill(disk: string, leave: number): () => void {
  const s = statfsSync(disk);
  const file = join(disk, 'filler');
  writeFileSync(file, Buffer.alloc(Math.max(0, s.bavail * s.bsize - leave)));
  assert.ok(statfsSync(disk).bavail * statfsSync(disk).bsize <= leave, 'the disk is as full as asked');
  return () => rmSync(file);
}

const corruptFiles = (dir: string): string[] =>
  existsSync(dir)
    ? readdirSync(dir, { recursive: true })
        .map(String)
        .filter((f) => f.endsWith('.corrupt'))
    : [];

// ---- the data model behind a USP endpoint ------------------------------------------------------

const CTL = 'proto::ctl';
const AGENT_ID = 'os::agent';

/**
 * The data model on stateDir, answering USP records of a controller with full access. Opening it
 * again on the same directory is the agent after a restart.
 */
function uspModel(stateDir: string) {
  const dm = new DataModel({
    schema: loadSchema(),
    stateDir,
    defaults: {
      'Device.LocalAgent.EndpointID': AGENT_ID,
      'Device.LocalAgent.Controller.1.EndpointID': CTL,
      'Device.LocalAgent.Controller.1.Enable': 'true',
    },
  });
  Subscriptions.register(dm);
  if (dm.open().fresh)
    dm.update('Device.LocalAgent.Controller.1.', { AssignedRole: ensureRoles(dm).full.slice(0, -1) });
  const ep = new UspEndpoint(dm, silentLogger);
  const sim = new ControllerSim(CTL, AGENT_ID);
  const call = async <K extends RequestKind>(
    kind: K,
    type: RequestType<K>,
    body: RequestBody<K>,
  ): Promise<usp.Body> => {
    const out = await ep.receive(sim.request(kind, type, body).bytes);
    assert.ok(out?.reply, `no answer to ${kind}`);
    return ControllerSim.decode(out.reply).msg!.body;
  };
  const set = (param: string, value: string) =>
    call('set', 'SET', {
      allow_partial: false,
      update_objs: [{ obj_path: MS, param_settings: [{ param, value, required: true }] }],
    });
  const add = (alias: string) =>
    call('add', 'ADD', {
      allow_partial: false,
      create_objs: [
        {
          obj_path: `${MS}InformParameter.`,
          param_settings: [
            { param: 'Alias', value: alias, required: true },
            { param: 'ParameterName', value: `Device.DeviceInfo.VendorConfigFile.${alias}.Name`, required: true },
          ],
        },
      ],
    });
  const del = (path: string) => call('delete', 'DELETE', { allow_partial: false, obj_paths: [path] });
  /** InformParameter rows as alias -> path. */
  const rows = () =>
    new Map(dm.instances(`${MS}InformParameter.`, agentCaller).map((r) => [dm.value(`${r.path}Alias`), r.path]));
  return {
    dm,
    set,
    add,
    del,
    rows,
    close: () => {
      ep.access.close();
      dm.close();
    },
  };
}

const errorOf = (body: usp.Body): usp.Error | undefined => body.error;

// ---- a full disk ---------------------------------------------------------------------------------

test(
  'Set on a full state directory: refused with 7005 (CWMP 9004) and undone; a restart holds exactly what was ' +
    'acknowledged',
  async (t) => {
    if (!needRoot(t)) return;
    const disk = smallDisk(t, 256);
    const state = join(disk, 'dm');
    let m = uspModel(state);
    // One page left: the journal line that crosses into the page the disk doesn't have is written in part.
    const free = fill(disk, 4096);
    let acked = '';
    let refused: { err_code: number; err_msg: string } | undefined;
    for (let i = 0; i < 1000 && !refused; i++) {
      const value = `http://acs.example/${i}/${'x'.repeat(40 + (i % 13))}`;
      refused = errorOf(await m.set('URL', value));
      if (!refused) acked = value;
    }
    assert.ok(refused, 'the disk filled up');
    assert.ok(acked, 'Sets were acknowledged while there was room');
    assert.equal(refused.err_code, 7005, refused.err_msg);
    assert.match(refused.err_msg, /no space left/i);
    assert.equal(m.dm.value(`${MS}URL`), acked, 'the refused value was undone');
    assert.throws(
      () => m.dm.set([{ objPath: MS, params: [{ name: 'URL', value: 'http://acs.example/cwmp' }] }], cwmp),
      (e: unknown) => e instanceof DmError && e.code === 7005 && asCwmpFault(e).code === 9004,
      'CWMP gets 9004 (resources exceeded)',
    );
    m.close();

    m = uspModel(state); // restarted on the disk still full
    assert.equal(m.dm.value(`${MS}URL`), acked, 'every acknowledged Set survived the restart, nothing else appeared');
    free();
    assert.equal(
      errorOf(await m.set('URL', 'http://acs.example/after')),
      undefined,
      'with room again, Sets are written',
    );
    m.close();
    m = uspModel(state);
    assert.equal(
      m.dm.value(`${MS}URL`),
      'http://acs.example/after',
      'and survive a restart (nothing half-written lies before them)',
    );
    assert.deepEqual(corruptFiles(state), [], 'a full disk is not corruption');
    m.close();
  },
);

test(
  'Add on a full state directory: refused with 7005, no row; a restart has exactly the acknowledged rows and ' +
    'numbers are not reused',
  async (t) => {
    if (!needRoot(t)) return;
    const disk = smallDisk(t, 256);
    const state = join(disk, 'dm');
    let m = uspModel(state);
    const free = fill(disk, 4096);
    const acked: string[] = [];
    let refused: { err_code: number; err_msg: string } | undefined;
    for (let i = 0; i < 500 && !refused; i++) {
      const body = await m.add(`p${i}`);
      refused = errorOf(body);
      if (!refused) acked.push(`p${i}`);
    }
    assert.ok(refused && acked.length, 'Adds were acknowledged until the disk filled up');
    assert.equal(refused.err_code, 7005, refused.err_msg);
    assert.deepEqual([...m.rows().keys()], acked, 'the refused row is not there');
    const last = [...m.rows().values()].at(-1)!;
    m.close();

    m = uspModel(state);
    assert.deepEqual([...m.rows().keys()], acked, 'after a restart: the acknowledged rows, and only those');
    free();
    const body = await m.add('after');
    assert.equal(errorOf(body), undefined);
    const path = body.response?.add_resp?.created_obj_results[0]?.oper_status?.oper_success?.instantiated_path ?? '';
    assert.ok(
      Number(/(\d+)\.$/.exec(path)![1]) > Number(/(\d+)\.$/.exec(last)![1]),
      'instance numbers go on from the acknowledged ones',
    );
    m.close();
    m = uspModel(state);
    assert.deepEqual([...m.rows().keys()], [...acked, 'after']);
    m.close();
  },
);

test(
  'Delete on a full state directory: refused with 7005, the row stays; a restart has exactly the acknowledged ' +
    'deletions',
  async (t) => {
    if (!needRoot(t)) return;
    const disk = smallDisk(t, 512);
    const state = join(disk, 'dm');
    let m = uspModel(state);
    for (let i = 0; i < 120; i++) assert.equal(errorOf(await m.add(`p${i}`)), undefined);
    const free = fill(disk, 0);
    const kept = [...m.rows().keys()];
    let refused: { err_code: number; err_msg: string } | undefined;
    while (!refused && kept.length) {
      refused = errorOf(await m.del(m.rows().get(kept[0]!)!));
      if (!refused) kept.shift();
    }
    assert.ok(refused, 'the disk filled up');
    assert.equal(refused.err_code, 7005, refused.err_msg);
    assert.deepEqual([...m.rows().keys()], kept, 'the row whose deletion was refused is still there');
    m.close();
    m = uspModel(state);
    assert.deepEqual([...m.rows().keys()], kept, 'after a restart: deleted what was acknowledged, nothing more');
    free();
    assert.equal(errorOf(await m.del(m.rows().get(kept[0]!)!)), undefined);
    m.close();
    m = uspModel(state);
    assert.deepEqual([...m.rows().keys()], kept.slice(1));
    m.close();
  },
);

test(
  'a read-only state directory: the model starts on it, and a Set is refused with 7003 (CWMP 9002) and ' + 'undone',
  async (t) => {
    if (!needRoot(t)) return;
    const disk = smallDisk(t, 256);
    const state = join(disk, 'dm');
    let m = uspModel(state);
    assert.equal(errorOf(await m.set('URL', 'http://acs.example/before')), undefined);
    m.close();
    execFileSync('mount', ['-o', 'remount,ro', disk]);
    m = uspModel(state);
    assert.equal(m.dm.value(`${MS}URL`), 'http://acs.example/before');
    const refused = errorOf(await m.set('URL', 'http://acs.example/refused'));
    assert.equal(refused?.err_code, 7003, refused?.err_msg);
    assert.match(refused!.err_msg, /read-only/i);
    assert.equal(m.dm.value(`${MS}URL`), 'http://acs.example/before');
    assert.throws(
      () => m.dm.set([{ objPath: MS, params: [{ name: 'URL', value: 'http://acs.example/cwmp' }] }], cwmp),
      (e: unknown) => e instanceof DmError && e.code === 7003 && asCwmpFault(e).code === 9002,
    );
    m.close();
    execFileSync('mount', ['-o', 'remount,rw', disk]);
    m = uspModel(state);
    assert.equal(m.dm.value(`${MS}URL`), 'http://acs.example/before', 'nothing refused appeared');
    assert.equal(errorOf(await m.set('URL', 'http://acs.example/after')), undefined);
    m.close();
  },
);

test(
  'InstallDU whose commit can not be written: 7227 (CWMP 9027), nothing half-installed, nothing reported again ' +
    'after a restart',
  async (t) => {
    if (!needRoot(t)) return;
    const agents: Agent[] = [];
    // Registered before the disk's: after-hooks run in order, and the disk can't be unmounted under a running agent.
    t.after(async () => {
      for (const a of agents) {
        await a.containerEngine?.stopAll();
        await a.stop();
      }
    });
    const disk = smallDisk(t, 4096);
    const stateDir = join(disk, 'state');
    const pkgs = tempDir('cpe-faults-pkg-');
    t.after(pkgs.cleanup);
    // 64 services with long commands: the DU records (rewritten whole at each commit) take ~190 KiB.
    const services = Array.from({ length: 64 }, (_, i) => ({
      name: `s${i}`,
      command: `bin/${'c'.repeat(1000)}`,
      autostart: false,
      description: 'd'.repeat(256),
    }));
    const pkg = (name: string, s: unknown[]) =>
      tarGz([
        { name: 'manifest.json', data: manifest({ name, services: s }) },
        { name: 'bin/run.sh', data: '#!/bin/sh\nexec sleep 1000\n', mode: 0o755 },
      ]);
    writeFileSync(join(pkgs.dir, 'big.tgz'), pkg('big', services));
    writeFileSync(
      join(pkgs.dir, 'small.tgz'),
      pkg('small', [{ name: 'svc', command: 'bin/run.sh', autostart: false }]),
    );
    const boot = async () => {
      const a = new Agent({
        stateDir,
        logger: silentLogger,
        settings: { [`${SM}X_CPE-AGENT_FileURLDirectory`]: pkgs.dir },
      });
      const events: Change[] = [];
      a.onStarted = (dm) => {
        dm.feed.subscribe(`${SM}DUStateChange!`, (c) => events.push(c), ['event']);
      };
      agents.push(a);
      await a.start();
      return { a, events };
    };
    const install = async (a: Agent, name: string) => {
      const [o] = await a.dm.operate(
        `${SM}InstallDU()`,
        { URL: `file://${join(pkgs.dir, `${name}.tgz`)}` },
        agentCaller,
        name,
      );
      assert.equal(o?.kind, 'async');
      return (await (o as { done: Promise<unknown> }).done) as { ok: boolean; code?: number; message?: string };
    };
    const engineDir = (...p: string[]) => join(stateDir, 'engine', ...p);
    const names = (a: Agent) => a.containerEngine!.deploymentUnits().map((d) => d.manifest.name);

    let { a } = await boot();
    assert.equal((await install(a, 'big')).ok, true);
    await waitFor(() => readdirSync(engineDir('ops')).length === 0); // its journal entry (with the outcome) is gone
    const before = {
      du: readdirSync(engineDir('du')),
      data: readdirSync(engineDir('data')),
      dus: readFileSync(engineDir('dus.json'), 'utf8'),
    };
    // Room for the small package and its journal, not for a new copy of the DU records.
    const free = fill(disk, 96 * 1024);
    const r = await install(a, 'small');
    assert.equal(r.ok, false, 'the install failed');
    assert.equal(r.code, 7227, r.message);
    assert.match(r.message!, /no room|no space/i);
    assert.equal(duFaultOf({ code: r.code! }), 9027, 'CWMP: 9027 (system resources exceeded)');
    await new Promise((res) => setImmediate(res));
    assert.deepEqual(names(a), ['big'], 'the engine does not hold the DU it could not record');
    assert.deepEqual(
      a.dm.instances(`${SM}DeploymentUnit.`, agentCaller).map((i) => a.dm.value(`${i.path}Name`)),
      ['big'],
      'no DeploymentUnit row for it',
    );
    assert.deepEqual(readdirSync(engineDir('du')), before.du, 'its files were removed');
    assert.deepEqual(readdirSync(engineDir('data')), before.data, 'its data directory was removed');
    assert.deepEqual(readdirSync(engineDir('tmp')), [], 'no staging left');
    assert.deepEqual(readdirSync(engineDir('ops')), [], 'no operation left to recover');
    assert.equal(readFileSync(engineDir('dus.json'), 'utf8'), before.dus, 'the records are as they were');
    await a.stop();

    // biome-ignore lint/style/useConst: assigned with a (reassigned) together
    let events: Change[];
    ({ a, events } = await boot()); // restarted on the disk still full
    assert.deepEqual(names(a), ['big']);
    assert.deepEqual(
      a.dm.instances(`${SM}DeploymentUnit.`, agentCaller).map((i) => a.dm.value(`${i.path}Name`)),
      ['big'],
    );
    await new Promise((res) => setTimeout(res, 200));
    assert.deepEqual(events, [], 'nothing is reported again after the restart');
    free();
    assert.equal((await install(a, 'small')).ok, true, 'with room again the same install works');
    assert.deepEqual(names(a), ['big', 'small']);
  },
);

// ---- corrupt state files -------------------------------------------------------------------------

const DEFAULTS = { 'Device.DeviceInfo.ProvisioningCode': 'factory', [`${MS}PeriodicInformInterval`]: '3600' };

/** One agent run that leaves every kind of state file; copied for each case. */
async function goldenState(): Promise<{ dir: string; cleanup: () => void; defaults: string }> {
  const { dir, cleanup } = tempDir('cpe-golden-');
  const defaults = join(dir, 'defaults.json');
  writeFileSync(defaults, JSON.stringify(DEFAULTS));
  writeFileSync(
    join(dir, 'app.tgz'),
    tarGz([
      {
        name: 'manifest.json',
        data: manifest({ name: 'app', services: [{ name: 'svc', command: 'bin/run.sh', autostart: false }] }),
      },
      { name: 'bin/run.sh', data: '#!/bin/sh\nexec sleep 1000\n', mode: 0o755 },
    ]),
  );
  const a = new Agent({
    stateDir: join(dir, 'state'),
    defaultsFile: defaults,
    logger: silentLogger,
    settings: { [`${SM}X_CPE-AGENT_FileURLDirectory`]: dir },
  });
  await a.start();
  const [o] = await a.dm.operate(`${SM}InstallDU()`, { URL: `file://${join(dir, 'app.tgz')}` }, agentCaller, 'golden');
  assert.equal(((await (o as { done: Promise<unknown> }).done) as { ok: boolean }).ok, true);
  // The journal's last two transactions: one before the damage a test puts between them, one after.
  a.dm.update('Device.DeviceInfo.', { ProvisioningCode: 'before-damage' });
  a.dm.update(MS, { PeriodicInformInterval: '4321' });
  await a.stop();
  new CwmpState(join(dir, 'state')).addEvent('1 BOOT');
  return { dir, cleanup, defaults };
}

interface Started {
  agent: Agent;
  lines: Record<string, unknown>[];
  text: string;
  reported: string[];
  order: string[];
}

/** The agent on stateDir with its log captured, and what it published about corrupt state before Boot!. */
async function start(t: TestContext, stateDir: string, defaults: string): Promise<Started> {
  let text = '';
  const logger = createLogger('debug', {
    write: (s: string) => {
      text += s;
    },
  });
  const agent = new Agent({ stateDir, defaultsFile: defaults, logger });
  const reported: string[] = [];
  const order: string[] = [];
  agent.onStarted = (dm) => {
    dm.feed.subscribe(
      CORRUPT,
      (c) => {
        if (c.kind === 'value') {
          reported.push(c.value);
          order.push('value');
        }
      },
      ['value'],
    );
    dm.feed.subscribe('Device.Boot!', () => order.push('boot'), ['event']);
  };
  await agent.start();
  t.after(async () => {
    await agent.containerEngine?.stopAll();
    await agent.stop();
  });
  return {
    agent,
    text,
    lines: text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>),
    reported,
    order,
  };
}

const MARK = `MARK-${randomBytes(12).toString('hex')}`;
const cut = (s: string) => s.slice(0, Math.floor(s.length * 0.6));
/** A JSON text of the right shape with the mark first (so a cut copy still holds it). */
const marked = (json: string) => {
  const v = JSON.parse(json) as unknown;
  return JSON.stringify(
    Array.isArray(v) ? [{ note: MARK, ...(v[0] as object) }, ...v.slice(1)] : { note: MARK, ...(v as object) },
    null,
    1,
  );
};

interface Case {
  /** Relative to the state directory. */
  readonly file: string;
  /** The bad content, from the good one (empty when the file does not exist in the golden state). */
  readonly variants: Record<'garbage' | 'truncated' | 'wrong shape', (good: string) => string>;
  /** Files reported besides it. */
  readonly also?: string[];
  /** What the agent started on. */
  check(s: Started, stateDir: string): void;
}

const GARBAGE = () => `\u0000\u00ff{{ not json ${MARK} ]]`;
const OP = JSON.stringify({
  id: 'deadbeef0001',
  kind: 'install',
  startTime: '2024-01-01T00:00:00Z',
  uuid: '',
  staging: '/nonexistent/staging',
  requestTag: 'x',
  committed: false,
});
const VOLUMES = JSON.stringify([
  { id: 'v1', ee: 'native', appUuid: 'u', name: 'n', capacityMiB: 1, retain: 'Forever', accessPath: '/data' },
]);
const sm = (s: Started) => s.agent.containerEngine!;

const CASES: Case[] = [
  {
    file: 'cwmp/state.json',
    variants: {
      garbage: GARBAGE,
      truncated: (g) => cut(marked(g)),
      'wrong shape': () => JSON.stringify({ events: [{ code: MARK }], pending: [] }),
    },
    check: (_s, dir) => assert.deepEqual(new CwmpState(dir).data.events, [], 'CWMP starts afresh'),
  },
  {
    file: 'dm/datamodel.json',
    also: ['dm/datamodel.journal'],
    variants: {
      garbage: GARBAGE,
      truncated: (g) => cut(marked(g)),
      'wrong shape': () => JSON.stringify({ rows: [MARK], values: { a: 1 }, next: {} }),
    },
    check: (s) => {
      assert.equal(
        s.agent.dm.value('Device.DeviceInfo.ProvisioningCode'),
        'factory',
        'the model starts on its defaults',
      );
      assert.deepEqual(
        sm(s)
          .deploymentUnits()
          .map((d) => d.manifest.name),
        ['app'],
        "the engine's DUs are in it again",
      );
      assert.equal(s.agent.dm.instances(`${SM}DeploymentUnit.`, agentCaller).length, 1);
    },
  },
  {
    file: 'dm/datamodel.journal',
    // A whole line that is not a transaction, between the last two.
    variants: Object.fromEntries(
      (
        [
          ['garbage', `${GARBAGE()}`],
          ['truncated', `[["s","Device.DeviceInfo.ProvisioningCode","${MARK}`],
          ['wrong shape', `[["x","${MARK}"]]`],
        ] as const
      ).map(([k, line]) => [
        k,
        (g: string) => {
          const l = g.split('\n').filter(Boolean);
          return [...l.slice(0, -1), line, l.at(-1)!, ''].join('\n');
        },
      ]),
    ) as Case['variants'],
    check: (s) => {
      assert.equal(
        s.agent.dm.value('Device.DeviceInfo.ProvisioningCode'),
        'before-damage',
        'the transactions before the damage are kept',
      );
      assert.equal(s.agent.dm.value(`${MS}PeriodicInformInterval`), '3600', 'the one after it is not');
    },
  },
  {
    file: 'engine/ees.json',
    variants: {
      garbage: GARBAGE,
      truncated: (g) => cut(marked(g)),
      'wrong shape': () => JSON.stringify([{ id: MARK, backend: 'vm' }]),
    },
    check: (s) =>
      assert.deepEqual(
        sm(s)
          .execEnvs()
          .map((e) => e.id),
        ['native'],
      ),
  },
  {
    file: 'engine/dus.json',
    variants: {
      garbage: GARBAGE,
      truncated: (g) => cut(marked(g)),
      'wrong shape': () => JSON.stringify([{ duid: MARK, eus: 'none' }]),
    },
    check: (s) => {
      assert.deepEqual(sm(s).deploymentUnits(), []);
      assert.equal(s.agent.dm.instances(`${SM}DeploymentUnit.`, agentCaller).length, 0);
    },
  },
  {
    file: 'engine/appdata.json',
    variants: {
      garbage: GARBAGE,
      truncated: () => cut(marked(VOLUMES)),
      'wrong shape': () => JSON.stringify({ volumes: MARK }),
    },
    check: (s, dir) => {
      assert.deepEqual(sm(s).volumes(), []);
      assert.ok(
        existsSync(join(dir, 'engine/appdata/v1.img')),
        'volume images no readable record names are kept, not swept',
      );
    },
  },
  {
    file: 'engine/ops/deadbeef0001.json',
    variants: {
      garbage: GARBAGE,
      truncated: () => cut(marked(OP)),
      'wrong shape': () => JSON.stringify({ id: MARK, kind: 'reinstall' }),
    },
    check: (s) =>
      assert.deepEqual(
        sm(s)
          .deploymentUnits()
          .map((d) => d.manifest.name),
        ['app'],
      ),
  },
];

test(
  'corrupt state files are moved aside, logged without their content, reported before Boot!, and the agent ' + 'starts',
  async (t) => {
    const golden = await goldenState();
    t.after(golden.cleanup);
    let n = 0;
    for (const c of CASES) {
      for (const [variant, make] of Object.entries(c.variants)) {
        await t.test(`${c.file}: ${variant}`, async (st) => {
          const dir = join(golden.dir, `case-${n++}`);
          cpSync(join(golden.dir, 'state'), dir, { recursive: true });
          const file = join(dir, c.file);
          const good = existsSync(file) ? readFileSync(file, 'utf8') : '';
          const bad = make(good);
          mkdirSync(join(file, '..'), { recursive: true });
          writeFileSync(file, bad);
          if (c.file === 'engine/appdata.json') writeFileSync(join(dir, 'engine/appdata/v1.img'), 'data of a volume');
          const s = await start(st, dir, golden.defaults);

          const expected = [c.file, ...(c.also ?? [])];
          assert.equal(readFileSync(`${file}.corrupt`, 'utf8'), bad, 'the bad file is kept aside as it was');
          for (const f of expected) assert.ok(existsSync(join(dir, `${f}.corrupt`)), `${f} moved aside`);
          for (const f of expected) {
            assert.ok(
              s.lines.some((l) => l.level === 50 && l.file === f && /corrupt/.test(String(l.msg))),
              `an error names ${f}:\n${s.text}`,
            );
          }
          assert.ok(!s.text.includes(MARK), 'the log does not show the content');
          assert.equal(s.agent.dm.value(CORRUPT), expected.join(','));
          assert.deepEqual(s.reported, [expected.join(',')], 'a value change says which');
          assert.deepEqual(s.order, ['value', 'boot'], 'before Boot!');
          c.check(s, dir);
        });
      }
    }
  },
);

test('a journal torn by a kill -9 mid-write is not corruption: nothing moved aside or reported', async (t) => {
  const golden = await goldenState();
  t.after(golden.cleanup);
  const dir = join(golden.dir, 'torn');
  cpSync(join(golden.dir, 'state'), dir, { recursive: true });
  writeFileSync(
    join(dir, 'dm/datamodel.journal'),
    `${readFileSync(join(dir, 'dm/datamodel.journal'), 'utf8')}[["s","Device.DeviceInfo.ProvisioningCode","tor`,
  );
  const s = await start(t, dir, golden.defaults);
  assert.deepEqual(corruptFiles(dir), []);
  assert.equal(s.agent.dm.value(CORRUPT), '');
  assert.deepEqual(s.reported, []);
  assert.ok(!s.lines.some((l) => Number(l.level) >= 50), `no error logged:\n${s.text}`);
  assert.equal(s.agent.dm.value('Device.DeviceInfo.ProvisioningCode'), 'before-damage');
  assert.equal(s.agent.dm.value(`${MS}PeriodicInformInterval`), '4321', 'every whole transaction is kept');
});

test('only the newest corrupt copy of a file is kept, and a few per directory', async (t) => {
  const golden = await goldenState();
  t.after(golden.cleanup);
  const dir = join(golden.dir, 'bounded');
  cpSync(join(golden.dir, 'state'), dir, { recursive: true });
  writeFileSync(join(dir, 'cwmp/state.json'), 'first');
  for (let i = 0; i < 20; i++) writeFileSync(join(dir, `engine/ops/bad${i}.json`), `not json ${i}`);
  let s = await start(t, dir, golden.defaults);
  await s.agent.stop();
  writeFileSync(join(dir, 'cwmp/state.json'), 'second');
  s = await start(t, dir, golden.defaults);
  assert.equal(readFileSync(join(dir, 'cwmp/state.json.corrupt'), 'utf8'), 'second', 'the newest copy');
  assert.ok(
    corruptFiles(join(dir, 'engine/ops')).length <= 8,
    `at most 8 corrupt copies in a directory: ${corruptFiles(join(dir, 'engine/ops')).length}`,
  );
  assert.deepEqual(
    readdirSync(join(dir, 'engine/ops')).filter((f) => f.endsWith('.json')),
    [],
    'none left where the engine reads them',
  );
  assert.equal(s.agent.dm.value(CORRUPT), 'cwmp/state.json');
});
