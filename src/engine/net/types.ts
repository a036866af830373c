// What the engine's networking works with: the agent's bridge and subnet, a DU's network
// configuration as installed (host interface names, not TR-181 paths: the model translates), and
// one networked unit's plumbing as the ruleset and the links need it.

/** The bridge the agent owns and the subnet its units get addresses from (the gateway is its first host). */
export interface NetSettings {
  /** At most 10 characters: unit veths are named after it (`<bridge>v<n>`, 15 at most). */
  readonly bridge: string;
  /** IPv4 CIDR, /16 to /29. */
  readonly subnet: string;
}

export const DEFAULT_NET: NetSettings = { bridge: 'cpebr0', subnet: '10.213.0.0/24' };

export type Protocol = 'TCP' | 'UDP';

/** An inbound port on a host interface forwarded to a unit's port (NetworkConfig.PortMapping). */
export interface PortMapping {
  /** Host interface name. */
  readonly iface: string;
  readonly external: number;
  readonly internal: number;
  readonly protocol: Protocol;
}

/** A DU's NetworkConfig: where its units may go (host interface names) and what reaches them. */
export interface DuNetwork {
  readonly access: readonly string[];
  /** Forwarded to the DU's first unit (a port reaches one address). */
  readonly ports: readonly PortMapping[];
}

/** A networked unit as the links and the ruleset see it. */
export interface UnitLink {
  readonly euid: string;
  readonly ee: string;
  /** Its address in the agent's subnet. */
  readonly address: string;
  /** The host end of its veth, a port of the bridge. */
  readonly hostVeth: string;
  /** Its network namespace's name (ip netns). */
  readonly netns: string;
  /** Interfaces it may leave by: those of its DU's config still available to its EE. */
  readonly access: readonly string[];
  readonly ports: readonly PortMapping[];
}

/** How a unit's process gets its network: its own namespace made by the agent, or a fresh loopback-only one. */
export type UnitNetwork = { readonly join: string } | 'loopback';
