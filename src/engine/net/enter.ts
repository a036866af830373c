// The command line that starts a unit's process in its network: nsenter into the namespace the agent
// made for it, or unshare a fresh loopback-only one. Entering a namespace takes root, so the wrapper
// runs as root and setpriv drops to the unit's user (no supplementary groups) just before the service.
// The wrapper's programs are the host's, run as root: no variable of the DU's may steer them (PATH to
// find another `ip`, LD_PRELOAD, the C library's and the shell's own). Those reach the service through
// env(1) after the drop; the others pass through the wrapper's environment untouched.
import type { UnitNetwork } from './types.js';

export interface HostIds {
  readonly uid: number;
  readonly gid: number;
}

/** The PATH the root wrapper runs with (the host's tools only). */
export const HOST_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Variables the dynamic loader, the C library or the shell act on (glibc drops these for set-id programs). */
const STEERING = new Set([
  'PATH',
  'GCONV_PATH',
  'GETCONF_DIR',
  'HOSTALIASES',
  'LOCALDOMAIN',
  'LOCPATH',
  'NIS_PATH',
  'NLSPATH',
  'RESOLV_HOST_CONF',
  'RES_OPTIONS',
  'TMPDIR',
  'TZ',
  'TZDIR',
  'IFS',
  'ENV',
  'CDPATH',
  'PS4',
  'SHELLOPTS',
]);
const steers = (name: string) => STEERING.has(name) || /^(LD_|MALLOC_|GLIBC_|BASH)/.test(name);

/** A unit's environment split: what the root wrapper may carry, and what only the service may see (K=V). */
export function splitEnv(env: Readonly<Record<string, string>>): { wrapper: Record<string, string>; late: string[] } {
  const wrapper: Record<string, string> = { PATH: HOST_PATH };
  const late: string[] = [];
  for (const [k, v] of Object.entries(env)) {
    if (steers(k)) late.push(`${k}=${v}`);
    else wrapper[k] = v;
  }
  return { wrapper, late };
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
  const unit = [...setpriv(user), ...(late.length ? ['/usr/bin/env', ...late] : []), ...argv];
  if (network === 'loopback')
    return ['unshare', '--net', '--', '/bin/sh', '-c', 'ip link set lo up && exec "$@"', 'sh', ...unit];
  return ['nsenter', `--net=${network.join}`, '--', ...unit];
}
