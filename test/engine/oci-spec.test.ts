// The runtime spec an OCI EE's container gets: its own namespaces, ids mapped onto the EE's range only,
// the LXC EEs' capabilities and seccomp list, runc's masked paths, and no host directory but the binds given.
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DENIED_SYSCALLS } from '../../src/engine/backends/lxc/policy.js';
import { CAPABILITIES, MASKED_PATHS, ociSpec, type SpecInput } from '../../src/engine/backends/oci/spec.js';
import { imageUser } from '../../src/engine/backends/oci/users.js';
import { EngineCode, EngineError } from '../../src/engine/errors.js';
import { tempDir } from '../helpers.js';

const input: SpecInput = {
  rootfs: '/state/oci/ee/rootfs/du1',
  hostname: 'web',
  args: ['/bin/web', '-p', '80'],
  env: { A: '1' },
  cwd: '/',
  user: { uid: 1000, gid: 1000 },
  ids: { base: 1_131_072, size: 65_536 },
  pidsMax: 256,
  cgroupsPath: '/cpe-agent-oci/ee/ctr',
  binds: [{ source: '/state/oci/ee/volumes/v1', destination: '/data' }],
};

test('OCI spec: every namespace of its own, network loopback only unless a namespace is given', () => {
  const s = ociSpec(input);
  const types = s.linux.namespaces.map((n) => n.type).sort();
  assert.deepEqual(types, ['cgroup', 'ipc', 'mount', 'network', 'pid', 'user', 'uts']);
  assert.ok(
    s.linux.namespaces.every((n) => n.path === undefined),
    'none joins a host namespace',
  );
  const withNet = ociSpec({ ...input, networkNamespacePath: '/run/netns/eu1' });
  assert.deepEqual(
    withNet.linux.namespaces.find((n) => n.type === 'network'),
    { type: 'network', path: '/run/netns/eu1' },
  );
  // sysfs can't be mounted over a namespace the container's user namespace doesn't own: an empty one instead.
  const sys = (x: typeof s) => x.mounts.find((m) => m.destination === '/sys');
  assert.equal(sys(s)?.type, 'sysfs');
  assert.equal(sys(withNet)?.type, 'tmpfs');
  assert.ok(sys(withNet)?.options.includes('ro'));
  assert.ok(
    withNet.mounts.every((m) => m.type !== 'bind' || m.source.startsWith('/state/')),
    'no host /sys bound',
  );
  // A networked unit resolves through the agent's forwarder: its resolv.conf, read-only; none without a network.
  const withDns = ociSpec({ ...input, networkNamespacePath: '/run/netns/eu1', resolvConf: '/state/resolv.conf' });
  assert.deepEqual(
    withDns.mounts.find((m) => m.destination === '/etc/resolv.conf'),
    {
      destination: '/etc/resolv.conf',
      type: 'bind',
      source: '/state/resolv.conf',
      options: ['bind', 'ro', 'nosuid', 'nodev', 'noexec'],
    },
  );
  assert.equal(
    s.mounts.find((m) => m.destination === '/etc/resolv.conf'),
    undefined,
  );
  // An EE whose privileged policy gives its units the host's network: no network namespace, an empty /sys.
  const onHost = ociSpec({ ...input, hostNetwork: true });
  assert.equal(
    onHost.linux.namespaces.find((n) => n.type === 'network'),
    undefined,
  );
  assert.equal(sys(onHost)?.type, 'tmpfs');
});

test("OCI spec: ids map onto the EE's range only, never host root; the process runs as the user given", () => {
  const s = ociSpec(input);
  for (const m of [s.linux.uidMappings, s.linux.gidMappings])
    assert.deepEqual(m, [{ containerID: 0, hostID: 1_131_072, size: 65_536 }]);
  assert.deepEqual(s.process.user, { uid: 1000, gid: 1000 });
  assert.deepEqual(s.process.args, ['/bin/web', '-p', '80']);
  assert.ok((s.process.env as string[]).includes('A=1'));
  assert.ok((s.process.env as string[]).some((e) => e.startsWith('PATH=')));
});

test('OCI spec: the capabilities and the seccomp deny list are those of the LXC EEs; no new privileges', () => {
  const s = ociSpec(input);
  const caps = s.process.capabilities as Record<string, string[]>;
  for (const set of ['bounding', 'effective', 'permitted']) assert.deepEqual(caps[set], CAPABILITIES);
  assert.equal(caps.ambient, undefined);
  for (const c of ['CAP_SYS_ADMIN', 'CAP_NET_RAW', 'CAP_MKNOD', 'CAP_NET_ADMIN', 'CAP_SYS_PTRACE'])
    assert.ok(!CAPABILITIES.includes(c), `${c} is not kept`);
  assert.equal(s.process.noNewPrivileges, true);
  assert.equal(s.linux.seccomp.defaultAction, 'SCMP_ACT_ALLOW');
  const denied = s.linux.seccomp.syscalls.flatMap((r) => (r.action === 'SCMP_ACT_ERRNO' ? r.names : []));
  assert.deepEqual([...denied].sort(), [...DENIED_SYSCALLS].sort());
  assert.ok(s.linux.seccomp.architectures.length > 0, "this machine's architecture is named");
});

test('OCI spec: a privileged DU keeps every capability (of its user namespace); seccomp still holds', () => {
  const s = ociSpec({ ...input, privileged: true });
  const caps = s.process.capabilities as Record<string, string[]>;
  assert.ok(caps.bounding?.includes('CAP_SYS_ADMIN') && caps.bounding.includes('CAP_NET_ADMIN'));
  assert.ok(CAPABILITIES.every((c) => caps.effective?.includes(c)));
  assert.deepEqual(s.linux.seccomp, ociSpec(input).linux.seccomp);
  assert.deepEqual(s.linux.uidMappings, ociSpec(input).linux.uidMappings);
});

test("OCI spec: runc's masked and read-only paths, a pids limit, the EE's cgroup, a writable overlay root", () => {
  const s = ociSpec(input);
  assert.deepEqual(s.linux.maskedPaths, [...MASKED_PATHS]);
  assert.ok(s.linux.readonlyPaths.includes('/proc/sys'));
  assert.deepEqual(s.linux.resources.pids, { limit: 256 });
  assert.equal(s.linux.cgroupsPath, '/cpe-agent-oci/ee/ctr');
  assert.deepEqual(s.root, { path: '/state/oci/ee/rootfs/du1', readonly: false });
  assert.ok(s.mounts.find((m) => m.destination === '/sys')?.options.includes('ro'));
});

test('OCI spec: no host directory is mounted but the binds given', () => {
  const s = ociSpec(input);
  const binds = s.mounts.filter((m) => m.type === 'bind' || m.options.some((o) => o.includes('bind')));
  assert.deepEqual(
    binds.map((b) => [b.source, b.destination]),
    [['/state/oci/ee/volumes/v1', '/data']],
  );
  assert.ok(binds.every((b) => b.options.includes('nosuid') && b.options.includes('nodev')));
  assert.ok(
    s.mounts.every((m) => m.type === 'bind' || !m.source.startsWith('/')),
    'kernel file systems only',
  );
});

test("OCI users: names from the image's topmost passwd, uid:gid, groups by name; links are not followed", () => {
  const { dir, cleanup } = tempDir('cpe-oci-users-');
  try {
    const low = join(dir, 'low');
    const top = join(dir, 'top');
    const hostile = join(dir, 'hostile');
    mkdirSync(join(low, 'etc'), { recursive: true });
    mkdirSync(join(top, 'etc'), { recursive: true });
    mkdirSync(hostile);
    writeFileSync(join(low, 'etc', 'passwd'), 'root:x:0:0::/:/bin/sh\nold:x:5:5::/:/bin/sh\n');
    writeFileSync(join(top, 'etc', 'passwd'), 'root:x:0:0::/:/bin/sh\napp:x:1000:1001::/:/bin/sh\n');
    writeFileSync(join(top, 'etc', 'group'), 'root:x:0:\nstaff:x:50:app\n');
    assert.deepEqual(imageUser([low, top], 'app'), { uid: 1000, gid: 1001 });
    assert.deepEqual(imageUser([low, top], 'app:staff'), { uid: 1000, gid: 50 });
    assert.deepEqual(imageUser([low, top], '7:8'), { uid: 7, gid: 8 });
    assert.deepEqual(imageUser([low], 'old'), { uid: 5, gid: 5 });
    // A layer whose etc is a link to the host's: never read.
    symlinkSync('/etc', join(hostile, 'etc'));
    assert.deepEqual(imageUser([hostile], '0'), { uid: 0, gid: 0 });
    assert.throws(
      () => imageUser([hostile], 'daemon'),
      (e) => e instanceof EngineError && e.code === EngineCode.InvalidArguments,
    );
    assert.throws(() => imageUser([low, top], 'old'), EngineError, 'the topmost passwd wins');
  } finally {
    cleanup();
  }
});
