// The engine's container networking: which units get a namespace of their own on the agent's
// bridge (those of DUs installed with a NetworkConfig), their addresses (allocated once, kept in
// net.json so they survive restarts), and sync(), which makes the host match the records: links and
// namespaces made or removed, the nftables ruleset replaced in one transaction. The core calls sync()
// after each commit that changes DUs or EEs and once at start; nothing here knows TR-181.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../util/atomic-file.js';
import type { Logger } from '../../util/logger.js';
import { EngineCode, EngineError } from '../errors.js';
import { logError } from '../fault-log.js';
import { runTool, tool } from '../tool.js';
import type { DURecord, EERecord, EURecord } from '../types.js';
import { admitNetwork } from './admission.js';
import { DnsForwarder } from './dns-forwarder.js';
import {
  enableForwarding,
  ensureBridge,
  ensureUnit,
  NETNS_DIR,
  ourLinks,
  removeBridge,
  removeUnitLinks,
} from './links.js';
import { writeResolvConf } from './resolv-conf.js';
import { dropText, rulesetText } from './ruleset.js';
import { addressAt, cidrOf, freeOffset, gatewayOf, parseSubnet, type Subnet } from './subnet.js';
import type { DuNetwork, NetSettings, UnitLink, UnitNetwork } from './types.js';

const SEARCH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
const found = (cmd: string) => SEARCH.some((d) => existsSync(join(d, cmd)));

export class Network {
  private readonly subnet: Subnet;
  private offsets: Record<string, number>;
  /** Whether the agent's bridge and tables may exist (unknown until the first sync after a start). */
  private active: boolean | undefined;
  private queue: Promise<void> = Promise.resolve();
  private links = new Map<string, UnitLink>();
  /** Root with iproute2, nftables, nsenter and setpriv: units can be networked. */
  readonly capable: boolean;
  /** Root with unshare and setpriv: units without a network of their own get a loopback-only one. */
  readonly isolates: boolean;
  /** The units' resolver, on the gateway while the bridge exists. */
  private readonly dns: DnsForwarder;

  constructor(
    readonly settings: NetSettings,
    private readonly dir: string,
    private readonly log: Logger,
  ) {
    if (!/^[a-zA-Z][a-zA-Z0-9_]{0,9}$/.test(settings.bridge))
      throw new EngineError(EngineCode.InvalidValue, `bridge name '${settings.bridge}' is not 1-10 letters or digits`);
    this.subnet = parseSubnet(settings.subnet);
    const root = process.getuid?.() === 0;
    this.capable = root && ['ip', 'nft', 'nsenter', 'setpriv'].every(found);
    this.isolates = root && ['ip', 'unshare', 'setpriv', 'nsenter'].every(found);
    this.offsets = this.load();
    this.dns = new DnsForwarder(log);
    writeResolvConf(dir, gatewayOf(this.subnet));
  }

  /** The agent stops: its resolver goes (units keep running, and resolve again once it is back). */
  close(): void {
    this.dns.stop();
  }

  private get file(): string {
    return join(this.dir, 'net.json');
  }

  /** The units' offsets; a file that is missing or unreadable only means addresses are allocated afresh. */
  private load(): Record<string, number> {
    try {
      const x = JSON.parse(readFileSync(this.file, 'utf8')) as unknown;
      if (x && typeof x === 'object')
        return Object.fromEntries(
          Object.entries(x).filter((e): e is [string, number] => Number.isInteger(e[1]) && e[1] >= 2),
        );
    } catch {
      /* none yet */
    }
    return {};
  }

  /** A unit's namespace name. */
  netnsOf(euid: string): string {
    return `${this.settings.bridge}-${euid}`;
  }

  /** How a unit's process gets its network (undefined: its EE's own, or the host's). */
  unitNetwork(du: DURecord, ownNetwork: boolean, eu: EURecord): UnitNetwork | undefined {
    if (du.network) return { join: join(NETNS_DIR, this.netnsOf(eu.euid)) };
    return !ownNetwork && this.isolates ? 'loopback' : undefined;
  }

  /** Refuses a NetworkConfig on a host where it can't be applied. */
  requireCapable(): void {
    if (!this.capable)
      throw new EngineError(
        EngineCode.CommandFailure,
        'NetworkConfig can not be applied: the agent needs root, iproute2 (ip), nftables (nft), nsenter and setpriv',
      );
  }

  /** The networked units the records call for, with their addresses (new ones allocated and saved). */
  plan(ees: readonly EERecord[], dus: readonly DURecord[]): UnitLink[] {
    const wanted = dus.filter((d) => d.network).flatMap((d) => d.eus.map((eu, i) => ({ du: d, eu, first: i === 0 })));
    const keep = new Set(wanted.map((w) => w.eu.euid));
    const before = JSON.stringify(this.offsets);
    const offsets = Object.fromEntries(Object.entries(this.offsets).filter(([euid]) => keep.has(euid)));
    const used = new Set(Object.values(offsets));
    for (const { eu } of wanted) {
      if (offsets[eu.euid] !== undefined) continue;
      const o = freeOffset(this.subnet, used);
      if (o === undefined)
        throw new EngineError(EngineCode.ResourcesExceeded, `the bridge subnet ${this.settings.subnet} is full`);
      offsets[eu.euid] = o;
      used.add(o);
    }
    if (JSON.stringify(offsets) !== before) writeFileAtomic(this.file, JSON.stringify(offsets));
    this.offsets = offsets;
    const links = wanted.map(({ du, eu, first }) => {
      const available = new Set(ees.find((e) => e.id === du.ee)?.accessInterfaces ?? []);
      const net = du.network!;
      const o = offsets[eu.euid]!;
      return {
        euid: eu.euid,
        ee: du.ee,
        address: addressAt(this.subnet, o),
        hostVeth: `${this.settings.bridge}v${o.toString(16)}`,
        netns: this.netnsOf(eu.euid),
        // An interface the operator took from the EE (ModifyAvailableAccessInterfaces) no longer carries it.
        access: net.access.filter((a) => available.has(a)),
        ports: first ? net.ports.filter((p) => available.has(p.iface)) : [],
      };
    });
    this.links = new Map(links.map((l) => [l.euid, l]));
    return links;
  }

  /** A unit's network as last planned: its address, the access interfaces and ports applied. */
  link(euid: string): UnitLink | undefined {
    return this.links.get(euid);
  }

  /**
   * A DU's NetworkConfig checked before its commit (see admission.ts); undefined when it has none.
   * replacing: the DU an Update replaces, whose own mappings are no conflict.
   */
  admit(ee: EERecord, net: DuNetwork | undefined, dus: readonly DURecord[], replacing?: string): DuNetwork | undefined {
    if (!net) return undefined;
    this.requireCapable();
    return admitNetwork(ee, net, dus, replacing);
  }

  /**
   * sync() after a commit: what is committed stays so whatever the host says, so a failure is logged (its
   * units fail to start, and say so) and the next sync tries again.
   */
  async refresh(ees: readonly EERecord[], dus: readonly DURecord[]): Promise<void> {
    await this.sync(ees, dus).catch((e: unknown) => logError(this.log, e, {}, 'units could not be networked'));
  }

  /** Makes the host match the records; one at a time. */
  sync(ees: readonly EERecord[], dus: readonly DURecord[]): Promise<void> {
    const next = this.queue.then(() => this.syncNow(ees, dus));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async syncNow(ees: readonly EERecord[], dus: readonly DURecord[]): Promise<void> {
    const units = this.plan(ees, dus);
    const { bridge } = this.settings;
    if (!this.capable) {
      if (units.length) this.log.warn('networked units are installed but this host can not network them');
      return;
    }
    // Nothing networked and nothing of ours on the host: no tool to run (the bridge is made before the
    // tables and removed after them, so without it there are none).
    if (!units.length && (this.active === false || !this.leftovers())) {
      this.active = false;
      return;
    }
    if (units.length) {
      enableForwarding();
      await ensureBridge(bridge, `${gatewayOf(this.subnet)}/${this.subnet.prefix}`);
      // A host whose own DNS server holds port 53 on every address: units then resolve nothing (logged).
      await this.dns
        .start(gatewayOf(this.subnet))
        .catch((e: unknown) => this.log.warn({ err: (e as Error).message }, "the units' DNS forwarder can not listen"));
      for (const u of units) await ensureUnit(u, bridge, this.subnet.prefix, gatewayOf(this.subnet));
    }
    const veths = new Set(units.map((u) => u.hostVeth));
    const netns = new Set(units.map((u) => u.netns));
    const now = ourLinks(bridge);
    for (const v of now.veths) if (!veths.has(v)) await removeUnitLinks(v, undefined);
    for (const n of now.netns) if (!netns.has(n)) await removeUnitLinks(undefined, n);
    await this.apply(units.length ? rulesetText(this.settings, units) : dropText(bridge));
    if (!units.length) {
      this.dns.stop();
      await removeBridge(bridge);
    }
    this.active = units.length > 0;
    this.log.debug({ units: units.length, subnet: cidrOf(this.subnet) }, 'network synced');
  }

  private leftovers(): boolean {
    const { veths, netns } = ourLinks(this.settings.bridge);
    return existsSync(`/sys/class/net/${this.settings.bridge}`) || veths.length > 0 || netns.length > 0;
  }

  /** Replaces the agent's tables in one nft transaction. */
  private async apply(text: string): Promise<void> {
    const f = join(this.dir, 'tmp', 'ruleset.nft');
    writeFileAtomic(f, text, false);
    await runTool('nft', ['-f', f]);
  }

  /** The agent's rules as nft lists them now (tests, diagnostics). */
  async listRules(): Promise<string> {
    return (await tool('nft', ['list', 'ruleset'])).stdout;
  }
}
