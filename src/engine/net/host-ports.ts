// Ports the host already uses, from /proc/net: a TCP port someone listens on, a UDP port someone has
// bound (the agent's own servers among them). A port mapping onto one of them would steal its traffic.
import { readFileSync } from 'node:fs';
import type { Protocol } from './types.js';

const LISTEN = '0A';

function portsIn(file: string, tcp: boolean): number[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return []; // no IPv6 on this host
  }
  return text
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length > 3 && (!tcp || f[3] === LISTEN))
    .map((f) => Number.parseInt(f[1]!.split(':')[1] ?? '', 16))
    .filter((n) => Number.isInteger(n) && n > 0);
}

export function hostPortsInUse(protocol: Protocol, procNet = '/proc/net'): Set<number> {
  const p = protocol === 'TCP' ? 'tcp' : 'udp';
  return new Set([...portsIn(`${procNet}/${p}`, p === 'tcp'), ...portsIn(`${procNet}/${p}6`, p === 'tcp')]);
}
