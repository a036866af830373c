// Networked containers, measured as a user meets them: a client in a network namespace behind the mapped
// interface (as test/system/journey.test.ts), the engine in this process, images from a real docker-registry
// on loopback, real runc, LXC and nftables.
// - pull + start of a ~31 MB image (25 MB base layer, 1 MB busybox, 5 MB app layer; incompressible) into an
//   OCI EE with a port mapping: InstallDU -> EU Active, and -> the mapped port answering the client. Cold:
//   a fresh agent state (empty image store); warm: then a second image sharing the base and busybox layers
//   (only its 5 MB layer fetched). Median of 3, each in a fresh state.
// - InstallDU -> mapped port answering, for a tar.gz package (busybox httpd) in an LXC EE and for a small
//   image (busybox httpd, pulled each time: the uninstall between runs drops its layers). Median of 3.
// - memory per networked OCI container, with 8 such DUs Active: PSS of the container's processes (httpd,
//   from `runc ps`) and of the `runc run` that supervises it, and the agent's growth per extra DU (this
//   process's heap and RSS after a GC, over the 8). Not counted: kernel memory (the namespace, the veth pair,
//   conntrack entries, the rules).
// Needs root, runc, LXC, nft and docker-registry; without them the group prints no figures, and says why.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LxcHost } from '../src/engine/backends/lxc/host.js';
import { Engine } from '../src/engine/engine.js';
import type { DuNetwork } from '../src/engine/net/types.js';
import { silentLogger } from '../src/util/logger.js';
import { type Blob, type Image, image, layer, push } from '../test/engine/image/oci-builder.js';
import { manifest, tarGz } from '../test/engine/tar-builder.js';
import { waitFor, which } from '../test/helpers.js';
import { serveFiles } from '../test/http-files.js';
import { DockerRegistry } from '../test/system/docker-registry.js';
import { busyboxLayer } from '../test/system/net-images.js';
import { getFrom, makeLink, removeAgentNet, removeLink, testLink } from '../test/system/netns.js';
import type { Figure } from './figures.js';

const RUNS = 3;
const UNITS = 8;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const BRIDGE = `cpb${process.pid % 100000}`;
const CLIENT = testLink('cbu', 93);
const PORT = 40000 + (process.pid % 10000);
const none = (why: string): Figure[] => {
  console.log(`networked: ${why}: no figures`);
  return [];
};

/** A busybox httpd image on layers, serving "hello from <name>" from /www (its name: the title annotation). */
function webImage(layers: Blob[], name: string): Image {
  const www = layer([
    { name: 'www/', type: '5', mode: 0o755 },
    { name: 'www/index.html', data: `hello from ${name}\n`, mode: 0o644 },
  ]);
  return image(
    [...layers, www],
    { Cmd: ['/bin/httpd', '-f', '-p', '8080', '-h', '/www'] },
    { annotations: { 'org.opencontainers.image.title': name, 'org.opencontainers.image.version': '1.0' } },
  );
}

const mapped = (external: number): DuNetwork => ({
  access: [],
  ports: [{ iface: CLIENT.host, external, internal: 8080, protocol: 'TCP' }],
});

/** A world of its own: an engine on a fresh state directory, with one EE that may use the client's link. */
async function world(dir: string, tag: string, execEnvClass?: string) {
  const engine = new Engine({
    stateDir: join(dir, `state-${tag}`),
    logger: silentLogger,
    shutdownGraceMs: 1000,
    network: { bridge: BRIDGE, subnet: `10.218.${process.pid % 200}.0/24` },
  });
  await engine.start();
  const ee = await engine.createEE({
    name: tag,
    enabled: true,
    memoryKiB: -1,
    cpuPercent: -1,
    diskKiB: 256 * 1024,
    ...(execEnvClass ? { execEnvClass } : {}),
  });
  await engine.setAccessInterfaces(ee.id, [CLIENT.host]);
  /** Installs url with a mapping on port: ms to the EU Active and to the port answering; its DU id. */
  const timed = async (url: string, port: number, text: string) => {
    const t0 = performance.now();
    const r = await engine.install({ url, ee: ee.id, requestTag: `${tag}-${port}`, network: mapped(port) });
    if (r.fault) throw new Error(`install of ${url}: ${r.fault.message}`);
    await waitFor(() => engine.unitState(r.euids[0]!)?.status === 'Active', 30_000);
    const active = performance.now() - t0;
    await waitFor(() => getFrom(CLIENT.ns, `http://${CLIENT.hostIp}:${port}/`) === text, 30_000);
    return { active, port: performance.now() - t0, duid: r.duid!, euid: r.euids[0]! };
  };
  const close = async () => {
    for (const du of engine.deploymentUnits()) await engine.uninstall(du.duid, 'rm');
    await engine.removeEE(ee.id, true);
    await engine.stopAll();
  };
  return { engine, ee, timed, close };
}

/** Proportional set size of a process in MB (its share of pages it shares with others). */
function pssMB(pid: number): number {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  return Number(/^Pss:\s+(\d+) kB/m.exec(text)![1]) / 1024;
}

function containerPids(state: string, id: string): number[] {
  const out = execFileSync('runc', ['--root', join(state, 'engine', 'oci', 'runc'), 'ps', '--format', 'json', id]);
  return JSON.parse(out.toString()) as number[];
}

/**
 * This process's JavaScript heap after a GC, in KB: what the agent keeps per DU. (Its RSS moves by more than a
 * DU's few KB between two readings, so it is no figure per DU.)
 */
function afterGc(): { heap: number } {
  (globalThis as { gc?: () => void }).gc?.();
  return { heap: process.memoryUsage().heapUsed / 1024 };
}

export async function networkedFigures(): Promise<Figure[]> {
  if (process.getuid?.() !== 0) return none('needs root (namespaces, nftables, runc)');
  const missing = ['runc', 'nft', 'ip', 'docker-registry', 'lxc-create', 'busybox'].filter((c) => !which(c));
  if (missing.length) return none(`${missing.join(', ')} not on PATH`);
  if (!(await LxcHost.available())) return none('LXC is installed but not usable here');
  const dir = mkdtempSync(join(tmpdir(), 'cpe-bench-net-'));
  const registry = new DockerRegistry(join(dir, 'registry'));
  makeLink(CLIENT);
  const packages: Record<string, Buffer> = {};
  const files = await serveFiles(packages);
  try {
    await registry.start();
    const busybox = busyboxLayer();
    const base = layer([{ name: 'usr/lib/base.bin', data: randomBytes(25 * 2 ** 20) }]);
    const app = (n: string) => layer([{ name: `srv/${n}.bin`, data: randomBytes(5 * 2 ** 20) }]);
    const big = webImage([base, busybox, app('one')], 'bigone');
    const bigTwo = webImage([base, busybox, app('two')], 'bigtwo');
    await push(registry.url, 'bench/bigone', 'v1', [big]);
    await push(registry.url, 'bench/bigtwo', 'v1', [bigTwo]);
    const small = Array.from({ length: UNITS }, (_, i) => webImage([busybox], `small${i}`));
    for (const [i, img] of small.entries()) await push(registry.url, `bench/small${i}`, 'v1', [img]);
    const ref = (repo: string) => `docker://${registry.host}/bench/${repo}:v1`;
    const mb = (big.config.size + big.layers.reduce((n, l) => n + l.size, 0)) / 2 ** 20;

    const cold = { active: [] as number[], port: [] as number[] };
    const warm = { active: [] as number[], port: [] as number[] };
    for (let i = 0; i < RUNS; i++) {
      const w = await world(dir, `pull${i}`, 'OCI');
      const c = await w.timed(ref('bigone'), PORT, 'hello from bigone\n');
      const h = await w.timed(ref('bigtwo'), PORT + 1, 'hello from bigtwo\n');
      cold.active.push(c.active);
      cold.port.push(c.port);
      warm.active.push(h.active);
      warm.port.push(h.port);
      await w.close();
    }

    const lxcPackage = tarGz([
      { name: 'manifest.json', data: manifest({ name: 'benchweb', services: [{ name: 'web', command: 'bin/web' }] }) },
      { name: 'bin/web', data: '#!/bin/sh\nexec /bin/busybox httpd -f -p 8080 -h www\n', mode: 0o755 },
      { name: 'www/index.html', data: 'hello from benchweb\n' },
    ]);
    packages['web.tgz'] = lxcPackage;
    const lxcPort: number[] = [];
    const lxc = await world(dir, 'lxc');
    for (let i = 0; i < RUNS; i++) {
      const r = await lxc.timed(files.url('web.tgz'), PORT + 2, 'hello from benchweb\n');
      lxcPort.push(r.port);
      await lxc.engine.uninstall(r.duid, 'rm');
    }
    await lxc.close();

    const oci = await world(dir, 'oci', 'OCI');
    const ociPort: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const r = await oci.timed(ref('small0'), PORT + 3, 'hello from small0\n');
      ociPort.push(r.port);
      await oci.engine.uninstall(r.duid, 'rm');
    }
    const state = join(dir, 'state-oci');
    const before = afterGc();
    const units = [];
    for (let i = 0; i < UNITS; i++)
      units.push(await oci.timed(ref(`small${i}`), PORT + 4 + i, `hello from small${i}\n`));
    const after = afterGc();
    const container = units.map((u) => containerPids(state, u.euid).reduce((s, p) => s + pssMB(p), 0));
    const supervisor = units.map((u) => pssMB(oci.engine.unitState(u.euid)!.pid!));
    await oci.close();

    const ms = (name: string, value: number): Figure => ({ name, value, unit: 'ms', target: 0, better: 'higher' });
    const mem = (name: string, value: number, unit = 'MB'): Figure => ({
      name,
      value,
      unit,
      target: 0,
      better: 'higher',
    });
    return [
      ms(`OCI image ${mb.toFixed(0)} MB cold: InstallDU -> EU Active (pull, unpack, runc)`, median(cold.active)),
      ms('  same, InstallDU -> mapped port answering a client namespace', median(cold.port)),
      ms('OCI image warm (25 MB base shared, 5 MB new): InstallDU -> EU Active', median(warm.active)),
      ms('  same, InstallDU -> mapped port answering', median(warm.port)),
      ms('InstallDU -> mapped port answering: tar.gz package (httpd) in an LXC EE', median(lxcPort)),
      ms('InstallDU -> mapped port answering: 1 MB image (httpd) in an OCI EE, pulled', median(ociPort)),
      mem(`networked OCI container: PSS of its processes (httpd), mean of ${UNITS}`, mean(container)),
      mem('  + its `runc run` supervisor process (PSS)', mean(supervisor)),
      mem('  + agent heap growth per networked DU (after GC)', (after.heap - before.heap) / UNITS, 'KB'),
    ];
  } finally {
    await registry.stop();
    await files.close();
    removeLink(CLIENT);
    removeAgentNet(BRIDGE);
    rmSync(dir, { recursive: true, force: true });
  }
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
