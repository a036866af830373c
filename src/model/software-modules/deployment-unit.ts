// DeploymentUnit: one row per DU the engine has installed; InstallDU(), Update() and Uninstall(),
// which hand the request to the engine and answer when it is done.
import { argRows } from '../../dm/command-args.js';
import type { DataModel } from '../../dm/datamodel.js';
import { DmError, UspError } from '../../dm/errors.js';
import type { ObjectNode } from '../../dm/tree.js';
import type { DURecord } from '../../engine/records.js';
import type { VolumeSpec } from '../../engine/volumes.js';
import { dmErrorOf, rethrow } from '../engine-faults.js';
import { duRoleValues } from './du-settings-rows.js';
import type { ExecEnvs } from './exec-env.js';
import type { ExecutionUnits } from './execution-unit.js';
import { installArgs } from './install-args.js';
import { ipInterfacesOf } from './network.js';
import { networkArgs } from './network-args.js';
import { ME, ref, SM, type SmRows } from './rows.js';
import { signatureArgs } from './signature-args.js';

/** The EE's policy: an Update may install a lower version than the DU has (false: refused, TR-069 9030). */
const ALLOW_DOWNGRADE = 'X_CPE-AGENT_AllowDowngrade';

export function registerDeploymentUnits(dm: DataModel, need: () => DeploymentUnits): void {
  dm.command(`${SM}InstallDU()`, (req) =>
    need().installDU(req.input, req.signal, (p) => req.progress(p), req.commandKey),
  );
  dm.command(`${SM}DeploymentUnit.{i}.Update()`, (req) => need().updateDU(req.node, req.input, req.commandKey));
  dm.command(`${SM}DeploymentUnit.{i}.Uninstall()`, (req) => need().uninstallDU(req.node, req.input, req.commandKey));
}

export class DeploymentUnits {
  constructor(
    private readonly rows: SmRows,
    private readonly execEnvs: ExecEnvs,
    private readonly units: ExecutionUnits,
  ) {}

  async installDU(
    input: Readonly<Record<string, string>>,
    signal: AbortSignal,
    progress: (p: number) => void,
    commandKey: string,
  ): Promise<Record<string, string>> {
    const ee = this.execEnvs.execEnvOf(input.ExecutionEnvRef ?? '');
    const row = ee && this.rows.eeRow(ee.id);
    if (!ee || !row)
      throw new DmError(7223, `ExecutionEnvRef '${input.ExecutionEnvRef ?? ''}' names no execution environment`);
    const eeRef = ref(row);
    const appData = volumeArgs(input);
    const r = await this.rows.engine.install({
      url: input.URL!,
      ...(input.UUID ? { uuid: input.UUID } : {}),
      ...(input.Username ? { username: input.Username } : {}),
      ...(input.Password ? { password: input.Password } : {}),
      ee: ee.id,
      requestTag: commandKey,
      signal,
      progress,
      ...(appData ? { appData } : {}),
      privileged: input.Privileged === 'true',
      ...signatureArgs(input, this.rows, row),
      ...installArgs(this.rows.dm, row, input),
      ...networkArgs(input, ipInterfacesOf(this.rows.dm), ee),
    });
    if (r.fault) throw dmErrorOf(r.fault);
    return { UUID: r.uuid, Version: r.version, ExecEnvRef: eeRef };
  }

  async updateDU(
    row: ObjectNode,
    input: Readonly<Record<string, string>>,
    commandKey: string,
  ): Promise<Record<string, string>> {
    const appData = volumeArgs(input);
    const ee = this.rows.engine.execEnvs().find((e) => e.id === this.rows.engine.du(row.stored('DUID') ?? '')?.ee);
    const eeRow = `${row.stored('ExecutionEnvRef') ?? ''}.`;
    const r = await this.rows.engine
      .update(row.stored('DUID') ?? '', {
        ...(appData ? { appData } : {}),
        ...(input.URL ? { url: input.URL } : {}),
        ...(input.Username ? { username: input.Username } : {}),
        ...(input.Password ? { password: input.Password } : {}),
        retainData: input.RetainData === 'true',
        requestTag: commandKey,
        ...signatureArgs(input, this.rows, eeRow),
        allowDowngrade: this.rows.dm.node(eeRow)?.stored(ALLOW_DOWNGRADE) !== 'false',
        ...installArgs(this.rows.dm, this.rows.eeRow(ee?.id ?? ''), input),
        ...(ee ? networkArgs(input, ipInterfacesOf(this.rows.dm), ee) : {}),
      })
      .catch(rethrow);
    if (r.fault) throw dmErrorOf(r.fault);
    return {};
  }

  async uninstallDU(
    row: ObjectNode,
    input: Readonly<Record<string, string>>,
    commandKey: string,
  ): Promise<Record<string, string>> {
    const r = await this.rows.engine
      .uninstall(row.stored('DUID') ?? '', commandKey, input.RetainData === 'true')
      .catch(rethrow);
    if (r.fault) throw dmErrorOf(r.fault);
    return {};
  }

  /** Deletes the rows of DUs the engine no longer has. */
  prune(): void {
    const dus = new Set(this.rows.engine.deploymentUnits().map((d) => d.duid));
    for (const row of this.rows.rows('DeploymentUnit'))
      if (!dus.has(row.stored('DUID') ?? '')) this.rows.dm.delete([row.path], this.rows.agent);
  }

  /** The row of a DU and those of its EUs, added or brought up to date. */
  sync(du: DURecord, status: string): ObjectNode | undefined {
    const eeRow = this.rows.eeRow(du.ee);
    const euRefs = du.eus.map((eu) => ref(this.units.sync(du, eu, eeRow)));
    const path = this.rows.ensureRow('DeploymentUnit', 'DUID', du.duid, {
      UUID: du.uuid,
      Name: du.manifest.name,
      Status: status,
      Resolved: 'true',
      URL: du.url,
      Description: du.manifest.description,
      Vendor: du.manifest.vendor,
      Version: du.manifest.version,
      ExecutionUnitList: euRefs.join(','),
      ExecutionEnvRef: eeRow ? ref(eeRow) : '',
      Installed: du.installedAt,
      LastUpdate: du.installedAt,
      ...duRoleValues(du),
    });
    for (const eu of du.eus) {
      const row = this.rows.rowBy('ExecutionUnit', 'EUID', eu.euid);
      if (row) this.rows.dm.update(row.path, { References: ref(path) }, ME);
    }
    return this.rows.dm.node(path);
  }

  readonly onStatus = (duid: string, status: string): void => {
    const row = this.rows.rowBy('DeploymentUnit', 'DUID', duid);
    if (row) this.rows.dm.update(row.path, { Status: status }, ME);
  };
}

/** InstallDU/Update ApplicationData.{i}. arguments (undefined when none are given: the manifest decides). */
function volumeArgs(input: Readonly<Record<string, string>>): VolumeSpec[] | undefined {
  const rows = [...argRows(input, 'ApplicationData.').values()];
  if (!rows.length) return undefined;
  return rows.map((r) => {
    for (const k of ['Name', 'Capacity', 'Retain', 'AccessPath'])
      if (!r[k]) throw new DmError(UspError.InvalidCommandArguments, `ApplicationData needs ${k}`);
    return {
      name: r.Name!,
      capacityMiB: Number(r.Capacity),
      retain: r.Retain as VolumeSpec['retain'],
      accessPath: r.AccessPath!,
    };
  });
}
