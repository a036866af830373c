// The command line that starts a unit's process in its network: nsenter into the namespace the agent
// made for it, or unshare a fresh loopback-only one. Entering a namespace takes root, so the wrapper
// runs as root and setpriv drops to the unit's user (no supplementary groups) just before the service.
// The wrapper's programs are the host's, run as root: no variable of the DU's reaches them (PATH to
// find another `ip`, LD_PRELOAD, IP_LIB_DIR and whatever else a tool reads: no list of the dangerous
// ones is complete). The wrapper runs with the host's PATH alone; the DU's environment is set by env(1)
// after the drop. Its values are in env's command line for the moment env runs (documented: mount /proc
// with hidepid where other local users must not see them).
import type { UnitNetwork } from './types.js';

export interface HostIds {
  readonly uid: number;
  readonly gid: number;
}

/** The PATH the root wrapper runs with (the host's tools only). */
export const HOST_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** A unit's environment: none for the root wrapper (the host's PATH only), all of it for the service (K=V). */
export function splitEnv(env: Readonly<Record<string, string>>): { wrapper: Record<string, string>; late: string[] } {
  const unit = { PATH: HOST_PATH, ...env };
  return { wrapper: { PATH: HOST_PATH }, late: Object.entries(unit).map(([k, v]) => `${k}=${v}`) };
}

const setpriv = (user: HostIds | undefined) =>
  user ? ['setpriv', `--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', '--'] : [];

/**
 * argv run in `network` as `user` (undefined: as root, a privileged native DU); `late`: the variables
 * set only after the drop (splitEnv).
 */
export function inNetwork(
  network: UnitNetwork,
  argv: readonly string[],
  user?: HostIds,
  late: readonly string[] = [],
): string[] {
  // `env -i`: the service gets exactly the unit's environment, nothing of the wrapper's; after `--` no
  // name (one starting with '-') is taken for an option.
  const unit = [...setpriv(user), '/usr/bin/env', '-i', '--', ...late, ...argv];
  if (network === 'loopback')
    return ['unshare', '--net', '--', '/bin/sh', '-c', 'ip link set lo up && exec "$@"', 'sh', ...unit];
  return ['nsenter', `--net=${network.join}`, '--', ...unit];
}
