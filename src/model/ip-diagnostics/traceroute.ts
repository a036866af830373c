// Device.IP.Diagnostics.TraceRoute() (TR-181 TraceRoute:1). Node can't read ICMP without raw
// sockets, so the system traceroute runs it: an argument vector (never a shell), the Host resolved
// here first (so that a name that does not resolve is Error_CannotResolveHostName and the address
// used is known), one probe at a time. Its output becomes the RouteHops; a run the controller
// cancels is killed with the operation.
import { execFile } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import type { DataModel } from '../../dm/datamodel.js';
import { DmError, UspError } from '../../dm/errors.js';
import type { Logger } from '../../util/logger.js';
import { type TraceRouteArgs, traceRouteArgs, traceRouteArgv } from './traceroute-args.js';
import { type Trace, traceResult } from './traceroute-output.js';

const TRACEROUTE = 'Device.IP.Diagnostics.TraceRoute()';
/** 64 hops of 3 probes print a few KiB; more is not traceroute talking. */
const MAX_OUTPUT = 256 * 1024;

type Status = Trace['status'] | 'Error_CannotResolveHostName' | 'Error_Internal';

interface Run {
  readonly exitCode: number | string;
  readonly stdout: string;
  readonly stderr: string;
}

function run(bin: string, argv: string[], signal: AbortSignal): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(bin, argv, { signal, maxBuffer: MAX_OUTPUT, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      if (signal.aborted) reject(signal.reason);
      else if (err) resolve({ exitCode: (err as { code?: number | string }).code ?? 1, stdout, stderr });
      else resolve({ exitCode: 0, stdout, stderr });
    });
  });
}

/** The name of the Device.IP.Interface row the controller named, for traceroute's --interface. */
function interfaceName(dm: DataModel, ref: string): string {
  const name = dm.node(`${ref}.`) ? dm.value(`${ref}.Name`) : '';
  if (!name || name.startsWith('-'))
    throw new DmError(
      UspError.InvalidCommandArguments,
      `${TRACEROUTE} argument 'Interface': ${ref} is not an IP interface of this device`,
    );
  return name;
}

const failed = (status: Status, address = ''): Record<string, string> => ({
  Status: status,
  IPAddressUsed: address,
  ResponseTime: '0',
});

function outputOf(trace: Trace, address: string): Record<string, string> {
  const out: Record<string, string> = {
    Status: trace.status,
    IPAddressUsed: address,
    ResponseTime: String(trace.responseTime),
  };
  trace.hops.forEach((h, i) => {
    const row = `RouteHops.${i + 1}.`;
    // Numeric output: no reverse lookups, whose delays would stretch the probes' timing.
    out[`${row}Host`] = h.address;
    out[`${row}HostAddress`] = '';
    out[`${row}ErrorCode`] = String(h.errorCode);
    out[`${row}RTTimes`] = h.rtTimes.join(',');
  });
  return out;
}

/** bin: the traceroute to run (the one on PATH unless a test says otherwise). */
export function registerTraceRoute(dm: DataModel, log: Logger, bin = 'traceroute'): void {
  dm.command(TRACEROUTE, async (req) => {
    const args: TraceRouteArgs = traceRouteArgs(req.input);
    const ifName = args.interfaceRef ? interfaceName(dm, args.interfaceRef) : undefined;
    let address: string;
    try {
      address = (await lookup(args.host, { family: args.family ?? 0 })).address;
    } catch {
      return failed('Error_CannotResolveHostName');
    }
    const argv = traceRouteArgv(args, address, ifName);
    const r = await run(bin, argv, req.signal);
    if (r.exitCode === 'ENOENT') {
      log.error({ bin }, 'TraceRoute() needs the traceroute tool, which is not installed');
      return failed('Error_Internal', address);
    }
    if (r.exitCode !== 0) {
      const said = r.stderr.trim().split('\n').pop() ?? '';
      log.warn({ argv, exitCode: r.exitCode, said }, 'traceroute failed');
      return failed(/unreachable|no route/i.test(said) ? 'Error_NoRouteToHost' : 'Error_Other', address);
    }
    return outputOf(traceResult(r.stdout, address, args.maxHops), address);
  });
}
