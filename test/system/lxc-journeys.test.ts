// The journeys that worked with privileged containers, on unprivileged ones: SquashFS and tar.gz DUs
// whose files belong to the EE's id range, services Active as container users (never host root),
// Update with RetainData keeping the data, Uninstall, and a kill -9 in the middle of an install
// (during the download, and while the package is being unpacked and shifted) then a restart.

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Engine } from '../../src/engine/engine.js';
import { silentLogger } from '../../src/util/logger.js';
import { manifest, tarGz } from '../engine/tar-builder.js';
import { repoRoot, tempDir, waitFor } from '../helpers.js';
import { serveFiles } from '../http-files.js';
import { lxcHost, requireLxc } from './lxc.js';

const SERVICE =
  '#!/bin/sh\nid -u > "$CPE_DU_DATA/uid.$CPE_EUID"\n[ -f "$CPE_DU_DATA/kept" ] || echo "$1" > ' +
  '"$CPE_DU_DATA/kept"\ntrap "exit 0" TERM\nwhile true; do sleep 0.2; done\n';

function squashfs(dir: string, name: string, version: string): Buffer {
  const src = join(dir, `${name}-${version}`);
  mkdirSync(join(src, 'bin'), { recursive: true });
  writeFileSync(
    join(src, 'manifest.json'),
    manifest({ name, version, services: [{ name: 'svc', command: 'bin/run.sh', args: [version] }] }),
  );
  writeFileSync(join(src, 'bin/run.sh'), SERVICE, { mode: 0o755 });
  execFileSync('mksquashfs', [src, `${src}.sqfs`, '-noappend', '-quiet']); // owned by root as built: shifted at install
  return readFileSync(`${src}.sqfs`);
}

const tgz = (name: string, version: string, extra: { name: string; data: string }[] = []) =>
  tarGz([
    {
      name: 'manifest.json',
      data: manifest({ name, version, services: [{ name: 'svc', command: 'bin/run.sh', args: [version] }] }),
    },
    { name: 'bin/run.sh', data: SERVICE, mode: 0o755 },
    ...extra,
  ]);

/** Every entry below dir and its host owner. */
function owners(dir: string): Map<string, number> {
  const out = new Map<string, number>();
  const walk = (p: string) => {
    const st = lstatSync(p);
    out.set(p, st.uid);
    if (st.isDirectory() && !st.isSymbolicLink()) for (const f of readdirSync(p)) walk(join(p, f));
  };
  walk(dir);
  return out;
}

test(
  'unprivileged LXC EE: SquashFS and tar.gz DUs owned by its range, services as container users, Update with ' +
    'RetainData, Uninstall',
  async (t) => {
    if (!(await requireLxc(t))) return;
    const { dir, cleanup } = tempDir('cpe-lxc-journey-');
    const http = await serveFiles({
      'sq1.sqfs': squashfs(dir, 'sq', '1'),
      'sq2.sqfs': squashfs(dir, 'sq', '2'),
      'tg1.tgz': tgz('tg', '1'),
      'tg2.tgz': tgz('tg', '2'),
    });
    const engine = new Engine({ stateDir: join(dir, 'state'), logger: silentLogger, shutdownGraceMs: 2000 });
    await engine.start();
    const ee = await engine.createEE({
      name: 'apps',
      enabled: true,
      memoryKiB: 64 * 1024,
      cpuPercent: -1,
      diskKiB: 64 * 1024,
    });
    t.after(async () => {
      await engine.stopAll();
      await lxcHost(engine).destroy(ee.container!);
      await http.close();
      cleanup();
    });
    const base = ee.ids!.base;
    assert.ok(base >= 1_000_000 + 65_536, `the EE has a range of its own (${base})`);
    assert.match(
      readFileSync(join(lxcHost(engine).lxcpath, ee.container!, 'config'), 'utf8'),
      new RegExp(`^lxc\\.idmap = u 0 ${base} 65536$`, 'm'),
    );

    for (const [name, v1, v2] of [
      ['sq', 'sq1.sqfs', 'sq2.sqfs'],
      ['tg', 'tg1.tgz', 'tg2.tgz'],
    ] as const) {
      const r = await engine.install({ url: http.url(v1), ee: ee.id, requestTag: `${name}-i` });
      assert.equal(r.fault, undefined, r.fault?.message);
      const du = engine.du(r.duid!)!;
      for (const [p, uid] of owners(du.root)) assert.equal(uid, base, `${p} belongs to the EE's root, not the host's`);
      const euid = r.euids[0]!;
      await waitFor(() => engine.unitState(euid)?.status === 'Active');
      const data = engine.dataDir(r.uuid, ee.id);
      // The shell makes the file before `id -u` writes to it: wait for what it wrote.
      await waitFor(
        () => existsSync(join(data, `uid.${euid}`)) && readFileSync(join(data, `uid.${euid}`), 'utf8').endsWith('\n'),
      );
      assert.equal(readFileSync(join(data, `uid.${euid}`), 'utf8').trim(), '0', `${name}: root inside the container`);
      assert.equal(statSync(join(data, `uid.${euid}`)).uid, base, `${name}: ... which is host id ${base}`);
      const pid = engine.unitState(euid)!.pid!;
      assert.equal(engine.unitUser(euid)?.host.uid, base);

      // Update with RetainData: the new version runs, what the old one wrote is still there.
      const u = await engine.update(r.duid!, { url: http.url(v2), requestTag: `${name}-u`, retainData: true });
      assert.equal(u.fault, undefined, u.fault?.message);
      assert.equal(engine.du(r.duid!)!.manifest.version, '2');
      await waitFor(() => engine.unitState(euid)?.status === 'Active' && engine.unitState(euid)?.pid !== pid);
      assert.equal(readFileSync(join(data, 'kept'), 'utf8').trim(), '1', `${name}: data of version 1 retained`);
      for (const [p, uid] of owners(engine.du(r.duid!)!.root))
        assert.equal(uid, base, `${p} (updated) belongs to the EE's root`);

      const un = await engine.uninstall(r.duid!, `${name}-x`);
      assert.equal(un.fault, undefined);
      assert.ok(!existsSync(du.root) && !existsSync(data), `${name}: files and data gone`);
    }
  },
);

test(
  'kill -9 during the download and during the unpack of an install into an unprivileged EE: a restart undoes ' +
    'it, reports it once, and the next install works',
  async (t) => {
    if (!(await requireLxc(t))) return;
    const { dir, cleanup } = tempDir('cpe-lxc-kill-');
    // 3,000 files: unpacking and shifting them takes long enough to be interrupted.
    const many = Array.from({ length: 3000 }, (_, i) => ({ name: `files/f${i}`, data: `${i}`.repeat(50) }));
    const files = { 'big.tgz': tgz('big', '1', many) };
    const slow = await serveFiles(files, { chunkBytes: 4096, pauseMs: 50 });
    const fast = await serveFiles(files);
    const stateDir = join(dir, 'state');
    let engine = new Engine({ stateDir, logger: silentLogger, shutdownGraceMs: 1000 });
    await engine.start();
    const ee = await engine.createEE({
      name: 'apps',
      enabled: true,
      memoryKiB: -1,
      cpuPercent: -1,
      diskKiB: 128 * 1024,
    });
    engine.detach();
    t.after(async () => {
      await engine.stopAll();
      await lxcHost(engine).destroy(ee.container!);
      await slow.close();
      await fast.close();
      cleanup();
    });
    const duDir = lxcHost(engine).duDir(ee.container!);

    for (const [moment, url, ready] of [
      [
        'download',
        slow.url('big.tgz'),
        () => readdirSync(duDir).some((f) => f.startsWith('.staging-') && existsSync(join(duDir, f, 'package'))),
      ],
      [
        'unpack',
        fast.url('big.tgz'),
        () => readdirSync(duDir).some((f) => f.startsWith('.staging-') && existsSync(join(duDir, f, 'root', 'files'))),
      ],
    ] as const) {
      const child = spawn(
        process.execPath,
        [join(repoRoot, 'dist/test/fixtures/engine-install.js'), stateDir, ee.id, url],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
      });
      const exited = new Promise((r) => child.once('exit', r));
      await waitFor(() => {
        try {
          return ready();
        } catch {
          return false;
        }
      }, 30_000);
      child.kill('SIGKILL');
      await exited;
      assert.ok(!out.includes('fault'), `${moment}: the install was cut short (${out.trim()})`);

      engine = new Engine({ stateDir, logger: silentLogger, shutdownGraceMs: 1000 });
      const results: { fault?: { message: string } | undefined; requestTag: string }[] = [];
      engine.on('result', (r) => results.push(r));
      await engine.start();
      engine.reportRecovered();
      assert.deepEqual(
        results.map((r) => [r.requestTag, r.fault?.message]),
        [['killed', 'interrupted by an agent restart']],
        `${moment}: reported once, as failed`,
      );
      assert.equal(engine.deploymentUnits().length, 0, `${moment}: nothing half-installed`);
      assert.deepEqual(
        readdirSync(duDir).filter((f) => f !== '.appdata'),
        [],
        `${moment}: no staging or package left`,
      );
      assert.equal(await lxcHost(engine).state(ee.container!), 'RUNNING');
      engine.detach();
    }

    engine = new Engine({ stateDir, logger: silentLogger, shutdownGraceMs: 1000 });
    await engine.start();
    const r = await engine.install({ url: fast.url('big.tgz'), ee: ee.id, requestTag: 'again' });
    assert.equal(r.fault, undefined, r.fault?.message);
    await waitFor(() => engine.unitState(r.euids[0]!)?.status === 'Active');
    assert.equal(lstatSync(join(engine.du(r.duid!)!.root, 'files', 'f2999')).uid, ee.ids!.base);
  },
);
