// The arguments of Device.IP.Diagnostics.TraceRoute() as the traceroute run needs them: the
// definition has checked types and TR-181 ranges; here the defaults TR-181 gives in words ("by
// default the CPE SHOULD set this value to ...", what TP-469 1.92 checks) fill what the controller
// left out, the Host must be a host name or an address, and what TR-181 leaves unbounded is bounded
// so that one command can't hold the agent for days. Anything else is 7027 naming the argument.
import { isIP } from 'node:net';
import { DmError, UspError } from '../../dm/errors.js';

export type Family = 4 | 6;

export interface TraceRouteArgs {
  readonly host: string;
  /** undefined: "Any", the system's preference. */
  readonly family: Family | undefined;
  /** A Device.IP.Interface row (without the final dot), or undefined for the routing table's choice. */
  readonly interfaceRef: string | undefined;
  readonly tries: 1 | 2 | 3;
  readonly timeoutMs: number;
  readonly dataBlockSize: number;
  readonly dscp: number;
  readonly maxHops: number;
}

/** TR-181 IPTraceRouteDiagnosticsInput: "By default, the CPE SHOULD set this value to ..." */
export const TRACEROUTE_DEFAULTS = {
  NumberOfTries: 3,
  Timeout: 5000,
  DataBlockSize: 38,
  DSCP: 0,
  MaxHopCount: 30,
} as const;

/** A minute per probe: 64 hops of 3 tries then take at most 3.2 hours, and Cancel() ends it sooner. */
export const MAX_TIMEOUT_MS = 60_000;
/** traceroute's largest packet (65,000 bytes) less the IPv6 and UDP headers, so that both families fit. */
export const MAX_DATA_BLOCK = 65_000 - 48;

/** RFC 1123 host names: dot-separated labels of letters, digits and inner hyphens; never a leading '-'. */
const LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const HOST_NAME = new RegExp(`^(?=.{1,253}\\.?$)${LABEL}(?:\\.${LABEL})*\\.?$`);

const COMMAND = 'Device.IP.Diagnostics.TraceRoute()';
const bad = (arg: string, why: string) =>
  new DmError(UspError.InvalidCommandArguments, `${COMMAND} argument '${arg}': ${why}`);

function number(input: Readonly<Record<string, string>>, arg: keyof typeof TRACEROUTE_DEFAULTS, max: number): number {
  const raw = input[arg];
  const n = raw === undefined || raw === '' ? TRACEROUTE_DEFAULTS[arg] : Number(raw);
  if (!Number.isInteger(n) || n > max) throw bad(arg, `${raw} is above this agent's limit of ${max}`);
  return n;
}

/** The run's arguments from the Operate's (validated against the definition); throws 7027 naming the argument. */
export function traceRouteArgs(input: Readonly<Record<string, string>>): TraceRouteArgs {
  const host = input.Host ?? '';
  if (!isIP(host) && !HOST_NAME.test(host)) throw bad('Host', `'${host}' is neither a host name nor an IP address`);
  const version = input.ProtocolVersion ?? 'Any';
  const family = version === 'IPv4' ? 4 : version === 'IPv6' ? 6 : undefined;
  if (family && isIP(host) && isIP(host) !== family) throw bad('Host', `${host} is not an ${version} address`);
  const ref = (input.Interface ?? '').replace(/\.$/, '');
  if (ref && !/^Device\.IP\.Interface\.\d+$/.test(ref)) throw bad('Interface', `'${ref}' is not a Device.IP.Interface`);
  return {
    host,
    family,
    interfaceRef: ref || undefined,
    tries: number(input, 'NumberOfTries', 3) as 1 | 2 | 3,
    timeoutMs: number(input, 'Timeout', MAX_TIMEOUT_MS),
    dataBlockSize: number(input, 'DataBlockSize', MAX_DATA_BLOCK),
    dscp: number(input, 'DSCP', 63),
    maxHops: number(input, 'MaxHopCount', 64),
  };
}

/**
 * traceroute's argument vector for one run to `address` (already resolved): numeric output, one probe
 * in flight at a time so that tries and the timeout mean what TR-181 says (each probe waits Timeout,
 * not less: the HERE and NEAR shortcuts are off), the packet DataBlockSize bytes past the IP and UDP headers.
 */
export function traceRouteArgv(a: TraceRouteArgs, address: string, interfaceName: string | undefined): string[] {
  const family = isIP(address) as Family;
  const headers = family === 6 ? 48 : 28;
  return [
    `-${family}`,
    '-n',
    '-N',
    '1',
    '-q',
    String(a.tries),
    '-w',
    `${a.timeoutMs / 1000},0,0`,
    '-m',
    String(a.maxHops),
    '-t',
    String(a.dscp << 2),
    ...(interfaceName ? [`--interface=${interfaceName}`] : []),
    '--',
    address,
    String(a.dataBlockSize + headers),
  ];
}
