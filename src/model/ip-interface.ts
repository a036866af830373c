// Device.IP.Interface: a read-only table of the host's network interfaces, so that
// AvailableAccessInterfaces, NetworkConfig.AccessInterfaces and NAT.PortMapping.Interface have rows to
// reference. Rows are found by Name (instance numbers stay while an interface exists); refresh() brings
// them in line with the host: at start, and before each command that resolves a reference.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { agentCaller } from '../dm/caller.js';
import type { DataModel } from '../dm/datamodel.js';
import type { ObjectNode } from '../dm/tree.js';

export const IP_IF = 'Device.IP.Interface.';
/** The component the rows are written as: they copy the host, so they are mirrored, not flushed each time. */
export const IP_ME = 'ip-interfaces';
const SYS_NET = '/sys/class/net';
const IFF_UP = 0x1;
const IFF_LOOPBACK = 0x8;

export interface HostInterface {
  readonly name: string;
  readonly up: boolean;
  readonly loopback: boolean;
  readonly operstate: string;
  readonly ipv4: readonly { address: string; netmask: string }[];
}

/** The host's interfaces, but the agent's own unit veths (`hide`). */
export function hostInterfaces(hide: (name: string) => boolean = () => false): HostInterface[] {
  if (!existsSync(SYS_NET)) return [];
  const addrs = networkInterfaces();
  const read = (n: string, f: string) => {
    try {
      return readFileSync(`${SYS_NET}/${n}/${f}`, 'utf8').trim();
    } catch {
      return '';
    }
  };
  return readdirSync(SYS_NET)
    .filter((n) => !hide(n))
    .sort()
    .map((name) => {
      const flags = Number.parseInt(read(name, 'flags') || '0', 16);
      return {
        name,
        up: (flags & IFF_UP) !== 0,
        loopback: (flags & IFF_LOOPBACK) !== 0,
        operstate: read(name, 'operstate'),
        ipv4: (addrs[name] ?? []).filter((a) => a.family === 'IPv4').map((a) => ({ ...a })),
      };
    });
}

/** TR-181 Status from the kernel's operstate ('unknown' is an up interface without carrier state: lo, tun). */
function statusOf(i: HostInterface): string {
  if (!i.up) return 'Down';
  if (i.operstate === 'up' || i.operstate === 'unknown') return 'Up';
  if (i.operstate === 'dormant') return 'Dormant';
  if (i.operstate === 'lowerlayerdown') return 'LowerLayerDown';
  return 'Down';
}

export function registerIpInterfaces(dm: DataModel): void {
  dm.mirror(IP_ME);
}

export class IpInterfaces {
  private readonly me = agentCaller(IP_ME);

  constructor(
    private readonly dm: DataModel,
    private readonly hide: (name: string) => boolean,
  ) {}

  private rows(): ObjectNode[] {
    return [...(this.dm.node('Device.IP.')?.tables.get('Interface')?.rows.values() ?? [])];
  }

  /** The rows as the host is now: added, updated, and removed with their interface. */
  refresh(): void {
    const host = hostInterfaces(this.hide);
    const names = new Set(host.map((i) => i.name));
    const gone = this.rows().filter((r) => !names.has(r.stored('Name') ?? ''));
    if (gone.length)
      this.dm.delete(
        gone.map((r) => r.path),
        this.me,
      );
    for (const i of host) {
      const values = {
        Enable: String(i.up),
        Status: statusOf(i),
        LowerLayers: '',
        Type: i.loopback ? 'Loopback' : 'Normal',
      };
      const row = this.rowOf(i.name) ?? this.dm.addInstance(IP_IF, { Name: i.name }, IP_ME);
      this.dm.update(row, values, IP_ME);
      this.syncAddresses(row, i);
    }
  }

  private syncAddresses(row: string, i: HostInterface): void {
    const table = `${row}IPv4Address.`;
    const have = [...(this.dm.node(row)?.tables.get('IPv4Address')?.rows.values() ?? [])];
    const want = new Set(i.ipv4.map((a) => a.address));
    const gone = have.filter((r) => !want.has(r.stored('IPAddress') ?? ''));
    if (gone.length)
      this.dm.delete(
        gone.map((r) => r.path),
        this.me,
      );
    for (const a of i.ipv4) {
      const values = { Enable: 'true', Status: 'Enabled', SubnetMask: a.netmask, AddressingType: 'Static' };
      const found = have.find((r) => r.stored('IPAddress') === a.address);
      if (found) this.dm.update(found.path, values, IP_ME);
      else this.dm.addInstance(table, { IPAddress: a.address, ...values }, IP_ME);
    }
  }

  /** The row of a host interface ("Device.IP.Interface.3."), if it has one. */
  rowOf(name: string): string | undefined {
    return this.rows().find((r) => r.stored('Name') === name)?.path;
  }

  /** The host interface a reference names ("Device.IP.Interface.3", with or without the dot). */
  nameOf(reference: string): string | undefined {
    const path = reference.endsWith('.') ? reference : `${reference}.`;
    return this.rows()
      .find((r) => r.path === path)
      ?.stored('Name');
  }
}
