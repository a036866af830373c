// A DU's own disk (Resources.AllocatedDiskSpace) at run time: its data directory is a file system of that
// size, so its services get ENOSPC at the limit; Update grows, shrinks, adds and takes it away with the data
// kept; a reboot mounts it again; Uninstall removes it, or keeps it mounted with retained data. Real loop
// mounts of real ext4 images, a real unit writing as the DU's own user.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statfsSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DuDisks } from '../../src/engine/du-disk.js';
import { Engine } from '../../src/engine/engine.js';
import { EngineCode, EngineError } from '../../src/engine/errors.js';
import { isMounted } from '../../src/engine/mounts.js';
import type { DURecord } from '../../src/engine/types.js';
import { silentLogger } from '../../src/util/logger.js';
import { requireRoot, tempDir, waitFor } from '../helpers.js';
import { manifest, tarGz } from './tar-builder.js';

// Writes a file it keeps, then tries to fill twice its allowance, says how that went, and stays.
const FILLER = `#!/bin/sh
[ -e "$CPE_DU_DATA/keep" ] || echo kept > "$CPE_DU_DATA/keep"
dd if=/dev/zero of="$CPE_DU_DATA/fill" bs=1024 count=$FILL 2>/dev/null
rc=$?
# Said only once the fill is gone: a test that sees it measures the disk without it.
rm -f "$CPE_DU_DATA/fill"
echo "dd=$rc"
trap 'exit 0' TERM
while true; do sleep 0.1; done
`;

function writePkg(dir: string, name: string, fillKiB: number): string {
  const file = join(dir, `${name}.tgz`);
  writeFileSync(
    file,
    tarGz([
      {
        name: 'manifest.json',
        data: manifest({ name, services: [{ name: 'svc', command: 'bin/run.sh', env: { FILL: String(fillKiB) } }] }),
      },
      { name: 'bin/run.sh', data: FILLER, mode: 0o755 },
    ]),
  );
  return `file://${file}`;
}

const resources = (diskKiB: number) => ({ resources: { diskKiB, memoryKiB: -1, cpuPercent: -1 } });
// What its services can write on an empty disk, and the disk's size.
const freeKiB = (dir: string) => {
  const s = statfsSync(dir);
  return (s.bavail * s.bsize) / 1024;
};
const sizeKiB = (dir: string) => {
  const s = statfsSync(dir);
  return (s.blocks * s.bsize) / 1024;
};

async function setup(t: { after(fn: () => Promise<void>): void }) {
  const { dir, cleanup } = tempDir('cpe-du-disk-');
  const opts = { stateDir: join(dir, 'state'), logger: silentLogger, shutdownGraceMs: 2000 };
  const box = { engine: new Engine(opts) };
  box.engine.setFileUrlDirectory(dir);
  t.after(async () => {
    await box.engine.factoryReset().catch(() => undefined);
    box.engine.detach();
    cleanup();
  });
  await box.engine.start();
  return { box, dir, opts };
}

test('AllocatedDiskSpace: the data directory is a disk of that size; Update changes it, data kept', async (t) => {
  if (!requireRoot(t, 'loop mounts')) return;
  const { box, dir } = await setup(t);
  const { engine } = box;
  const r = await engine.install({
    url: writePkg(dir, 'filler', 4096),
    ee: 'native',
    requestTag: 'disk',
    settings: resources(2048),
  });
  assert.equal(r.fault, undefined, r.fault?.message);
  const euid = r.euids[0]!;
  const data = engine.dataDir(engine.du(r.duid!)!.uuid, 'native');
  await waitFor(() => engine.unitLog(euid).includes('dd='));
  assert.match(engine.unitLog(euid), /dd=[1-9]/, 'writing twice the allowance failed');
  assert.ok(isMounted(data), 'the data directory is a mount of its own');
  const free = freeKiB(data) + 1; // less "keep"
  assert.ok(free >= 2048 && free <= 2048 * 1.01 + 64, `a disk giving ${free} KiB`);
  assert.equal(statSync(data).uid, engine.du(r.duid!)!.user!.uid, "the disk's root is the DU user's");
  assert.equal(statSync(data).mode & 0o777, 0o700);
  assert.equal(readFileSync(join(data, 'keep'), 'utf8'), 'kept\n');

  // Bigger: the unit's 4 MiB now fit; the data stays.
  const grown = await engine.update(r.duid!, { requestTag: 'grow', retainData: true, settings: resources(8192) });
  assert.equal(grown.fault, undefined, grown.fault?.message);
  assert.ok(freeKiB(data) >= 8190, `grown to give ${freeKiB(data)} KiB`);
  await waitFor(() => engine.unitLog(euid).includes('dd=0'));
  assert.equal(readFileSync(join(data, 'keep'), 'utf8'), 'kept\n');

  // Smaller than what is stored: refused, and the DU stays as it was.
  const before = engine.unitDiskKiB(euid);
  writeFileSync(join(data, 'big'), Buffer.alloc(6 * 1024 * 1024, 1));
  // ExecutionUnit.DiskSpaceInUse: its package and what its data takes.
  const inUse = engine.unitDiskKiB(euid) - before;
  assert.ok(inUse >= 6144 && inUse < 6144 + 256, `DiskSpaceInUse grew by ${inUse} KiB`);
  const small = await engine.update(r.duid!, { requestTag: 'shrink', retainData: true, settings: resources(2048) });
  assert.equal(small.fault?.code, EngineCode.ResourcesExceeded, small.fault?.message);
  assert.ok(isMounted(data) && sizeKiB(data) >= 8192, 'still on its 8 MiB disk');
  assert.equal(statSync(join(data, 'big')).size, 6 * 1024 * 1024);

  // No allowance any more: the data moves back into a plain directory, the image goes.
  const none = await engine.update(r.duid!, { requestTag: 'none', retainData: true, settings: resources(-1) });
  assert.equal(none.fault, undefined, none.fault?.message);
  assert.ok(!isMounted(data), 'no mount over the data directory');
  assert.equal(readFileSync(join(data, 'keep'), 'utf8'), 'kept\n');
  assert.equal(statSync(join(data, 'big')).size, 6 * 1024 * 1024);
  const img = join(dir, 'state', 'engine', 'du-disks', 'native');
  assert.deepEqual(existsSync(img) ? readdirSync(img) : [], [], 'no image left for the DU');

  // An allowance again: the data moves onto a new disk; one it does not fit on is refused, data kept.
  const tight = await engine.update(r.duid!, { requestTag: 'tight', retainData: true, settings: resources(1024) });
  assert.equal(tight.fault?.code, EngineCode.ResourcesExceeded, tight.fault?.message);
  assert.ok(!isMounted(data));
  assert.equal(statSync(join(data, 'big')).size, 6 * 1024 * 1024);
  const again = await engine.update(r.duid!, { requestTag: 'again', retainData: true, settings: resources(16384) });
  assert.equal(again.fault, undefined, again.fault?.message);
  assert.ok(isMounted(data));
  assert.ok(sizeKiB(data) >= 16384, `a disk of ${sizeKiB(data)} KiB`);
  assert.equal(readFileSync(join(data, 'keep'), 'utf8'), 'kept\n');
  assert.equal(statSync(join(data, 'big')).size, 6 * 1024 * 1024);

  // Uninstall: nothing mounted, no image, no data.
  const un = await engine.uninstall(r.duid!, 'un');
  assert.equal(un.fault, undefined);
  assert.ok(!isMounted(data) && !existsSync(data));
  assert.ok(!existsSync(join(img, `${engine.du(r.duid!)?.uuid ?? ''}.img`)));
  assert.ok(!readFileSync('/proc/mounts', 'utf8').includes(dir), 'no mount left under the state directory');
});

test('a DU disk is mounted again after a reboot; retained data keeps its disk until the next install', async (t) => {
  if (!requireRoot(t, 'loop mounts')) return;
  const { box, dir, opts } = await setup(t);
  const url = writePkg(dir, 'keeper', 16);
  const r = await box.engine.install({ url, ee: 'native', requestTag: 'a', settings: resources(2048) });
  assert.equal(r.fault, undefined, r.fault?.message);
  const uuid = box.engine.du(r.duid!)!.uuid;
  const data = box.engine.dataDir(uuid, 'native');
  await waitFor(() => box.engine.unitLog(r.euids[0]!).includes('dd=0'));

  // A reboot: the units and the mounts go; a new engine mounts the disk again before the unit starts.
  const reboot = async () => {
    await box.engine.stopAll();
    box.engine.detach();
    for (const m of readFileSync('/proc/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[1] ?? ''))
      if (m.startsWith(dir)) execFileSync('umount', [m]);
    assert.ok(!isMounted(data));
    box.engine = new Engine(opts);
    box.engine.setFileUrlDirectory(dir);
    await box.engine.start();
  };
  await reboot();
  assert.ok(isMounted(data), 'mounted again at start');
  assert.equal(readFileSync(join(data, 'keep'), 'utf8'), 'kept\n');

  // Uninstall retaining the data: it stays on its disk, mounted, and after a reboot too.
  assert.equal((await box.engine.uninstall(r.duid!, 'keep', true)).fault, undefined);
  assert.ok(isMounted(data));
  await reboot();
  assert.ok(isMounted(data), 'retained data mounted again at start');
  assert.equal(readFileSync(join(data, 'keep'), 'utf8'), 'kept\n');

  // Installed again without an allowance: the data is taken back into a plain directory.
  const back = await box.engine.install({ url, ee: 'native', requestTag: 'b' });
  assert.equal(back.fault, undefined, back.fault?.message);
  assert.equal(box.engine.du(back.duid!)!.uuid, uuid);
  assert.ok(!isMounted(data));
  assert.equal(readFileSync(join(data, 'keep'), 'utf8'), 'kept\n');
});

test('DuDisks: a link planted as the data directory is refused; nothing is mounted where it points', async (t) => {
  if (!requireRoot(t, 'loop mounts')) return;
  const { dir, cleanup } = tempDir('cpe-du-disk-link-');
  t.after(cleanup);
  const target = join(dir, 'host-dir');
  mkdirSync(target);
  const data = join(dir, 'data');
  symlinkSync(target, data);
  const disks = new DuDisks(join(dir, 'disks'), {
    imagesDir: () => undefined,
    dataDir: () => data,
    owner: () => ({ user: { uid: 0, gid: 0 } }),
    rootIds: () => ({ uid: 0, gid: 0 }),
  });
  const du = { ee: 'x', uuid: 'u', manifest: { name: 'app' }, settings: resources(1024) } as unknown as DURecord;
  await assert.rejects(disks.apply(du), (e: unknown) => e instanceof EngineError && /not a directory/.test(e.message));
  assert.ok(!isMounted(target) && !isMounted(data));
  assert.ok(!readFileSync('/proc/mounts', 'utf8').includes(dir));
});
