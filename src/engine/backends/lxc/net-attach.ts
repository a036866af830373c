// How a networked unit enters its LXC container: lxc-attach can't start a process in a network
// namespace other than the container's (it reaches the container through an abstract socket, which
// lives in the host's network namespace, and its -s option gives up the confinement: capabilities,
// cgroup, LSM). So the agent enters the namespaces itself with nsenter: the unit's own network
// namespace (made on the host, owned by the host's user namespace), the container's mount, pid, uts,
// ipc and cgroup namespaces, and NOT its user namespace (setns into it grants every capability of that
// namespace, bounding set included; the container's root would keep them past exec, and nothing trusted
// runs after nsenter to drop them): the process runs as the host id the container's user maps to, with no capability at
// all (so it can change nothing of its network, and gains nothing over the container's own
// processes), inside the container's cgroups (memory, CPU and pids limits hold), with no_new_privs
// and the EE's seccomp deny list, loaded by the host's perl before nsenter runs (seccomp-loader.ts).
// LXC's AppArmor profile is not applied to it (docs/networking.md says so). The DU's environment is
// exported by the container's shell at the end: host programs that run as root (sh, perl, nsenter)
// get only PATH, so no variable a DU sets (LD_PRELOAD, PERL5OPT ...) reaches them.
import { existsSync, readFileSync } from 'node:fs';
import type { IdRange } from './policy.js';
import { type SeccompLoader, underSeccomp } from './seccomp-loader.js';

/**
 * The cgroup.procs files of a process's cgroups: one per v1 hierarchy, and the v2 one (at the root, or
 * under unified/ on a hybrid host). A hierarchy not mounted where the agent looks is left out.
 */
export function cgroupProcsOf(pid: number, root = '/sys/fs/cgroup'): string[] {
  const v2 = existsSync(`${root}/cgroup.controllers`) ? root : `${root}/unified`;
  return readFileSync(`/proc/${pid}/cgroup`, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [, controllers, path] = /^\d+:([^:]*):(.*)$/.exec(l) ?? [];
      if (controllers === undefined || path === undefined) return undefined;
      const hierarchy = controllers === '' ? v2 : `${root}/${controllers.replace(/^name=/, '')}`;
      const dir = `${hierarchy}${path === '/' ? '' : path}`;
      return existsSync(`${dir}/cgroup.procs`) ? `${dir}/cgroup.procs` : undefined;
    })
    .filter((f): f is string => f !== undefined);
}

export interface NetAttach {
  readonly initPid: number;
  readonly ids: IdRange;
  /** The user inside the container (0: its root). */
  readonly uid: number;
  readonly gid: number;
  readonly netns: string;
  readonly cgroups: readonly string[];
  readonly loader: SeccompLoader;
}

/** What runs in the container: its environment, directory and command. */
export interface NetCommand {
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
  readonly command: string;
  readonly args: readonly string[];
}

/** argv that runs `sh -c 'export env; cd cwd && exec cmd args'` (the container's sh) as described above. */
export function netAttachArgv(a: NetAttach, c: NetCommand): string[] {
  return [
    '/bin/sh',
    '-c',
    // The host's shell, as root: joins the container's cgroups, then hands over to the loader.
    'while [ "$1" != -- ]; do echo $$ > "$1" || exit 126; shift; done; shift; exec "$@"',
    'cpe-attach',
    ...a.cgroups,
    '--',
    ...underSeccomp(a.loader, [
      'nsenter',
      `--net=${a.netns}`,
      `--target=${a.initPid}`,
      '--mount',
      '--pid',
      '--uts',
      '--ipc',
      '--cgroup',
      '--root',
      '--wd',
      `--setuid=${a.ids.base + a.uid}`,
      `--setgid=${a.ids.base + a.gid}`,
      '--',
      '/bin/sh',
      '-c',
      // A name the shell can't export stops the unit (exit 126, the shell's message in its log).
      'while [ "$1" != -- ]; do export "$1" || exit 126; shift; done; shift; cd "$0" && exec "$@"',
      c.cwd,
      ...Object.entries(c.env).map(([k, v]) => `${k}=${v}`),
      '--',
      c.command,
      ...c.args,
    ]),
  ];
}
