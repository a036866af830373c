// Hostile deployment units against the engine's unprivileged LXC execution environments, and the
// native EE's users. Each attack is a DU whose service does what a malicious app would: make and
// mount the host's disk, read host files through /proc, write outside its rootfs, call kernel
// interfaces (modules, keyring, bpf, perf, userfaultfd, handle opens), gain root through a set-uid
// binary, fork-bomb, replace /bin/sh under the agent's own lxc-attach, and do all of that again as a
// privileged DU. The host owns two canaries in the test's temp dir: a secret only root may read and a
// file that must stay as it is. After every attack the secret is in no service log and nowhere in the
// container, both files are unchanged and nothing new lies beside them; and the attack's own output
// shows the refusal the container saw (so a script that silently did not run fails the test).
// Subtests 10 and 11 are attacks on the agent's own work in trees the container writes (a planted
// link, a raced recursive delete); both got through once.

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { execa } from 'execa';
import { type DuResult, Engine } from '../../src/engine/engine.js';
import { EngineCode } from '../../src/engine/errors.js';
import { duUuid } from '../../src/engine/package/uuid.js';
import type { EERecord } from '../../src/engine/records.js';
import { silentLogger } from '../../src/util/logger.js';
import { type Entry, manifest, tarGz } from '../engine/tar-builder.js';
import { requireRoot, tempDir, waitFor } from '../helpers.js';
import { type FileServer, serveFiles } from '../http-files.js';
import { lxcHost, requireLxc } from '../system/lxc.js';
import { buildProbe } from './probe.js';

// ---- the host's canaries --------------------------------------------------------------------

interface Canaries {
  dir: string;
  secret: string;
  secretText: string;
  keep: string;
  keepText: string;
  keepMtimeMs: number;
}

/** A directory anyone may enter (so only the secret's own mode protects it) with the two canaries. */
function makeCanaries(parent: string): Canaries {
  const dir = join(parent, 'host');
  mkdirSync(dir);
  chmodSync(dir, 0o755);
  const secret = join(dir, 'secret');
  const secretText = `cpe-secret-${randomBytes(24).toString('hex')}`;
  writeFileSync(secret, secretText);
  chmodSync(secret, 0o600);
  const keep = join(dir, 'keep');
  const keepText = `keep-${randomBytes(24).toString('hex')}\n`;
  writeFileSync(keep, keepText);
  chmodSync(keep, 0o644);
  return { dir, secret, secretText, keep, keepText, keepMtimeMs: statSync(keep).mtimeMs };
}

/**
 * The host side of every attack: both canaries as they were, nothing new beside them, and the secret
 * in none of the logs and in no file of the containers (their config, base and writable layers, disk
 * images, packages and volumes; grep -r follows no link).
 */
function assertCanaries(c: Canaries, logs: readonly string[], containerDirs: readonly string[] = []): void {
  assert.equal(readFileSync(c.secret, 'utf8'), c.secretText, 'the secret is unchanged');
  assert.equal(statSync(c.secret).mode & 0o7777, 0o600, 'the secret is still root-only');
  assert.equal(readFileSync(c.keep, 'utf8'), c.keepText, 'the kept file is unchanged');
  assert.equal(statSync(c.keep).mtimeMs, c.keepMtimeMs, 'the kept file was not written');
  assert.deepEqual(readdirSync(c.dir).sort(), ['keep', 'secret'], 'nothing new beside the canaries');
  for (const log of logs) assert.ok(!log.includes(c.secretText), `the secret is in a service log:\n${log}`);
  if (containerDirs.length) {
    const g = spawnSync('grep', ['-rlsF', '--', c.secretText, ...containerDirs], { encoding: 'utf8' });
    assert.equal(g.stdout, '', `the secret is inside a container: ${g.stdout}`);
    assert.ok(g.status === 1 || g.status === 2, `grep ran (${g.status})`);
  }
}

// ---- what the attacks print -----------------------------------------------------------------

/**
 * Every attack script starts with this: `try LABEL CMD...` runs CMD and prints one line with its exit
 * code and everything it said, which the test finds by its label. Scripts end with ATTACK-DONE.
 */
const PRELUDE = `#!/bin/sh
try() { l=$1; shift; o=$("$@" 2>&1); r=$?; printf 'TRY %s rc=%s: %s\\n' "$l" "$r" "$(printf %s "$o" | tr '\\n' ' ')"; }
`;

function tried(log: string, label: string): { rc: number; out: string } {
  const m = new RegExp(`^TRY ${label} rc=(\\d+): (.*)$`, 'm').exec(log);
  assert.ok(m, `the attack '${label}' ran and reported (log:\n${log})`);
  return { rc: Number(m[1]), out: m[2]! };
}

/** The attack ran, failed, and said why in the container's words. */
function refused(log: string, label: string, why: RegExp): string {
  const r = tried(log, label);
  assert.notEqual(r.rc, 0, `${label} must fail, and it succeeded: ${r.out}`);
  assert.match(r.out, why, `${label} failed for the expected reason`);
  return r.out;
}

/** A value line the script printed (`KEY value`). */
function line(log: string, key: string): string {
  const m = new RegExp(`^${key}[ :][ \\t]*(.*)$`, 'm').exec(log);
  assert.ok(m, `the script printed ${key} (log:\n${log})`);
  return m[1]!.trim();
}

const hasCap = (hex: string, bit: number): boolean => ((BigInt(`0x${hex}`) >> BigInt(bit)) & 1n) === 1n;
/** Capabilities the EE drops (bit numbers): none may be in a confined service's bounding set. */
const DROPPED = {
  dac_read_search: 2,
  net_admin: 12,
  sys_module: 16,
  sys_rawio: 17,
  sys_ptrace: 19,
  sys_admin: 21,
  sys_boot: 22,
  sys_resource: 24,
  sys_time: 25,
  mknod: 27,
  audit_write: 29,
  audit_control: 30,
  setfcap: 31,
  mac_override: 32,
  mac_admin: 33,
  syslog: 34,
} as const;
const DENIED = [
  'init_module',
  'finit_module',
  'delete_module',
  'kexec_load',
  'keyctl',
  'add_key',
  'request_key',
  'bpf',
  'perf_event_open',
  'userfaultfd',
  'open_by_handle_at',
  'mount',
  'umount2',
] as const;

function assertProbeDenied(log: string): void {
  assert.match(log, /^PROBE-DONE$/m, `the probe ran to its end (log:\n${log})`);
  for (const s of DENIED) assert.equal(line(log, `SYSCALL ${s}`), 'EPERM', `${s} is refused with EPERM`);
}

/**
 * The block device the host's root file system is on (a real disk where it is a virtual fs, as in some CI containers).
 */
function hostDisk(): { major: number; minor: number; name: string } {
  const root = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' '))
    .find((f) => f[4] === '/');
  let [major, minor] = (root?.[2] ?? '0:0').split(':').map(Number) as [number, number];
  if (major === 0) {
    const first = readFileSync('/proc/partitions', 'utf8')
      .split('\n')
      .slice(2)
      .map((l) => l.trim().split(/\s+/))
      .find((f) => f.length === 4);
    [major, minor] = first ? [Number(first[0]), Number(first[1])] : [7, 0];
  }
  let name = 'vda';
  try {
    name = /^DEVNAME=(.*)$/m.exec(readFileSync(`/sys/dev/block/${major}:${minor}/uevent`, 'utf8'))?.[1] ?? name;
  } catch {
    /* a guess will do */
  }
  return { major, minor, name };
}

/** Host processes whose command line holds a string, with their Uid line (real, effective, saved, fs). */
function hostProcesses(marker: string): { pid: number; uids: number[] }[] {
  const found: { pid: number; uids: number[] }[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    try {
      if (!readFileSync(`/proc/${p}/cmdline`, 'latin1').includes(marker)) continue;
      const uid = /^Uid:\s+(.*)$/m.exec(readFileSync(`/proc/${p}/status`, 'utf8'))![1]!;
      found.push({ pid: Number(p), uids: uid.trim().split(/\s+/).map(Number) });
    } catch {
      /* it ended meanwhile */
    }
  }
  return found;
}

const mountsUnder = (dir: string): string[] =>
  readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m.startsWith(dir));

// ---- DUs ------------------------------------------------------------------------------------

interface Service {
  name: string;
  script: string;
  user?: string;
}

/** Builds a DU (every service started by hand, never restarted) and serves it; returns its URL. */
function duPackage(
  http: FileServer,
  files: Record<string, Buffer>,
  name: string,
  services: Service[],
  env: Record<string, string>,
  extra: Entry[] = [],
): string {
  const file = `${name}.tgz`;
  files[file] = tarGz([
    {
      name: 'manifest.json',
      data: manifest({
        name,
        services: services.map((s) => ({
          name: s.name,
          command: `bin/${s.name}.sh`,
          autostart: false,
          restart: 'never',
          env,
          ...(s.user ? { user: s.user } : {}),
        })),
      }),
    },
    ...services.map((s) => ({
      name: `bin/${s.name}.sh`,
      data: `${PRELUDE}${s.script}\necho ATTACK-DONE\n`,
      mode: 0o755,
    })),
    ...extra,
  ]);
  return http.url(file);
}

const euidOf = (r: DuResult, service: string): string => r.euids.find((e) => e.endsWith(`-${service}`))!;

// ---------------------------------------------------------------------------------------------

test(
  'hostile DUs in an unprivileged LXC EE: no disk, no host file, no kernel interface, no root, no fork bomb ' +
    'and no agent-run file gets them out',
  async (t) => {
    if (!(await requireLxc(t))) return;
    const { dir, cleanup } = tempDir('cpe-hostile-');
    const probe = buildProbe(t, dir);
    if (!probe) {
      cleanup();
      return;
    }
    const canary = makeCanaries(dir);
    const disk = hostDisk();
    const files: Record<string, Buffer> = {};
    const http = await serveFiles(files);
    const engine = new Engine({
      stateDir: join(dir, 'state'),
      logger: silentLogger,
      shutdownGraceMs: 2000,
      pidsMax: 64,
    });
    await engine.start();
    const lxcpath = lxcHost(engine).lxcpath;
    const ees: EERecord[] = [];
    t.after(async () => {
      // The containers go first (a fork bomb or a replaced /bin/sh must not outlive the test), then
      // everything the engine made: DUs, volumes and their mounts, containers.
      let left: string[] = [];
      let procs: unknown[] = [];
      try {
        for (const e of ees) await execa('lxc-stop', ['-P', lxcpath, '-n', e.container!, '-k'], { reject: false });
        await engine.stopAll();
        await engine.factoryReset();
      } finally {
        await http.close();
        left = mountsUnder(dir);
        procs = ees.flatMap((e) => hostProcesses(e.container!));
        if (!left.length) cleanup(); // never rm -r across a mount
      }
      assert.deepEqual(left, [], 'nothing stays mounted');
      assert.deepEqual(procs, [], 'no process of the containers is left');
    });
    const ee = await engine.createEE({
      name: 'hostile',
      enabled: true,
      memoryKiB: 128 * 1024,
      cpuPercent: -1,
      diskKiB: 64 * 1024,
    });
    ees.push(ee);
    const ids = ee.ids!;
    assert.ok(ids.base > 0, 'the EE has an id range of its own');
    const env = {
      SECRET: canary.secret,
      KEEP: canary.keep,
      HOSTPID: String(process.pid),
      MAJ: String(disk.major),
      MIN: String(disk.minor),
      DEVNAME: disk.name,
    };
    const probeEntry: Entry = { name: 'bin/probe', data: readFileSync(probe), mode: 0o755 };
    const allLogs = () => engine.deploymentUnits().flatMap((d) => d.eus.map((e) => engine.unitLog(e.euid)));
    const containerDirs = () => ees.map((e) => join(lxcpath, e.container!));
    const inside = (e: EERecord, ...cmd: string[]) =>
      execa('lxc-attach', ['-P', lxcpath, '-n', e.container!, '--clear-env', '--', ...cmd], { reject: false });
    /** Installs a DU into an EE; it must succeed. */
    const install = async (url: string, eeId = ee.id, extra: { privileged?: boolean } = {}): Promise<DuResult> => {
      const r = await engine.install({ url, ee: eeId, requestTag: url, ...extra });
      assert.equal(r.fault, undefined, r.fault?.message);
      return r;
    };
    /** Starts a service and waits for it to end; its log must show it ran to its end. */
    const run = async (euid: string, ms = 20_000): Promise<string> => {
      await engine.setRequestedState(euid, 'Active');
      await waitFor(() => engine.unitState(euid)?.status === 'Idle', ms);
      const log = engine.unitLog(euid);
      assert.match(log, /^ATTACK-DONE$/m, `the attack ran to its end:\n${log}`);
      return log;
    };
    const attack = async (name: string, script: string, extra: Entry[] = [], user?: string): Promise<string> => {
      const r = await install(
        duPackage(http, files, name, [{ name: 'go', script, ...(user ? { user } : {}) }], env, extra),
      );
      return run(euidOf(r, 'go'));
    };

    await t.test(
      '1. the host disk: mknod and mount of the host root device are refused, no raw byte is read, nothing is mounted',
      async () => {
        const before = readFileSync('/proc/self/mountinfo', 'utf8');
        const log = await attack(
          'rawdisk',
          `
try mknod-disk mknod /tmp/hostdisk b "$MAJ" "$MIN"
try mount-node mount -t ext4 /tmp/hostdisk /mnt
try mount-dev mount -t ext4 "/dev/$DEVNAME" /mnt
try mount-tmpfs mount -t tmpfs none /mnt
try read-node dd if=/tmp/hostdisk of=/tmp/raw bs=512 count=8
try read-dev dd if="/dev/$DEVNAME" of=/tmp/raw bs=512 count=8
try raw-bytes wc -c /tmp/raw
try mounted grep -c ' /mnt ' /proc/self/mountinfo
`,
        );
        refused(log, 'mknod-disk', /Operation not permitted/);
        for (const m of ['mount-node', 'mount-dev', 'mount-tmpfs'])
          refused(log, m, /permission denied|Operation not permitted/i);
        refused(log, 'read-node', /No such file or directory/);
        refused(log, 'read-dev', /No such file or directory/);
        refused(log, 'raw-bytes', /No such file or directory/);
        assert.equal(tried(log, 'mounted').out.trim(), '0', 'nothing is mounted at /mnt in the container');
        // (other agents may mount elsewhere on a shared host: only /mnt and this test's tree count)
        const was = new Set(before.split('\n'));
        const fresh = readFileSync('/proc/self/mountinfo', 'utf8')
          .split('\n')
          .filter((l) => !was.has(l))
          .map((l) => l.split(' '));
        assert.deepEqual(
          fresh.filter((f) => f[4] === '/mnt' || f[4]?.startsWith(dir)).map((f) => f.join(' ')),
          [],
          'the host has no new mount',
        );
        assertCanaries(canary, allLogs(), containerDirs());
      },
    );

    await t.test(
      '2. host files: the secret is read neither by its path nor through /proc/1/root, /proc/<host pid>/root or any ' +
        '/proc/*/root, and ps shows only the container',
      async () => {
        const log = await attack(
          'readhost',
          `
try read-path cat "$SECRET"
try read-proc1 cat "/proc/1/root$SECRET"
try read-hostpid cat "/proc/$HOSTPID/root$SECRET"
try read-hostpid-cmdline cat "/proc/$HOSTPID/cmdline"
try read-all-roots sh -c 'n=0; for p in /proc/[0-9]*; do cat "$p/root$0" >/dev/null 2>&1 && n=$((n+1)); done
  echo "read=$n"' "$SECRET"
echo "PIDS $(ls /proc | grep -E '^[0-9]+$' | tr '\\n' ' ')"
echo "INIT $(tr '\\0' ' ' < /proc/1/cmdline)"
echo PS-BEGIN
ps -o pid,user,args
echo PS-END
`,
        );
        for (const l of ['read-path', 'read-proc1', 'read-hostpid', 'read-hostpid-cmdline'])
          refused(log, l, /No such file or directory/);
        assert.equal(
          tried(log, 'read-all-roots').out.trim(),
          'read=0',
          'no process root in the container leads to the secret',
        );
        const pids = line(log, 'PIDS').split(/\s+/).map(Number);
        assert.ok(pids.length >= 2 && pids.includes(1), `the container lists its own processes: ${pids}`);
        assert.ok(
          !pids.includes(process.pid),
          `the test's own pid ${process.pid} is not visible in the container: ${pids}`,
        );
        const ps = /^PS-BEGIN\n([\s\S]*?)^PS-END$/m.exec(log)?.[1] ?? '';
        const rows = ps.trim().split('\n').slice(1);
        assert.ok(
          rows.some((r) => /\bps\b/.test(r)),
          `ps ran and listed itself:\n${ps}`,
        );
        assert.ok(
          !rows.some((r) => /\bnode\b|lxc-attach|lxc-start/.test(r)),
          `no host process in the container's ps:\n${ps}`,
        );
        const hostCount = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).length;
        assert.ok(
          rows.length < 30 && rows.length < hostCount,
          `ps shows ${rows.length} processes, the host has ${hostCount}`,
        );
        const hostInit = readFileSync('/proc/1/cmdline', 'latin1').replaceAll('\0', ' ').trim();
        assert.notEqual(line(log, 'INIT'), hostInit, "the container's pid 1 is its own init, not the host's");
        assertCanaries(canary, allLogs(), containerDirs());
      },
    );

    await t.test(
      "3. writes outside the rootfs: the host's file is neither appended nor replaced, nothing is planted beside " +
        'it; packages, /proc/sys, /sys and sysrq refuse',
      async () => {
        const corePattern = readFileSync('/proc/sys/kernel/core_pattern', 'utf8');
        const log = await attack(
          'writehost',
          `
try append-keep sh -c 'echo pwned >> "$0"' "$KEEP"
try plant-beside sh -c 'echo pwned > "$0"' "\${KEEP%/*}/planted"
try append-proc1 sh -c 'echo pwned >> "$0"' "/proc/1/root$KEEP"
try append-hostpid sh -c 'echo pwned >> "$0"' "/proc/$HOSTPID/root$KEEP"
try all-roots sh -c 'n=0; for p in /proc/[0-9]*; do { echo pwned >> "$p/root$0"; } 2>/dev/null && n=$((n+1)); done
  echo "wrote=$n"' "$KEEP"
try make-path sh -c 'mkdir -p "\${0%/*}" && echo pwned > "$0" && cat "$0"' "$KEEP"
try write-packages sh -c 'echo pwned > /opt/cpe/du/planted'
try write-proc-sys sh -c 'cat /proc/sys/kernel/core_pattern > /tmp/cp && cat /tmp/cp > /proc/sys/kernel/core_pattern'
try write-sys touch /sys/planted
try write-sysrq sh -c 'echo h > /proc/sysrq-trigger'
`,
        );
        // The host path does not exist in the container; through /proc every root is the container's own.
        for (const l of ['append-keep', 'plant-beside', 'append-proc1'])
          refused(log, l, /nonexistent directory|No such file or directory/);
        refused(log, 'append-hostpid', /nonexistent directory|No such file or directory/);
        assert.equal(tried(log, 'all-roots').out.trim(), 'wrote=0');
        // Making the path works: inside the container's own writable layer, not on the host.
        const made = tried(log, 'make-path');
        assert.equal(made.rc, 0, made.out);
        assert.equal(made.out.trim(), 'pwned');
        // (read from inside: the test, like the agent, follows no container-made path as host root)
        assert.equal(
          (await inside(ee, '/bin/busybox', 'cat', canary.keep)).stdout,
          'pwned',
          "the write landed in the container's own file system",
        );
        refused(log, 'write-packages', /Read-only file system/);
        refused(log, 'write-proc-sys', /Read-only file system/);
        refused(log, 'write-sys', /Read-only file system/);
        refused(log, 'write-sysrq', /Permission denied|Read-only file system|nonexistent directory|No such file/);
        assert.ok(!existsSync(join(lxcHost(engine).duDir(ee.container!), 'planted')));
        assert.equal(
          readFileSync('/proc/sys/kernel/core_pattern', 'utf8'),
          corePattern,
          "the host's core_pattern is unchanged",
        );
        assertCanaries(canary, allLogs(), containerDirs());
      },
    );

    await t.test(
      '4. kernel interfaces: modules, keyring, bpf, perf, userfaultfd, open_by_handle_at and mount get EPERM; ' +
        'no_new_privs, seccomp, no dangerous capability, root is not host root, no kmsg',
      async () => {
        const log = await attack(
          'kernel',
          `
./bin/probe
grep -E '^(NoNewPrivs|Seccomp|CapBnd|CapEff):' /proc/$$/status
echo "UIDMAP $(cat /proc/$$/uid_map)"
echo "GIDMAP $(cat /proc/$$/gid_map)"
echo "ME $(id -u)"
try dev-kmsg cat /dev/kmsg
try proc-kmsg timeout 2 head -c 1 /proc/kmsg
try dmesg dmesg
`,
          [probeEntry],
        );
        assertProbeDenied(log);
        assert.equal(line(log, 'NoNewPrivs'), '1');
        assert.equal(line(log, 'Seccomp'), '2', 'a seccomp filter is in force');
        const bnd = line(log, 'CapBnd');
        const eff = line(log, 'CapEff');
        assert.ok(hasCap(eff, 0), `the service is root in its EE (CapEff ${eff})`);
        for (const [name, bit] of Object.entries(DROPPED)) {
          assert.ok(!hasCap(bnd, bit), `CAP_${name.toUpperCase()} is not in the bounding set (CapBnd ${bnd})`);
          assert.ok(!hasCap(eff, bit), `CAP_${name.toUpperCase()} is not effective (CapEff ${eff})`);
        }
        assert.equal(line(log, 'ME'), '0');
        assert.equal(
          line(log, 'UIDMAP').split(/\s+/).join(' '),
          `0 ${ids.base} ${ids.size}`,
          'container root is host uid base, and only the EE range is mapped',
        );
        assert.equal(line(log, 'GIDMAP').split(/\s+/).join(' '), `0 ${ids.base} ${ids.size}`);
        refused(log, 'dev-kmsg', /No such file or directory/);
        refused(log, 'proc-kmsg', /Permission denied|Operation not permitted/);
        refused(log, 'dmesg', /Operation not permitted/);
        assertCanaries(canary, allLogs(), containerDirs());
      },
    );

    await t.test(
      '5. set-uid: a set-uid root copy of busybox and of a C program, planted by container root, give user 1000 ' +
        'nothing (no_new_privs)',
      async () => {
        const r = await install(
          duPackage(
            http,
            files,
            'setuid',
            [
              {
                name: 'plant',
                script: `
# (busybox picks its applet by name: a copy must be called busybox*)
cp /bin/busybox /tmp/busybox-suid && chmod 4755 /tmp/busybox-suid
cp ./bin/probe /tmp/suid-probe && chmod 4755 /tmp/suid-probe
echo "PLANTED $(stat -c '%A %u' /tmp/busybox-suid) $(stat -c '%A %u' /tmp/suid-probe)"
echo "ROOT-OPTS $(awk '$5 == "/" { print $6 }' /proc/self/mountinfo)"
`,
              },
              {
                name: 'use',
                user: '1000',
                script: `
echo "ME $(id -u)"
echo "BUSYBOX $(/tmp/busybox-suid id -u)"
/tmp/suid-probe ids
try su-root /tmp/busybox-suid su root -c 'id -u'
grep -E '^(NoNewPrivs|CapEff):' /proc/$$/status
`,
              },
            ],
            env,
            [probeEntry],
          ),
        );
        const plant = await run(euidOf(r, 'plant'));
        // The copies are set-uid container root, on a file system that honours set-uid: only no_new_privs stands in the
        // way.
        assert.equal(line(plant, 'PLANTED'), '-rwsr-xr-x 0 -rwsr-xr-x 0');
        assert.doesNotMatch(line(plant, 'ROOT-OPTS'), /nosuid/, "the container's root file system honours set-uid");
        const useEuid = euidOf(r, 'use');
        const log = await run(useEuid);
        assert.equal(line(log, 'ME'), '1000');
        assert.equal(line(log, 'BUSYBOX'), '1000', 'the set-uid busybox runs as the caller');
        // busybox drops set-uid for most applets by itself; the probe does not, so it is what proves no_new_privs.
        assert.equal(
          line(log, 'IDS'),
          '1000 1000 1000',
          'the set-uid probe did not become root (real, effective, saved uid)',
        );
        // busybox su sees it did not become root (without no_new_privs: a password prompt)
        refused(log, 'su-root', /must be suid/);
        assert.equal(line(log, 'NoNewPrivs'), '1');
        assert.equal(BigInt(`0x${line(log, 'CapEff')}`), 0n, 'user 1000 has no capability');
        assert.deepEqual(engine.unitUser(useEuid), {
          inside: { uid: 1000, gid: 1000 },
          host: { uid: ids.base + 1000, gid: ids.base + 1000 },
        });
        assertCanaries(canary, allLogs(), containerDirs());
      },
    );

    await t.test(
      '6. a fork bomb in its own EE is held at pids.max; the log shows failed forks; the host still starts processes',
      async () => {
        const bomb = await engine.createEE({
          name: 'bomb',
          enabled: true,
          memoryKiB: 64 * 1024,
          cpuPercent: 50,
          diskKiB: 32 * 1024,
        });
        ees.push(bomb);
        const cg = async (key: string) =>
          (await execa('lxc-cgroup', ['-P', lxcpath, '-n', bomb.container!, key])).stdout.trim();
        assert.equal(await cg('pids.max'), '64');
        // Bounded: 511 shells and 256 sleeps at most, were pids.max not there.
        const r = await install(
          duPackage(
            http,
            files,
            'forkbomb',
            [
              {
                name: 'go',
                script: `
try raise-pids sh -c 'echo max > /sys/fs/cgroup/pids/pids.max'
echo BOMB-START
b() { [ "$1" -gt 0 ] || { sleep 20; return; }; b $(($1-1)) & b $(($1-1)) & wait; }
b 8
`,
              },
            ],
            env,
          ),
          bomb.id,
        );
        const euid = euidOf(r, 'go');
        await engine.setRequestedState(euid, 'Active');
        await waitFor(() => engine.unitLog(euid).includes('BOMB-START'));
        // Forks fail at the limit and the failing subshells end, so the count swings below it: the
        // kernel's own high-water mark (pids.peak) and the count of refused forks (pids.events) tell.
        let sampled = 0;
        let slowest = 0;
        const end = Date.now() + 2000;
        while (Date.now() < end || !/can't fork/.test(engine.unitLog(euid))) {
          sampled = Math.max(sampled, Number(await cg('pids.current')));
          const t0 = Date.now();
          execFileSync('true');
          slowest = Math.max(slowest, Date.now() - t0);
          if (Date.now() > end + 10_000) break;
          await new Promise((res) => setTimeout(res, 50));
        }
        const log = engine.unitLog(euid);
        refused(log, 'raise-pids', /Permission denied|Read-only file system/);
        assert.match(log, /can't fork: Resource temporarily unavailable/, 'forks failed inside the EE');
        assert.ok(sampled <= 64, `the EE never held more than pids.max processes (sampled ${sampled})`);
        const refusedForks = Number(/^max (\d+)$/m.exec(await cg('pids.events'))?.[1]);
        assert.ok(refusedForks > 0, `the kernel refused forks at pids.max (${refusedForks})`);
        const peak = await execa('lxc-cgroup', ['-P', lxcpath, '-n', bomb.container!, 'pids.peak'], { reject: false });
        if (peak.exitCode === 0)
          assert.equal(Number(peak.stdout.trim()), 64, 'the bomb filled its EE to pids.max and no further');
        assert.ok(slowest < 2000, `the host kept starting processes (slowest ${slowest} ms)`);
        assert.equal(await cg('pids.max'), '64', 'the limit is as the engine set it');
        await execa('lxc-stop', ['-P', lxcpath, '-n', bomb.container!, '-k']);
        await waitFor(() => engine.unitState(euid)?.status === 'Idle');
        assert.equal(hostProcesses(bomb.container!).length, 0);
        assertCanaries(canary, allLogs(), containerDirs());
      },
    );

    await t.test(
      '7. a replaced /bin/sh run by the agent (volume link) runs as the container, never host root, and reaches ' +
        'nothing of the host',
      async () => {
        const marker = `cpe-fake-sh-${randomBytes(6).toString('hex')}`;
        // The fake shell: records who it is, tries the host's file, then, still itself (with the marker
        // in its command line), sleeps, and hands over to the real shell so the agent's command goes on.
        const fake = `#!/bin/busybox sh
{
  echo "CALL ARGS: $*"
  echo "UIDMAP $(cat /proc/$$/uid_map)"
  echo "UID $(id -u)"
  grep -E '^CapEff:' /proc/$$/status
  echo "WRITE $( { echo pwned >> '${canary.keep}'; } 2>&1; echo rc=$?)"
  echo "READ $(cat '${canary.secret}' 2>&1; cat '/proc/1/root${canary.secret}' 2>&1)"
} >> /root/fake-sh.log 2>&1
exec /bin/busybox sh -c 'sleep 3; exec /bin/busybox sh "$@"' ${marker} "$@"
`;
        const a = await install(
          duPackage(
            http,
            files,
            'replacer',
            [
              {
                name: 'go',
                script: `
cp ./bin/fake-sh /tmp/fake-sh && chmod 755 /tmp/fake-sh && mv -f /tmp/fake-sh /bin/sh
echo "REPLACED $(head -n 1 /bin/sh)"
`,
              },
            ],
            env,
            [{ name: 'bin/fake-sh', data: fake, mode: 0o755 }],
          ),
        );
        const log = await run(euidOf(a, 'go'));
        assert.equal(line(log, 'REPLACED'), '#!/bin/busybox sh');
        // Every process with the marker, while B's install makes the engine run /bin/sh in the container.
        const seen = new Map<number, number[]>();
        const timer = setInterval(() => {
          for (const p of hostProcesses(marker)) seen.set(p.pid, p.uids);
        }, 25);
        const b = await engine.install({
          url: duPackage(http, files, 'volumeuser', [], env),
          ee: ee.id,
          requestTag: 'b',
          appData: [{ name: 'v', capacityMiB: 4, retain: 'Forever', accessPath: '/srv/v' }],
        });
        clearInterval(timer);
        for (const p of hostProcesses(marker)) seen.set(p.pid, p.uids);
        assert.ok(seen.size >= 1, 'the fake /bin/sh ran (its marker was seen on the host)');
        for (const [pid, uids] of seen) {
          for (const u of uids)
            assert.ok(
              u >= ids.base && u < ids.base + ids.size,
              `process ${pid} runs with host uid ${u}, inside the EE's range (${uids})`,
            );
        }
        // It ran for the link, and as the container: its root, its map, its capabilities.
        const record = (await inside(ee, '/bin/busybox', 'cat', '/root/fake-sh.log')).stdout;
        const calls = record.split(/^(?=CALL )/m).filter((c) => c.startsWith('CALL '));
        const linkCall = calls.find((c) => /ln -sfn/.test(c) && c.includes('/srv/v'));
        assert.ok(linkCall, `the agent's link command went through the fake shell:\n${record}`);
        assert.equal(line(linkCall, 'UIDMAP').split(/\s+/).join(' '), `0 ${ids.base} ${ids.size}`);
        assert.equal(line(linkCall, 'UID'), '0');
        const eff = line(linkCall, 'CapEff');
        for (const [name, bit] of Object.entries(DROPPED))
          assert.ok(!hasCap(eff, bit), `CAP_${name.toUpperCase()} is not effective in the agent-run shell (${eff})`);
        assert.match(line(linkCall, 'WRITE'), /rc=/, 'it tried the host file');
        assert.match(line(linkCall, 'READ'), /No such file or directory/);
        // What happened to B: the real shell made the link (the fake one handed over).
        assert.equal(b.fault, undefined, b.fault?.message);
        const vol = engine.volumes().find((v) => v.appUuid === b.uuid)!;
        assert.equal(
          (await inside(ee, '/bin/busybox', 'readlink', '/srv/v')).stdout.trim(),
          `/opt/cpe/du/.appdata/${vol.id}`,
        );
        // The real shell back, for what follows in this EE.
        await inside(ee, '/bin/busybox', 'ln', '-sfn', 'busybox', '/bin/sh');
        assert.equal((await inside(ee, '/bin/busybox', 'readlink', '/bin/sh')).stdout.trim(), 'busybox');
        assertCanaries(canary, [...allLogs(), record], containerDirs());
      },
    );

    await t.test(
      '8. privileged DUs: refused (7004, AllowPrivileged) unless the policy allows; then all capabilities inside ' +
        'the EE, still no host secret, no device, no mount',
      async () => {
        const url = duPackage(
          http,
          files,
          'privileged',
          [
            {
              name: 'go',
              script: `
grep -E '^(NoNewPrivs|Seccomp|CapEff):' /proc/$$/status
echo "UIDMAP $(cat /proc/$$/uid_map)"
try read-path cat "$SECRET"
try read-proc1 cat "/proc/1/root$SECRET"
try read-hostpid cat "/proc/$HOSTPID/root$SECRET"
try mknod-disk mknod /tmp/hostdisk b "$MAJ" "$MIN"
try mount-node mount -t ext4 /tmp/hostdisk /mnt
try mount-dev mount -t ext4 "/dev/$DEVNAME" /mnt
try mount-tmpfs mount -t tmpfs none /mnt
try devices-allow sh -c 'echo a > /sys/fs/cgroup/devices/devices.allow'
try raise-pids sh -c 'echo max > /sys/fs/cgroup/pids/pids.max'
./bin/probe
`,
            },
          ],
          env,
          [probeEntry],
        );
        const dusBefore = engine.deploymentUnits().length;
        const dirBefore = readdirSync(lxcHost(engine).duDir(ee.container!)).sort();
        const no = await engine.install({ url, ee: ee.id, requestTag: 'priv-refused', privileged: true });
        assert.equal(no.fault?.code, EngineCode.InvalidArguments);
        assert.match(no.fault!.message, /AllowPrivileged/);
        assert.equal(engine.deploymentUnits().length, dusBefore, 'nothing was installed');
        assert.deepEqual(
          readdirSync(lxcHost(engine).duDir(ee.container!)).sort(),
          dirBefore,
          'nothing was left in the EE',
        );
        engine.setPolicy(ee.id, { allowPrivileged: true });
        try {
          const r = await install(url, ee.id, { privileged: true });
          const log = await run(euidOf(r, 'go'));
          const eff = line(log, 'CapEff');
          assert.ok(
            hasCap(eff, DROPPED.sys_admin),
            `a privileged service has CAP_SYS_ADMIN in its namespace (CapEff ${eff})`,
          );
          assert.equal(
            line(log, 'UIDMAP').split(/\s+/).join(' '),
            `0 ${ids.base} ${ids.size}`,
            'within the same unprivileged namespace',
          );
          assert.equal(line(log, 'NoNewPrivs'), '1');
          assert.equal(line(log, 'Seccomp'), '2');
          for (const l of ['read-path', 'read-proc1', 'read-hostpid']) refused(log, l, /No such file or directory/);
          refused(log, 'mknod-disk', /Operation not permitted/);
          for (const m of ['mount-node', 'mount-dev', 'mount-tmpfs'])
            refused(log, m, /permission denied|Operation not permitted/i);
          refused(log, 'devices-allow', /Permission denied|Operation not permitted/);
          refused(log, 'raise-pids', /Permission denied|Operation not permitted/);
          assertProbeDenied(log);
        } finally {
          engine.setPolicy(ee.id, { allowPrivileged: false });
        }
        assertCanaries(canary, allLogs(), containerDirs());
      },
    );

    // The container's root owns and writes data/ (/var/lib/cpe/data), where the agent makes the next
    // DU's data directory under a predictable UUID: a link planted there must not be followed (it was,
    // once: chown as host root gave the host directory it named to the container).
    await t.test(
      '10. a data directory planted as a link to a host directory is not followed by the agent when the next DU is ' +
        'installed',
      async () => {
        const victim = join(dir, 'victim');
        mkdirSync(victim);
        chmodSync(victim, 0o755);
        const next = duUuid('victimapp', 'example.org');
        const log = await attack(
          'linkplanter',
          `
try plant ln -s '${victim}' "/var/lib/cpe/data/${next}"
echo "PLANTED $(readlink /var/lib/cpe/data/${next})"
`,
        );
        assert.equal(tried(log, 'plant').rc, 0, 'the container may write its data directory');
        assert.equal(line(log, 'PLANTED'), victim);
        const b = await engine.install({
          url: duPackage(http, files, 'victimapp', [], env),
          ee: ee.id,
          requestTag: 'victim',
        });
        assert.equal(b.uuid, next);
        const st = statSync(victim);
        assert.deepEqual(
          [st.uid, st.gid, st.mode & 0o7777],
          [0, 0, 0o755],
          `the host directory still belongs to host root (install: ${b.fault?.message ?? 'ok'})`,
        );
        assert.match(
          b.fault?.message ?? '',
          /data directory .* is not a directory/,
          'the install is refused, saying why',
        );
        assertCanaries(canary, allLogs(), containerDirs());
      },
    );

    // The agent removes a DU's data directory at uninstall while the container, which owns and writes
    // that tree, still runs: a process of it that outlived the DU's services swaps a subdirectory for a
    // link to a host directory in a loop. A recursive delete as host root lost that race (2-5 of 50 host
    // files every round); as the EE's own ids it reaches nothing of the host. Up to three rounds.
    await t.test(
      '11. uninstalling a DU does not delete host files through links its leftover process swaps into its data ' +
        'directory',
      async () => {
        const victim = join(dir, 'victim2');
        mkdirSync(victim);
        for (let i = 0; i < 50; i++) writeFileSync(join(victim, `f${i}`), 'x');
        const url = duPackage(
          http,
          files,
          'racer',
          [{ name: 'go', script: `./bin/probe swap "$CPE_DU_DATA" '${victim}'` }],
          env,
          [probeEntry],
        );
        const faults: string[] = [];
        try {
          for (let round = 0; round < 3 && readdirSync(victim).length === 50; round++) {
            const r = await install(url);
            assert.match(await run(euidOf(r, 'go')), /^SWAPPER started$/m);
            const un = await engine.uninstall(r.duid!, 'racer');
            if (un.fault) faults.push(un.fault.message);
            assert.equal(un.fault, undefined, 'the uninstall succeeds: what the EE left behind is its own business');
            await inside(ee, '/bin/busybox', 'killall', 'probe');
            await inside(ee, '/bin/busybox', 'rm', '-rf', `/var/lib/cpe/data/${r.uuid}`);
          }
        } finally {
          await inside(ee, '/bin/busybox', 'killall', 'probe');
        }
        assert.equal(
          readdirSync(victim).length,
          50,
          `the agent deleted ${50 - readdirSync(victim).length} host files (uninstall faults: ` +
            `${faults.join('; ') || 'none'})`,
        );
        assertCanaries(canary, allLogs(), containerDirs());
      },
    );
  },
);

test(
  '9. native EE: a DU runs as a host user of its own, not root, and can not read root-only files; missing ' +
    'users and root are refused unless privileged and allowed',
  async (t) => {
    if (!requireRoot(t, 'the native EE runs services as users of their own only when the agent is root')) return;
    const { dir, cleanup } = tempDir('cpe-hostile-native-');
    chmodSync(dir, 0o711); // passable: only the secret's own mode keeps a DU's user out
    const canary = makeCanaries(dir);
    const files: Record<string, Buffer> = {};
    const http = await serveFiles(files);
    const engine = new Engine({ stateDir: join(dir, 'state'), logger: silentLogger, shutdownGraceMs: 2000 });
    await engine.start();
    t.after(async () => {
      await engine.stopAll();
      await engine.factoryReset();
      await http.close();
      cleanup();
    });
    const env = { SECRET: canary.secret, KEEP: canary.keep };
    const whoami = `
id -u > "$CPE_DU_DATA/uid"
echo "ME $(id -u)"
try read-secret cat "$SECRET"
try append-keep sh -c 'echo pwned >> "$0"' "$KEEP"
try plant-beside sh -c 'echo pwned > "$0"' "\${KEEP%/*}/planted"
`;
    const allLogs = () => engine.deploymentUnits().flatMap((d) => d.eus.map((e) => engine.unitLog(e.euid)));

    const r = await engine.install({
      url: duPackage(http, files, 'plain', [{ name: 'go', script: whoami }], env),
      ee: 'native',
      requestTag: 'plain',
    });
    assert.equal(r.fault, undefined, r.fault?.message);
    const euid = euidOf(r, 'go');
    await engine.setRequestedState(euid, 'Active');
    await waitFor(() => engine.unitState(euid)?.status === 'Idle');
    const log = engine.unitLog(euid);
    assert.match(log, /^ATTACK-DONE$/m, log);
    const uid = Number(readFileSync(join(engine.dataDir(r.uuid, 'native'), 'uid'), 'utf8').trim());
    assert.notEqual(uid, 0, 'not root');
    assert.equal(uid, engine.unitUser(euid)!.host.uid, "the DU's own host user");
    assert.equal(line(log, 'ME'), String(uid));
    refused(log, 'read-secret', /Permission denied/);
    refused(log, 'append-keep', /Permission denied/);
    refused(log, 'plant-beside', /Permission denied/);
    assertCanaries(canary, allLogs());

    const missing = await engine.install({
      url: duPackage(http, files, 'nosuch', [{ name: 'go', script: whoami, user: 'nosuchuser' }], env),
      ee: 'native',
      requestTag: 'nosuch',
    });
    assert.equal(missing.fault?.code, EngineCode.InvalidArguments);
    assert.match(missing.fault!.message, /nosuchuser/);
    // As root it only says who it is (root could read and write the canaries).
    const rootUrl = duPackage(
      http,
      files,
      'asroot',
      [{ name: 'go', script: 'id -u > "$CPE_DU_DATA/uid"', user: 'root' }],
      env,
    );
    const asRoot = await engine.install({ url: rootUrl, ee: 'native', requestTag: 'root' });
    assert.equal(asRoot.fault?.code, EngineCode.InvalidArguments);
    assert.match(asRoot.fault!.message, /root/);
    const notAllowed = await engine.install({ url: rootUrl, ee: 'native', requestTag: 'root-priv', privileged: true });
    assert.equal(notAllowed.fault?.code, EngineCode.InvalidArguments);
    assert.match(notAllowed.fault!.message, /AllowPrivileged/);
    assert.equal(engine.deploymentUnits().length, 1, 'none of them was installed');

    engine.setPolicy('native', { allowPrivileged: true });
    const priv = await engine.install({ url: rootUrl, ee: 'native', requestTag: 'root-allowed', privileged: true });
    assert.equal(priv.fault, undefined, priv.fault?.message);
    const pe = euidOf(priv, 'go');
    await engine.setRequestedState(pe, 'Active');
    await waitFor(() => engine.unitState(pe)?.status === 'Idle');
    assert.match(engine.unitLog(pe), /^ATTACK-DONE$/m);
    assert.equal(
      readFileSync(join(engine.dataDir(priv.uuid, 'native'), 'uid'), 'utf8').trim(),
      '0',
      'a privileged DU where the policy allows it runs as root',
    );
    assert.equal(engine.unitUser(pe)!.host.uid, 0);
    // Root could read and write the canaries; this one only said who it is, and they are as they were.
    assertCanaries(canary, allLogs());
  },
);
