// The engine's OCI EEs on real runc: a DU's EU runs as a container that is root in its own user namespace
// and an unprivileged id on the host, can neither mount nor see host files, stops within ShutdownDelay,
// loses its writes on Reset, and leaves no container, mount or cgroup once uninstalled and its EE removed.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { OciBackend } from '../../src/engine/backends/oci/backend.js';
import { CGROUP_PARENT } from '../../src/engine/backends/oci/cgroup.js';
import { Engine } from '../../src/engine/engine.js';
import { isMounted } from '../../src/engine/mounts.js';
import { silentLogger } from '../../src/util/logger.js';
import { tempDir, waitFor } from '../helpers.js';
import { serveFiles } from '../http-files.js';
import { busyboxPackage, requireRunc } from './oci.js';

const GRACE_MS = 2000;

const FIRST = 'OCI EE: an EU is a runc container, unprivileged, confined, stopped in time, reset and removed cleanly';
test(FIRST, async (t) => {
  if (!(await requireRunc(t))) return;
  const { dir, cleanup } = tempDir('cpe-oci-');
  const marker = join(dir, `host-secret-${process.pid}`);
  const web =
    '#!/bin/sh\nid -u > "$CPE_DU_DATA/uid"\necho kept > /srv/store/v\ntrap "exit 0" TERM\n' +
    'while true; do sleep 0.2; done\n';
  // No handler: as a pid namespace's init it ignores SIGTERM, so only the SIGKILL after ShutdownDelay ends it.
  const stubborn = '#!/bin/sh\nwhile true; do sleep 1; done\n';
  const probe =
    '#!/bin/sh\nr="$CPE_DU_DATA/probe"\n: > "$r"\n' +
    'mount -t tmpfs none /mnt 2>/dev/null && echo mounted >> "$r"\n' +
    `test -e ${marker} && echo host-visible >> "$r"\n` +
    'ip link 2>/dev/null | grep -c "^[0-9]" >> "$r"\ntouch /probed\necho done >> "$r"\n';
  const pkg = busyboxPackage(
    'ociapp',
    [
      { name: 'web', command: 'bin/web.sh' },
      { name: 'stubborn', command: 'bin/stubborn.sh' },
      { name: 'probe', command: 'bin/probe.sh', autostart: false, restart: 'never' },
    ],
    { 'bin/web.sh': web, 'bin/stubborn.sh': stubborn, 'bin/probe.sh': probe },
  );
  const http = await serveFiles({ 'app.tgz': pkg });
  const engine = new Engine({ stateDir: join(dir, 'state'), logger: silentLogger, shutdownGraceMs: GRACE_MS });
  await engine.start();
  const oci = engine.backend('oci') as OciBackend;
  assert.ok(engine.backends.includes('oci'), 'runc works here: the OCI class is present');
  const ee = await engine.createEE({
    name: 'oci',
    execEnvClass: 'OCI',
    enabled: true,
    memoryKiB: 64 * 1024,
    cpuPercent: 50,
    diskKiB: 32 * 1024,
  });
  t.after(async () => {
    await engine.stopAll();
    await oci.destroy(ee).catch(() => undefined);
    await http.close();
    cleanup();
  });
  require_(ee.ids);
  const res = await engine.install({
    url: http.url('app.tgz'),
    ee: ee.id,
    requestTag: 'oci',
    appData: [{ name: 'store', capacityMiB: 4, retain: 'UntilStopped', accessPath: '/srv/store' }],
    settings: { resources: { diskKiB: 12 * 1024, memoryKiB: -1, cpuPercent: -1 } },
  });
  assert.equal(res.fault, undefined, res.fault?.message);
  const du = res.du!;
  const euid = (n: string) => du.eus.find((e) => e.service.name === n)!.euid;
  const data = (f: string) => join(engine.dataDir(du.uuid, ee.id), f);
  await waitFor(() => existsSync(data('uid')));
  assert.equal(engine.unitState(euid('web'))?.status, 'Active');
  assert.equal(readFileSync(data('uid'), 'utf8').trim(), '0', 'root in its own namespace');

  // On the host its init is the EE's base id, not root.
  const ctrs = await oci.runc.list();
  const web1 = ctrs.find((c) => c.id === euid('web'));
  assert.ok(web1 && web1.status === 'running', 'a runc container per EU');
  const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${web1.pid}/status`, 'utf8'))?.[1];
  assert.equal(Number(uid), ee.ids.base);

  // Its volume is bound at its AccessPath; its cgroup is below the EE's, which holds the EE's memory limit.
  const vols = join(dir, 'state', 'engine', 'oci', ee.id, 'volumes');
  assert.equal(readFileSync(join(vols, readdirSync(vols)[0]!, 'v'), 'utf8'), 'kept\n');
  const eeCgroup = join('/sys/fs/cgroup/memory', CGROUP_PARENT, ee.id);
  if (existsSync('/sys/fs/cgroup/memory')) {
    assert.equal(Number(readFileSync(join(eeCgroup, 'memory.limit_in_bytes'), 'utf8')), 64 * 1024 * 1024);
    assert.match(readFileSync(`/proc/${web1.pid}/cgroup`, 'utf8'), new RegExp(`${CGROUP_PARENT}/${ee.id}/`));
    await engine.modifyConstraints(ee.id, { memoryKiB: 96 * 1024, force: false });
    assert.equal(Number(readFileSync(join(eeCgroup, 'memory.limit_in_bytes'), 'utf8')), 96 * 1024 * 1024);
  }

  // Confined: no mount, no host file, loopback only.
  await engine.setRequestedState(euid('probe'), 'Active');
  await waitFor(() => existsSync(data('probe')) && readFileSync(data('probe'), 'utf8').includes('done'));
  assert.deepEqual(readFileSync(data('probe'), 'utf8').trim().split('\n'), ['1', 'done']);

  // ShutdownDelay: SIGTERM is ignored by this one, SIGKILL follows the delay.
  const t0 = Date.now();
  await engine.setRequestedState(euid('stubborn'), 'Idle');
  const took = Date.now() - t0;
  assert.ok(took >= GRACE_MS - 100 && took < GRACE_MS + 5000, `stopped after ${took} ms`);
  assert.equal(engine.unitState(euid('stubborn'))?.status, 'Idle');
  assert.ok(!(await oci.runc.list()).some((c) => c.id === euid('stubborn')), 'its container is gone');

  // Reset: the writes in the container's root go (the probe does not run again); the DU and its data stay.
  const upper = join(dir, 'state', 'engine', 'oci', ee.id, 'upper', 'layers', du.duid, 'diff');
  assert.ok(existsSync(join(upper, 'probed')), 'the write went to the DU upper layer');
  await engine.resetEE(ee.id);
  await waitFor(() => engine.unitState(euid('web'))?.status === 'Active');
  assert.ok(!existsSync(join(upper, 'probed')));
  assert.ok(existsSync(data('uid')));

  // A bigger disk: the EE's image grows, its units start again.
  const size = () => {
    const s = statfsSync(join(dir, 'state', 'engine', 'oci', ee.id, 'upper'));
    return s.blocks * s.bsize;
  };
  const before = size();
  await engine.modifyConstraints(ee.id, { diskKiB: 48 * 1024, force: false });
  assert.ok(size() > before + 12 * 1024 * 1024, `the writable image grew from ${before} to ${size()}`);
  await waitFor(() => engine.unitState(euid('web'))?.status === 'Active');
  // The DU's own disk, inside the EE's, was unmounted for the growth and is back with its data.
  assert.ok(isMounted(engine.dataDir(du.uuid, ee.id)), "the DU's own disk is mounted again");
  assert.ok(existsSync(data('uid')));

  // Uninstall and removal leave nothing behind.
  const un = await engine.uninstall(du.duid, 'oci');
  assert.equal(un.fault, undefined);
  await engine.removeEE(ee.id, true);
  assert.deepEqual(await oci.runc.list(), []);
  const mounts = readFileSync('/proc/mounts', 'utf8');
  assert.ok(!mounts.includes(dir), 'no mount left under the state directory');
  for (const c of ['memory', 'pids', 'cpu'])
    assert.ok(!existsSync(join('/sys/fs/cgroup', c, CGROUP_PARENT, ee.id)), `no ${c} cgroup left`);
});

function require_<T>(v: T | undefined): asserts v is T {
  assert.ok(v);
}

test('OCI EE: an agent restart adopts running containers; after a reboot the roots are mounted again', async (t) => {
  if (!(await requireRunc(t))) return;
  const { dir, cleanup } = tempDir('cpe-oci-');
  const loop = 'trap "exit 0" TERM\nwhile true; do sleep 0.2; done\n';
  const pkg = busyboxPackage('adopted', [{ name: 'svc', command: 'bin/svc.sh' }], {
    'bin/svc.sh': `#!/bin/sh\ntouch /mark\n${loop}`,
  });
  const v2 = busyboxPackage(
    'adopted',
    [{ name: 'svc', command: 'bin/svc.sh' }],
    { 'bin/svc.sh': `#!/bin/sh\n[ -e /mark ] && v=stale || v=2\necho $v > "$CPE_DU_DATA/version"\n${loop}` },
    '2.0',
  );
  const files: Record<string, Buffer> = { 'app.tgz': pkg, 'v2.tgz': v2 };
  const http = await serveFiles(files);
  const opts = { stateDir: join(dir, 'state'), logger: silentLogger, shutdownGraceMs: GRACE_MS };
  let engine = new Engine(opts);
  await engine.start();
  const ee = await engine.createEE({
    name: 'oci',
    execEnvClass: 'OCI',
    enabled: true,
    memoryKiB: -1,
    cpuPercent: -1,
    diskKiB: 32 * 1024,
    allowPrivileged: true,
  });
  t.after(async () => {
    await engine.stopAll();
    await (engine.backend('oci') as OciBackend).destroy(ee).catch(() => undefined);
    await http.close();
    cleanup();
  });
  const res = await engine.install({ url: http.url('app.tgz'), ee: ee.id, requestTag: 'a' });
  assert.equal(res.fault, undefined, res.fault?.message);
  const euid = res.euids[0]!;
  await waitFor(() => engine.unitState(euid)?.status === 'Active');
  const pid = engine.unitState(euid)?.pid;

  // An agent restart: the container runs on and is adopted, not started again.
  engine.detach();
  engine = new Engine(opts);
  await engine.start();
  // Adopted: the same process (a loaded host may take a moment to report it Active).
  await waitFor(() => engine.unitState(euid)?.status === 'Active', 5000).catch(() => undefined);
  assert.equal(engine.unitState(euid)?.status, 'Active');
  assert.equal(engine.unitState(euid)?.pid, pid);
  const oci = engine.backend('oci') as OciBackend;
  // Its container is kept (runc run may still be between create and start on a loaded host).
  const running = async () => (await oci.runc.list()).filter((c) => c.status === 'running').length;
  await waitFor(async () => (await running()) === 1, 5000).catch(() => undefined);
  assert.equal(await running(), 1);

  // A "reboot": the containers and every mount go (runc's state stays on disk, stale); start cleans and remounts.
  engine.detach();
  for (const c of await oci.runc.list()) process.kill(c.pid, 'SIGKILL');
  await waitFor(async () => (await oci.runc.list()).every((c) => c.status !== 'running'));
  const mounts = () =>
    readFileSync('/proc/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[1] ?? '')
      .filter((m) => m.startsWith(dir));
  for (const m of mounts().reverse()) execFileSync('umount', ['-l', m]);
  engine = new Engine(opts);
  await engine.start();
  await waitFor(() => engine.unitState(euid)?.status === 'Active' && engine.unitState(euid)?.pid !== pid);
  // One container: the stale one was deleted, the new one runs.
  await waitFor(async () => (await oci.runc.list()).map((c) => c.status).join() === 'running');

  // Update: the new package's root, and an empty upper layer (what the old version wrote is gone).
  const up = await engine.update(res.duid!, { url: http.url('v2.tgz'), requestTag: 'u' });
  assert.equal(up.fault, undefined, up.fault?.message);
  const version = join(engine.dataDir(res.uuid, ee.id), 'version');
  await waitFor(() => existsSync(version));
  assert.equal(readFileSync(version, 'utf8').trim(), '2');

  // A privileged DU (its EE's policy allows it): every capability, in its user namespace only.
  const priv = busyboxPackage('priv', [{ name: 'svc', command: 'bin/svc.sh' }], { 'bin/svc.sh': `#!/bin/sh\n${loop}` });
  files['priv.tgz'] = priv;
  const p = await engine.install({ url: http.url('priv.tgz'), ee: ee.id, requestTag: 'p', privileged: true });
  assert.equal(p.fault, undefined, p.fault?.message);
  await waitFor(async () => (await oci.runc.list()).filter((c) => c.status === 'running').length === 2);
  const capEff = async (id: string) => {
    const c = (await oci.runc.list()).find((x) => x.id === id)!;
    return BigInt(`0x${/^CapEff:\s+([0-9a-f]+)/m.exec(readFileSync(`/proc/${c.pid}/status`, 'utf8'))![1]}`);
  };
  const NET_ADMIN = 1n << 12n;
  assert.equal((await capEff(p.euids[0]!)) & NET_ADMIN, NET_ADMIN);
  assert.equal((await capEff(euid)) & NET_ADMIN, 0n);

  await engine.removeEE(ee.id, true);
  assert.deepEqual(mounts(), []);
});
