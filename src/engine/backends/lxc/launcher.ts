// How a unit's process starts inside an LXC container: lxc-attach with a clean environment, as the
// service's user of the container, in its own session, cd to the DU.
import { type ChildProcess, spawn } from 'node:child_process';
import type { UserIds } from '../../ids/users.js';
import type { Launch, ProcessLauncher } from '../../supervisor.js';
import { cgroupProcsOf, netAttachArgv } from './net-attach.js';
import type { IdRange } from './policy.js';
import { seccompLoader } from './seccomp-loader.js';

/** What the launcher needs of the container's host. */
export interface AttachTarget {
  attachArgs(name: string): string[];
  userIn(name: string, user: string): UserIds;
  /** The container's init process, on the host (for a networked unit). */
  initPid(name: string): number;
  ids(name: string): IdRange | undefined;
}

export function lxcLauncher(host: AttachTarget, name: string): ProcessLauncher {
  return {
    spawn(_euid: string, launch: Launch, logFd: number) {
      if (launch.network && launch.network !== 'loopback') return spawnNetworked(host, name, launch, logFd);
      const args = host.attachArgs(name);
      for (const [k, v] of Object.entries(launch.env)) args.push('--set-var', `${k}=${v}`);
      const uid = launch.user === undefined ? undefined : host.userIn(name, launch.user);
      if (uid !== undefined) args.push('-u', String(uid.uid), '-g', String(uid.gid));
      // A privileged DU (allowed by its EE's policy) keeps every capability of the container's user
      // namespace (network administration, tracing ... inside the EE): still no host privilege, and
      // the seccomp list (mounts included) still holds.
      if (launch.privileged) args.push('--elevated-privileges=CAP');
      args.push('--', '/bin/sh', '-c', 'cd "$0" && exec "$@"', launch.cwd, launch.command, ...launch.args);
      return started(spawn('lxc-attach', args, { stdio: ['ignore', logFd, logFd], detached: true }));
    },
  };
}

/**
 * A unit with a network namespace of its own: entered with nsenter under the EE's seccomp list
 * (net-attach.ts says why and how). Without the filter's loader it is not started at all.
 */
function spawnNetworked(host: AttachTarget, name: string, launch: Launch, logFd: number) {
  const ids = host.ids(name);
  if (!ids || typeof launch.network !== 'object') throw new Error('a networked unit needs an unprivileged EE');
  const check = seccompLoader();
  if ('missing' in check)
    throw new Error(`a networked unit is not started without the EE's seccomp filter: missing ${check.missing}`);
  const user = launch.user === undefined ? { uid: 0, gid: 0 } : host.userIn(name, launch.user);
  const initPid = host.initPid(name);
  const argv = netAttachArgv(
    { initPid, ids, ...user, netns: launch.network.join, cgroups: cgroupProcsOf(initPid), loader: check.loader },
    { env: launch.env, cwd: launch.cwd, command: launch.command, args: launch.args },
  );
  return started(
    spawn(argv[0]!, argv.slice(1), {
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
      stdio: ['ignore', logFd, logFd],
      detached: true,
    }),
  );
}

function started(child: ChildProcess) {
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', () => resolve(127));
  });
  if (child.pid === undefined) throw new Error('the unit could not be started in its container');
  child.unref();
  return { pid: child.pid, exited };
}
