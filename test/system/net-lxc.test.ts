// Container networking on real LXC, nftables and namespaces, with traffic as a user's arrives: a
// client in a namespace behind the mapped interface reaches an EU on its ExternalPort; an EU reaching a
// server in another namespace is seen with the host's address on that link (masquerade); an EU without
// NetworkConfig reaches nothing; units of two EEs don't reach each other; an engine restart rebuilds
// the ruleset exactly once; and uninstall plus EE removal leave no table, link or namespace of ours.
// One engine, two containers; every name carries the test's pid and is removed even on failure.

import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Engine } from '../../src/engine/engine.js';
import { EngineCode } from '../../src/engine/errors.js';
import type { DuNetwork } from '../../src/engine/net/types.js';
import { silentLogger } from '../../src/util/logger.js';
import { manifest, tarGz } from '../engine/tar-builder.js';
import { requireRoot, requireTool, tempDir, waitFor } from '../helpers.js';
import { serveFiles } from '../http-files.js';
import { lxcHost, requireLxc } from './lxc.js';
import { makeLink, quiet, removeLink } from './netns.js';

const id = String(process.pid % 100000);
const n = (process.pid % 200) + 20;
const BRIDGE = `cpt${id}`;
const TABLE = `cpe_agent_${BRIDGE}`;
/** The link a client comes from (the mapped interface) and the link a server sits behind. */
const UPLINK = { host: `cpu${id}`, ns: `cpec${id}`, hostIp: `10.99.${n}.1`, nsIp: `10.99.${n}.2` };
const SERVERLINK = { host: `cps${id}`, ns: `cpes${id}`, hostIp: `10.98.${n}.1`, nsIp: `10.98.${n}.2` };
const PORT = 20000 + (process.pid % 10000);

const ip = (...args: string[]) => execFileSync('ip', args, { encoding: 'utf8' });
/** What of ours is on the host now: tables, links, namespaces. */
function ours(): string[] {
  const tables = execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' })
    .split('\n')
    .filter((t) => t.includes(TABLE));
  const links = readdirSync('/sys/class/net').filter((l) => l.startsWith(BRIDGE));
  const netns = existsSync('/run/netns') ? readdirSync('/run/netns').filter((x) => x.startsWith(`${BRIDGE}-`)) : [];
  return [...tables, ...links, ...netns];
}

const ourRuleset = () =>
  ['inet', 'ip', 'bridge']
    .map((f) => {
      try {
        return execFileSync('nft', ['list', 'table', f, f === 'ip' ? `${TABLE}_nat` : TABLE], { encoding: 'utf8' });
      } catch {
        return '';
      }
    })
    .join('');

/** A GET from the client's namespace (as a user's traffic arrives: through the uplink). */
function fromClient(url: string): string {
  try {
    // busybox wget's own -T crashes (busybox 1.35 on Debian 12): timeout bounds it instead.
    const wget = ['busybox', 'timeout', '5', 'busybox', 'wget', '-q', '-O', '-', url];
    return execFileSync('ip', ['netns', 'exec', UPLINK.ns, ...wget], { encoding: 'utf8', stdio: 'pipe' });
  } catch {
    return '<unreachable>';
  }
}

const probe = [
  '#!/bin/sh',
  'rm -f "$CPE_DU_DATA/rc" "$CPE_DU_DATA/got" "$CPE_DU_DATA/tamper"',
  '/bin/busybox timeout 5 /bin/busybox wget -q -O "$CPE_DU_DATA/got" "$(cat "$CPE_DU_DATA/target")"',
  'rc=$?',
  // Its own network is not its to change (harmless if it could: an address on lo).
  '/bin/busybox ip addr add 10.1.2.3/32 dev lo 2>/dev/null; echo $? > "$CPE_DU_DATA/tamper"',
  'echo $rc > "$CPE_DU_DATA/rc"',
  '',
].join('\n');
const web = '#!/bin/sh\nexec /bin/busybox httpd -f -p 8080 -h www\n';

function app(name: string): Buffer {
  return tarGz([
    {
      name: 'manifest.json',
      data: manifest({
        name,
        services: [
          { name: 'web', command: 'bin/web.sh' },
          { name: 'probe', command: 'bin/probe.sh', autostart: false, restart: 'never' },
        ],
      }),
    },
    { name: 'bin/web.sh', data: web, mode: 0o755 },
    { name: 'bin/probe.sh', data: probe, mode: 0o755 },
    { name: 'www/index.html', data: `hello from ${name}\n` },
  ]);
}

test('networked EUs: port mapping from a client namespace, masquerade to a server, loopback only without ' +
  'NetworkConfig, EEs isolated, rules rebuilt once after a restart, nothing left after removal', {
  timeout: 240_000,
}, async (t) => {
  if (!requireRoot(t, 'namespaces, veths and nftables need root')) return;
  if (!requireTool(t, 'ip', 'nft', 'nsenter')) return;
  if (!(await requireLxc(t))) return;
  const { dir, cleanup } = tempDir('cpe-net-');
  const forwarding = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
  let server: ChildProcess | undefined;
  const engines: Engine[] = [];
  const containers: string[] = [];
  const http = await serveFiles({ 'a.tgz': app('neta'), 'b.tgz': app('netb'), 'c.tgz': app('netc') });
  t.after(async () => {
    for (const e of engines) await e.stopAll().catch(() => undefined);
    for (const c of containers)
      await lxcHost(engines[0]!)
        .destroy(c)
        .catch(() => undefined);
    server?.kill('SIGKILL');
    for (const l of [UPLINK, SERVERLINK]) {
      removeLink(l);
    }
    for (const x of ours()) {
      if (x.startsWith('table ')) quiet('nft', 'delete', 'table', ...x.slice(6).split(' '));
      else if (existsSync(`/run/netns/${x}`)) quiet('ip', 'netns', 'del', x);
      else quiet('ip', 'link', 'del', x);
    }
    writeFileSync('/proc/sys/net/ipv4/ip_forward', forwarding);
    await http.close();
    cleanup();
  });

  makeLink(UPLINK);
  makeLink(SERVERLINK);
  server = spawn(
    'ip',
    [
      'netns',
      'exec',
      SERVERLINK.ns,
      process.execPath,
      '-e',
      "require('http').createServer((q, s) => s.end(q.socket.remoteAddress)).listen(9000, '0.0.0.0')",
    ],
    { stdio: 'ignore' },
  );
  await waitFor(() => {
    try {
      execFileSync('ip', [
        'netns',
        'exec',
        SERVERLINK.ns,
        'busybox',
        'wget',
        '-q',
        '-O',
        '/dev/null',
        'http://127.0.0.1:9000/',
      ]);
      return true;
    } catch {
      return false;
    }
  });

  const opts = {
    stateDir: join(dir, 'state'),
    logger: silentLogger,
    shutdownGraceMs: 2000,
    network: { bridge: BRIDGE, subnet: `10.214.${n}.0/24` },
  };
  const engine = new Engine(opts);
  engines.push(engine);
  await engine.start();
  const ee1 = await engine.createEE({ name: 'net1', enabled: true, memoryKiB: -1, cpuPercent: -1, diskKiB: 64 * 1024 });
  containers.push(ee1.container!);
  const ee2 = await engine.createEE({ name: 'net2', enabled: true, memoryKiB: -1, cpuPercent: -1, diskKiB: 64 * 1024 });
  containers.push(ee2.container!);
  await engine.setAccessInterfaces(ee1.id, [UPLINK.host, SERVERLINK.host]);

  // Refused: an interface the EE doesn't have, a port the host uses (the package server's), a reserved port.
  const mapping = (external: number) => ({ iface: UPLINK.host, external, internal: 8080, protocol: 'TCP' as const });
  const refused = async (network: DuNetwork, why: RegExp) => {
    const r = await engine.install({ url: http.url('c.tgz'), ee: ee1.id, requestTag: 'bad', network });
    assert.equal(r.fault?.code, EngineCode.InvalidArguments);
    assert.match(r.fault!.message, why);
  };
  await refused({ access: ['lo'], ports: [] }, /AccessInterfaces: 'lo' is not among net1's/);
  const busy = Number(new URL(http.url('x')).port);
  await refused({ access: [], ports: [mapping(busy)] }, /in use on the host/);
  await refused({ access: [], ports: [mapping(80)] }, /reserved/);
  assert.deepEqual(ours(), [], 'a refused install makes nothing');

  const t0 = performance.now();
  const a = await engine.install({
    url: http.url('a.tgz'),
    ee: ee1.id,
    requestTag: 'a',
    network: { access: [SERVERLINK.host], ports: [mapping(PORT)] },
  });
  assert.equal(a.fault, undefined, a.fault?.message);
  await waitFor(() => fromClient(`http://${UPLINK.hostIp}:${PORT}/`) === 'hello from neta\n', 20_000).catch(() => {});
  t.diagnostic(`install -> answering on the mapped port: ${Math.round(performance.now() - t0)} ms`);
  const closed = await engine.install({ url: http.url('c.tgz'), ee: ee1.id, requestTag: 'c' });
  assert.equal(closed.fault, undefined, closed.fault?.message);
  const b = await engine.install({
    url: http.url('b.tgz'),
    ee: ee2.id,
    requestTag: 'b',
    network: { access: [], ports: [] },
  });
  assert.equal(b.fault, undefined, b.fault?.message);
  const eu = (r: typeof a, s: string) => r.euids.find((e) => e.endsWith(`-${s}`))!;
  await engine.setRequestedState(eu(closed, 'web'), 'Idle');

  // A client behind the uplink reaches the EU on the mapped port of the host's address there.
  await waitFor(() => fromClient(`http://${UPLINK.hostIp}:${PORT}/`) === 'hello from neta\n', 20_000).catch((e) => {
    const w = eu(a, 'web');
    console.error(`web: ${JSON.stringify(engine.unitState(w))} log: ${engine.unitLog(w)}`);
    console.error(`ruleset: ${ourRuleset()}`);
    console.error(`links: ${ip('-br', 'addr')}`);
    console.error(`unit netns: ${ip('-n', `${BRIDGE}-${w}`, '-br', 'addr')} ${ip('-n', `${BRIDGE}-${w}`, 'route')}`);
    throw e;
  });
  assert.match(ourRuleset(), new RegExp(`dnat to 10\\.214\\.${n}\\.\\d+:8080`));

  /** Runs a DU's probe service against a URL; its wget's exit code and what it got. */
  const runProbe = async (r: typeof a, ee: string, url: string) => {
    const data = engine.dataDir(r.uuid, ee);
    rmSync(join(data, 'rc'), { force: true });
    writeFileSync(join(data, 'target'), url, { mode: 0o644 });
    await engine.setRequestedState(eu(r, 'probe'), 'Active');
    await waitFor(() => existsSync(join(data, 'rc')), 20_000);
    await waitFor(() => engine.unitState(eu(r, 'probe'))?.status === 'Idle');
    const got = existsSync(join(data, 'got')) ? readFileSync(join(data, 'got'), 'utf8') : '';
    tampered = readFileSync(join(data, 'tamper'), 'utf8').trim() === '0';
    return { rc: readFileSync(join(data, 'rc'), 'utf8').trim(), got };
  };
  let tampered = false;

  // Out through its access interface, masqueraded: the server sees the host's address on that link.
  const out = await runProbe(a, ee1.id, `http://${SERVERLINK.nsIp}:9000/`);
  assert.deepEqual(out, { rc: '0', got: SERVERLINK.hostIp });
  assert.equal(tampered, false, "a networked unit can't change its own network");
  // Without NetworkConfig: loopback only, the same server is unreachable.
  const none = await runProbe(closed, ee1.id, `http://${SERVERLINK.nsIp}:9000/`);
  assert.notEqual(none.rc, '0');
  assert.equal(none.got, '');
  // Units of one EE reach each other; another EE's unit is out of reach (and b can't leave at all).
  const aWeb = engine.unitNetwork(eu(a, 'web'))!.address;
  const bWeb = engine.unitNetwork(eu(b, 'web'))!.address;
  assert.deepEqual(await runProbe(a, ee1.id, `http://${aWeb}:8080/`), { rc: '0', got: 'hello from neta\n' });
  assert.notEqual((await runProbe(a, ee1.id, `http://${bWeb}:8080/`)).rc, '0');
  assert.notEqual((await runProbe(b, ee2.id, `http://${aWeb}:8080/`)).rc, '0');
  assert.notEqual((await runProbe(b, ee2.id, `http://${SERVERLINK.nsIp}:9000/`)).rc, '0');

  // A restart (services adopted) rebuilds the ruleset exactly once: the same text, one DNAT rule.
  const before = ourRuleset();
  await engine.detach();
  const again = new Engine(opts);
  engines.push(again);
  await again.start();
  assert.equal(ourRuleset(), before);
  assert.equal(ourRuleset().match(/dnat to/g)?.length, 1);
  assert.equal(again.unitNetwork(eu(a, 'web'))?.address, aWeb, 'addresses are kept');
  assert.equal(fromClient(`http://${UPLINK.hostIp}:${PORT}/`), 'hello from neta\n');

  // Uninstall and EE removal: no table, link or namespace of ours is left.
  await again.uninstall(a.duid!, 'rm');
  assert.equal(fromClient(`http://${UPLINK.hostIp}:${PORT}/`), '<unreachable>');
  await again.removeEE(ee1.id, true);
  await again.removeEE(ee2.id, true);
  containers.length = 0;
  assert.deepEqual(ours(), []);
});
