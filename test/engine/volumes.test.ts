// Application data volumes on the native backend: real ext4 images, loop-mounted (root only).

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { Engine } from '../../src/engine/engine.js';
import { EngineCode } from '../../src/engine/errors.js';
import { isMounted } from '../../src/engine/mounts.js';
import { parseManifest } from '../../src/engine/package/manifest.js';
import { silentLogger } from '../../src/util/logger.js';
import { requireRoot, requireTool, tempDir, waitFor } from '../helpers.js';
import { serveFiles as serve } from '../http-files.js';
import { manifest, tarGz } from './tar-builder.js';

// Writes a marker into each volume it is given, then idles.
const SERVICE = `#!/bin/sh
echo "$CPE_EUID" >> "$CPE_APPDATA_STATE/runs"
trap 'exit 0' TERM
while true; do sleep 0.1; done
`;

const pkg = (version: string, data: unknown[] = []) =>
  tarGz([
    { name: 'manifest.json', data: manifest({ version, data }) },
    { name: 'bin/run.sh', data: SERVICE, mode: 0o755 },
  ]);

/** Volumes are ext4 images, loop-mounted: root and mkfs.ext4. */
const canMount = (t: TestContext) => requireRoot(t, 'loop mounts need root') && requireTool(t, 'mkfs.ext4');

test(
  'volumes: created with the install, capacity enforced, Forever kept by RetainData, Remove() refused while ' +
    'installed',
  async (t) => {
    if (!canMount(t)) return;
    const { dir, cleanup } = tempDir('cpe-vol-');
    const http = await serve({ 'v1.tgz': pkg('1.0'), 'v2.tgz': pkg('2.0') });
    let engine = new Engine({ stateDir: dir, logger: silentLogger, shutdownGraceMs: 2000 });
    t.after(async () => {
      await engine.factoryReset();
      await http.close();
      cleanup();
    });
    await engine.start();

    const state = { name: 'state', capacityMiB: 4, retain: 'Forever' as const, accessPath: '/data/state' };
    const cache = { name: 'cache', capacityMiB: 2, retain: 'UntilStopped' as const, accessPath: '/data/cache' };
    const r = await engine.install({ url: http.url('v1.tgz'), ee: 'native', requestTag: 'i', appData: [state, cache] });
    assert.equal(r.fault, undefined, r.fault?.message);
    const vols = engine.volumes();
    assert.deepEqual(
      vols.map((v) => [v.name, v.appUuid, v.capacityMiB]),
      [
        ['state', r.uuid, 4],
        ['cache', r.uuid, 2],
      ],
    );
    const [vState, vCache] = [vols[0]!, vols[1]!];
    const stateDir = engine.volumePath(vState);
    assert.ok(isMounted(stateDir), 'the volume is a mount of its own');
    // `>>` creates the file before it writes the line: wait for the line.
    await waitFor(
      () => existsSync(join(stateDir, 'runs')) && readFileSync(join(stateDir, 'runs'), 'utf8').includes('\n'),
    );
    assert.equal(
      readFileSync(join(stateDir, 'runs'), 'utf8').trim(),
      r.euids[0],
      'the service found its volume through CPE_APPDATA_STATE',
    );

    // The capacity is usable, and a real limit: 2 MiB fit into the 2 MiB cache, 8 MiB do not.
    const cacheDir = engine.volumePath(vCache);
    execFileSync('dd', ['if=/dev/zero', `of=${join(cacheDir, 'big')}`, 'bs=1M', 'count=2'], { stdio: 'pipe' });
    assert.throws(() =>
      execFileSync('dd', ['if=/dev/zero', `of=${join(cacheDir, 'big')}`, 'bs=1M', 'count=8'], { stdio: 'pipe' }),
    );
    execFileSync('rm', ['-f', join(cacheDir, 'big')]);
    execFileSync('dd', ['if=/dev/zero', `of=${join(stateDir, 'blob')}`, 'bs=1M', 'count=2'], { stdio: 'pipe' });
    // Files in volumes are the application's: emptying them runs as the DU's own user.
    const owner = engine.unitUser(r.euids[0]!)!.host;
    chownSync(join(stateDir, 'blob'), owner.uid, owner.gid);
    assert.ok(engine.volumeUsedMiB(vState) >= 2, `Utilization ${engine.volumeUsedMiB(vState)} MiB`);

    // UntilStopped: empty again once the application stopped; Forever is not.
    execFileSync('sh', ['-c', `echo x > ${join(cacheDir, 'tmp')}`]);
    chownSync(join(cacheDir, 'tmp'), owner.uid, owner.gid);
    await engine.setRequestedState(r.euids[0]!, 'Idle');
    assert.ok(!existsSync(join(cacheDir, 'tmp')), 'UntilStopped volume wiped when the application stopped');
    assert.ok(existsSync(join(stateDir, 'blob')), 'Forever volume kept');
    await engine.setRequestedState(r.euids[0]!, 'Active');

    // A restart of the agent mounts the volumes again.
    await engine.stopAll();
    engine.detach();
    execFileSync('umount', [stateDir]);
    engine = new Engine({ stateDir: dir, logger: silentLogger, shutdownGraceMs: 2000 });
    await engine.start();
    assert.ok(isMounted(stateDir) && existsSync(join(stateDir, 'blob')), 'remounted after a restart');

    // Update with RetainData keeps both and adds what the new version names.
    const up = await engine.update(r.duid!, {
      url: http.url('v2.tgz'),
      requestTag: 'u',
      retainData: true,
      appData: [state, { ...cache, name: 'logs', accessPath: '/data/logs' }],
    });
    assert.equal(up.fault, undefined, up.fault?.message);
    assert.deepEqual(
      engine
        .volumes()
        .map((v) => v.name)
        .sort(),
      ['cache', 'logs', 'state'],
    );
    assert.ok(existsSync(join(stateDir, 'blob')));
    // Update without RetainData: named volumes start empty, others go.
    const up2 = await engine.update(r.duid!, {
      url: http.url('v1.tgz'),
      uuid: r.uuid,
      requestTag: 'u2',
      appData: [state],
    });
    assert.equal(up2.fault, undefined, up2.fault?.message);
    assert.deepEqual(
      engine.volumes().map((v) => v.name),
      ['state'],
    );
    assert.ok(!existsSync(join(stateDir, 'blob')), 'data gone without RetainData');
    execFileSync('sh', ['-c', `echo keep > ${join(stateDir, 'keep')}`]);

    // Remove() is refused while the DU is installed; Uninstall with RetainData leaves the Forever volume.
    await assert.rejects(
      engine.removeVolume(engine.volumes()[0]!.id),
      (e: { code: string }) => e.code === EngineCode.InvalidDUState,
    );
    const un = await engine.uninstall(r.duid!, 'x', true);
    assert.equal(un.fault, undefined);
    assert.equal(engine.volumes().length, 1, 'the Forever volume outlives its DU');
    // Installing the same application again finds its data.
    const again = await engine.install({
      url: http.url('v1.tgz'),
      ee: 'native',
      requestTag: 'again',
      appData: [state],
    });
    assert.equal(again.fault, undefined);
    assert.equal(readFileSync(join(engine.volumePath(engine.volumes()[0]!), 'keep'), 'utf8').trim(), 'keep');
    await engine.uninstall(again.duid!, 'y', true);
    const left = engine.volumes()[0]!;
    await engine.removeVolume(left.id);
    assert.equal(engine.volumes().length, 0);
    assert.ok(!isMounted(engine.volumePath(left)));
    assert.deepEqual(
      readdirSync(join(dir, 'engine/appdata')).filter((f) => f.endsWith('.img')),
      [],
      'no image left',
    );
  },
);

test(
  'volumes: bad requests are refused with 7004 and leave nothing behind; the manifest can declare ' + 'them',
  async (t) => {
    if (!canMount(t)) return;
    const { dir, cleanup } = tempDir('cpe-vol-');
    const declared = [{ name: 'db', capacity: 1, retain: 'Forever', accessPath: '/srv/db' }];
    const http = await serve({ 'v1.tgz': pkg('1.0'), 'decl.tgz': pkg('1.1', declared) });
    const engine = new Engine({ stateDir: dir, logger: silentLogger, shutdownGraceMs: 2000 });
    t.after(async () => {
      await engine.factoryReset();
      await http.close();
      cleanup();
    });
    await engine.start();
    const base = { name: 'v', capacityMiB: 1, retain: 'Forever' as const, accessPath: '/data/v' };
    for (const bad of [
      { accessPath: '/data/../etc' },
      { accessPath: 'relative' },
      { accessPath: '/proc/x' },
      { capacityMiB: 0 },
      { name: '../x' },
      { retain: 'Sometimes' },
    ]) {
      const r = await engine.install({
        url: http.url('v1.tgz'),
        ee: 'native',
        requestTag: 'bad',
        appData: [{ ...base, ...bad } as typeof base],
      });
      assert.equal(r.fault?.code, EngineCode.InvalidArguments, JSON.stringify(bad));
    }
    const dup = await engine.install({
      url: http.url('v1.tgz'),
      ee: 'native',
      requestTag: 'dup',
      appData: [base, base],
    });
    assert.equal(dup.fault?.code, EngineCode.InvalidArguments);
    const huge = await engine.install({
      url: http.url('v1.tgz'),
      ee: 'native',
      requestTag: 'huge',
      appData: [{ ...base, capacityMiB: 1024 * 1024 }],
    });
    assert.equal(huge.fault?.code, EngineCode.ResourcesExceeded, 'a volume larger than the free disk is refused');
    assert.equal(engine.volumes().length, 0);
    assert.equal(engine.deploymentUnits().length, 0);
    assert.deepEqual(readdirSync(join(dir, 'engine/appdata')), []);

    const r = await engine.install({ url: http.url('decl.tgz'), ee: 'native', requestTag: 'decl' });
    assert.equal(r.fault, undefined, r.fault?.message);
    assert.deepEqual(
      engine.volumes().map((v) => [v.name, v.retain, v.capacityMiB]),
      [['db', 'Forever', 1]],
    );
    assert.throws(
      () => parseManifest(manifest({ data: [{ name: 'x', capacity: 1, accessPath: '/sys/x' }] })),
      /AccessPath/,
    );
  },
);
