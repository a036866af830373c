// How a native unit's process starts: a host process from the unpacked DU, each in its own session so
// that a stop reaches its children and an agent restart does not.
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { HOST_PATH, inNetwork, splitEnv } from '../../net/enter.js';
import type { Launch, ProcessLauncher } from '../../supervisor.js';

/** Where the host's users are. */
export const HOST_PASSWD = '/etc/passwd';

export const nativeLauncher: ProcessLauncher = {
  spawn(_euid: string, launch: Launch, logFd: number) {
    const command = isAbsolute(launch.command) ? launch.command : join(launch.cwd, launch.command);
    const user =
      launch.uid !== undefined && launch.gid !== undefined ? { uid: launch.uid, gid: launch.gid } : undefined;
    // In a network of its own: the wrapper (root) enters it and drops to the user itself. A command it
    // could not run fails here, as a direct spawn would, not with the wrapper's words (naming it) in the log.
    if (launch.network && !isExecutable(command)) throw new Error("the service's command could not be executed");
    // The wrapper runs as root: the DU's variables that steer programs reach only the service (enter.ts).
    const { wrapper, late } = splitEnv(launch.env);
    const argv = launch.network
      ? inNetwork(launch.network, [command, ...launch.args], user, late)
      : [command, ...launch.args];
    const asUser = launch.network ? {} : { ...(user ? { uid: user.uid, gid: user.gid } : {}) };
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: launch.cwd,
      env: launch.network ? wrapper : { PATH: HOST_PATH, ...launch.env },
      stdio: ['ignore', logFd, logFd],
      detached: true,
      // As the DU's user (libuv drops supplementary groups with it); root only for a privileged DU.
      ...asUser,
    });
    const exited = new Promise<number | null>((resolve) => {
      child.once('exit', (code) => resolve(code));
      child.once('error', () => resolve(127));
    });
    // Not naming the command: it is the package's text, and the unit's record has it.
    if (child.pid === undefined) throw new Error("the service's command could not be executed");
    child.unref();
    return { pid: child.pid, exited };
  },
};

/** A regular file with an execute bit (stat only: the DU's file is not opened with the agent's privileges). */
function isExecutable(path: string): boolean {
  try {
    const st = statSync(path);
    return st.isFile() && (st.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}
