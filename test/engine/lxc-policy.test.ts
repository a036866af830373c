// The confinement an LXC EE gets, as config lines: a user namespace of its own range, only the
// capabilities an app needs, the seccomp deny list, no_new_privs, the device allow-list and pids.max.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { containerConfig, withNet } from '../../src/engine/backends/lxc/config.js';
import {
  appArmorEnabled,
  confinementLines,
  DENIED_SYSCALLS,
  KEPT_CAPABILITIES,
  seccompProfile,
} from '../../src/engine/backends/lxc/policy.js';
import { tempDir } from '../helpers.js';

const policy = { ids: { base: 1_065_536, size: 65_536 }, pidsMax: 256, netAdmin: false };

test('an EE maps its own id range, keeps a short capability list, and denies what apps never need', () => {
  const lines = confinementLines(policy, '/x/seccomp', { cgroupV1: true, appArmor: false });
  assert.ok(lines.includes('lxc.idmap = u 0 1065536 65536'));
  assert.ok(lines.includes('lxc.idmap = g 0 1065536 65536'));
  assert.ok(lines.includes('lxc.no_new_privs = 1'));
  assert.ok(lines.includes('lxc.seccomp.profile = /x/seccomp'));
  assert.ok(lines.includes('lxc.cgroup.pids.max = 256'));
  assert.ok(lines.includes('lxc.cgroup.devices.deny = a'));
  assert.equal(lines.filter((l) => l.startsWith('lxc.cgroup.devices.allow')).length, 9);
  assert.ok(!lines.some((l) => l.includes('apparmor')), 'no AppArmor lines where the kernel has none');
  const keep = lines
    .find((l) => l.startsWith('lxc.cap.keep'))!
    .split(' = ')[1]!
    .split(' ');
  for (const cap of [
    'sys_admin',
    'sys_module',
    'sys_rawio',
    'sys_time',
    'mknod',
    'mac_admin',
    'mac_override',
    'sys_boot',
    'audit_write',
    'audit_control',
    'audit_read',
    'net_admin',
    'sys_ptrace',
  ]) {
    assert.ok(!keep.includes(cap), `${cap} is dropped`);
  }
  assert.deepEqual(keep, [...KEPT_CAPABILITIES]);
});

test('net_admin only where the policy grants it; AppArmor and cgroup v2 keys where the host has them', () => {
  const lines = confinementLines({ ...policy, netAdmin: true }, '/s', { cgroupV1: false, appArmor: true });
  assert.ok(lines.find((l) => l.startsWith('lxc.cap.keep'))!.endsWith(' net_admin'));
  assert.ok(lines.includes('lxc.apparmor.profile = generated'));
  assert.ok(lines.includes('lxc.cgroup2.pids.max = 256'));
  assert.ok(lines.includes('lxc.cgroup2.devices.allow = c 136:* rwm'));
});

test("the seccomp profile is LXC v2 deny-list text with at least LXC's own default entries", () => {
  const text = seccompProfile().split('\n');
  assert.deepEqual(text.slice(0, 4), ['2', 'denylist', 'reject_force_umount', '[all]']);
  for (const s of [
    'kexec_load',
    'open_by_handle_at',
    'init_module',
    'finit_module',
    'delete_module',
    'keyctl',
    'add_key',
    'request_key',
    'bpf',
    'perf_event_open',
    'userfaultfd',
    'mount',
  ]) {
    assert.ok(text.includes(`${s} errno 1`), `${s} is denied`);
  }
  assert.equal(new Set(DENIED_SYSCALLS).size, DENIED_SYSCALLS.length);
});

test("AppArmor is detected from the kernel's module parameter", () => {
  const { dir, cleanup } = tempDir();
  try {
    writeFileSync(join(dir, 'on'), 'Y\n');
    writeFileSync(join(dir, 'off'), 'N\n');
    assert.equal(appArmorEnabled(join(dir, 'on')), true);
    assert.equal(appArmorEnabled(join(dir, 'off')), false);
    assert.equal(appArmorEnabled(join(dir, 'absent')), false);
  } finally {
    cleanup();
  }
});

test("a container's network lines: its own namespace with sysfs, or the host's with an empty /sys", () => {
  const mounts = { duDir: '/x/du', dataDir: '/x/data', seccomp: '/x/seccomp', resolvConf: '/x/resolv.conf' };
  const own = containerConfig('c', '/x/rootfs', '/x/delta', mounts, policy, { memoryKiB: -1, cpuPercent: -1 });
  assert.match(own, /^lxc\.net\.0\.type = empty$/m);
  assert.match(own, /^lxc\.mount\.auto = cgroup:mixed proc:mixed sys:ro$/m);
  const host = withNet(own, true);
  assert.match(host, /^lxc\.net\.0\.type = none$/m);
  // sysfs can't be mounted over a network namespace the container's user namespace doesn't own.
  assert.doesNotMatch(host, /sys:ro/);
  assert.match(host, /^lxc\.mount\.entry = tmpfs sys tmpfs /m);
  assert.equal(withNet(host, true), host, 'applying it again changes nothing');
  assert.equal(withNet(host, false), own, 'and back: the same config as made');
  assert.equal(host.split('\n').length, own.split('\n').length + 2);
});
