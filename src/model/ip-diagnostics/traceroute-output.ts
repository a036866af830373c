// What a numeric (-n) run of the system traceroute printed, as TR-181 TraceRoute() results. A hop
// line is " 3  192.0.2.1  0.512 ms !H  *  198.51.100.7  1.250 ms": the hop number, then per probe
// either '*' (no answer) or an RTT after the address that answered, the address printed only when it
// changes, and an ICMP annotation after the RTT when the answer was an unreachable.

export interface Hop {
  /** The address of the last answer on this hop; "" when no probe was answered. */
  readonly address: string;
  /** The ICMP code of an unreachable answer ("directly from the ICMP CODE field"); 0 for none. */
  readonly errorCode: number;
  /** One per probe, in ms, rounded up, at least 1; 0 for a probe not answered. */
  readonly rtTimes: readonly number[];
  /** Whether an answer on this hop was an unreachable (!H, !N, !P ...), which ends the trace. */
  readonly unreachable: boolean;
}

export type TraceStatus = 'Complete' | 'Error_NoRouteToHost' | 'Error_MaxHopCountExceeded' | 'Error_Other';

export interface Trace {
  readonly status: TraceStatus;
  readonly hops: readonly Hop[];
  /** The last round trip to the target, ms; 0 when it was not reached (TR-181: "MUST be zero"). */
  readonly responseTime: number;
}

/** traceroute's annotations and the ICMP unreachable codes they stand for (RFC 792, RFC 1812). */
const ICMP_CODES: Record<string, number> = { N: 0, H: 1, P: 2, F: 4, S: 5, X: 13, V: 14, C: 15 };

function icmpCode(annotation: string): number | undefined {
  const a = annotation.slice(1);
  if (/^\d+$/.test(a)) return Number(a);
  return ICMP_CODES[a.replace(/-\d+$/, '')];
}

const rtt = (ms: number) => Math.max(1, Math.ceil(ms));

export function parseHop(line: string): { n: number; hop: Hop } | undefined {
  const tokens = line.trim().split(/\s+/);
  const n = Number(tokens[0]);
  if (!Number.isInteger(n) || n < 1) return undefined;
  let current = '';
  let address = '';
  let errorCode = 0;
  let unreachable = false;
  const times: number[] = [];
  for (let i = 1; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t === '*') times.push(0);
    else if (tokens[i + 1] === 'ms' && /^\d+(\.\d+)?$/.test(t)) {
      times.push(rtt(Number(t)));
      address = current;
      i++;
    } else if (t.startsWith('!')) {
      const code = icmpCode(t);
      // "!<10" style marks (TTL oddities) and unknown ones say nothing of reachability.
      if (code !== undefined) {
        errorCode = code;
        unreachable = true;
      }
    } else current = t;
  }
  return { n, hop: { address, errorCode, rtTimes: times, unreachable } };
}

/** The hops of traceroute's standard output (its first line, "traceroute to ...", is skipped). */
export function parseHops(stdout: string): Hop[] {
  const hops: Hop[] = [];
  for (const line of stdout.split('\n')) {
    const h = parseHop(line);
    if (h && h.n === hops.length + 1) hops.push(h.hop);
  }
  return hops;
}

export function traceResult(stdout: string, target: string, maxHops: number): Trace {
  const hops = parseHops(stdout);
  const last = hops[hops.length - 1];
  if (last && last.address === target) {
    const answered = last.rtTimes.filter((t) => t > 0);
    return { status: 'Complete', hops, responseTime: answered[answered.length - 1] ?? 0 };
  }
  const status = last?.unreachable
    ? 'Error_NoRouteToHost'
    : hops.length >= maxHops
      ? 'Error_MaxHopCountExceeded'
      : 'Error_Other';
  return { status, hops, responseTime: 0 };
}
