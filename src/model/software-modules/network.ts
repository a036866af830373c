// The networking side of Device.SoftwareModules: ExecEnv.AvailableAccessInterfaces (the engine keeps
// host interface names; the row shows references to their Device.IP.Interface rows) and
// ModifyAvailableAccessInterfaces(), ExecutionUnit.NetworkConfig (what the engine applied) and the
// Device.NAT.PortMapping rows of those mappings. sync() rebuilds them all from the engine.
import type { DataModel } from '../../dm/datamodel.js';
import { DmError, UspError } from '../../dm/errors.js';
import type { ObjectNode } from '../../dm/tree.js';
import { rethrow } from '../engine-faults.js';
import { IpInterfaces } from '../ip-interface.js';
import { PortMappings } from '../nat.js';
import { ME, ref, SM, type SmRows } from './rows.js';

/** The Device.IP.Interface rows of a data model, hiding the agent's own unit veths. */
export function ipInterfacesOf(dm: DataModel): IpInterfaces {
  const bridge = dm.value(`${SM}X_CPE-AGENT_BridgeName`) || 'cpebr0';
  const veth = new RegExp(`^${bridge}v[0-9a-f]+$`);
  return new IpInterfaces(dm, (n) => veth.test(n));
}

export function registerNetwork(dm: DataModel, need: () => NetworkRows): void {
  dm.command(`${SM}ExecEnv.{i}.ModifyAvailableAccessInterfaces()`, (req) =>
    need().modifyAvailable(req.node, req.input.AccessInterfaces ?? ''),
  );
}

export class NetworkRows {
  readonly ips: IpInterfaces;
  private readonly nat: PortMappings;

  constructor(private readonly rows: SmRows) {
    this.ips = ipInterfacesOf(rows.dm);
    this.nat = new PortMappings(rows.dm);
  }

  /** ModifyAvailableAccessInterfaces(): the list replaced (each a Device.IP.Interface row, else 7027). */
  async modifyAvailable(row: ObjectNode, list: string): Promise<Record<string, string>> {
    const ee = this.rows.eeForCommand(row);
    this.ips.refresh();
    const names = list
      .split(',')
      .map((r) => r.trim())
      .filter(Boolean)
      .map((r) => {
        const name = this.ips.nameOf(r);
        if (name === undefined)
          throw new DmError(
            UspError.InvalidCommandArguments,
            `AccessInterfaces: '${r}' is not a Device.IP.Interface row`,
          );
        return name;
      });
    await this.rows.engine.setAccessInterfaces(ee.id, names).catch(rethrow);
    this.sync();
    return {};
  }

  /** Every row of the networking side as the host and the engine are now. */
  readonly sync = (): void => {
    const { dm, engine } = this.rows;
    this.ips.refresh();
    const refOf = (name: string) => {
      const r = this.ips.rowOf(name);
      return r ? ref(r) : undefined;
    };
    for (const ee of engine.execEnvs()) {
      const row = this.rows.eeRow(ee.id);
      const refs = (ee.accessInterfaces ?? []).map(refOf).filter(Boolean);
      if (row) dm.update(row, { AvailableAccessInterfaces: refs.join(',') }, ME);
    }
    const units = engine.deploymentUnits().flatMap((du) => du.eus.map((eu) => ({ du, eu })));
    const mappings = units.flatMap(({ eu }) =>
      (engine.unitNetwork(eu.euid)?.ports ?? []).flatMap((p) => {
        const iface = refOf(p.iface);
        const link = engine.unitNetwork(eu.euid)!;
        return iface
          ? [
              {
                euid: eu.euid,
                row: {
                  Interface: iface,
                  ExternalPort: String(p.external),
                  Protocol: p.protocol,
                  InternalPort: String(p.internal),
                  InternalClient: link.address,
                  Description: `cpe-agent ${eu.euid}`,
                },
              },
            ]
          : [];
      }),
    );
    const rowsByKey = this.nat.sync(mappings.map((m) => m.row));
    for (const { eu } of units) {
      const euRow = this.rows.rowBy('ExecutionUnit', 'EUID', eu.euid);
      if (!euRow || !dm.node(`${euRow.path}NetworkConfig.`)) continue;
      const link = engine.unitNetwork(eu.euid);
      const pm = mappings
        .filter((m) => m.euid === eu.euid)
        .map((m) => rowsByKey.get(PortMappings.keyOf(m.row)))
        .filter((r): r is string => r !== undefined)
        .map(ref);
      dm.update(
        `${euRow.path}NetworkConfig.`,
        {
          AccessInterfaceRefList: (link?.access ?? []).map(refOf).filter(Boolean).join(','),
          PortMappingRefList: pm.join(','),
        },
        ME,
      );
    }
  };
}
