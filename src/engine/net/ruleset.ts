// The agent's whole nftables ruleset, as text for one `nft -f` transaction: its tables are
// declared, deleted and made again, so applying it any number of times leaves exactly one copy and
// nothing of an older one (a restart, a reboot, a removed unit). Only the agent's tables are touched.
//
//   inet <t>      forward: a unit's traffic leaves only by its access interfaces, replies come back,
//                 inbound only what a port mapping forwarded (DNAT); input: units reach no host service
//                 but the agent's DNS forwarder on the gateway, and only units that have a way out.
//   ip <t>_nat    prerouting DNAT per port mapping, postrouting masquerade per unit and access interface.
//   bridge <t>    forward between bridge ports: only ports of units of the same EE.
import { gatewayOf, parseSubnet } from './subnet.js';
import { DEFAULT_NET, type NetSettings, type UnitLink } from './types.js';

/** DNS to the forwarder: UDP, and TCP for a truncated answer's retry. */
const DNS = 'meta l4proto { tcp, udp } th dport 53';

export interface Tables {
  readonly filter: string;
  readonly nat: string;
  readonly bridge: string;
}

/** The agent's table names: `cpe_agent` for the default bridge, else named after its bridge (one agent per bridge). */
export function tablesOf(bridge: string): Tables {
  const t = bridge === DEFAULT_NET.bridge ? 'cpe_agent' : `cpe_agent_${bridge}`;
  return { filter: `inet ${t}`, nat: `ip ${t}_nat`, bridge: `bridge ${t}` };
}

const q = (name: string) => JSON.stringify(name);
const set = (names: readonly string[]) => `{ ${names.map(q).join(', ')} }`;
const proto = (p: string) => p.toLowerCase();
/** A flow our prerouting rule rewrote (not one addressed to the unit from outside directly). */
const DNATED = 'ct status dnat accept';

/** Deletes the agent's tables if they exist (declaring a table first makes its deletion never fail). */
export function dropText(bridge: string): string {
  return Object.values(tablesOf(bridge))
    .map((t) => `table ${t} {}\ndelete table ${t}\n`)
    .join('');
}

/** The ruleset for these units on this bridge (units: already filtered to what is applied). */
export function rulesetText(net: NetSettings, units: readonly UnitLink[]): string {
  const t = tablesOf(net.bridge);
  const br = q(net.bridge);
  const out: string[] = [dropText(net.bridge)];
  if (!units.length) return out.join('');
  const gateway = gatewayOf(parseSubnet(net.subnet));
  const resolving = units.filter((u) => u.access.length).map((u) => u.address);
  out.push(
    `table ${t.filter} {`,
    '  chain forward {',
    '    type filter hook forward priority filter; policy accept;',
    // Unit to unit on the bridge (seen here where br_netfilter passes bridged traffic to IP hooks):
    // the bridge table decides.
    `    iifname ${br} oifname ${br} accept`,
    `    iifname ${br} jump from_units`,
    `    oifname ${br} jump to_units`,
    '  }',
    '  chain from_units {',
    '    ct state established,related accept',
  );
  for (const u of units) if (u.access.length) out.push(`    ip saddr ${u.address} oifname ${set(u.access)} accept`);
  out.push('    drop', '  }', '  chain to_units {', '    ct state established,related accept');
  for (const u of units)
    for (const p of u.ports)
      out.push(`    iifname ${q(p.iface)} ip daddr ${u.address} ${proto(p.protocol)} dport ${p.internal} ${DNATED}`);
  out.push(
    '    drop',
    '  }',
    '  chain input {',
    '    type filter hook input priority filter; policy accept;',
    // The gateway's address serves units only (the DNS forwarder): nobody on another link reaches it.
    `    iifname != ${br} ip daddr ${gateway} drop`,
    `    iifname ${br} ct state established,related accept`,
    ...(resolving.length
      ? [`    iifname ${br} ip saddr { ${resolving.join(', ')} } ip daddr ${gateway} ${DNS} accept`]
      : []),
    `    iifname ${br} drop`,
    '  }',
    '}',
    `table ${t.nat} {`,
    '  chain prerouting {',
    '    type nat hook prerouting priority dstnat; policy accept;',
  );
  // Only what is addressed to this device: traffic routed through it to another host on that port is not ours.
  for (const u of units)
    for (const p of u.ports)
      out.push(
        `    iifname ${q(p.iface)} fib daddr type local ${proto(p.protocol)} dport ${p.external} ` +
          `dnat to ${u.address}:${p.internal}`,
      );
  out.push('  }', '  chain postrouting {', '    type nat hook postrouting priority srcnat; policy accept;');
  for (const u of units) if (u.access.length) out.push(`    ip saddr ${u.address} oifname ${set(u.access)} masquerade`);
  out.push('  }', '}', `table ${t.bridge} {`, '  chain forward {', '    type filter hook forward priority filter;');
  // Between units on the bridge: each EE's ports reach only each other (EEs are isolated).
  const byEE = new Map<string, string[]>();
  for (const u of units) byEE.set(u.ee, [...(byEE.get(u.ee) ?? []), u.hostVeth]);
  for (const ports of byEE.values()) out.push(`    iifname ${set(ports)} oifname ${set(ports)} accept`);
  out.push(`    iifname ${set(units.map((u) => u.hostVeth))} drop`, '  }', '}', '');
  return out.join('\n');
}
