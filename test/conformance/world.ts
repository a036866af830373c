// The TP-469 conformance tests' world: one real mosquitto, one agent and one controller per test
// file (started before its first test, stopped after its last), and the USP requests the test plan
// sends, spelled as it spells them. Without mosquitto every test skips loudly (fails under CI).

import { after, before, type TestContext } from 'node:test';
import { connectAsync } from 'mqtt';
import type { Agent } from '../../src/agent.js';
import type { DecodedMsg } from '../../src/usp/codec.js';
import type { UspController } from '../../src/usp/controller-client.js';
import type * as usp from '../../src/usp/generated/usp-msg.js';
import { sleep, tempDir } from '../helpers.js';
import { freePort, Mosquitto, mosquittoPath, requireMosquitto } from '../system/mosquitto.js';
import { agentAndController, deployment } from '../system/usp-world.js';

/** The test controller's row, as the test plan's "<instance identifier>" of the traffic generator. */
export const CTL = 'Device.LocalAgent.Controller.1.';
export const SUB = 'Device.LocalAgent.Subscription.';
/** The agent's topic in test/system/usp-world.ts's deployment. */
const AGENT_TOPIC = 'usp/agent/test';

export interface World {
  readonly agent: Agent;
  readonly ctl: UspController;
  /** The broker's port, for a test that publishes records of its own making. */
  readonly port: number;
}

type Settings = Record<string, string | { value: string; required: boolean }>;
const settings = (s: Settings): usp.Add.ICreateParamSetting[] =>
  Object.entries(s).map(([param, v]) =>
    typeof v === 'string' ? { param, value: v, required: false } : { param, value: v.value, required: v.required },
  );

/** The world of this test file; tests take it with `the(t)`. */
export function conformanceWorld(extra: Record<string, string> = {}): (t: TestContext) => World | undefined {
  let world: World | undefined;
  const stops: (() => Promise<void>)[] = [];
  before(async () => {
    const bin = mosquittoPath();
    if (!bin) return;
    const { dir, cleanup } = tempDir('cpe-tp469-');
    const port = await freePort();
    const broker = new Mosquitto(bin, dir, port);
    await broker.start();
    // agentAndController registers its stops with the context it gets: here, the file's.
    const ctx = { after: (fn: () => Promise<void>) => stops.push(fn) } as unknown as TestContext;
    const defaults = {
      ...deployment(port, '5.0'),
      'Device.LocalAgent.Controller.1.ProvisioningCode': 'tp469',
      'Device.LocalAgent.Controller.1.USPNotifRetryMinimumWaitInterval': '1',
      ...extra,
    };
    world = { ...(await agentAndController(ctx, { dir, cleanup, port, broker, version: '5.0', defaults })), port };
  });
  after(async () => {
    for (const stop of stops) await stop();
  });
  return (t) => {
    if (!world) requireMosquitto(t);
    return world;
  };
}

export const add = (w: World, allowPartial: boolean, ...objs: { path: string; params: Settings }[]) =>
  w.ctl.request('add', 'ADD', {
    allow_partial: allowPartial,
    create_objs: objs.map((o) => ({ obj_path: o.path, param_settings: settings(o.params) })),
  });

export const set = (w: World, allowPartial: boolean, ...objs: { path: string; params: Settings }[]) =>
  w.ctl.request('set', 'SET', {
    allow_partial: allowPartial,
    update_objs: objs.map((o) => ({ obj_path: o.path, param_settings: settings(o.params) })),
  });

export const del = (w: World, allowPartial: boolean, ...paths: string[]) =>
  w.ctl.request('delete', 'DELETE', { allow_partial: allowPartial, obj_paths: paths });

export const get = (w: World, paths: string[], maxDepth = 0) =>
  w.ctl.request('get', 'GET', { param_paths: paths, max_depth: maxDepth });

/** The resolved objects of a GetResp, each path with its parameters, over all requested paths. */
export function resolved(m: DecodedMsg): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const r of m.body.response?.get_resp?.req_path_results ?? [])
    for (const o of r.resolved_path_results ?? [])
      out[o.resolved_path!] = { ...out[o.resolved_path!], ...o.result_params };
  return out;
}

/** Deletes what a test made, whatever the outcome, so that the next test of the file starts clean. */
export const cleanUp = (w: World, ...paths: string[]) => del(w, true, ...paths);

/**
 * Publishes raw bytes to the agent's topic as another MQTT client, with a reply topic of its own,
 * and returns whatever arrives there within `waitMs`: the agent's answers, if it gives any.
 */
export async function publishRaw(
  w: World,
  bytes: Uint8Array,
  waitMs = 500,
  topic = AGENT_TOPIC,
  qos: 0 | 1 = 1,
  contentType = 'usp.msg',
): Promise<Buffer[]> {
  const client = await connectAsync(`mqtt://127.0.0.1:${w.port}`, { protocolVersion: 5 });
  const replyTo = `usp/tp469/raw-${process.pid}-${Date.now()}`;
  const got: Buffer[] = [];
  try {
    client.on('message', (_topic, payload) => got.push(payload));
    await client.subscribeAsync(replyTo, { qos: 1 });
    await client.publishAsync(topic, Buffer.from(bytes), {
      qos,
      properties: { contentType, responseTopic: replyTo },
    });
    await sleep(waitMs);
    return got;
  } finally {
    await client.endAsync();
  }
}
