// Device.NAT.PortMapping: the port mappings the agent applied for its networked units, read-only
// (a controller or an ACS changes them through the DU's NetworkConfig, at install). Found by
// Interface, ExternalPort and Protocol, so a row keeps its instance number while its mapping exists.
import { agentCaller } from '../dm/caller.js';
import type { DataModel } from '../dm/datamodel.js';
import type { ObjectNode } from '../dm/tree.js';

export const NAT_PM = 'Device.NAT.PortMapping.';
/** The component the rows are written as: copies of the engine's records, mirrored. */
export const NAT_ME = 'nat';

/** A mapping as its row shows it (Interface: a Device.IP.Interface reference). */
export interface MappingRow {
  readonly Interface: string;
  readonly ExternalPort: string;
  readonly Protocol: string;
  readonly InternalPort: string;
  readonly InternalClient: string;
  readonly Description: string;
}

const keyOf = (m: Pick<MappingRow, 'Interface' | 'ExternalPort' | 'Protocol'>) =>
  `${m.Interface}|${m.ExternalPort}|${m.Protocol}`;

export function registerNat(dm: DataModel): void {
  dm.mirror(NAT_ME);
}

export class PortMappings {
  constructor(private readonly dm: DataModel) {}

  private rows(): ObjectNode[] {
    return [...(this.dm.node('Device.NAT.')?.tables.get('PortMapping')?.rows.values() ?? [])];
  }

  /** The table made to hold exactly these mappings; returns each mapping's row path by its key. */
  sync(wanted: readonly MappingRow[]): Map<string, string> {
    const keys = new Set(wanted.map(keyOf));
    const rowKey = (r: ObjectNode) =>
      keyOf({
        Interface: r.stored('Interface') ?? '',
        ExternalPort: r.stored('ExternalPort') ?? '',
        Protocol: r.stored('Protocol') ?? '',
      });
    const gone = this.rows().filter((r) => !keys.has(rowKey(r)));
    if (gone.length)
      this.dm.delete(
        gone.map((r) => r.path),
        agentCaller(NAT_ME),
      );
    const byKey = new Map(this.rows().map((r) => [rowKey(r), r.path]));
    for (const m of wanted) {
      const values = { ...m, Enable: 'true', Status: 'Enabled', AllInterfaces: 'false' };
      const row = byKey.get(keyOf(m));
      if (row) this.dm.update(row, values, NAT_ME);
      else byKey.set(keyOf(m), this.dm.addInstance(NAT_PM, values, NAT_ME));
    }
    return byKey;
  }

  static keyOf = keyOf;
}
