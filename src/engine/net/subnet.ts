// The agent's IPv4 subnet: parsed once, addresses by their offset in it (the gateway is offset 1,
// units get 2 .. size-2), so a unit's offset names both its address and its veth.
import { EngineCode, EngineError } from '../errors.js';

export interface Subnet {
  readonly base: number;
  readonly prefix: number;
  readonly size: number;
}

const toInt = (ip: string) => ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
export const toDotted = (n: number) => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');

export function parseSubnet(cidr: string): Subnet {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  const prefix = Number(m?.[5]);
  if (!m || m.slice(1, 5).some((o) => Number(o) > 255) || prefix < 16 || prefix > 29)
    throw new EngineError(EngineCode.InvalidValue, `bridge subnet '${cidr}' is not an IPv4 CIDR from /16 to /29`);
  const size = 2 ** (32 - prefix);
  const ip = toInt(m.slice(1, 5).join('.'));
  return { base: ip - (ip % size), prefix, size };
}

export const addressAt = (s: Subnet, offset: number) => toDotted(s.base + offset);
export const gatewayOf = (s: Subnet) => addressAt(s, 1);
export const cidrOf = (s: Subnet) => `${toDotted(s.base)}/${s.prefix}`;

/** The lowest offset free for a unit, or undefined when the subnet is full. */
export function freeOffset(s: Subnet, used: ReadonlySet<number>): number | undefined {
  for (let o = 2; o < s.size - 1; o++) if (!used.has(o)) return o;
  return undefined;
}
