// ExecEnv.{i}.ApplicationData: the engine's volumes (an ext4 image per application and name) as rows
// of their EE, each EU's ApplicationDataList, Utilization and Remove().
import type { DataModel } from '../../dm/datamodel.js';
import { DmError, UspError } from '../../dm/errors.js';
import type { ObjectNode } from '../../dm/tree.js';
import type { VolumeRecord } from '../../engine/volumes.js';
import { rethrow } from '../engine-faults.js';
import { ME, ref, SM, type SmRows } from './rows.js';

export function registerApplicationData(
  dm: DataModel,
  need: () => ApplicationData,
  find: () => ApplicationData | undefined,
): void {
  dm.command(`${SM}ExecEnv.{i}.ApplicationData.{i}.Remove()`, (req) => need().removeVolume(req.node));
  dm.param(`${SM}ExecEnv.{i}.ApplicationData.{i}.Utilization`, { get: (n) => String(find()?.volumeUsedMiB(n) ?? 0) });
}

export class ApplicationData {
  constructor(private readonly rows: SmRows) {}

  /** ApplicationData.{i}.Remove(): the volume goes with its data; refused while its DU is installed. */
  async removeVolume(row: ObjectNode): Promise<Record<string, string>> {
    const v = this.volumeOfRow(row);
    if (!v) throw new DmError(UspError.CommandFailure, `${row.path} is not a volume of the engine`);
    await this.rows.engine.removeVolume(v.id).catch(rethrow);
    return {};
  }

  volumeUsedMiB(row: ObjectNode): number {
    const v = this.volumeOfRow(row);
    return v ? this.rows.engine.volumeUsedMiB(v) : 0;
  }

  private volumeOfRow(row: ObjectNode): VolumeRecord | undefined {
    const ee = this.rows.eeOfRow(row.path.slice(0, row.path.indexOf('ApplicationData.')));
    return this.rows.engine
      .volumes()
      .find((v) => v.ee === ee?.id && v.appUuid === row.stored('ApplicationUUID') && v.name === row.stored('Name'));
  }

  /** ExecEnv.{i}.ApplicationData rows mirror the engine's volumes; EUs list the ones of their DU. */
  readonly sync = (): void => {
    const { dm, engine } = this.rows;
    for (const ee of engine.execEnvs()) {
      const eeRow = this.rows.eeRow(ee.id);
      const table = eeRow ? dm.node(eeRow)?.tables.get('ApplicationData') : undefined;
      if (!eeRow || !table) continue;
      const vols = engine.volumes().filter((v) => v.ee === ee.id);
      const key = (uuid: string | undefined, name: string | undefined) => `${uuid}/${name}`;
      const want = new Set(vols.map((v) => key(v.appUuid, v.name)));
      const stale = [...table.rows.values()]
        .filter((r) => !want.has(key(r.stored('ApplicationUUID'), r.stored('Name'))))
        .map((r) => r.path);
      if (stale.length) dm.delete(stale, this.rows.agent);
      const have = new Set([...table.rows.values()].map((r) => key(r.stored('ApplicationUUID'), r.stored('Name'))));
      for (const v of vols) {
        if (have.has(key(v.appUuid, v.name))) continue;
        // Encrypted is false: the volume is a plain ext4 image (no key store on this device to encrypt with).
        dm.addInstance(
          `${eeRow}ApplicationData.`,
          {
            Name: v.name,
            ApplicationUUID: v.appUuid,
            Capacity: String(v.capacityMiB),
            Encrypted: 'false',
            Retain: v.retain,
            AccessPath: engine.volumePath(v),
          },
          ME,
        );
      }
    }
    for (const du of engine.deploymentUnits()) {
      const eeRow = this.rows.eeRow(du.ee);
      const rows = eeRow ? [...(dm.node(eeRow)?.tables.get('ApplicationData')?.rows.values() ?? [])] : [];
      const list = rows
        .filter((r) => r.stored('ApplicationUUID') === du.uuid)
        .map((r) => ref(r.path))
        .join(',');
      for (const eu of du.eus) {
        const row = this.rows.rowBy('ExecutionUnit', 'EUID', eu.euid);
        if (row) dm.update(row.path, { ApplicationDataList: list }, ME);
      }
    }
  };
}
