// The InstallDU / Update arguments a DU was installed with, as TR-181 shows them: its roles on the
// DeploymentUnit row (vendor parameters: TR-181 has none there), its resources and stop delay on each
// ExecutionUnit row, its environment and host objects in the EU's EnvVariable and HostObject tables.
import { agentCaller } from '../../dm/caller.js';
import type { DataModel } from '../../dm/datamodel.js';
import { envOf } from '../../engine/du-settings.js';
import type { DURecord, EURecord } from '../../engine/records.js';
import { ME } from './rows.js';

/** The DeploymentUnit row's role parameters. */
export function duRoleValues(du: DURecord): Record<string, string> {
  const r = du.settings?.roles;
  return {
    'X_CPE-AGENT_RequiredRoles': (r?.required ?? []).join(','),
    'X_CPE-AGENT_OptionalRoles': (r?.optional ?? []).join(','),
    'X_CPE-AGENT_RequiredUserRoles': (r?.requiredUser ?? []).join(','),
  };
}

/** An ExecutionUnit row's values that come from its DU's arguments (only those given: the rest keep their defaults). */
export function euSettingValues(du: DURecord, eu: EURecord): Record<string, string> {
  const s = du.settings;
  const delay = eu.shutdownDelayS ?? s?.shutdownDelayS;
  return {
    ...(s?.resources
      ? {
          AllocatedDiskSpace: String(s.resources.diskKiB),
          AllocatedMemory: String(s.resources.memoryKiB),
          AllocatedCPUPercent: String(s.resources.cpuPercent),
        }
      : {}),
    ...(delay !== undefined ? { ShutdownDelay: String(delay) } : {}),
  };
}

/** The EU's EnvVariable and HostObject rows, made again whenever they differ from what the unit gets. */
export function syncEuTables(dm: DataModel, euPath: string, du: DURecord, eu: EURecord): void {
  const env = Object.entries({ ...eu.service.env, ...envOf(du.settings) }).map(([Key, Value]) => ({ Key, Value }));
  mirrorTable(dm, euPath, 'EnvVariable', env);
  const hosts = (du.settings?.hostObjects ?? []).map((h) => ({
    Source: h.source,
    Destination: h.destination,
    Options: h.options,
  }));
  mirrorTable(dm, euPath, 'HostObject', hosts);
}

function mirrorTable(dm: DataModel, euPath: string, table: string, want: Record<string, string>[]): void {
  const rows = [...(dm.node(euPath)?.tables.get(table)?.rows.values() ?? [])];
  const same =
    rows.length === want.length && rows.every((r, i) => Object.entries(want[i]!).every(([k, v]) => r.stored(k) === v));
  if (same) return;
  if (rows.length)
    dm.delete(
      rows.map((r) => r.path),
      agentCaller(ME),
    );
  for (const values of want) dm.addInstance(`${euPath}${table}.`, values, ME);
}
