// The engine on real LXC system containers: an EE with limits, tar.gz and SquashFS DUs over HTTP,
// services running inside the container, the memory limit holding a hog, clean uninstall and removal.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { execa } from 'execa';
import { IN_CONTAINER } from '../../src/engine/backends/lxc/config.js';
import { Engine } from '../../src/engine/engine.js';
import { EngineCode } from '../../src/engine/errors.js';
import { silentLogger } from '../../src/util/logger.js';
import { manifest, tarGz } from '../engine/tar-builder.js';
import { tempDir, waitFor } from '../helpers.js';
import { serveFiles } from '../http-files.js';
import { lxcHost, requireLxc } from './lxc.js';

test(
  'LXC EE: install tar.gz and SquashFS DUs, services run inside the container, limits hold, uninstall ' + 'cleans',
  async (t) => {
    if (!(await requireLxc(t))) return;
    const { dir, cleanup } = tempDir('cpe-lxc-');
    const service =
      '#!/bin/sh\necho "in $(hostname)" > "$CPE_DU_DATA/where"\ntrap "exit 0" TERM\nwhile true; do sleep 0.2; done\n';
    const hog = '#!/bin/sh\nx=$(head -c 200000000 /dev/zero | tr "\\\\0" a)\necho survived\n';
    const fill = '#!/bin/sh\ndd if=/dev/zero of=/fill bs=1M count=200 2>&1\n';
    const dataFill = '#!/bin/sh\ndd if=/dev/zero of="$CPE_DU_DATA/fill" bs=1M count=200 2>&1\n';
    const tgz = tarGz([
      {
        name: 'manifest.json',
        data: manifest({
          name: 'webapp',
          services: [
            { name: 'web', command: 'bin/run.sh' },
            { name: 'hog', command: 'bin/hog.sh', autostart: false, restart: 'never' },
            { name: 'filler', command: 'bin/fill.sh', autostart: false, restart: 'never' },
            { name: 'datafiller', command: 'bin/datafill.sh', autostart: false, restart: 'never' },
          ],
        }),
      },
      { name: 'bin/run.sh', data: service, mode: 0o755 },
      { name: 'bin/hog.sh', data: hog, mode: 0o755 },
      { name: 'bin/fill.sh', data: fill, mode: 0o755 },
      { name: 'bin/datafill.sh', data: dataFill, mode: 0o755 },
    ]);
    const sq = join(dir, 'app');
    mkdirSync(join(sq, 'bin'), { recursive: true });
    writeFileSync(
      join(sq, 'manifest.json'),
      manifest({ name: 'sqapp', services: [{ name: 'svc', command: 'bin/run.sh' }] }),
    );
    writeFileSync(join(sq, 'bin/run.sh'), service, { mode: 0o755 });
    execFileSync('mksquashfs', [sq, join(dir, 'app.sqfs'), '-all-root', '-noappend', '-quiet']);
    const files: Record<string, Buffer> = { 'web.tgz': tgz, 'app.sqfs': readFileSync(join(dir, 'app.sqfs')) };
    const http = await serveFiles(files);
    const url = http.url;
    const engine = new Engine({ stateDir: join(dir, 'state'), logger: silentLogger, shutdownGraceMs: 3000 });
    await engine.start();
    assert.ok(engine.backends.includes('lxc'));
    const ee = await engine.createEE({
      name: 'apps',
      enabled: true,
      memoryKiB: 64 * 1024,
      cpuPercent: 50,
      diskKiB: 64 * 1024,
    });
    t.after(async () => {
      await engine.stopAll();
      await lxcHost(engine).destroy(ee.container!);
      await http.close();
      cleanup();
    });
    assert.equal(await lxcHost(engine).state(ee.container!), 'RUNNING');
    const attach = (...cmd: string[]) =>
      execa('lxc-attach', ['-P', lxcHost(engine).lxcpath, '-n', ee.container!, '--', ...cmd], { reject: false });

    const web = await engine.install({ url: url('web.tgz'), ee: ee.id, requestTag: 'web' });
    assert.equal(web.fault, undefined, web.fault?.message);
    const sqr = await engine.install({ url: url('app.sqfs'), ee: ee.id, requestTag: 'sq' });
    assert.equal(sqr.fault, undefined, sqr.fault?.message);
    const webEu = web.euids.find((e) => e.endsWith('-web'))!;
    await waitFor(
      () => engine.unitState(webEu)?.status === 'Active' && engine.unitState(sqr.euids[0]!)?.status === 'Active',
    );
    // The services run inside the container: their files are in its rootfs, and ps inside shows them.
    await waitFor(() => existsSync(join(engine.dataDir(web.uuid, ee.id), 'where')));
    assert.equal(readFileSync(join(engine.dataDir(web.uuid, ee.id), 'where'), 'utf8').trim(), `in ${ee.container}`);
    // Active means lxc-attach runs; the process inside follows a few milliseconds later.
    await waitFor(async () => (await attach('ps')).stdout.match(/\/bin\/sh bin\/run\.sh/g)?.length === 2);

    // Stop and start through the engine.
    await engine.setRequestedState(webEu, 'Idle');
    assert.equal(engine.unitState(webEu)?.status, 'Idle');
    await engine.setRequestedState(webEu, 'Active');
    await waitFor(() => engine.unitState(webEu)?.status === 'Active');

    // A memory hog is held by the container's 64 MiB limit: it is killed, not the device.
    const hogEu = web.euids.find((e) => e.endsWith('-hog'))!;
    await engine.setRequestedState(hogEu, 'Active');
    await waitFor(() => engine.unitState(hogEu)?.status === 'Idle', 30_000);
    assert.equal(engine.unitState(hogEu)?.fault, 'FailureWhileActive');
    assert.ok(!engine.unitLog(hogEu).includes('survived'));
    assert.ok((await engine.eeMemoryKiB(ee.id)) <= 64 * 1024);
    assert.equal(engine.unitState(webEu)?.status, 'Active', 'the other service lives on');

    // A service filling the disk fills its EE's 64 MiB writable layer, not the device: it fails with a
    // clear fault and its message, the other service and the engine carry on, and the space comes back.
    const fillEu = web.euids.find((e) => e.endsWith('-filler'))!;
    await engine.setRequestedState(fillEu, 'Active');
    await waitFor(() => engine.unitState(fillEu)?.status === 'Idle', 30_000);
    assert.equal(engine.unitState(fillEu)?.fault, 'FailureWhileActive');
    assert.match(engine.unitLog(fillEu), /No space left on device/);
    assert.ok(
      lxcHost(engine).freeKiB(ee.container!) < 2 * 1024,
      `the layer is full (${lxcHost(engine).freeKiB(ee.container!)} KiB free)`,
    );
    assert.equal(engine.unitState(webEu)?.status, 'Active', 'the other service lives on');
    const small = await engine.install({ url: url('app.sqfs'), ee: 'native', requestTag: 'while-full' });
    assert.equal(small.fault, undefined, 'the engine still installs');
    await engine.uninstall(small.duid!, 'rm');
    await attach('rm', '-f', '/fill');
    assert.ok(lxcHost(engine).freeKiB(ee.container!) > 32 * 1024, 'the space is back');
    // The DU's data directory is inside the same allowance: filling it fills the EE, not the host.
    const dataFillEu = web.euids.find((e) => e.endsWith('-datafiller'))!;
    await engine.setRequestedState(dataFillEu, 'Active');
    await waitFor(() => engine.unitState(dataFillEu)?.status === 'Idle', 30_000);
    assert.equal(engine.unitState(dataFillEu)?.fault, 'FailureWhileActive');
    assert.match(engine.unitLog(dataFillEu), /No space left on device/);
    assert.ok(
      lxcHost(engine).freeKiB(ee.container!) < 2 * 1024,
      `the EE's space is used up (${lxcHost(engine).freeKiB(ee.container!)} KiB free)`,
    );
    assert.ok(statSync(join(engine.dataDir(web.uuid, ee.id), 'fill')).size < 64 * 1024 * 1024);
    rmSync(join(engine.dataDir(web.uuid, ee.id), 'fill'));
    assert.ok(lxcHost(engine).freeKiB(ee.container!) > 32 * 1024, 'the space is back');
    // Installed packages are read-only to the services (they are the agent's, outside the allowance).
    const write = await attach('/bin/sh', '-c', `echo x > ${IN_CONTAINER.du}/${web.duid}/bin/x`);
    assert.notEqual(write.exitCode, 0);
    assert.match(write.stderr, /Read-only file system/);

    // Disk admission: the EE has 64 MiB of allocations for DUs.
    const big = tarGz([
      { name: 'manifest.json', data: manifest({ name: 'big' }) },
      { name: 'blob', data: Buffer.alloc(70 * 1024 * 1024, 1) },
    ]);
    files['big.tgz'] = big;
    const tooBig = await engine.install({ url: url('big.tgz'), ee: ee.id, requestTag: 'big' });
    // Past the EE's allowance while unpacking: too big for where it goes (TR-069 9027), not a bad package.
    assert.equal(tooBig.fault?.code, EngineCode.ResourcesExceeded, `refused: ${tooBig.fault?.message}`);

    // ModifyConstraints: memory and CPU change at once, the disk grows online, shrinking is refused.
    const freeBefore = lxcHost(engine).freeKiB(ee.container!);
    await engine.modifyConstraints(ee.id, { diskKiB: 128 * 1024, memoryKiB: 96 * 1024, cpuPercent: 25, force: false });
    // The online resize shows in the file system's free space a moment after resize2fs returns, on a busy host.
    await waitFor(() => lxcHost(engine).freeKiB(ee.container!) > freeBefore + 50 * 1024, 10_000).catch(() => undefined);
    assert.ok(lxcHost(engine).freeKiB(ee.container!) > freeBefore + 50 * 1024, 'the writable layer grew');
    const limit = await execa('lxc-cgroup', [
      '-P',
      lxcHost(engine).lxcpath,
      '-n',
      ee.container!,
      'memory.limit_in_bytes',
    ]);
    assert.equal(limit.stdout.trim(), String(96 * 1024 * 1024));
    await assert.rejects(engine.modifyConstraints(ee.id, { diskKiB: 32 * 1024, force: false }), /shrinking/);
    await engine.modifyConstraints(ee.id, { memoryKiB: 64 * 1024, force: false });

    const un = await engine.uninstall(web.duid!, 'rm');
    assert.equal(un.fault, undefined);
    assert.ok(!existsSync(join(lxcHost(engine).duDir(ee.container!), web.duid!)));
    assert.ok(!existsSync(engine.dataDir(web.uuid, ee.id)));
    // Reset wipes what the services wrote in the container, keeps the DU and its data, and restarts it.
    const sqEu = sqr.euids[0]!;
    await attach('/bin/sh', '-c', `echo scratch > /etc/scratch; echo kept > /var/lib/cpe/data/${sqr.uuid}/kept`);
    assert.equal((await attach('cat', '/etc/scratch')).stdout.trim(), 'scratch');
    await engine.resetEE(ee.id);
    assert.notEqual((await attach('cat', '/etc/scratch')).exitCode, 0, 'the writable layer is wiped');
    assert.equal(
      (await attach('cat', `/var/lib/cpe/data/${sqr.uuid}/kept`)).stdout.trim(),
      'kept',
      'DU data survives Reset',
    );
    await waitFor(() => engine.unitState(sqEu)?.status === 'Active');
    await assert.rejects(engine.removeEE(ee.id, false), /still has 1 deployment unit/);
    await engine.removeEE(ee.id, true);
    assert.equal(await lxcHost(engine).state(ee.container!), 'ABSENT');
  },
);

test(
  'after a device reboot (nothing mounted, container down) the engine brings the EE, its SquashFS DU and its ' +
    'data volume back',
  async (t) => {
    if (!(await requireLxc(t))) return;
    const { dir, cleanup } = tempDir('cpe-lxc-reboot-');
    const src = join(dir, 'app');
    mkdirSync(join(src, 'bin'), { recursive: true });
    writeFileSync(
      join(src, 'manifest.json'),
      manifest({ name: 'rebooter', services: [{ name: 'svc', command: 'bin/run.sh' }] }),
    );
    writeFileSync(
      join(src, 'bin/run.sh'),
      '#!/bin/sh\necho up >> "$CPE_APPDATA_DB/boots"\ntrap "exit 0" TERM\nwhile true; do sleep 0.2; done\n',
      { mode: 0o755 },
    );
    execFileSync('mksquashfs', [src, join(dir, 'app.sqfs'), '-all-root', '-noappend', '-quiet']);
    let engine = new Engine({ stateDir: join(dir, 'state'), logger: silentLogger, shutdownGraceMs: 2000 });
    await engine.start();
    const ee = await engine.createEE({ name: 'rb', enabled: true, memoryKiB: -1, cpuPercent: -1, diskKiB: 32 * 1024 });
    t.after(async () => {
      await engine.factoryReset();
      cleanup();
    });
    engine.setFileUrlDirectory(dir);
    const r = await engine.install({
      url: `file://${join(dir, 'app.sqfs')}`,
      ee: ee.id,
      requestTag: 'rb',
      appData: [{ name: 'db', capacityMiB: 4, retain: 'Forever', accessPath: '/srv/db' }],
    });
    assert.equal(r.fault, undefined, r.fault?.message);
    await waitFor(() => engine.unitState(r.euids[0]!)?.status === 'Active');
    const inside = (...cmd: string[]) =>
      execa('lxc-attach', ['-P', lxcHost(engine).lxcpath, '-n', ee.container!, '--', ...cmd], { reject: false });
    await waitFor(async () => (await inside('cat', '/srv/db/boots')).stdout.trim() === 'up');
    const avail = Number((await inside('df', '-k', '/srv/db')).stdout.trim().split('\n').pop()!.split(/\s+/)[3]);
    assert.ok(
      avail >= 4096 && avail < 8192,
      `the volume inside the container is a file system of its own with its 4 MiB capacity (${avail} KiB free)`,
    );
    // The "reboot": the agent goes, the container and its processes go, and every mount with them.
    engine.detach();
    await execa('lxc-stop', ['-P', lxcHost(engine).lxcpath, '-n', ee.container!, '-k']);
    const mounts = () =>
      readFileSync('/proc/mounts', 'utf8')
        .split('\n')
        .map((l) => l.split(' ')[1]!)
        .filter((m) => m?.includes(ee.container!));
    for (const m of mounts().reverse()) await execa('umount', ['-l', m]);
    assert.deepEqual(mounts(), []);
    engine = new Engine({ stateDir: join(dir, 'state'), logger: silentLogger, shutdownGraceMs: 2000 });
    await engine.start();
    assert.equal(await lxcHost(engine).state(ee.container!), 'RUNNING');
    await waitFor(() => engine.unitState(r.euids[0]!)?.status === 'Active');
    const ls = await execa('lxc-attach', [
      '-P',
      lxcHost(engine).lxcpath,
      '-n',
      ee.container!,
      '--',
      'ls',
      `/opt/cpe/du/${r.duid}/bin`,
    ]);
    assert.match(ls.stdout, /run\.sh/, 'the image is mounted again and visible inside the container');
    await waitFor(async () => (await inside('cat', '/srv/db/boots')).stdout.split('\n').length === 2);
    assert.equal(
      (await inside('cat', '/srv/db/boots')).stdout.trim(),
      'up\nup',
      'the volume came back with its data, at its AccessPath',
    );
    const un = await engine.uninstall(r.duid!, 'un');
    assert.equal(un.fault, undefined);
    assert.equal(engine.volumes().length, 0, 'without RetainData the Forever volume goes with its DU');
    assert.notEqual((await inside('cat', '/srv/db/boots')).exitCode, 0, 'and is gone from inside the container');
  },
);

test('an operator-supplied rootfs tarball is the base of new LXC EEs, with nothing bound from the host', async (t) => {
  if (!(await requireLxc(t))) return;
  const { dir, cleanup } = tempDir('cpe-lxc-rootfs-');
  // The operator's rootfs: a static busybox world with a marker file and an absolute symlink in it.
  const root = join(dir, 'rootfs');
  for (const d of ['bin', 'sbin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'root'])
    mkdirSync(join(root, d), { recursive: true });
  execFileSync('cp', ['/usr/bin/busybox', join(root, 'bin/busybox')]);
  for (const app of ['sh', 'sleep', 'cat', 'ls', 'ps', 'init'])
    execFileSync('ln', ['-s', '/bin/busybox', join(root, app === 'init' ? 'sbin/init' : `bin/${app}`)]);
  writeFileSync(join(root, 'etc/operator-release'), 'acme-os 7\n');
  writeFileSync(join(root, 'etc/inittab'), '::respawn:/bin/sleep 100000\n');
  execFileSync('tar', ['-czf', join(dir, 'rootfs.tgz'), '-C', root, '.']);
  const engine = new Engine({
    stateDir: join(dir, 'state'),
    logger: silentLogger,
    shutdownGraceMs: 2000,
    lxcRootfs: join(dir, 'rootfs.tgz'),
  });
  await engine.start();
  t.after(async () => {
    await engine.factoryReset();
    cleanup();
  });
  const ee = await engine.createEE({ name: 'acme', enabled: true, memoryKiB: -1, cpuPercent: -1, diskKiB: 32 * 1024 });
  const cat = await execa(
    'lxc-attach',
    ['-P', lxcHost(engine).lxcpath, '-n', ee.container!, '--', '/bin/cat', '/etc/operator-release'],
    { reject: false },
  );
  assert.equal(cat.stdout.trim(), 'acme-os 7');
  const config = readFileSync(join(lxcHost(engine).lxcpath, ee.container!, 'config'), 'utf8');
  assert.ok(!config.includes('/usr/lib'), 'no host library bind mounts');
  writeFileSync(join(dir, 'evil.tgz'), tarGz([{ name: '../../escape', data: 'x' }]));
  const bad = new Engine({ stateDir: join(dir, 'bad'), logger: silentLogger, lxcRootfs: join(dir, 'evil.tgz') });
  await bad.start();
  // The refusal says what is wrong in our words; the tarball's host path and the entry's name are not in it.
  const refused = await bad.createEE({ name: 'bad', enabled: false, memoryKiB: -1, cpuPercent: -1, diskKiB: -1 }).then(
    () => undefined,
    (e: Error) => e,
  );
  assert.match(refused?.message ?? 'accepted', /can not be used: package refused: an entry's path leaves the package/);
  assert.ok(!refused!.message.includes(dir) && !refused!.message.includes('escape'), refused!.message);
});
