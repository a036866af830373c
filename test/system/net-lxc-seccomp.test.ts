// A networked LXC unit keeps the EE's confinement although the agent, not LXC, starts it (nsenter, see
// src/engine/backends/lxc/net-attach.ts): its process shows seccomp filter mode, no_new_privs and no
// capability; every call the security probe makes (test/security/probe.ts: kernel modules, kexec, the
// keyring, bpf, perf, userfaultfd, open_by_handle_at, mount) fails with EPERM inside it, exactly as in a
// unit LXC started with its own profile; keyctl, which any user may make without a filter, is refused
// through the i386 ABI too (int 0x80) while other i386 calls work; the DU's EnvVariable reaches it; and
// it still serves its port mapping. The probes are static programs compiled here with gcc (their
// assertions skip loudly without it); every name carries the test's pid and is removed even on failure.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { Engine } from '../../src/engine/engine.js';
import { silentLogger } from '../../src/util/logger.js';
import { manifest, tarGz } from '../engine/tar-builder.js';
import { missing, requireRoot, requireTool, tempDir, waitFor } from '../helpers.js';
import { serveFiles } from '../http-files.js';
import { buildProbe } from '../security/probe.js';
import { lxcHost, requireLxc } from './lxc.js';

const id = String(process.pid % 100000);
const n = (process.pid % 200) + 20;
const BRIDGE = `cpz${id}`;
const UPLINK = { host: `cpy${id}`, ns: `cpey${id}`, hostIp: `10.97.${n}.1`, nsIp: `10.97.${n}.2` };
const PORT = 30000 + (process.pid % 10000);

const quiet = (cmd: string, ...args: string[]) => {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
  } catch {}
};

/**
 * keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 1), allowed to any user unless seccomp says
 * no, natively and through the i386 ABI on x86_64 (int 0x80: keyctl is 288, getpid 20 there).
 */
const COMPAT_C = `#include <errno.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(void) {
  long r = syscall(SYS_keyctl, 0, -3, 1);
  if (r < 0) printf("native %d\\n", errno); else printf("native allowed\\n");
#ifdef __x86_64__
  long c;
  __asm__ volatile("int $0x80" : "=a"(c) : "a"(288L), "b"(0L), "c"(-3L), "d"(1L) : "memory");
  if (c < 0) printf("i386 %ld\\n", -c); else printf("i386 allowed\\n");
  __asm__ volatile("int $0x80" : "=a"(c) : "a"(20L) : "memory");
  printf("i386 getpid %s\\n", c > 0 ? "ok" : "failed");
#endif
  return 0;
}
`;

/** The compat probe, compiled static (the container has busybox only), or undefined after a loud skip. */
function compileCompat(t: TestContext, dir: string): Buffer | undefined {
  try {
    writeFileSync(join(dir, 'compat.c'), COMPAT_C);
    execFileSync('gcc', ['-static', '-O2', '-o', join(dir, 'compat'), join(dir, 'compat.c')], { stdio: 'pipe' });
    return readFileSync(join(dir, 'compat'));
  } catch (e) {
    missing(t, `gcc with a static libc to build the keyctl probe (${(e as Error).message.split('\n')[0]})`);
    return undefined;
  }
}

interface Probes {
  readonly probe: Buffer;
  readonly compat: Buffer;
}

function app(name: string, probes: Probes | undefined): Buffer {
  const out = '"$CPE_DU_DATA/out"';
  const run = `#!/bin/sh\n{ bin/probe; bin/compat; echo "env=$HELLO"; } > ${out}.tmp; mv ${out}.tmp ${out}\n`;
  const none = '#!/bin/sh\necho no-probe\n';
  return tarGz([
    {
      name: 'manifest.json',
      data: manifest({
        name,
        services: [
          { name: 'web', command: 'bin/web.sh' },
          { name: 'probe', command: 'bin/run.sh', autostart: false, restart: 'never' },
        ],
      }),
    },
    { name: 'bin/web.sh', data: '#!/bin/sh\nexec /bin/busybox httpd -f -p 8080 -h www\n', mode: 0o755 },
    { name: 'bin/run.sh', data: run, mode: 0o755 },
    { name: 'bin/probe', data: probes?.probe ?? none, mode: 0o755 },
    { name: 'bin/compat', data: probes?.compat ?? none, mode: 0o755 },
    { name: 'www/index.html', data: `hello from ${name}\n` },
  ]);
}

/** The process's children (the unit's pid is nsenter's: it forks the service into the pid namespace). */
function childrenOf(pid: number): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1]) === pid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

const field = (status: string, name: string) => new RegExp(`^${name}:\\s+(.*)$`, 'm').exec(status)?.[1]?.trim();

test('a networked LXC unit runs under the EE seccomp list: Seccomp 2, NoNewPrivs 1, CapEff 0, keyctl EPERM, ' +
  'its EnvVariable set, its port mapping served', {
  timeout: 180_000,
}, async (t) => {
  if (!requireRoot(t, 'namespaces, veths and nftables need root')) return;
  if (!requireTool(t, 'ip', 'nft', 'nsenter')) return;
  if (!(await requireLxc(t))) return;
  const { dir, cleanup } = tempDir('cpe-netsc-');
  const probePath = buildProbe(t, dir);
  const compat = probePath ? compileCompat(t, dir) : undefined;
  const probes = probePath && compat ? { probe: readFileSync(probePath), compat } : undefined;
  const engines: Engine[] = [];
  const containers: string[] = [];
  const http = await serveFiles({ 'a.tgz': app('sca', probes), 'b.tgz': app('scb', probes) });
  t.after(async () => {
    for (const e of engines) await e.stopAll().catch(() => undefined);
    for (const c of containers)
      await lxcHost(engines[0]!)
        .destroy(c)
        .catch(() => undefined);
    quiet('ip', 'link', 'del', UPLINK.host);
    quiet('ip', 'netns', 'del', UPLINK.ns);
    for (const f of ['inet', 'bridge']) quiet('nft', 'delete', 'table', f, `cpe_agent_${BRIDGE}`);
    quiet('nft', 'delete', 'table', 'ip', `cpe_agent_${BRIDGE}_nat`);
    for (const x of existsSync('/run/netns') ? readdirSync('/run/netns') : [])
      if (x.startsWith(`${BRIDGE}-`)) quiet('ip', 'netns', 'del', x);
    for (const l of readdirSync('/sys/class/net')) if (l.startsWith(BRIDGE)) quiet('ip', 'link', 'del', l);
    await http.close();
    cleanup();
  });

  const ip = (...args: string[]) => execFileSync('ip', args, { encoding: 'utf8' });
  ip('netns', 'add', UPLINK.ns);
  ip('link', 'add', UPLINK.host, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', UPLINK.ns);
  ip('addr', 'add', `${UPLINK.hostIp}/24`, 'dev', UPLINK.host);
  ip('link', 'set', UPLINK.host, 'up');
  ip('-n', UPLINK.ns, 'addr', 'add', `${UPLINK.nsIp}/24`, 'dev', 'eth0');
  ip('-n', UPLINK.ns, 'link', 'set', 'eth0', 'up');

  const engine = new Engine({
    stateDir: join(dir, 'state'),
    logger: silentLogger,
    shutdownGraceMs: 2000,
    network: { bridge: BRIDGE, subnet: `10.215.${n}.0/24` },
  });
  engines.push(engine);
  await engine.start();
  const ee = await engine.createEE({ name: 'sc', enabled: true, memoryKiB: -1, cpuPercent: -1, diskKiB: 64 * 1024 });
  containers.push(ee.container!);
  await engine.setAccessInterfaces(ee.id, [UPLINK.host]);
  const env = { env: [{ key: 'HELLO', value: 'it is $me; `x`' }] };
  const a = await engine.install({
    url: http.url('a.tgz'),
    ee: ee.id,
    requestTag: 'a',
    network: { access: [], ports: [{ iface: UPLINK.host, external: PORT, internal: 8080, protocol: 'TCP' }] },
    settings: env,
  });
  assert.equal(a.fault, undefined, a.fault?.message);
  // The same package without NetworkConfig: started by lxc-attach under LXC's own filter, for comparison.
  const b = await engine.install({ url: http.url('b.tgz'), ee: ee.id, requestTag: 'b', settings: env });
  assert.equal(b.fault, undefined, b.fault?.message);
  const eu = (r: typeof a, s: string) => r.euids.find((e) => e.endsWith(`-${s}`))!;

  // Still serves its port mapping, from a client behind the mapped interface.
  const get = () => {
    try {
      const wget = ['busybox', 'timeout', '5', 'busybox', 'wget', '-q', '-O', '-', `http://${UPLINK.hostIp}:${PORT}/`];
      return execFileSync('ip', ['netns', 'exec', UPLINK.ns, ...wget], { encoding: 'utf8', stdio: 'pipe' });
    } catch {
      return '<unreachable>';
    }
  };
  await waitFor(() => get() === 'hello from sca\n', 20_000).catch((e) => {
    console.error(`web: ${JSON.stringify(engine.unitState(eu(a, 'web')))} log: ${engine.unitLog(eu(a, 'web'))}`);
    throw e;
  });

  // The service process (nsenter's child) and nsenter itself: filtered, no_new_privs, no capability.
  const unitPid = engine.unitState(eu(a, 'web'))!.pid!;
  const [service] = childrenOf(unitPid);
  assert.ok(service, `the unit's process ${unitPid} has a child`);
  for (const pid of [unitPid, service]) {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    assert.equal(field(status, 'Seccomp'), '2', `${pid}: seccomp filter mode`);
    assert.equal(field(status, 'NoNewPrivs'), '1', `${pid}`);
  }
  const status = readFileSync(`/proc/${service}/status`, 'utf8');
  assert.equal(field(status, 'CapEff'), '0000000000000000');
  assert.equal(field(status, 'CapPrm'), '0000000000000000');
  assert.equal(field(status, 'Uid')?.split(/\s+/)[0], String(ee.ids!.base), "container root's host id");
  assert.match(readFileSync(`/proc/${service}/cmdline`, 'utf8'), /httpd/);

  /** Runs a DU's probe service; what it printed. */
  const runProbe = async (r: typeof a) => {
    const data = engine.dataDir(r.uuid, ee.id);
    rmSync(join(data, 'out'), { force: true });
    await engine.setRequestedState(eu(r, 'probe'), 'Active');
    await waitFor(() => existsSync(join(data, 'out')), 20_000).catch((e) => {
      console.error(`probe log: ${engine.unitLog(eu(r, 'probe'))}`);
      throw e;
    });
    return readFileSync(join(data, 'out'), 'utf8');
  };
  const networked = await runProbe(a);
  const attached = await runProbe(b);
  assert.match(networked, /^env=it is \$me; `x`$/m, 'the EnvVariable reaches the networked unit as given');
  assert.match(attached, /^env=it is \$me; `x`$/m);
  if (!probes) return;
  // Every call of the security probe: EPERM, the same lines as under LXC's own profile.
  const calls = (log: string) => log.split('\n').filter((l) => l.startsWith('SYSCALL '));
  assert.match(networked, /^PROBE-DONE$/m, networked);
  assert.ok(calls(networked).length >= 10, networked);
  for (const l of calls(networked)) assert.match(l, / EPERM$/, `networked unit: ${l}`);
  assert.deepEqual(calls(networked), calls(attached), 'the same answers as in a unit LXC started');
  const host = execFileSync(join(dir, 'compat'), { encoding: 'utf8' });
  if (!/^native allowed$/m.test(host)) return missing(t, `keyctl is refused on this host without seccomp (${host})`);
  assert.match(networked, /^native 1$/m, 'keyctl: EPERM in the networked unit, allowed on the host');
  const compatOnHost = /^i386 (\d+|allowed)$/m.exec(host)?.[1];
  t.diagnostic(`i386 ABI keyctl: host ${compatOnHost}, networked ${/^i386 (\d+|allowed)$/m.exec(networked)?.[1]}`);
  if (compatOnHost === undefined) return;
  if (compatOnHost !== 'allowed') return missing(t, `the i386 ABI is not usable on this host (${compatOnHost})`);
  assert.match(networked, /^i386 1$/m, 'keyctl through int 0x80: EPERM as well');
  assert.match(networked, /^i386 getpid ok$/m, 'other i386 calls are allowed');
});
