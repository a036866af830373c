// The InstallDU / Update arguments beyond the package, its credentials, ApplicationData, NetworkConfig and
// Signature: AutoRestart.*, Resources.*, ShutdownDelay, RequiredRoles / OptionalRoles / RequiredUserRoles,
// HostObject.{i}. and EnvVariable.{i}., parsed into the engine's DuSettings. USP R-OPR.5-7: a value
// the definition's type allows but TR-181 does not, or an argument object missing one of its mandatory
// arguments, is 7027 naming the argument (the types themselves are checked by dm/command-args.ts).
import { lstatSync, realpathSync } from 'node:fs';
import { posix } from 'node:path';
import { argRows } from '../../dm/command-args.js';
import type { DataModel } from '../../dm/datamodel.js';
import { DmError, UspError } from '../../dm/errors.js';
import {
  type DuResources,
  type DuRoles,
  type DuSettings,
  type EnvVariable,
  envKeyProblem,
  type HostObject,
} from '../../engine/du-settings.js';
import type { UnitRestart } from '../../engine/types.js';

type Input = Readonly<Record<string, string>>;

/** What the EE the DU goes into allows (from its ExecEnv row). */
export interface EEArgsPolicy {
  /** Names of the roles in ExecEnv.AvailableRoles / AvailableUserRoles. */
  readonly roles: ReadonlySet<string>;
  readonly userRoles: ReadonlySet<string>;
  /** X_CPE-AGENT_HostObjectAllowList: host paths that may be bound in, and whether read-write. */
  readonly hostPaths: readonly AllowedHostPath[];
}

export interface AllowedHostPath {
  readonly path: string;
  readonly rw: boolean;
}

const bad = (arg: string, why: string) => new DmError(UspError.InvalidCommandArguments, `argument '${arg}' ${why}`);

/** Every argument of this file's that the input carries, as the engine's settings (absent when none). */
export function parseInstallArgs(input: Input, ee: EEArgsPolicy): { settings?: DuSettings } {
  const s: { -readonly [K in keyof DuSettings]: DuSettings[K] } = {};
  const restart = autoRestartArgs(input);
  if (restart) s.restart = restart;
  if (input.ShutdownDelay !== undefined) s.shutdownDelayS = uint(input, 'ShutdownDelay', 0, 86_400);
  const resources = resourceArgs(input);
  if (resources) s.resources = resources;
  const roles = roleArgs(input, ee);
  if (roles) s.roles = roles;
  const hostObjects = hostObjectArgs(input, ee);
  if (hostObjects) s.hostObjects = hostObjects;
  const env = envArgs(input);
  if (env) s.env = env;
  return Object.keys(s).length ? { settings: s } : {};
}

function uint(input: Input, arg: string, min: number, max: number): number {
  const v = Number(input[arg]);
  if (!Number.isInteger(v) || v < min || v > max) throw bad(arg, `must be from ${min} to ${max}, not '${input[arg]}'`);
  return v;
}

/** The arguments of one argument object, each mandatory one required once any of the object is given. */
function objectArgs(input: Input, obj: string, mandatory: readonly string[]): Input | undefined {
  const given = Object.keys(input).filter((k) => k.startsWith(obj) && !k.slice(obj.length).includes('.'));
  if (!given.length) return undefined;
  for (const m of mandatory)
    if (input[`${obj}${m}`] === undefined) throw bad(`${obj}${m}`, `is missing (${obj} given)`);
  return input;
}

function autoRestartArgs(input: Input): UnitRestart | undefined {
  const o = 'AutoRestart.';
  const mandatory = ['Enable', 'RetryMinimumWaitInterval', 'RetryMaximumWaitInterval', 'RetryIntervalMultiplier'];
  if (!objectArgs(input, o, mandatory)) return undefined;
  const minWait = uint(input, `${o}RetryMinimumWaitInterval`, 1, 65_535);
  const maxWait = uint(input, `${o}RetryMaximumWaitInterval`, 1, 4_294_967_295);
  if (maxWait < minWait) throw bad(`${o}RetryMaximumWaitInterval`, `must not be below RetryMinimumWaitInterval`);
  return {
    enabled: input[`${o}Enable`] === 'true',
    minWait,
    maxWait,
    multiplier: uint(input, `${o}RetryIntervalMultiplier`, 1000, 65_535),
    maxRetries:
      input[`${o}MaximumRetryCount`] === undefined ? 10 : uint(input, `${o}MaximumRetryCount`, 0, 2 ** 32 - 1),
    resetPeriod: input[`${o}ResetPeriod`] === undefined ? 0 : uint(input, `${o}ResetPeriod`, 0, 2 ** 32 - 1),
  };
}

function resourceArgs(input: Input): DuResources | undefined {
  const o = 'Resources.';
  if (!objectArgs(input, o, [])) return undefined;
  // -1 is "no limit of its own"; a limit of 0 would keep the DU from ever running.
  const limit = (name: string, max: number) => {
    const arg = `${o}${name}`;
    if (input[arg] === undefined) return -1;
    const v = Number(input[arg]);
    if (v !== -1 && !(Number.isInteger(v) && v > 0 && v <= max))
      throw bad(arg, `must be -1 (no limit) or from 1 to ${max}, not '${input[arg]}'`);
    return v;
  };
  return {
    diskKiB: limit('AllocatedDiskSpace', 2 ** 31 - 1),
    memoryKiB: limit('AllocatedMemory', 2 ** 31 - 1),
    cpuPercent: limit('AllocatedCPUPercent', 100),
  };
}

const list = (v: string | undefined) =>
  (v ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

function roleArgs(input: Input, ee: EEArgsPolicy): DuRoles | undefined {
  if (input.RequiredRoles === undefined && input.OptionalRoles === undefined && input.RequiredUserRoles === undefined)
    return undefined;
  const roles = {
    required: list(input.RequiredRoles),
    optional: list(input.OptionalRoles),
    requiredUser: list(input.RequiredUserRoles),
  };
  // TR-181: a required role the EE does not make available fails the command; optional ones are only kept.
  for (const r of roles.required)
    if (!ee.roles.has(r)) throw bad('RequiredRoles', `names '${r}', which is not in the ExecEnv's AvailableRoles`);
  for (const r of roles.requiredUser)
    if (!ee.userRoles.has(r))
      throw bad('RequiredUserRoles', `names '${r}', which is not in the ExecEnv's AvailableUserRoles`);
  return roles;
}

function envArgs(input: Input): EnvVariable[] | undefined {
  const rows = argRows(input, 'EnvVariable.');
  if (!rows.size) return undefined;
  const seen = new Set<string>();
  return [...rows.entries()].map(([i, r]) => {
    const arg = (p: string) => `EnvVariable.${i}.${p}`;
    if (r.Key === undefined) throw bad(arg('Key'), 'is missing');
    if (r.Value === undefined) throw bad(arg('Value'), 'is missing');
    const problem = envKeyProblem(r.Key);
    if (problem) throw bad(arg('Key'), `'${r.Key}' ${problem}`);
    if (seen.has(r.Key)) throw bad(arg('Key'), `'${r.Key}' is given twice`);
    if (r.Value.includes('\0')) throw bad(arg('Value'), 'contains NUL');
    seen.add(r.Key);
    return { key: r.Key, value: r.Value };
  });
}

function hostObjectArgs(input: Input, ee: EEArgsPolicy): HostObject[] | undefined {
  const rows = argRows(input, 'HostObject.');
  if (!rows.size) return undefined;
  return [...rows.entries()].map(([i, r]) => {
    const arg = (p: string) => `HostObject.${i}.${p}`;
    for (const p of ['Source', 'Destination']) if (r[p] === undefined) throw bad(arg(p), 'is missing');
    const options = list(r.Options);
    const unknown = options.find((o) => o !== 'ro' && o !== 'rw');
    if (unknown !== undefined || (options.includes('ro') && options.includes('rw')))
      throw bad(arg('Options'), `must be 'ro' or 'rw', not '${r.Options}'`);
    const source = checkedSource(r.Source!, ee, arg('Source'));
    const wantsRw = options.includes('rw');
    if (wantsRw && !source.rw)
      throw bad(arg('Options'), `'rw' is not allowed for ${r.Source}: it may be bound read-only`);
    const dest = r.Destination!;
    if (!isCleanAbsolute(dest) || dest === '/')
      throw bad(arg('Destination'), `must be a clean absolute path, not '${dest}'`);
    return { source: r.Source!, destination: dest, options: options.join(','), readOnly: !wantsRw };
  });
}

/** Absolute, no '.' or '..' segment, no doubled or trailing slash: what it says is what it is. */
function isCleanAbsolute(p: string): boolean {
  return p.startsWith('/') && !p.includes('\0') && posix.normalize(p) === p && (p === '/' || !p.endsWith('/'));
}

/**
 * A host path is bound only if it lies in an allowed one and no component of it is a symbolic link
 * (a link the DU's owner planted could lead anywhere on the host): it must be its own real path.
 */
function checkedSource(src: string, ee: EEArgsPolicy, arg: string): AllowedHostPath {
  if (!isCleanAbsolute(src)) throw bad(arg, `must be a clean absolute path, not '${src}'`);
  const allowed = ee.hostPaths
    .filter((a) => src === a.path || src.startsWith(a.path === '/' ? '/' : `${a.path}/`))
    .sort((a, b) => b.path.length - a.path.length)[0];
  if (!allowed) throw bad(arg, `'${src}' is not in the ExecEnv's host object allow-list`);
  let real: string;
  try {
    lstatSync(src);
    real = realpathSync(src);
  } catch {
    throw bad(arg, `'${src}' does not exist on the host`);
  }
  if (real !== src) throw bad(arg, `'${src}' goes through a symbolic link`);
  return { path: src, rw: allowed.rw };
}

/** An allow-list value: comma-separated clean absolute paths, each optionally ending in ':rw'. */
export function parseAllowList(v: string): AllowedHostPath[] {
  return list(v)
    .map((e) => (e.endsWith(':rw') ? { path: e.slice(0, -3), rw: true } : { path: e, rw: false }))
    .filter((e) => isCleanAbsolute(e.path));
}

/** The vendor parameter of an ExecEnv row that lists the host paths HostObject may bind in. */
export const HOST_OBJECT_ALLOW_LIST = 'X_CPE-AGENT_HostObjectAllowList';

/** What an ExecEnv row allows: its roles (by the Name of the Role rows it references) and host paths. */
export function eeArgsPolicy(dm: DataModel, eeRow: string | undefined): EEArgsPolicy {
  const names = (param: string) => {
    const out = new Set<string>();
    for (const r of list(eeRow ? dm.value(`${eeRow}${param}`) : '')) {
      out.add(r); // a role given by name
      const name = dm.node(`${r.replace(/\.$/, '')}.`)?.stored('Name');
      if (name) out.add(name);
    }
    return out;
  };
  return {
    roles: names('AvailableRoles'),
    userRoles: names('AvailableUserRoles'),
    hostPaths: parseAllowList(eeRow ? dm.value(`${eeRow}${HOST_OBJECT_ALLOW_LIST}`) : ''),
  };
}

/** InstallDU / Update: this file's arguments as the engine request's settings, checked against the EE row. */
export function installArgs(dm: DataModel, eeRow: string | undefined, input: Input): { settings?: DuSettings } {
  return parseInstallArgs(input, eeArgsPolicy(dm, eeRow));
}
