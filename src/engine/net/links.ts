// The links and namespaces of the agent's networking, made with iproute2: its bridge (the units'
// gateway), and per networked unit a namespace (ip netns, so it belongs to the host's user namespace:
// a unit, root in its container or not, cannot change its own addresses, routes or rules) with one end
// of a veth pair in it, the other a port of the bridge. Every step is idempotent: a restart finds what
// exists (and the processes adopted in it) and keeps it.
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { runTool, tool } from '../tool.js';
import type { UnitLink } from './types.js';

/** Where `ip netns` keeps named namespaces. */
export const NETNS_DIR = '/run/netns';
const SYS_NET = '/sys/class/net';

const ip = (...args: string[]) => runTool('ip', args);
const exists = (link: string) => existsSync(`${SYS_NET}/${link}`);

/** Our units' host veths (`<bridge>v<n>`) and namespaces (`<bridge>-<euid>`) as they are now. */
export function ourLinks(bridge: string): { veths: string[]; netns: string[] } {
  const veth = new RegExp(`^${bridge}v[0-9a-f]+$`);
  const list = (dir: string) => (existsSync(dir) ? readdirSync(dir) : []);
  return {
    veths: list(SYS_NET).filter((n) => veth.test(n)),
    netns: list(NETNS_DIR).filter((n) => n.startsWith(`${bridge}-`)),
  };
}

export async function ensureBridge(bridge: string, gatewayCidr: string): Promise<void> {
  if (!exists(bridge)) await ip('link', 'add', 'name', bridge, 'type', 'bridge');
  await ip('addr', 'replace', gatewayCidr, 'dev', bridge);
  await ip('link', 'set', bridge, 'up');
}

export async function removeBridge(bridge: string): Promise<void> {
  if (exists(bridge)) await ip('link', 'del', bridge);
}

/** A unit's namespace and veth, addressed, its default route via the bridge. */
export async function ensureUnit(u: UnitLink, bridge: string, prefix: number, gateway: string): Promise<void> {
  if (!existsSync(`${NETNS_DIR}/${u.netns}`)) {
    await ip('netns', 'add', u.netns);
    await ip('-n', u.netns, 'link', 'set', 'lo', 'up');
  }
  if (!exists(u.hostVeth)) {
    await ip('link', 'add', u.hostVeth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', u.netns);
    await ip('-n', u.netns, 'addr', 'replace', `${u.address}/${prefix}`, 'dev', 'eth0');
    await ip('-n', u.netns, 'link', 'set', 'eth0', 'up');
    await ip('-n', u.netns, 'route', 'replace', 'default', 'via', gateway);
  }
  await ip('link', 'set', u.hostVeth, 'master', bridge, 'up');
}

/** Removes a veth (both ends go) and a namespace; each may already be gone. */
export async function removeUnitLinks(veth: string | undefined, netns: string | undefined): Promise<void> {
  if (veth && exists(veth)) await tool('ip', ['link', 'del', veth]);
  if (netns) await tool('ip', ['netns', 'del', netns]);
}

/** Units' traffic is routed by the host: forwarding on (it stays on: other services of the host may rely on it). */
export function enableForwarding(): void {
  writeFileSync('/proc/sys/net/ipv4/ip_forward', '1');
}
