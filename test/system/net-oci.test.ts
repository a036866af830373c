// Networking of OCI EUs on real runc, nftables and namespaces: an image installed with a NetworkConfig
// runs in the namespace the agent made for its EU (a client namespace behind the mapped interface reaches
// it on the ExternalPort; a server behind its access interface sees the masqueraded address; it can't
// change its own network), one installed without runs in runc's loopback-only namespace and reaches
// nothing; removal leaves no table, link or namespace of ours.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Engine } from '../../src/engine/engine.js';
import { silentLogger } from '../../src/util/logger.js';
import { tempDir, waitFor } from '../helpers.js';
import { serveFiles } from '../http-files.js';
import { busyboxLayer, probingWeb } from './net-images.js';
import { addressEcho, agentNetOf, getFrom, makeLink, removeAgentNet, removeLink, testLink } from './netns.js';
import { requireRunc } from './oci.js';

const n = (process.pid % 200) + 20;
const BRIDGE = `cpo${process.pid % 100000}`;
const UPLINK = testLink('cou', 97);
const SERVERLINK = testLink('cos', 96);
const PORT = 20000 + (process.pid % 10000);

test('OCI EUs: the agent-made namespace with a port mapping and masquerade; loopback only without ' +
  'NetworkConfig; nothing left after removal', { timeout: 120_000 }, async (t) => {
  if (!(await requireRunc(t))) return;
  const { dir, cleanup } = tempDir('cpe-net-oci-');
  let server: ChildProcess | undefined;
  const base = busyboxLayer();
  const target = `http://${SERVERLINK.nsIp}:9000/`;
  const http = await serveFiles({
    'open.tar': probingWeb(base, 'ocinet', target),
    'closed.tar': probingWeb(base, 'ociclosed', target),
  });
  const engine = new Engine({
    stateDir: join(dir, 'state'),
    logger: silentLogger,
    shutdownGraceMs: 1000,
    network: { bridge: BRIDGE, subnet: `10.215.${n}.0/24` },
  });
  t.after(async () => {
    await engine.stopAll().catch(() => undefined);
    server?.kill('SIGKILL');
    removeLink(UPLINK);
    removeLink(SERVERLINK);
    removeAgentNet(BRIDGE);
    await http.close();
    cleanup();
  });
  makeLink(UPLINK);
  makeLink(SERVERLINK);
  server = await addressEcho(SERVERLINK.ns, 9000);
  await engine.start();
  const ee = await engine.createEE({
    name: 'ocinet',
    execEnvClass: 'OCI',
    enabled: true,
    memoryKiB: -1,
    cpuPercent: -1,
    diskKiB: 32768,
  });
  await engine.setAccessInterfaces(ee.id, [UPLINK.host, SERVERLINK.host]);
  const t0 = performance.now();
  const open = await engine.install({
    url: http.url('open.tar'),
    ee: ee.id,
    requestTag: 'open',
    network: {
      access: [SERVERLINK.host],
      ports: [{ iface: UPLINK.host, external: PORT, internal: 8080, protocol: 'TCP' }],
    },
  });
  assert.equal(open.fault, undefined, open.fault?.message);
  const mapped = `http://${UPLINK.hostIp}:${PORT}/`;
  await waitFor(() => getFrom(UPLINK.ns, mapped) === 'hello from ocinet\n', 20_000).catch((e) => {
    console.error(`log: ${engine.unitLog(open.euids[0]!)}`);
    throw e;
  });
  t.diagnostic(`install -> answering on the mapped port: ${Math.round(performance.now() - t0)} ms`);
  const data = (r: typeof open) => engine.dataDir(r.du!.uuid, ee.id);
  const said = (r: typeof open, f: string) => readFileSync(join(data(r), f), 'utf8').trim();
  assert.equal(said(open, 'rc'), '0');
  assert.equal(said(open, 'got'), SERVERLINK.hostIp, 'the server sees the masqueraded address');
  assert.notEqual(said(open, 'tamper'), '0', "a networked EU can't change its own network");

  const closed = await engine.install({ url: http.url('closed.tar'), ee: ee.id, requestTag: 'closed' });
  assert.equal(closed.fault, undefined, closed.fault?.message);
  await waitFor(() => existsSync(join(data(closed), 'rc')), 20_000);
  assert.notEqual(said(closed, 'rc'), '0', 'without NetworkConfig the server is out of reach');
  assert.equal(said(closed, 'lo'), 'lo', 'loopback only');
  assert.equal(engine.unitNetwork(closed.euids[0]!), undefined);

  for (const r of [open, closed]) assert.equal((await engine.uninstall(r.duid!, 'rm')).fault, undefined);
  assert.equal(getFrom(UPLINK.ns, mapped), '<unreachable>');
  await engine.removeEE(ee.id, true);
  assert.deepEqual(agentNetOf(BRIDGE), []);
});
