// The journey of issue 17 in CI, driven over the data model as a controller drives it: the whole agent in
// process, each step a USP-caller operate() or set() (the same calls the USP and CWMP layers make; the wire
// is covered by usp-*.test.ts, and leaving mosquitto out keeps the journey's time and failures its own).
// Traffic arrives as a user's does: a client in a test namespace behind the mapped interface, a server in
// another behind an access interface. An HTTP app packaged with `du pack` runs in an LXC EE, an OCI image
// pulled from a real docker-registry runs in an OCI EE, both answering on their mapped ports; the OCI unit
// reaches the server through NAT and cannot reach the LXC unit (another EE) on the bridge; apps without a
// NetworkConfig reach nothing; a signed DU is accepted and a tampered one refused; a second image sharing
// the base layer fetches only its new blobs. Then nothing of ours is left on the host.
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { Agent } from '../../src/agent.js';
import { silentLogger } from '../../src/util/logger.js';
import { push } from '../engine/image/oci-builder.js';
import { repoRoot, requireTool, tempDir, usp, waitFor } from '../helpers.js';
import { makeSigner } from '../signing-certs.js';
import { DockerRegistry, RegistryFront } from './docker-registry.js';
import { requireLxc } from './lxc.js';
import { busyboxLayer, probingWebImage } from './net-images.js';
import { addressEcho, agentNetOf, getFrom, makeLink, removeAgentNet, removeLink, testLink } from './netns.js';
import { requireRunc } from './oci.js';

const SM = 'Device.SoftwareModules.';
const n = (process.pid % 200) + 20;
const BRIDGE = `cpj${process.pid % 100000}`;
const UPLINK = testLink('cju', 95);
const SERVERLINK = testLink('cjs', 94);
const LXC_PORT = 30000 + (process.pid % 10000);
const OCI_PORT = LXC_PORT + 1;

const cli = (...args: string[]) =>
  spawnSync(process.execPath, [join(repoRoot, 'dist/src/cli/main.js'), ...args], { encoding: 'utf8' });

/** A package made with `du pack` from a directory: a manifest and shell scripts run with the container's busybox. */
function duPack(dir: string, name: string, services: object[], files: Record<string, string>): string {
  const src = join(dir, name);
  for (const [f, data] of Object.entries({ 'manifest.json': '', ...files })) {
    mkdirSync(join(src, f, '..'), { recursive: true });
    writeFileSync(join(src, f), data, { mode: f.endsWith('.sh') ? 0o755 : 0o644 });
  }
  writeFileSync(join(src, 'manifest.json'), JSON.stringify({ name, version: '1.0', vendor: 'example.org', services }));
  const out = join(dir, `${name}.tar.gz`);
  const r = cli('du', 'pack', src, '-o', out);
  assert.equal(r.status, 0, r.stderr);
  return out;
}

const WEB = '#!/bin/sh\nexec /bin/busybox httpd -f -p 8080 -h www\n';
const PROBE =
  '#!/bin/sh\n/bin/busybox timeout 5 /bin/busybox wget -q -O "$CPE_DU_DATA/got" "$PROBE"\n' +
  'echo $? > "$CPE_DU_DATA/rc"\nexec /bin/busybox sleep 100000\n';

test('journey: du pack and OCI apps on mapped ports, NAT, no network without NetworkConfig, EEs isolated, ' +
  'signatures, shared layers, nothing left', { timeout: 150_000 }, async (t) => {
  if (!(await requireLxc(t)) || !(await requireRunc(t))) return;
  if (!requireTool(t, 'ip', 'nft', 'nsenter', 'docker-registry', 'openssl')) return;
  const t0 = performance.now();
  const { dir, cleanup } = tempDir('cpe-journey-');
  const registry = new DockerRegistry(join(dir, 'registry'));
  let front: RegistryFront | undefined;
  let server: ChildProcess | undefined;
  let agent: Agent | undefined;
  t.after(async () => {
    await agent?.containerEngine?.factoryReset().catch(() => undefined);
    await agent?.stop().catch(() => undefined);
    server?.kill('SIGKILL');
    removeLink(UPLINK);
    removeLink(SERVERLINK);
    removeAgentNet(BRIDGE);
    await front?.stop();
    await registry.stop();
    cleanup();
  });

  // The world: a client link, a server link with a server that tells who it sees, a registry with two images.
  makeLink(UPLINK);
  makeLink(SERVERLINK);
  server = await addressEcho(SERVERLINK.ns, 9000);
  const target = `http://${SERVERLINK.nsIp}:9000/`;
  await registry.start();
  front = new RegistryFront(registry.url);
  await front.start();
  const base = busyboxLayer();
  const web = probingWebImage(base, 'ociweb', target);
  const two = probingWebImage(base, 'ocitwo', target);
  await push(registry.url, 'journey/web', '1', [web]);
  await push(registry.url, 'journey/two', '1', [two]);

  // Packages made and signed with the SDK, one of them tampered with after signing.
  const signer = makeSigner(dir, 'journey-vendor', 'ec');
  const probe = [{ name: 'probe', command: 'bin/probe.sh' }];
  const httpApp = duPack(dir, 'webapp', [{ name: 'web', command: 'bin/web.sh' }], {
    'bin/web.sh': WEB,
    'www/index.html': 'hello from webapp\n',
  });
  const signed = duPack(dir, 'signedapp', probe, { 'bin/probe.sh': PROBE });
  const tampered = duPack(dir, 'tamperedapp', probe, { 'bin/probe.sh': PROBE });
  const sign = (pkg: string) => {
    const r = cli('du', 'sign', '--key', signer.keyFile, '--cert', signer.certFile, pkg, '--data-url');
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim().split('\n')[1]!;
  };
  const signedSig = sign(signed);
  const tamperedSig = sign(tampered);
  writeFileSync(tampered, Buffer.concat([readFileSync(tampered), Buffer.alloc(512)]));

  const state = join(dir, 'state');
  // Private like the agent's own: makePassable() stops at the first directory others may pass already.
  mkdirSync(join(state, 'certs'), { recursive: true, mode: 0o700 });
  writeFileSync(join(state, 'certs', 'vendor.pem'), readFileSync(signer.certFile));
  agent = new Agent({
    stateDir: state,
    // JOURNEY_LOG=1: the agent's debug log on stderr, to see why a step failed.
    logger: process.env.JOURNEY_LOG ? pino({ level: 'debug' }, pino.destination(2)) : silentLogger,
    settings: {
      [`${SM}X_CPE-AGENT_FileURLDirectory`]: dir,
      [`${SM}X_CPE-AGENT_BridgeName`]: BRIDGE,
      [`${SM}X_CPE-AGENT_BridgeSubnet`]: `10.217.${n}.0/24`,
    },
  });
  await agent.start();
  const dm = agent.dm;
  const engine = agent.containerEngine!;
  const value = (path: string) => {
    const i = path.lastIndexOf('.');
    return dm.get(path, usp)[0]?.params[path.slice(i + 1)];
  };
  const operate = async (path: string, input: Record<string, string>) => {
    const [out] = await dm.operate(path, input, usp, 'journey');
    if (out?.kind === 'error') return { ok: false, code: out.error.code, message: out.error.message, output: {} };
    const d = out?.kind === 'async' ? await out.done : undefined;
    if (d && !d.ok) return { ok: false, code: d.code, message: d.message, output: {} };
    return {
      ok: true,
      code: 0,
      message: '',
      output: (out?.kind === 'sync' ? out.output : d?.ok ? d.output : {}) ?? {},
    };
  };
  const ifRow = (name: string) =>
    dm
      .instances('Device.IP.Interface.', usp, true)
      .map((r) => r.path.slice(0, -1))
      .find((r) => value(`${r}.Name`) === name)!;
  const addEE = async (className: string, name: string) => {
    const cls = dm.get(`${SM}ExecEnvClass.`, usp).find((c) => c.params.Name === className)!;
    const r = await operate(`${cls.path}AddExecEnv()`, { Name: name, ParentExecEnv: '', AllocatedDiskSpace: '65536' });
    assert.equal(r.ok, true, `${r.code} ${r.message}`);
    const ref = String(r.output.ExecEnvRef);
    const access = await operate(`${ref}.ModifyAvailableAccessInterfaces()`, {
      AccessInterfaces: `${ifRow(UPLINK.host)},${ifRow(SERVERLINK.host)}`,
    });
    assert.equal(access.ok, true, access.message);
    return { ref, id: engine.execEnvs().find((e) => e.name === name)!.id };
  };
  const mapping = (port: number) => ({
    'NetworkConfig.AccessInterfaces': ifRow(SERVERLINK.host),
    'NetworkConfig.PortMapping.1.Interface': ifRow(UPLINK.host),
    'NetworkConfig.PortMapping.1.ExternalPort': String(port),
    'NetworkConfig.PortMapping.1.InternalPort': '8080',
    'NetworkConfig.PortMapping.1.Protocol': 'TCP',
  });
  const install = (ee: string, url: string, args: Record<string, string> = {}) =>
    operate(`${SM}InstallDU()`, { URL: url, ExecutionEnvRef: ee, ...args });
  /** What an app's probe wrote into its data directory, once it has. */
  const said = async (ee: string, du: { uuid: string }, file: string) => {
    const f = join(engine.dataDir(du.uuid, ee), file);
    await waitFor(() => existsSync(f), 20_000);
    return readFileSync(f, 'utf8').trim();
  };
  const lxc = await addEE('LXC', 'journeylxc');
  const oci = await addEE('OCI', 'journeyoci');
  t.diagnostic(`two EEs made: ${Math.round(performance.now() - t0)} ms`);

  // The du pack HTTP app in the LXC EE, answering a client behind the uplink on its mapped port.
  const t1 = performance.now();
  const a = await install(lxc.ref, `file://${httpApp}`, mapping(LXC_PORT));
  assert.equal(a.ok, true, a.message);
  const lxcUrl = `http://${UPLINK.hostIp}:${LXC_PORT}/`;
  await waitFor(() => getFrom(UPLINK.ns, lxcUrl) === 'hello from webapp\n', 20_000);
  t.diagnostic(`LXC package: install -> mapped port answering ${Math.round(performance.now() - t1)} ms`);
  const rows = dm.instances('Device.NAT.PortMapping.', usp, true).map((r) => r.path);
  assert.equal(rows.length, 1);
  const lxcUnit = value(`${rows[0]}InternalClient`)!;

  // The registry image in the OCI EE: mapped port, NAT to the server, and the LXC unit out of its reach.
  const t2 = performance.now();
  const ref = `docker://${front.host}/journey/web:1`;
  const o = await install(oci.ref, ref, {
    ...mapping(OCI_PORT),
    'EnvVariable.1.Key': 'PEER',
    'EnvVariable.1.Value': `http://${lxcUnit}:8080/`,
  });
  assert.equal(o.ok, true, o.message);
  const ociUrl = `http://${UPLINK.hostIp}:${OCI_PORT}/`;
  await waitFor(() => getFrom(UPLINK.ns, ociUrl) === 'hello from ociweb\n', 20_000);
  t.diagnostic(`OCI image: install (pull) -> mapped port answering ${Math.round(performance.now() - t2)} ms`);
  const ociDu = engine.deploymentUnits().find((d) => d.manifest.name === 'ociweb')!;
  assert.equal(await said(oci.id, ociDu, 'rc'), '0');
  assert.equal(await said(oci.id, ociDu, 'got'), SERVERLINK.hostIp, 'the server sees the masqueraded address');
  assert.notEqual(await said(oci.id, ociDu, 'tamper'), '0', "a unit can't change its own network");
  assert.notEqual(await said(oci.id, ociDu, 'peerrc'), '0', "a unit of another EE can't be reached on the bridge");
  assert.equal(getFrom(UPLINK.ns, lxcUrl), 'hello from webapp\n', 'while the LXC unit answers');

  // A second image on the same base: only its config and its own layer are fetched.
  front.seen.length = 0;
  const b = await install(oci.ref, `docker://${front.host}/journey/two:1`);
  assert.equal(b.ok, true, b.message);
  assert.deepEqual(front.blobGets().sort(), [two.config.digest, two.layers[1]!.digest].sort());
  // Without NetworkConfig: loopback only, the server out of reach.
  const twoDu = engine.deploymentUnits().find((d) => d.manifest.name === 'ocitwo')!;
  assert.notEqual(await said(oci.id, twoDu, 'rc'), '0');
  assert.equal(await said(oci.id, twoDu, 'lo'), 'lo');

  // Signatures required in the LXC EE: the signed DU installs (and, with no NetworkConfig, reaches nothing),
  // the tampered one is refused with 7036.
  const cert = dm.get('Device.Security.Certificate.', usp, 2).find((c) => c.params.Subject === 'CN=journey-vendor')!;
  dm.set(
    [
      {
        objPath: `${lxc.ref}.`,
        params: [
          { name: 'Signers', value: cert.path.slice(0, -1), required: true },
          { name: 'X_CPE-AGENT_SignaturePolicy', value: 'Required', required: true },
        ],
      },
    ],
    usp,
  );
  const bad = await install(lxc.ref, `file://${tampered}`, { Signature: tamperedSig });
  assert.deepEqual([bad.ok, bad.code], [false, 7036]);
  assert.match(bad.message, /tampered/);
  const good = await install(lxc.ref, `file://${signed}`, {
    Signature: signedSig,
    'EnvVariable.1.Key': 'PROBE',
    'EnvVariable.1.Value': target,
  });
  assert.equal(good.ok, true, good.message);
  const signedDu = engine.deploymentUnits().find((d) => d.manifest.name === 'signedapp')!;
  assert.notEqual(await said(lxc.id, signedDu, 'rc'), '0', 'no NetworkConfig: the server is out of reach');
  assert.deepEqual(
    engine
      .deploymentUnits()
      .map((d) => d.manifest.name)
      .sort(),
    ['ocitwo', 'ociweb', 'signedapp', 'webapp'],
  );

  // Both EEs removed with their DUs: nothing of ours in nftables, links, namespaces, mounts or runc.
  for (const ee of [lxc, oci]) assert.equal((await operate(`${ee.ref}.Remove()`, { Force: 'true' })).ok, true);
  assert.equal(getFrom(UPLINK.ns, lxcUrl), '<unreachable>');
  assert.ok(!execFileSync('nft', ['list', 'ruleset'], { encoding: 'utf8' }).includes(`cpe_agent_${BRIDGE}`));
  assert.ok(!execFileSync('ip', ['link'], { encoding: 'utf8' }).includes(BRIDGE));
  assert.ok(!execFileSync('ip', ['netns'], { encoding: 'utf8' }).includes(BRIDGE));
  assert.deepEqual(agentNetOf(BRIDGE), []);
  assert.ok(!readFileSync('/proc/mounts', 'utf8').includes(dir), 'no mount left');
  for (const root of runcRoots(state))
    assert.equal(execFileSync('runc', ['--root', root, 'list', '-q'], { encoding: 'utf8' }).trim(), '');
  t.diagnostic(`journey: ${Math.round(performance.now() - t0)} ms`);
});

/** runc's state directories under the agent's state (one per OCI backend). */
function runcRoots(state: string): string[] {
  const out: string[] = [];
  const walk = (d: string, depth: number) => {
    for (const e of readdirSync(d, { withFileTypes: true }))
      if (e.isDirectory() && depth < 4) {
        if (e.name === 'runc') out.push(join(d, e.name));
        else walk(join(d, e.name), depth + 1);
      }
  };
  walk(state, 0);
  return out;
}
