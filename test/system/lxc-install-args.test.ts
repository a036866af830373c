// InstallDU arguments on a real LXC EE: the DU's memory limit as a child cgroup of the container's, its own
// disk (AllocatedDiskSpace) mounted on the host and reaching the running container, and a
// HostObject bound from the EE's allow-list, read-only, at its Destination inside the container (for root of
// the container too, installed into the running EE and after the EE's restart, nosuid and nodev held); both
// gone with the DU.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Engine } from '../../src/engine/engine.js';
import { isMounted } from '../../src/engine/mounts.js';
import { silentLogger } from '../../src/util/logger.js';
import { manifest, tarGz } from '../engine/tar-builder.js';
import { tempDir, waitFor } from '../helpers.js';
import { lxcHost, requireLxc } from './lxc.js';

const SERVICE = `#!/bin/sh
cat /mnt/host/hello.txt
echo "runs as uid $(id -u)"
if echo x > /mnt/host/written 2>/dev/null; then echo "host object writable"; else echo "host object read-only"; fi
grep "appdata/host-" /proc/self/mountinfo | sed 's/^/mountinfo: /'
dd if=/dev/zero of="$CPE_DU_DATA/fill" bs=1024 count=4096 2>/dev/null
echo "dd=$? $(ls -ld "$CPE_DU_DATA" | cut -c1-10)"
rm -f "$CPE_DU_DATA/fill"
echo "round done"
trap "exit 0" TERM
while true; do sleep 0.2; done
`;

test('LXC EE: DU memory limit as a child cgroup, its own disk inside, a HostObject bound read-only', async (t) => {
  if (!(await requireLxc(t))) return;
  const { dir, cleanup } = tempDir('cpe-lxc-args-');
  const share = join(dir, 'share');
  // Writable by anyone, root of the container included: only the mount's read-only flag may stop the write.
  mkdirSync(share, { mode: 0o777 });
  chmodSync(share, 0o777);
  writeFileSync(join(share, 'hello.txt'), 'hello from the host\n');
  writeFileSync(
    join(dir, 'app.tgz'),
    tarGz([
      { name: 'manifest.json', data: manifest({ name: 'args', services: [{ name: 'svc', command: 'bin/run.sh' }] }) },
      { name: 'bin/run.sh', data: SERVICE, mode: 0o755 },
    ]),
  );
  const engine = new Engine({ stateDir: join(dir, 'state'), logger: silentLogger, shutdownGraceMs: 3000 });
  engine.setFileUrlDirectory(dir);
  await engine.start();
  const ee = await engine.createEE({
    name: 'args',
    enabled: true,
    memoryKiB: 128 * 1024,
    cpuPercent: 50,
    diskKiB: 64 * 1024,
  });
  t.after(async () => {
    await engine.stopAll();
    await lxcHost(engine).destroy(ee.container!);
    cleanup();
  });
  const r = await engine.install({
    url: `file://${dir}/app.tgz`,
    ee: ee.id,
    requestTag: 'args',
    settings: {
      shutdownDelayS: 1,
      resources: { diskKiB: 2048, memoryKiB: 32 * 1024, cpuPercent: 10 },
      hostObjects: [{ source: share, destination: '/mnt/host', options: '', readOnly: true }],
    },
  });
  assert.equal(r.fault, undefined, r.fault?.message);
  const euid = r.euids[0]!;
  await waitFor(() => engine.unitLog(euid).includes('round done'), 15_000);
  const log = engine.unitLog(euid);
  assert.match(log, /hello from the host/, 'the host file is seen at its Destination');
  assertReadOnlyInside(log, share, 'installed into the running EE');
  // Its own disk of 2 MiB, mounted on the host after the container started, reached it: 4 MiB do not fit.
  const data = engine.dataDir(engine.du(r.duid!)!.uuid, ee.id);
  assert.ok(isMounted(data), "the DU's data directory is its own disk on the host");
  // Its image lies in the EE's own disk, the host's alone: written there, it counts against the EE's.
  const images = lxcHost(engine).disksDir(ee.container!);
  assert.ok(existsSync(join(images, `${engine.du(r.duid!)!.uuid}.img`)));
  assert.equal(statSync(images).uid, 0);
  assert.equal(statSync(images).mode & 0o777, 0o700);
  assert.match(log, /dd=[1-9]\d* drwx------/, 'ENOSPC inside the running container, in a directory private to the DU');

  // The service runs inside the container's cgroup, in the DU's child with the DU's limit.
  const pid = engine.unitState(euid)!.pid!;
  const inDuCgroup = () => {
    const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    return [String(pid), ...kids].map((p) => {
      const line = readFileSync(`/proc/${p}/cgroup`, 'utf8')
        .split('\n')
        .find((l) => l.split(':')[1]?.split(',').includes('memory') || l.startsWith('0::'));
      return line?.split(':')[2] ?? '';
    });
  };
  await waitFor(() => inDuCgroup().some((p) => p.includes(ee.container!) && p.endsWith(`/cpe-du-${r.duid}`)), 10_000);
  const cg = inDuCgroup().find((p) => p.endsWith(`/cpe-du-${r.duid}`))!;
  const base = readFileSync('/proc/self/cgroup', 'utf8').includes(':memory:')
    ? '/sys/fs/cgroup/memory'
    : '/sys/fs/cgroup';
  const limitFile = ['memory.limit_in_bytes', 'memory.max'].map((f) => join(base, cg, f));
  const limit = limitFile.map((f) => {
    try {
      return readFileSync(f, 'utf8').trim();
    } catch {
      return '';
    }
  });
  assert.ok(limit.includes(String(32 * 1024 * 1024)), `the DU limit in ${cg}: ${limit}`);

  // The EE started afresh with the host object in place: its copy of du/ holds the same flags.
  await engine.restartEE(ee.id, 'test');
  await waitFor(() => engine.unitLog(euid).split('round done').length > 2, 30_000);
  const again = engine.unitLog(euid).split('round done').at(-2)!;
  assertReadOnlyInside(again, share, 'after the EE restarted');
  assert.match(again, /dd=[1-9]/, 'its own disk in the container started afresh');

  const bound = lxcHost(engine).duDir(ee.container!);
  const un = await engine.uninstall(r.duid!, 'rm');
  assert.equal(un.fault, undefined);
  assert.ok(
    !readFileSync('/proc/mounts', 'utf8').includes(`host-${r.duid}`),
    'the host object is unmounted with the DU',
  );
  assert.ok(!isMounted(data) && !existsSync(data), "the DU's disk and data are gone");
  assert.ok(!isMounted(join(bound, '.appdata', `host-${r.duid}-1`)));
});

/** What the service saw of its read-only host object, as root of the container: no write, ro,nosuid,nodev. */
function assertReadOnlyInside(log: string, share: string, when: string): void {
  assert.match(log, /runs as uid 0\n/, `the write is tried as root of the container (${when})`);
  assert.match(log, /host object read-only/, `no write inside the container (${when})`);
  assert.ok(!existsSync(join(share, 'written')), `nothing written to the host path (${when})`);
  const lines = log.split('\n').filter((l) => l.startsWith('mountinfo: '));
  assert.ok(lines.length > 0, `the bind is seen in the container's mountinfo (${when})`);
  for (const l of lines) {
    const opts = (l.split(' ')[6] ?? '').split(',');
    for (const o of ['ro', 'nosuid', 'nodev']) assert.ok(opts.includes(o), `${o} inside (${when}): ${l}`);
  }
}
