// What the agent writes into an LXC container's config: its root (an overlay over its own copy of the
// base rootfs), the binds of its packages and their data, its confinement (policy.ts), and its memory
// and CPU limits as cgroup v1 or v2 keys.
import { existsSync } from 'node:fs';
import { appArmorEnabled, type ContainerPolicy, confinementLines } from './policy.js';

export interface LxcLimits {
  memoryKiB: number;
  cpuPercent: number;
}

/** Where packages and data live inside a container. */
export const IN_CONTAINER = { du: '/opt/cpe/du', data: '/var/lib/cpe/data' } as const;
/** Under an LXC EE's du/ (a shared mount), where its volumes are mounted, so containers see them. */
export const VOLUME_DIR = '.appdata';
/** The seccomp profile's file beside the config. */
export const SECCOMP = 'seccomp';
/** An EE's disk when AddExecEnv() names none. */
export const DEFAULT_DISK_KIB = 256 * 1024;
const CGROUP_V1 = existsSync('/sys/fs/cgroup/memory');

/** Host places a container's config binds in. */
export interface ContainerMounts {
  /** Its installed packages, bound read-only. */
  readonly duDir: string;
  /** Its DUs' data directories (inside its disk image). */
  readonly dataDir: string;
  /** Its seccomp profile. */
  readonly seccomp: string;
  /** The resolv.conf naming the agent's DNS forwarder (net/resolv-conf.ts), bound read-only over /etc/resolv.conf. */
  readonly resolvConf?: string;
}

/** The config of a new container: nothing of the host is bound in but its packages (read-only) and their data. */
export function containerConfig(
  name: string,
  rootfs: string,
  delta: string,
  m: ContainerMounts,
  policy: ContainerPolicy,
  limits: LxcLimits,
): string {
  return [
    `lxc.rootfs.path = overlay:${rootfs}:${delta}`,
    `lxc.uts.name = ${name}`,
    'lxc.signal.halt = SIGUSR1',
    'lxc.autodev = 1',
    'lxc.tty.max = 1',
    'lxc.pty.max = 16',
    ...netLines(false),
    'lxc.mount.entry = shm dev/shm tmpfs nosuid,nodev,noexec,create=dir 0 0',
    `lxc.mount.entry = ${m.duDir} ${IN_CONTAINER.du.slice(1)} none rbind,rslave,ro,nosuid,nodev,create=dir 0 0`,
    dataLine(m.dataDir),
    ...(m.resolvConf ? [resolvConfLine(m.resolvConf)] : []),
    ...confinementLines(policy, m.seccomp, { cgroupV1: CGROUP_V1, appArmor: appArmorEnabled() }),
    ...limitLines(limits),
    '',
  ].join('\n');
}

/** The bind of the agent's resolv.conf (optional: a container starts even if the file is missing). */
export const resolvConfLine = (file: string) =>
  `lxc.mount.entry = ${file} etc/resolv.conf none bind,ro,nosuid,nodev,noexec,optional,create=file 0 0`;

/**
 * The container's network and what depends on it: `empty` (a namespace of its own with loopback only:
 * units get theirs from the agent) with sysfs read-only; or `none`, the host's (an EE whose privileged
 * policy gives its units the host's network). The kernel mounts sysfs in a user namespace only over a
 * network namespace it owns, so a container on the host's network gets an empty /sys (a tmpfs, with the
 * directory LXC mounts the cgroups on), never the host's.
 */
export function netLines(hostNetwork: boolean): string[] {
  return hostNetwork
    ? [
        'lxc.net.0.type = none',
        'lxc.mount.auto = cgroup:mixed proc:mixed',
        `${EMPTY_SYS} sys ${EMPTY_SYS_OPTIONS}`,
        `${EMPTY_SYS} sys/fs/cgroup ${EMPTY_SYS_OPTIONS}`,
      ]
    : ['lxc.net.0.type = empty', 'lxc.mount.auto = cgroup:mixed proc:mixed sys:ro'];
}
const EMPTY_SYS = 'lxc.mount.entry = tmpfs';
const EMPTY_SYS_OPTIONS = 'tmpfs nosuid,nodev,noexec,mode=755,create=dir 0 0';
const isNetLine = (l: string) =>
  /^lxc\.net\.0\.type = /.test(l) ||
  l.startsWith('lxc.mount.auto = ') ||
  (l.startsWith(`${EMPTY_SYS} sys`) && l.endsWith(EMPTY_SYS_OPTIONS));

/** A config with the network lines for this policy (the EE's next start applies it). */
export function withNet(config: string, hostNetwork: boolean): string {
  const lines = config.split('\n');
  const at = lines.findIndex(isNetLine);
  const kept = lines.filter((l) => !isNetLine(l));
  kept.splice(at < 0 ? kept.length : at, 0, ...netLines(hostNetwork));
  return kept.join('\n');
}

/** A config with new limits in place of the old ones. */
export function withLimits(config: string, limits: LxcLimits): string {
  const kept = config.split('\n').filter((l) => !/^lxc\.cgroup2?\.(memory|cpu)\./.test(l));
  return [...kept.filter((l) => l !== ''), ...limitLines(limits), ''].join('\n');
}

/** cgroup v1 (this machine) or v2 keys for a memory limit in KiB and a CPU share of one core in percent. */
export function limitLines(l: LxcLimits): string[] {
  const v1 = CGROUP_V1;
  const out: string[] = [];
  if (l.memoryKiB > 0)
    out.push(
      v1
        ? `lxc.cgroup.memory.limit_in_bytes = ${l.memoryKiB * 1024}`
        : `lxc.cgroup2.memory.max = ${l.memoryKiB * 1024}`,
    );
  if (l.memoryKiB > 0 && v1) out.push(`lxc.cgroup.memory.memsw.limit_in_bytes = ${l.memoryKiB * 1024}`);
  if (l.cpuPercent > 0) {
    const quota = Math.max(1000, Math.round(100_000 * (l.cpuPercent / 100)));
    out.push(
      ...(v1
        ? ['lxc.cgroup.cpu.cfs_period_us = 100000', `lxc.cgroup.cpu.cfs_quota_us = ${quota}`]
        : [`lxc.cgroup2.cpu.max = ${quota} 100000`]),
    );
  }
  return out;
}

/**
 * The DUs' data directories: rslave of the host's shared data/, so that a DU's own disk mounted there after
 * the container started reaches inside it (and nothing mounted inside reaches the host).
 */
export const dataLine = (dataDir: string) =>
  `lxc.mount.entry = ${dataDir} ${IN_CONTAINER.data.slice(1)} none rbind,rslave,nosuid,nodev,create=dir 0 0`;

/** The line an agent before DU disks wrote (no propagation). */
export const oldDataLine = (dataDir: string) =>
  `lxc.mount.entry = ${dataDir} ${IN_CONTAINER.data.slice(1)} none bind,nosuid,nodev,create=dir 0 0`;
