// How a unit's process starts inside an LXC container: lxc-attach with a clean environment, as the
// service's user of the container, in its own session, cd to the DU.
import { spawn } from 'node:child_process';
import type { UserIds } from '../../ids/users.js';
import { ATTACH_ALL_BUT_NET, inNetwork } from '../../net/enter.js';
import type { Launch, ProcessLauncher } from '../../supervisor.js';

/** What the launcher needs of the container's host. */
export interface AttachTarget {
  attachArgs(name: string): string[];
  userIn(name: string, user: string): UserIds;
}

export function lxcLauncher(host: AttachTarget, name: string): ProcessLauncher {
  return {
    spawn(_euid: string, launch: Launch, logFd: number) {
      const args = host.attachArgs(name);
      // A networked unit: every namespace of the container but the network, which is the one the agent
      // made for it on the host (the container's user namespace can't reconfigure it).
      if (launch.network) args.push('-s', ATTACH_ALL_BUT_NET);
      for (const [k, v] of Object.entries(launch.env)) args.push('--set-var', `${k}=${v}`);
      const uid = launch.user === undefined ? undefined : host.userIn(name, launch.user);
      if (uid !== undefined) args.push('-u', String(uid.uid), '-g', String(uid.gid));
      // A privileged DU (allowed by its EE's policy) keeps every capability of the container's user
      // namespace (network administration, tracing ... inside the EE): still no host privilege, and
      // the seccomp list (mounts included) still holds.
      if (launch.privileged) args.push('--elevated-privileges=CAP');
      args.push('--', '/bin/sh', '-c', 'cd "$0" && exec "$@"', launch.cwd, launch.command, ...launch.args);
      const argv = launch.network ? inNetwork(launch.network, ['lxc-attach', ...args]) : ['lxc-attach', ...args];
      const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', logFd, logFd], detached: true });
      const exited = new Promise<number | null>((resolve) => {
        child.once('exit', (code) => resolve(code));
        child.once('error', () => resolve(127));
      });
      if (child.pid === undefined) throw new Error('lxc-attach could not be executed');
      child.unref();
      return { pid: child.pid, exited };
    },
  };
}
