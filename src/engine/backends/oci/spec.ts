// The OCI runtime spec (config.json) of one EU's container: its process, its user namespace mapped onto
// the EE's id range, the capabilities and system calls an app gets (those of the LXC EEs), runc's own
// masked and read-only /proc paths, and nothing of the host but the volumes the EE links in.
import type { IdRange } from '../lxc/policy.js';
import { KEPT_CAPABILITIES } from '../lxc/policy.js';
import { type OciSeccomp, seccompOf } from './seccomp.js';

/** A host directory bound into the container (an application data volume, the DU's data). */
export interface BindMount {
  readonly source: string;
  readonly destination: string;
}

export interface SpecInput {
  /** The container's root (the DU's overlay mount). */
  readonly rootfs: string;
  readonly hostname: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
  /** Ids in the container's namespace. */
  readonly user: { readonly uid: number; readonly gid: number };
  readonly ids: IdRange;
  readonly pidsMax: number;
  /** The cgroup runc makes (below the EE's, which holds the EE's limits). */
  readonly cgroupsPath: string;
  readonly binds: readonly BindMount[];
  /** A network namespace made for the EU (its interfaces, routes, rules); absent: loopback only. */
  readonly networkNamespacePath?: string;
  /** The agent's resolv.conf (its DNS forwarder), bound read-only over /etc/resolv.conf of a networked EU. */
  readonly resolvConf?: string;
  /** No network namespace at all: the host's (an EE whose privileged policy allows it; no networkNamespacePath). */
  readonly hostNetwork?: boolean;
  /** A privileged DU's process: ALL_CAPABILITIES instead of CAPABILITIES. */
  readonly privileged?: boolean;
}

/**
 * Docker's default capability set without net_raw, mknod, setfcap and audit_write: the LXC EEs' list, which
 * docs/security.md explains. Inside the user namespace even these act only on what the namespace owns.
 */
export const CAPABILITIES: readonly string[] = KEPT_CAPABILITIES.map((c) => `CAP_${c.toUpperCase()}`);

/**
 * A privileged DU's (TR-181 Privileged, where its EE's policy allows it): every capability, as an LXC EE's
 * privileged DU keeps them, still only over what the container's user namespace owns; seccomp still holds.
 */
export const ALL_CAPABILITIES: readonly string[] = [
  'CHOWN',
  'DAC_OVERRIDE',
  'DAC_READ_SEARCH',
  'FOWNER',
  'FSETID',
  'KILL',
  'SETGID',
  'SETUID',
  'SETPCAP',
  'LINUX_IMMUTABLE',
  'NET_BIND_SERVICE',
  'NET_BROADCAST',
  'NET_ADMIN',
  'NET_RAW',
  'IPC_LOCK',
  'IPC_OWNER',
  'SYS_MODULE',
  'SYS_RAWIO',
  'SYS_CHROOT',
  'SYS_PTRACE',
  'SYS_PACCT',
  'SYS_ADMIN',
  'SYS_BOOT',
  'SYS_NICE',
  'SYS_RESOURCE',
  'SYS_TIME',
  'SYS_TTY_CONFIG',
  'MKNOD',
  'LEASE',
  'AUDIT_WRITE',
  'AUDIT_CONTROL',
  'SETFCAP',
  'MAC_OVERRIDE',
  'MAC_ADMIN',
  'SYSLOG',
  'WAKE_ALARM',
  'BLOCK_SUSPEND',
  'AUDIT_READ',
  'PERFMON',
  'BPF',
  'CHECKPOINT_RESTORE',
].map((c) => `CAP_${c}`);

/** runc's defaults (`runc spec`): what a container must not read, and what it must not write. */
export const MASKED_PATHS = [
  '/proc/acpi',
  '/proc/asound',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
] as const;
export const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'] as const;

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Kernel file systems the container gets its own of: none of them is a host directory. */
const KERNEL_MOUNTS = [
  { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
  {
    destination: '/dev',
    type: 'tmpfs',
    source: 'tmpfs',
    options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
  },
  {
    destination: '/dev/pts',
    type: 'devpts',
    source: 'devpts',
    options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
  },
  {
    destination: '/dev/shm',
    type: 'tmpfs',
    source: 'shm',
    options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'],
  },
  { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
] as const;

/**
 * sysfs may be mounted in a user namespace only over a network namespace that user namespace owns: runc's
 * fresh one (loopback only). A networked unit joins the agent's namespace, owned by the host (so that the
 * unit can't change its network), where the kernel refuses it: it gets an empty read-only /sys, rather
 * than the host's bound in.
 */
const SYSFS = { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] };
const EMPTY_SYS = { destination: '/sys', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] };

export interface OciSpec {
  readonly ociVersion: string;
  readonly process: Record<string, unknown>;
  readonly root: { path: string; readonly: boolean };
  readonly hostname: string;
  readonly mounts: readonly { destination: string; type: string; source: string; options: readonly string[] }[];
  readonly linux: {
    readonly namespaces: readonly { type: string; path?: string }[];
    readonly uidMappings: readonly IdMapping[];
    readonly gidMappings: readonly IdMapping[];
    readonly seccomp: OciSeccomp;
    readonly resources: Record<string, unknown>;
    readonly cgroupsPath: string;
    readonly maskedPaths: readonly string[];
    readonly readonlyPaths: readonly string[];
  };
}

interface IdMapping {
  readonly containerID: number;
  readonly hostID: number;
  readonly size: number;
}

export function ociSpec(i: SpecInput): OciSpec {
  const env = { PATH: DEFAULT_PATH, ...i.env };
  const map: IdMapping[] = [{ containerID: 0, hostID: i.ids.base, size: i.ids.size }];
  const caps = i.privileged ? ALL_CAPABILITIES : CAPABILITIES;
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: i.user.uid, gid: i.user.gid },
      args: [...i.args],
      env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
      cwd: i.cwd,
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 4096, soft: 1024 }],
      noNewPrivileges: true,
    },
    // Writable: writes land in the DU's overlay upper layer, inside the EE's disk image.
    root: { path: i.rootfs, readonly: false },
    hostname: i.hostname,
    mounts: [
      ...KERNEL_MOUNTS,
      i.networkNamespacePath || i.hostNetwork ? EMPTY_SYS : SYSFS,
      ...i.binds.map((b) => ({
        destination: b.destination,
        type: 'bind',
        source: b.source,
        options: ['rbind', 'rprivate', 'nosuid', 'nodev'],
      })),
      ...(i.resolvConf
        ? [
            {
              destination: '/etc/resolv.conf',
              type: 'bind',
              source: i.resolvConf,
              options: ['bind', 'ro', 'nosuid', 'nodev', 'noexec'],
            },
          ]
        : []),
    ],
    linux: {
      namespaces: [
        { type: 'pid' },
        ...(i.networkNamespacePath
          ? [{ type: 'network', path: i.networkNamespacePath }]
          : i.hostNetwork
            ? []
            : [{ type: 'network' }]),
        { type: 'ipc' },
        { type: 'uts' },
        { type: 'mount' },
        { type: 'user' },
        { type: 'cgroup' },
      ],
      uidMappings: map,
      gidMappings: map,
      seccomp: seccompOf(),
      // runc adds its default device allow-list (null, zero, full, random, urandom, tty, ptmx, pts) after this.
      resources: { devices: [{ allow: false, access: 'rwm' }], pids: { limit: i.pidsMax } },
      cgroupsPath: i.cgroupsPath,
      maskedPaths: [...MASKED_PATHS],
      readonlyPaths: [...READONLY_PATHS],
    },
  };
}
