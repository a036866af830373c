// What an LXC execution environment may do: its user namespace, capabilities, system calls and
// devices. An EE is a security boundary: a DU's service is code the operator did not write, so the
// container gets only what an application needs, in the spirit of LXC's own unprivileged defaults
// and stricter where an app has no use for more (docs/security.md lists each choice and its test).
import { readFileSync } from 'node:fs';

/** A contiguous block of host ids that the container's ids 0..size-1 map onto. */
export interface IdRange {
  readonly base: number;
  readonly size: number;
}

export interface ContainerPolicy {
  /** The EE's own id range; container root is host id `base`, never host root. */
  readonly ids: IdRange;
  /** Processes (threads included) the container may hold at once: a fork bomb stops there. */
  readonly pidsMax: number;
  /** net_admin for EEs whose policy grants it (routing or firewall apps). */
  readonly netAdmin: boolean;
}

/**
 * Capabilities kept by every process in the container (lxc.cap.keep: all others are dropped from
 * the bounding set). Among those dropped: sys_admin, sys_module, sys_rawio, sys_time, sys_boot,
 * mknod, mac_admin, mac_override, audit_*, syslog, sys_ptrace, sys_resource, net_admin, setfcap.
 * Inside a user namespace even the kept ones act only on what the namespace owns.
 */
export const KEPT_CAPABILITIES = [
  'chown',
  'dac_override',
  'fowner',
  'fsetid',
  'kill',
  'setgid',
  'setuid',
  'setpcap',
  'net_bind_service',
  'sys_chroot',
] as const;

/**
 * System calls refused with EPERM (LXC's seccomp v2 deny-list format): LXC's default list (kernel
 * image and module loading, handle-based opens that walk past mount boundaries), the keyring (not
 * namespaced), eBPF, perf and userfaultfd (kernel attack surface no app needs), mounting, swap,
 * clock and accounting changes, and raw port I/O. `reject_force_umount` also refuses umount -f.
 */
export const DENIED_SYSCALLS = [
  'kexec_load',
  'kexec_file_load',
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
  'umount2',
  'pivot_root',
  'fsopen',
  'fsmount',
  'fsconfig',
  'move_mount',
  'open_tree',
  'mount_setattr',
  'swapon',
  'swapoff',
  'reboot',
  'acct',
  'settimeofday',
  'clock_settime',
  'clock_adjtime',
  'adjtimex',
  'iopl',
  'ioperm',
  'syslog',
  'quotactl',
  'lookup_dcookie',
  'uselib',
  'nfsservctl',
] as const;

export function seccompProfile(): string {
  return ['2', 'denylist', 'reject_force_umount', '[all]', ...DENIED_SYSCALLS.map((s) => `${s} errno 1`), ''].join(
    '\n',
  );
}

/**
 * Character devices a container may open (cgroup device controller; /dev itself is LXC's autodev
 * tmpfs, which has no /dev/kmsg): null, zero, full, random, urandom, tty, console, ptmx and ptys.
 */
export const ALLOWED_DEVICES = [
  'c 1:3 rwm',
  'c 1:5 rwm',
  'c 1:7 rwm',
  'c 1:8 rwm',
  'c 1:9 rwm',
  'c 5:0 rwm',
  'c 5:1 rwm',
  'c 5:2 rwm',
  'c 136:* rwm',
] as const;

/** Whether the running kernel enforces AppArmor (it is not enabled on every device kernel). */
export function appArmorEnabled(file = '/sys/module/apparmor/parameters/enabled'): boolean {
  try {
    return readFileSync(file, 'utf8').trim() === 'Y';
  } catch {
    return false;
  }
}

/**
 * The config lines that confine a container. cgroupV1 picks the key names of the host's cgroup
 * layout; `seccompFile` is where seccompProfile() was written.
 */
export function confinementLines(
  p: ContainerPolicy,
  seccompFile: string,
  opts: { cgroupV1: boolean; appArmor: boolean },
): string[] {
  const cg = opts.cgroupV1 ? 'lxc.cgroup' : 'lxc.cgroup2';
  return [
    `lxc.idmap = u 0 ${p.ids.base} ${p.ids.size}`,
    `lxc.idmap = g 0 ${p.ids.base} ${p.ids.size}`,
    `lxc.cap.keep = ${[...KEPT_CAPABILITIES, ...(p.netAdmin ? ['net_admin'] : [])].join(' ')}`,
    'lxc.no_new_privs = 1',
    `lxc.seccomp.profile = ${seccompFile}`,
    // LXC generates a per-container profile from its default one (deny mounts, /proc and /sys writes).
    ...(opts.appArmor ? ['lxc.apparmor.profile = generated', 'lxc.apparmor.allow_nesting = 0'] : []),
    `${cg}.devices.deny = a`,
    ...ALLOWED_DEVICES.map((d) => `${cg}.devices.allow = ${d}`),
    `${cg}.pids.max = ${p.pidsMax}`,
  ];
}
