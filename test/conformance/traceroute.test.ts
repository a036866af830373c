// TP-469 1.92 over a real mosquitto: Device.IP.Diagnostics.TraceRoute() with only Host and
// ProtocolVersion, so the agent uses TR-181's defaults (3 tries per hop, 5000 ms each). The remote
// host is an address in a network namespace this test makes (a veth pair, names unique to the run,
// removed after), directly attached, so every probe reaches it whatever its TTL; a UDP listener there
// notes when each probe arrives and never answers. Once the first hop's probes and the next hop's
// first are seen the test cancels the run (Request.{i}.Cancel()): with 30 hops it would take 7.5 minutes.

import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { type TestContext, test } from 'node:test';
import { responseOf } from '../fixtures/usp-answer.js';
import { requireRoot, requireTool, waitFor } from '../helpers.js';
import { conformanceWorld, type World } from './world.js';

const the = conformanceWorld();
const TRACEROUTE = 'Device.IP.Diagnostics.TraceRoute()';
/** traceroute's first UDP port; each probe goes to the next one. */
const BASE_PORT = 33434;
const PORTS = 10;

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });

/** A namespace holding `target`, reached over a veth pair from here; removed after the test. */
function remoteHost(t: TestContext): { ns: string; target: string } {
  const id = process.pid % 100_000;
  const ns = `cpe-tp469-192-${id}`;
  const [here, there] = [`c192h${id}`, `c192p${id}`];
  const net = `10.231.${id % 250}`;
  const cleanup = () => {
    for (const args of [
      ['link', 'del', here],
      ['netns', 'del', ns],
    ])
      try {
        ip(...args);
      } catch {} // not made, or gone with the namespace
  };
  t.after(cleanup);
  cleanup(); // what a killed earlier run with this pid left
  ip('netns', 'add', ns);
  ip('link', 'add', here, 'type', 'veth', 'peer', 'name', there);
  ip('link', 'set', there, 'netns', ns);
  ip('addr', 'add', `${net}.1/30`, 'dev', here);
  ip('link', 'set', here, 'up');
  ip('-n', ns, 'addr', 'add', `${net}.2/30`, 'dev', there);
  ip('-n', ns, 'link', 'set', there, 'up');
  return { ns, target: `${net}.2` };
}

/** The listener in the namespace: one line "port ms" per datagram, never an answer (nor an ICMP unreachable). */
const LISTENER = `
const dgram = require('node:dgram');
let bound = 0;
for (let p = ${BASE_PORT}; p < ${BASE_PORT + PORTS}; p++) {
  const s = dgram.createSocket('udp4');
  s.on('message', () => console.log(p + ' ' + Date.now()));
  s.bind(p, process.argv[1], () => { if (++bound === ${PORTS}) console.log('ready'); });
}`;

async function listen(t: TestContext, ns: string, target: string): Promise<{ port: number; at: number }[]> {
  const child: ChildProcess = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', LISTENER, target], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.after(() => child.kill('SIGKILL'));
  const probes: { port: number; at: number }[] = [];
  let ready = false;
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (line === 'ready') ready = true;
    const [port, at] = line.split(' ').map(Number);
    if (port && at) probes.push({ port, at });
  });
  await waitFor(() => ready, 5000);
  return probes;
}

async function cancel(w: World, request: string): Promise<void> {
  const m = await w.ctl.request('operate', 'OPERATE', {
    command: `${request}Cancel()`,
    command_key: '',
    send_resp: true,
  });
  responseOf(m, 'operate_resp');
}

test('1.92 Agent uses default values for Operate arguments', async (t) => {
  const w = the(t);
  if (!w) return;
  if (!requireRoot(t, 'a network namespace holds the remote host') || !requireTool(t, 'ip', 'traceroute')) return;
  const { ns, target } = remoteHost(t);
  const probes = await listen(t, ns, target);
  const m = await w.ctl.request('operate', 'OPERATE', {
    command: TRACEROUTE,
    command_key: 'test92',
    send_resp: true,
    input_args: { Host: target, ProtocolVersion: 'Any' },
  });
  // Metric 1: one result, for the command, naming the Request row.
  const results = responseOf(m, 'operate_resp').operation_results;
  assert.equal(results.length, 1, JSON.stringify(m.body));
  assert.equal(results[0]!.executed_command, TRACEROUTE);
  const request = results[0]!.req_obj_path ?? '';
  assert.match(request, /^Device\.LocalAgent\.Request\.\d+\.$/, `req_obj_path names the Request row: ${request}`);
  try {
    // Metric 2: 3 tries per hop, 5000 ms apart within 1%: hop 1's three probes, then hop 2's first.
    await waitFor(() => probes.length >= 4, 25_000);
  } finally {
    await cancel(w, request);
  }
  assert.deepEqual(
    probes.slice(0, 4).map((p) => p.port),
    [BASE_PORT, BASE_PORT + 1, BASE_PORT + 2, BASE_PORT + 3],
    'one probe at a time, each to the next port',
  );
  const gaps = probes.slice(1, 4).map((p, i) => p.at - probes[i]!.at);
  // The metric's 1% on the median interval; each one within 5%, as one observation can come late when the
  // listener process waits for a core on a loaded 2-core CI host (seen: 5005, 5014, 5060 ms). None early.
  const median = [...gaps].sort((a, b) => a - b)[1]!;
  assert.ok(Math.abs(median - 5000) <= 50, `probes 5000 ms +/- 1% apart (median): ${gaps.join(', ')} ms`);
  for (const gap of gaps)
    assert.ok(gap >= 4950 && gap <= 5250, `each probe 4950..5250 ms apart: ${gaps.join(', ')} ms`);
  t.diagnostic(`probe intervals: ${gaps.join(', ')} ms`);
});
