// What an operator asked for a DU at InstallDU / Update besides its package (TR-181 arguments): the
// restart policy, resources, stop delay, roles, host objects and environment of its units. The model
// parses and validates them (src/model/software-modules/install-args.ts); the engine keeps them with the
// DU and applies them (unit-launch.ts, the supervisor, admission).

/** The TR-181 AutoRestart settings an operator gave (absent: the manifest's policy, default timing). */
export interface UnitRestart {
  enabled: boolean;
  minWait: number;
  maxWait: number;
  multiplier: number;
  maxRetries: number;
  /** ResetPeriod (s): the retry count starts again after the unit ran this long (0: never). */
  resetPeriod?: number;
}

/** Per-DU limits below the EE's (TR-181 Resources.*); -1: none of its own. */
export interface DuResources {
  readonly diskKiB: number;
  readonly memoryKiB: number;
  readonly cpuPercent: number;
}

/** TR-181 role names (rows of Device.LocalAgent.ControllerTrust.Role / Device.Users.Role). */
export interface DuRoles {
  readonly required: readonly string[];
  readonly optional: readonly string[];
  readonly requiredUser: readonly string[];
}

/** A host path bound into the EE for the DU's units (checked against the EE's allow-list by the model). */
export interface HostObject {
  readonly source: string;
  readonly destination: string;
  readonly options: string;
  readonly readOnly: boolean;
}

export interface EnvVariable {
  readonly key: string;
  readonly value: string;
}

export interface DuSettings {
  /** AutoRestart.* of the InstallDU: the policy of every unit of the DU (an EU row's write overrides it). */
  readonly restart?: UnitRestart;
  /** ShutdownDelay in seconds: SIGTERM, then SIGKILL after it (absent: the engine's default). */
  readonly shutdownDelayS?: number;
  readonly resources?: DuResources;
  readonly roles?: DuRoles;
  readonly hostObjects?: readonly HostObject[];
  readonly env?: readonly EnvVariable[];
}

/** Variables the agent sets for every unit: a DU's EnvVariable may not replace them. */
export const RESERVED_ENV = /^(CPE_EUID|CPE_APPDATA_.*|PATH|HOME|USER|LOGNAME)$/;

/** An environment variable name a DU may set: no '=' (it would split), no NUL, not one of the agent's. */
export function envKeyProblem(key: string): string | undefined {
  if (!key) return 'is empty';
  if (key.includes('=') || key.includes('\0')) return "contains '=' or NUL";
  if (RESERVED_ENV.test(key)) return 'is reserved by the agent';
  return undefined;
}

/** The variables a DU's units get from its EnvVariable arguments (re-checked: records may be old or edited). */
export function envOf(s: DuSettings | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const v of s?.env ?? []) if (!envKeyProblem(v.key) && !v.value.includes('\0')) env[v.key] = v.value;
  return env;
}

/** How long a unit may take to stop after SIGTERM, in ms: its own delay, else its DU's, else the engine's. */
export function graceOf(s: DuSettings | undefined, engineDefaultMs: number, unitS?: number): number {
  const sec = unitS ?? s?.shutdownDelayS;
  return sec !== undefined ? sec * 1000 : engineDefaultMs;
}
