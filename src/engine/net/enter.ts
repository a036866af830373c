// The command line that starts a unit's process in its network: nsenter into the namespace the agent
// made for it, or unshare a fresh loopback-only one. Entering a namespace takes root, so the wrapper
// runs as root and setpriv drops to the unit's user (no supplementary groups) just before the service.
import type { UnitNetwork } from './types.js';

export interface HostIds {
  readonly uid: number;
  readonly gid: number;
}

const setpriv = (user: HostIds | undefined) =>
  user ? ['setpriv', `--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', '--'] : [];

/** argv run in `network` as `user` (undefined: as root, a privileged native DU). */
export function inNetwork(network: UnitNetwork, argv: readonly string[], user?: HostIds): string[] {
  if (network === 'loopback')
    return [
      'unshare',
      '--net',
      '--',
      '/bin/sh',
      '-c',
      'ip link set lo up && exec "$@"',
      'sh',
      ...setpriv(user),
      ...argv,
    ];
  return ['nsenter', `--net=${network.join}`, '--', ...setpriv(user), ...argv];
}
