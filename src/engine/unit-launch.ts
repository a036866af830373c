// How the supervisor runs a unit: the launch its backend makes (command, environment with the
// application's volumes, user) and the restart policy in force (the operator's AutoRestart settings
// over the manifest's).
import type { AppVolumes } from './app-volumes.js';
import type { DuCgroups } from './du-cgroup.js';
import { envOf } from './du-settings.js';
import type { DuStore } from './du-store.js';
import type { Identities } from './identity.js';
import type { Network } from './net/network.js';
import type { Launch, RestartPolicy } from './supervisor.js';
import { type DURecord, type EERecord, type EURecord, hostNetworkOf } from './types.js';
import { volumeEnvName } from './volumes.js';

export function launchOf(
  c: { store: DuStore; volumes: AppVolumes; identity: Identities; cgroups: DuCgroups; net: Network },
  du: DURecord,
  eu: EURecord,
): Launch {
  const ee = c.store.ee(du.ee);
  const env: Record<string, string> = { ...eu.service.env, ...envOf(du.settings), CPE_EUID: eu.euid };
  for (const v of c.store.volumesOf(du)) env[volumeEnvName(v.name)] = c.volumes.path(v);
  const backend = c.store.backendOf(ee);
  const launch = backend.launch(ee ?? ({ id: du.ee } as EERecord), du, eu, env, () => c.identity.hostUserOf(du, eu));
  const network = c.net.unitNetwork(du, backend.caps.ownNetwork === true || hostNetworkOf(ee), eu);
  const resources = du.settings?.resources;
  return {
    ...launch,
    ...(network ? { network } : {}),
    ...(resources && !launch.ownLimits
      ? { started: (pid: number) => c.cgroups.enter(du.duid, resources, pid, launch.cgroupScope) }
      : {}),
  };
}

export function policyOf(eu: EURecord): Readonly<RestartPolicy> {
  const r = eu.restart;
  const mode = r
    ? r.enabled
      ? eu.service.restart === 'never'
        ? 'on-failure'
        : eu.service.restart
      : 'never'
    : eu.service.restart;
  // A zero wait or a multiplier below 1 would spin: the TR-181 minimums apply.
  return {
    mode,
    minWait: Math.max(1, r?.minWait ?? 5),
    multiplier: Math.max(1000, r?.multiplier ?? 2000),
    maxWait: Math.max(1, r?.maxWait ?? 3600),
    maxRetries: r?.maxRetries ?? 10,
    resetPeriod: r?.resetPeriod ?? 0,
  } as const;
}
