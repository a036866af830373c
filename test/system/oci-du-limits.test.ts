// A DU's own memory and CPU limits (InstallDU Resources.*) in an OCI EE: a cgroup of its own below the EE's
// and above its containers, holding the limits for all of them; its disk limit a file system of that size
// as their data directory; gone with the DU.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { CGROUP_PARENT, duCgroupName } from '../../src/engine/backends/oci/cgroup.js';
import { Engine } from '../../src/engine/engine.js';
import { isMounted } from '../../src/engine/mounts.js';
import { silentLogger } from '../../src/util/logger.js';
import { missing, tempDir, waitFor } from '../helpers.js';
import { serveFiles } from '../http-files.js';
import { busyboxPackage, requireRunc } from './oci.js';

test("an OCI DU's Resources limits hold over its containers: a cgroup of its own, a disk of its own", async (t) => {
  if (!(await requireRunc(t))) return;
  if (!existsSync('/sys/fs/cgroup/memory')) return missing(t, 'the cgroup v1 memory hierarchy this test reads');
  const { dir, cleanup } = tempDir('cpe-oci-limits-');
  const loop =
    '#!/bin/sh\ndd if=/dev/zero of="$CPE_DU_DATA/fill-$$" bs=1024 count=4096 2>/dev/null\necho "dd=$?"\n' +
    'rm -f "$CPE_DU_DATA/fill-$$"\ntrap "exit 0" TERM\nwhile true; do sleep 0.2; done\n';
  const http = await serveFiles({
    'app.tgz': busyboxPackage(
      'limited',
      [
        { name: 'a', command: 'bin/loop.sh' },
        { name: 'b', command: 'bin/loop.sh' },
      ],
      { 'bin/loop.sh': loop },
    ),
  });
  const engine = new Engine({ stateDir: join(dir, 'state'), logger: silentLogger, shutdownGraceMs: 1000 });
  await engine.start();
  const ee = await engine.createEE({
    name: 'oci',
    execEnvClass: 'OCI',
    enabled: true,
    memoryKiB: 128 * 1024,
    cpuPercent: -1,
    diskKiB: 32 * 1024,
  });
  t.after(async () => {
    await engine.removeEE(ee.id, true).catch(() => undefined);
    await http.close();
    cleanup();
  });
  const r = await engine.install({
    url: http.url('app.tgz'),
    ee: ee.id,
    requestTag: 'limits',
    settings: { resources: { memoryKiB: 32 * 1024, cpuPercent: 20, diskKiB: 2048 } },
  });
  assert.equal(r.fault, undefined, r.fault?.message);
  for (const euid of r.euids) await waitFor(() => engine.unitState(euid)?.status === 'Active');
  const duCgroup = join('/sys/fs/cgroup/memory', CGROUP_PARENT, ee.id, duCgroupName(r.duid!));
  assert.equal(Number(readFileSync(join(duCgroup, 'memory.limit_in_bytes'), 'utf8')), 32 * 1024 * 1024);
  const cpu = join('/sys/fs/cgroup/cpu', CGROUP_PARENT, ee.id, duCgroupName(r.duid!), 'cpu.cfs_quota_us');
  assert.equal(Number(readFileSync(cpu, 'utf8')), 20_000);
  // Both containers are below it (its limit holds for the DU as a whole).
  for (const euid of r.euids) {
    const procs = join(duCgroup, euid, 'cgroup.procs');
    await waitFor(() => existsSync(procs) && readFileSync(procs, 'utf8').trim() !== '', 5000);
  }
  // Its own disk of 2 MiB is its containers' data directory: 4 MiB do not fit.
  const data = engine.dataDir(engine.du(r.duid!)!.uuid, ee.id);
  assert.ok(isMounted(data));
  for (const euid of r.euids) await waitFor(() => /dd=[1-9]/.test(engine.unitLog(euid)), 10_000);
  const u = await engine.uninstall(r.duid!, 'rm');
  assert.equal(u.fault, undefined);
  assert.ok(!isMounted(data) && !existsSync(data), "the DU's disk and data go with it");
  assert.equal(existsSync(duCgroup), false, "the DU's cgroup goes with it");
});
