// The networking objects through the data model, on the native EE: Device.IP.Interface rows from
// the host, ModifyAvailableAccessInterfaces() and AvailableAccessInterfaces, InstallDU NetworkConfig
// refused with 7027 naming the argument, the applied mapping as a Device.NAT.PortMapping row that
// ExecutionUnit.NetworkConfig references, the unit's process in its own namespace (and a unit without
// NetworkConfig in a loopback-only one), and nothing left once the DU is uninstalled. Needs root.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Agent } from '../../src/agent.js';
import { silentLogger } from '../../src/util/logger.js';
import { manifest, tarGz } from '../engine/tar-builder.js';
import { agent as caller, requireRoot, requireTool, tempDir, waitFor } from '../helpers.js';

const id = String(process.pid % 100000);
const BRIDGE = `cpm${id}`;
const UPLINK = `cpmu${id}`;
const SM = 'Device.SoftwareModules.';

test('IP.Interface, AvailableAccessInterfaces, NetworkConfig, NAT.PortMapping through the data model', async (t) => {
  if (!requireRoot(t, 'namespaces, veths and nftables need root') || !requireTool(t, 'ip', 'nft', 'nsenter')) return;
  const { dir, cleanup } = tempDir();
  const app = (name: string) =>
    tarGz([
      { name: 'manifest.json', data: manifest({ name, services: [{ name: 'svc', command: 'bin/run.sh' }] }) },
      { name: 'bin/run.sh', data: '#!/bin/sh\nexec sleep 1000\n', mode: 0o755 },
    ]);
  writeFileSync(join(dir, 'net.tgz'), app('netapp'));
  writeFileSync(join(dir, 'plain.tgz'), app('plainapp'));
  execFileSync('ip', ['link', 'add', UPLINK, 'type', 'veth', 'peer', 'name', `${UPLINK}p`]);
  const a = new Agent({
    stateDir: join(dir, 'state'),
    logger: silentLogger,
    settings: {
      [`${SM}X_CPE-AGENT_FileURLDirectory`]: dir,
      [`${SM}X_CPE-AGENT_BridgeName`]: BRIDGE,
      [`${SM}X_CPE-AGENT_BridgeSubnet`]: `10.216.${process.pid % 200}.0/24`,
    },
  });
  const value = (path: string) => {
    const i = path.lastIndexOf('.');
    return a.dm.get(path, caller)[0]?.params[path.slice(i + 1)];
  };
  const operate = async (path: string, input: Record<string, string>) => {
    const [out] = await a.dm.operate(path, input, caller);
    if (out?.kind === 'async') {
      const d = await out.done;
      return d.ok ? { ok: true } : { ok: false, code: d.code, message: d.message };
    }
    if (out?.kind === 'sync') return { ok: true };
    return { ok: false, code: out?.error.code, message: out?.error.message ?? '' };
  };
  try {
    await a.start();
    const rows = a.dm.instances('Device.IP.Interface.', caller, true).map((r) => r.path);
    const rowOf = (name: string) => rows.find((r) => value(`${r}Name`) === name)!.slice(0, -1);
    assert.ok(rowOf('lo') && rowOf(UPLINK), 'the host interfaces have rows');
    assert.equal(value(`${rowOf('lo')}.Type`), 'Loopback');
    assert.ok(!rows.some((r) => value(`${r}Name`)?.startsWith(`${BRIDGE}v`)), 'not the agent veths');

    const ee = `${SM}ExecEnv.1.`;
    const bad = await operate(`${ee}ModifyAvailableAccessInterfaces()`, {
      AccessInterfaces: 'Device.IP.Interface.999',
    });
    assert.equal(bad.code, 7027);
    const mod = await operate(`${ee}ModifyAvailableAccessInterfaces()`, { AccessInterfaces: rowOf(UPLINK) });
    assert.equal(mod.ok, true);
    assert.equal(value(`${ee}AvailableAccessInterfaces`), rowOf(UPLINK));

    // An interface the EE was not given is refused, naming the argument.
    const refused = await operate(`${SM}InstallDU()`, {
      URL: `file://${dir}/net.tgz`,
      'NetworkConfig.AccessInterfaces': rowOf('lo'),
    });
    assert.equal(refused.code, 7027);
    assert.match(refused.message ?? '', /^NetworkConfig\.AccessInterfaces: /);

    const installed = await operate(`${SM}InstallDU()`, {
      URL: `file://${dir}/net.tgz`,
      'NetworkConfig.AccessInterfaces': rowOf(UPLINK),
      'NetworkConfig.PortMapping.1.Interface': rowOf(UPLINK),
      'NetworkConfig.PortMapping.1.ExternalPort': '28080',
      'NetworkConfig.PortMapping.1.InternalPort': '8080',
      'NetworkConfig.PortMapping.1.Protocol': 'TCP',
    });
    assert.equal(installed.ok, true, JSON.stringify(installed));
    const plain = await operate(`${SM}InstallDU()`, { URL: `file://${dir}/plain.tgz` });
    assert.equal(plain.ok, true, JSON.stringify(plain));

    const pm = 'Device.NAT.PortMapping.1.';
    assert.equal(value(`${pm}Interface`), rowOf(UPLINK));
    assert.equal(value(`${pm}ExternalPort`), '28080');
    assert.equal(value(`${pm}InternalPort`), '8080');
    assert.equal(value(`${pm}Protocol`), 'TCP');
    assert.match(value(`${pm}InternalClient`) ?? '', /^10\.216\.\d+\.2$/);
    const engine = a.containerEngine!;
    const [net, other] = engine.deploymentUnits().map((d) => d.eus[0]!.euid);
    const euRow = (euid: string) =>
      a.dm.instances(`${SM}ExecutionUnit.`, caller, true).find((r) => value(`${r.path}EUID`) === euid)!.path;
    assert.equal(value(`${euRow(net!)}NetworkConfig.PortMappingRefList`), 'Device.NAT.PortMapping.1');
    assert.equal(value(`${euRow(net!)}NetworkConfig.AccessInterfaceRefList`), rowOf(UPLINK));
    assert.equal(value(`${euRow(other!)}NetworkConfig.PortMappingRefList`), '');

    // The networked unit runs in the namespace the agent made; the other in one of its own (loopback only).
    const nsOf = (pid: number) => readlinkSync(`/proc/${pid}/ns/net`);
    const pidOf = (euid: string) => engine.unitState(euid)?.pid;
    await waitFor(() => pidOf(net!) !== undefined && pidOf(other!) !== undefined);
    await waitFor(() =>
      /sleep/.test(execFileSync('ps', ['-o', 'args=', '-p', String(pidOf(net!))], { encoding: 'utf8' })),
    );
    const host = readlinkSync('/proc/self/ns/net');
    assert.notEqual(nsOf(pidOf(net!)!), host);
    assert.equal(
      nsOf(pidOf(net!)!),
      execFileSync('stat', ['-L', '-c', 'net:[%i]', `/run/netns/${BRIDGE}-${net}`], { encoding: 'utf8' }).trim(),
    );
    await waitFor(() =>
      /sleep/.test(execFileSync('ps', ['-o', 'args=', '-p', String(pidOf(other!))], { encoding: 'utf8' })),
    );
    assert.notEqual(nsOf(pidOf(other!)!), host);

    const du = a.dm.instances(`${SM}DeploymentUnit.`, caller, true).find((r) => value(`${r.path}Name`) === 'netapp')!;
    // Update keeps the DU's network: the mapping, the unit's address and namespace.
    const address = value(`${pm}InternalClient`);
    assert.equal((await operate(`${du.path}Update()`, { URL: `file://${dir}/net.tgz` })).ok, true);
    await waitFor(() => engine.unitState(net!)?.status === 'Active');
    assert.equal(value(`${pm}InternalClient`), address);
    assert.equal(value(`${euRow(net!)}NetworkConfig.PortMappingRefList`), 'Device.NAT.PortMapping.1');
    await waitFor(() => pidOf(net!) !== undefined);
    await waitFor(() =>
      /sleep/.test(execFileSync('ps', ['-o', 'args=', '-p', String(pidOf(net!))], { encoding: 'utf8' })),
    );
    assert.equal(
      nsOf(pidOf(net!)!),
      execFileSync('stat', ['-L', '-c', 'net:[%i]', `/run/netns/${BRIDGE}-${net}`], { encoding: 'utf8' }).trim(),
    );

    // Update with a NetworkConfig replaces it: its own port is no conflict, the new one is applied.
    const moved = await operate(`${du.path}Update()`, {
      URL: `file://${dir}/net.tgz`,
      'NetworkConfig.AccessInterfaces': rowOf(UPLINK),
      'NetworkConfig.PortMapping.1.Interface': rowOf(UPLINK),
      'NetworkConfig.PortMapping.1.ExternalPort': '28081',
      'NetworkConfig.PortMapping.1.InternalPort': '8080',
    });
    assert.equal(moved.ok, true, JSON.stringify(moved));
    await waitFor(() => engine.unitState(net!)?.status === 'Active');
    const mappings = () => a.dm.instances('Device.NAT.PortMapping.', caller, true).map((r) => r.path);
    const [pm2] = mappings();
    assert.equal(mappings().length, 1, 'the old mapping is gone');
    assert.equal(value(`${pm2}ExternalPort`), '28081');
    assert.equal(value(`${pm2}InternalClient`), address, 'the unit keeps its address');
    assert.equal(value(`${euRow(net!)}NetworkConfig.PortMappingRefList`), pm2!.replace(/\.$/, ''));
    const rules = execFileSync('nft', ['list', 'table', 'ip', `cpe_agent_${BRIDGE}_nat`], { encoding: 'utf8' });
    assert.match(rules, /dport 28081 dnat to/);
    assert.doesNotMatch(rules, /dport 28080/);
    // A mapping onto an interface the EE was not given is refused, naming the argument; nothing changes.
    const refusedUpdate = await operate(`${du.path}Update()`, {
      URL: `file://${dir}/net.tgz`,
      'NetworkConfig.PortMapping.1.Interface': rowOf('lo'),
      'NetworkConfig.PortMapping.1.ExternalPort': '28082',
      'NetworkConfig.PortMapping.1.InternalPort': '8080',
    });
    assert.equal(refusedUpdate.code, 7027);
    assert.deepEqual(mappings(), [pm2]);
    assert.equal(value(`${pm2}ExternalPort`), '28081');

    assert.equal((await operate(`${du.path}Uninstall()`, {})).ok, true);
    assert.deepEqual(a.dm.instances('Device.NAT.PortMapping.', caller, true), []);
    assert.ok(!existsSync(`/sys/class/net/${BRIDGE}`), 'the bridge goes with the last networked unit');
    assert.deepEqual(
      readdirSync('/run/netns').filter((n) => n.startsWith(`${BRIDGE}-`)),
      [],
    );
  } finally {
    await a.containerEngine?.stopAll();
    await a.stop();
    for (const du of a.containerEngine?.deploymentUnits() ?? []) await a.containerEngine?.uninstall(du.duid, 'rm');
    // ip_forward stays as the agent leaves it (on): turning it off here could cut the traffic of a
    // networked test running beside this one.
    execFileSync('ip', ['link', 'del', UPLINK]);
    for (const f of ['inet', 'ip', 'bridge'])
      try {
        execFileSync('nft', ['delete', 'table', f, `cpe_agent_${BRIDGE}${f === 'ip' ? '_nat' : ''}`], {
          stdio: 'ignore',
        });
      } catch {}
    cleanup();
  }
});
