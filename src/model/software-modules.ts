// Device.SoftwareModules over the container engine: the only place where TR-181 and the engine
// meet. Rows mirror the engine's execution environments, deployment units and execution units
// (matched by Name / DUID / EUID, so instance numbers stay stable across restarts); commands call
// the engine; every finished install, update and uninstall becomes a DUStateChange! event, whoever
// asked for it, and every EU state change a value change.
import { statfsSync } from 'node:fs';
import { basename, isAbsolute } from 'node:path';
import { argRows } from '../dm/command-args.js';
import type { DataModel } from '../dm/datamodel.js';
import { DmError, UspError } from '../dm/errors.js';
import type { ObjectNode } from '../dm/tree.js';
import type { DuResult, Engine } from '../engine/engine.js';
import { EngineError } from '../engine/errors.js';
import type { DURecord, EERecord, EURecord } from '../engine/records.js';
import type { UnitState } from '../engine/supervisor.js';
import type { VolumeRecord, VolumeSpec } from '../engine/volumes.js';
import type { Logger } from '../util/logger.js';
import { packageVersion } from '../util/package-info.js';

const SM = 'Device.SoftwareModules.';
const DI = 'Device.DeviceInfo.';
const ME = 'software-modules';
const ref = (row: string) => row.slice(0, -1);
/** The operator's policy: privileged DUs may be installed into this EE (docs/security.md). */
const ALLOW_PRIVILEGED = 'X_CPE-AGENT_AllowPrivileged';
/** The operator's one directory package URLs of the file: scheme may lead to; '' refuses them (docs/security.md). */
const FILE_URL_DIRECTORY = `${SM}X_CPE-AGENT_FileURLDirectory`;

/**
 * A finished DU operation as TR-181 reports it (the arguments of DUStateChange!): the USP event and
 * CWMP's OpResultStruct are both made from it.
 */
export interface DuStateChange {
  readonly operation: DuResult['operation'];
  readonly uuid: string;
  readonly duRef: string;
  readonly version: string;
  readonly state: 'Installed' | 'Uninstalled' | 'Failed';
  readonly resolved: boolean;
  readonly euRefs: string;
  readonly start: string;
  readonly complete: string;
  readonly fault: DuResult['fault'];
}

/** Handlers that must exist before the data model opens; they reach the engine once it runs. */
export function registerSoftwareModules(dm: DataModel, model: () => SoftwareModules | undefined): void {
  const need = (): SoftwareModules => {
    const m = model();
    if (!m) throw new DmError(UspError.CommandFailure, 'the container engine is not running');
    return m;
  };
  dm.command(`${SM}InstallDU()`, (req) =>
    need().installDU(req.input, req.signal, (p) => req.progress(p), req.commandKey),
  );
  dm.command(`${SM}DeploymentUnit.{i}.Update()`, (req) => need().updateDU(req.node, req.input, req.commandKey));
  dm.command(`${SM}DeploymentUnit.{i}.Uninstall()`, (req) => need().uninstallDU(req.node, req.input, req.commandKey));
  dm.command(`${SM}ExecutionUnit.{i}.SetRequestedState()`, (req) =>
    need().setRequestedState(req.node, req.input.RequestedState ?? ''),
  );
  dm.command(`${SM}ExecutionUnit.{i}.Restart()`, (req) => need().restartEU(req.node));
  dm.command(`${SM}ExecEnv.{i}.SetRunLevel()`, (req) =>
    need().setRunLevel(req.node, Number(req.input.RequestedRunLevel ?? 0)),
  );
  dm.command(`${SM}ExecEnv.{i}.Restart()`, (req) => need().restartEE(req.node, req.input.Reason ?? ''));
  dm.command(`${SM}ExecEnv.{i}.Remove()`, (req) => need().removeEE(req.node, req.input.Force === 'true'));
  dm.command(`${SM}ExecEnv.{i}.Reset()`, (req) => need().resetEE(req.node));
  dm.command(`${SM}ExecEnvClass.{i}.AddExecEnv()`, (req) => need().addExecEnv(req.node, req.input));
  dm.command(`${SM}ExecEnv.{i}.ModifyConstraints()`, (req) => need().modifyConstraints(req.node, req.input));
  dm.command(`${SM}ExecEnv.{i}.ApplicationData.{i}.Remove()`, (req) => need().removeVolume(req.node));
  dm.param(`${SM}ExecEnv.{i}.ApplicationData.{i}.Utilization`, { get: (n) => String(model()?.volumeUsedMiB(n) ?? 0) });
  // A start asked through the CWMP parameter fails like the command when the EE is disabled.
  dm.param(`${SM}ExecutionUnit.{i}.RequestedState`, {
    validate: (v, node) => {
      if (v === 'Active') model()?.assertEEEnabledFor(node);
    },
  });
  dm.param(`${SM}ExecutionUnit.{i}.MemoryInUse`, { get: (n) => String(model()?.memoryOf(n) ?? 0) });
  dm.param(`${SM}ExecEnv.{i}.AvailableDiskSpace`, { get: () => String(model()?.freeDiskKiB() ?? -1) });
  dm.param(`${SM}ExecEnv.{i}.AvailableMemory`, { get: () => '-1' });
  dm.param(`${SM}ExecEnv.{i}.AvailableCPUPercent`, { get: () => '-1' });
  dm.param(FILE_URL_DIRECTORY, {
    validate: (v) => {
      if (v !== '' && !isAbsolute(v))
        throw new DmError(UspError.InvalidValue, `'${v}' is not an absolute path`, FILE_URL_DIRECTORY);
    },
  });
}

export class SoftwareModules {
  private readonly offFeed: () => void;
  private readonly offFileUrlDirectory: () => void;
  private readonly agent = { kind: 'agent', component: ME } as const;

  constructor(
    private readonly dm: DataModel,
    private readonly engine: Engine,
    private readonly log: Logger,
  ) {
    engine.on('result', this.onResult);
    engine.on('eu', this.onUnit);
    engine.on('ee', this.onEE);
    engine.on('duStatus', this.onDuStatus);
    engine.on('volumes', this.syncVolumes);
    // Whoever sets it (defaults, an operator), every install and update from then on obeys it.
    engine.setFileUrlDirectory(dm.value(FILE_URL_DIRECTORY));
    this.offFileUrlDirectory = dm.feed.subscribe(
      FILE_URL_DIRECTORY,
      (c) => {
        if (c.kind === 'value') engine.setFileUrlDirectory(c.value);
      },
      ['value'],
    );
    // Writes by an operator that are commands in disguise (TR-181 "command parameters" of CWMP, and
    // Enable for both protocols) act on the engine.
    this.offFeed = dm.feed.subscribe(
      [
        `${SM}ExecEnv.*.Enable`,
        `${SM}ExecEnv.*.Reset`,
        `${SM}ExecEnv.*.RequestedRunLevel`,
        `${SM}ExecutionUnit.*.RequestedState`,
        `${SM}ExecutionUnit.*.AutoStart`,
        `${SM}ExecutionUnit.*.RunLevel`,
        `${SM}ExecutionUnit.*.AutoRestart.`,
        `${SM}ExecEnv.*.${ALLOW_PRIVILEGED}`,
      ],
      (c) => {
        if (c.kind !== 'value' || c.cause.kind === 'agent') return;
        const row = c.path.slice(0, c.path.lastIndexOf('.') + 1);
        const param = c.path.slice(row.length);
        const fail = (e: unknown) => this.log.error({ err: e, path: c.path }, 'operator request failed');
        if (row.endsWith('.AutoRestart.') || param === 'AutoStart' || param === 'RunLevel') {
          try {
            this.configureUnit(
              this.dm.node(row.endsWith('.AutoRestart.') ? row.slice(0, -'AutoRestart.'.length) : row)!,
            );
          } catch (e) {
            fail(e);
          }
          return;
        }
        if (param === 'RequestedState') {
          const euid = this.dm.node(row)?.stored('EUID') ?? '';
          if (c.value === 'Active' || c.value === 'Idle') void this.engine.setRequestedState(euid, c.value).catch(fail);
          return;
        }
        const ee = this.eeOfRow(row);
        if (!ee) return;
        if (param === ALLOW_PRIVILEGED) {
          try {
            this.engine.setPolicy(ee.id, { allowPrivileged: c.value === 'true' });
          } catch (e) {
            fail(e);
          }
        } else if (param === 'Enable') void this.engine.setEnabled(ee.id, c.value === 'true').catch(fail);
        else if (param === 'Reset' && c.value === 'true')
          void this.engine
            .resetEE(ee.id)
            .catch(fail)
            .finally(() => this.dm.update(row, { Reset: 'false' }, ME));
        else if (param === 'RequestedRunLevel') void this.engine.setRunLevel(ee.id, Number(c.value)).catch(fail);
      },
      ['value'],
    );
  }

  /**
   * Brings the rows in line with the engine after a start (the engine is the truth), except for
   * ExecEnv rows the engine does not know: those come from the defaults file, and become LXC
   * execution environments with the allocations they name.
   */
  async sync(): Promise<void> {
    // No Capability rows: TR-181 names OCI images, VM images, OSGi bundles, JAR and WAR only, and
    // our packages are none of them (docs/package-format.md).
    this.ensureRow(`${SM}ExecEnvClass.`, 'Name', 'Native', { Vendor: 'cpe-agent', Version: packageVersion });
    if (this.engine.backends.includes('lxc'))
      this.ensureRow(`${SM}ExecEnvClass.`, 'Name', 'LXC', { Vendor: 'linuxcontainers.org', Version: '5' });
    for (const row of this.rows('ExecEnv')) {
      const allowPrivileged = row.stored(ALLOW_PRIVILEGED) === 'true';
      const ee = this.engine.execEnvs().find((e) => e.name === row.stored('Name'));
      if (ee) {
        this.engine.setPolicy(ee.id, { allowPrivileged });
        continue;
      }
      const n = (p: string) => Number(row.stored(p) ?? -1) || -1;
      try {
        await this.engine.createEE({
          name: row.stored('Name') || `lxc-${row.instance}`,
          enabled: row.stored('Enable') !== 'false',
          allowPrivileged,
          memoryKiB: n('AllocatedMemory'),
          cpuPercent: n('AllocatedCPUPercent'),
          diskKiB: n('AllocatedDiskSpace'),
          initialRunLevel: Number(row.stored('InitialRunLevel') ?? 0),
        });
      } catch (e) {
        this.log.error(
          { err: e, row: row.path },
          'the execution environment from the defaults could not be created; its row is dropped',
        );
        this.dm.delete([row.path], this.agent);
      }
    }
    for (const ee of this.engine.execEnvs()) this.syncEE(ee);
    const dus = new Set(this.engine.deploymentUnits().map((d) => d.duid));
    const eus = new Set(this.engine.deploymentUnits().flatMap((d) => d.eus.map((e) => e.euid)));
    for (const row of this.rows('DeploymentUnit'))
      if (!dus.has(row.stored('DUID') ?? '')) this.dm.delete([row.path], this.agent);
    for (const row of this.rows('ExecutionUnit')) if (!eus.has(row.stored('EUID') ?? '')) this.dropEU(row);
    for (const du of this.engine.deploymentUnits()) this.syncDU(du, 'Installed');
    this.syncVolumes();
  }

  close(): void {
    this.offFeed();
    this.offFileUrlDirectory();
    this.engine.off('result', this.onResult);
    this.engine.off('eu', this.onUnit);
    this.engine.off('ee', this.onEE);
    this.engine.off('duStatus', this.onDuStatus);
    this.engine.off('volumes', this.syncVolumes);
  }

  memoryOf(euRow: ObjectNode): number {
    return this.engine.unitMemoryKiB(euRow.stored('EUID') ?? '');
  }

  freeDiskKiB(): number {
    const s = statfsSync(this.engine.records.dir);
    return Math.floor((s.bavail * s.bsize) / 1024);
  }

  // ---- commands -------------------------------------------------------------------------------

  async installDU(
    input: Readonly<Record<string, string>>,
    signal: AbortSignal,
    progress: (p: number) => void,
    commandKey: string,
  ): Promise<Record<string, string>> {
    const ee = this.execEnvOf(input.ExecutionEnvRef ?? '');
    const row = ee && this.eeRow(ee.id);
    if (!ee || !row)
      throw new DmError(7223, `ExecutionEnvRef '${input.ExecutionEnvRef ?? ''}' names no execution environment`);
    const eeRef = ref(row);
    const appData = volumeArgs(input);
    const r = await this.engine.install({
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
    });
    if (r.fault) throw new DmError(r.fault.code, r.fault.message, undefined, r.fault.transfer);
    return { UUID: r.uuid, Version: r.version, ExecEnvRef: eeRef };
  }

  async updateDU(
    row: ObjectNode,
    input: Readonly<Record<string, string>>,
    commandKey: string,
  ): Promise<Record<string, string>> {
    const appData = volumeArgs(input);
    const r = await this.engine
      .update(row.stored('DUID') ?? '', {
        ...(appData ? { appData } : {}),
        ...(input.URL ? { url: input.URL } : {}),
        ...(input.Username ? { username: input.Username } : {}),
        ...(input.Password ? { password: input.Password } : {}),
        retainData: input.RetainData === 'true',
        requestTag: commandKey,
      })
      .catch(rethrow);
    if (r.fault) throw new DmError(r.fault.code, r.fault.message, undefined, r.fault.transfer);
    return {};
  }

  async uninstallDU(
    row: ObjectNode,
    input: Readonly<Record<string, string>>,
    commandKey: string,
  ): Promise<Record<string, string>> {
    const r = await this.engine
      .uninstall(row.stored('DUID') ?? '', commandKey, input.RetainData === 'true')
      .catch(rethrow);
    if (r.fault) throw new DmError(r.fault.code, r.fault.message, undefined, r.fault.transfer);
    return {};
  }

  async setRequestedState(row: ObjectNode, state: string): Promise<Record<string, string>> {
    if (state !== 'Active' && state !== 'Idle')
      throw new DmError(UspError.InvalidCommandArguments, `RequestedState must be Active or Idle, not '${state}'`);
    await this.engine.setRequestedState(row.stored('EUID') ?? '', state).catch(rethrow);
    return {};
  }

  async restartEU(row: ObjectNode): Promise<Record<string, string>> {
    await this.engine.restartUnit(row.stored('EUID') ?? '').catch(rethrow);
    return {};
  }

  async setRunLevel(row: ObjectNode, level: number): Promise<Record<string, string>> {
    const ee = this.eeOfRow(row.path);
    if (!ee) throw new DmError(7223, `${row.path} is not an execution environment of the engine`);
    await this.engine.setRunLevel(ee.id, level).catch(rethrow);
    return {};
  }

  async restartEE(row: ObjectNode, reason: string): Promise<Record<string, string>> {
    const ee = this.eeOfRow(row.path);
    if (!ee) throw new DmError(7223, `${row.path} is not an execution environment of the engine`);
    await this.engine.restartEE(ee.id, reason).catch(rethrow);
    this.dm.emit(`${row.path}Restarted!`, { RestartTime: ee.lastRestarted, RestartReason: reason }, this.agent);
    return {};
  }

  /** AddExecEnv() on the LXC class: a new system container with its limits; returns its row. */
  async addExecEnv(cls: ObjectNode, input: Readonly<Record<string, string>>): Promise<Record<string, string>> {
    if (cls.stored('Name') !== 'LXC')
      throw new DmError(
        UspError.CommandFailure,
        `${ref(cls.path)} can not create execution environments; use the LXC class`,
      );
    const n = (v: string | undefined) => (v === undefined || v === '' ? -1 : Number(v));
    const ee = await this.engine
      .createEE({
        name: input.Name || `lxc-${this.rows('ExecEnv').length + 1}`,
        enabled: input.Enable !== 'false',
        memoryKiB: n(input.AllocatedMemory),
        cpuPercent: n(input.AllocatedCPUPercent),
        diskKiB: n(input.AllocatedDiskSpace),
      })
      .catch(rethrow);
    this.syncEE(ee);
    const row = this.eeRow(ee.id)!;
    if (input.Alias) this.dm.update(row, { Alias: input.Alias }, ME);
    this.dm.update(row, { ParentExecEnv: input.ParentExecEnv ?? '' }, ME);
    return { ExecEnvRef: ref(row) };
  }

  /** Hands the operator's AutoStart, RunLevel and AutoRestart settings of an EU row to the engine. */
  private configureUnit(row: ObjectNode): void {
    const ar = row.singles.get('AutoRestart')!;
    const num = (n: ObjectNode, p: string) => Number(n.stored(p) ?? 0);
    this.engine.configureUnit(row.stored('EUID') ?? '', {
      autoStart: row.stored('AutoStart') === 'true',
      runLevel: num(row, 'RunLevel'),
      restart: {
        enabled: ar.stored('Enable') === 'true',
        minWait: num(ar, 'RetryMinimumWaitInterval'),
        maxWait: num(ar, 'RetryMaximumWaitInterval'),
        multiplier: num(ar, 'RetryIntervalMultiplier'),
        maxRetries: num(ar, 'MaximumRetryCount'),
      },
    });
  }

  assertEEEnabledFor(euRow: ObjectNode): void {
    const found = this.engine.unitOf(euRow.stored('EUID') ?? '');
    const ee = found && this.engine.execEnvs().find((e) => e.id === found.du.ee);
    if (ee && !ee.enabled) throw new DmError(UspError.InvalidValue, `execution environment ${ee.name} is disabled`);
  }

  async modifyConstraints(row: ObjectNode, input: Readonly<Record<string, string>>): Promise<Record<string, string>> {
    const ee = this.eeOfRow(row.path);
    if (!ee) throw new DmError(7223, `${row.path} is not an execution environment of the engine`);
    const n = (v: string | undefined) => (v === undefined || v === '' ? undefined : Number(v));
    await this.engine
      .modifyConstraints(ee.id, {
        diskKiB: n(input.AllocatedDiskSpace),
        memoryKiB: n(input.AllocatedMemory),
        cpuPercent: n(input.AllocatedCPUPercent),
        force: input.Force === 'true',
      })
      .catch(rethrow);
    return {};
  }

  async resetEE(row: ObjectNode): Promise<Record<string, string>> {
    const ee = this.eeOfRow(row.path);
    if (!ee) throw new DmError(7223, `${row.path} is not an execution environment of the engine`);
    await this.engine.resetEE(ee.id).catch(rethrow);
    return {};
  }

  async removeEE(row: ObjectNode, force: boolean): Promise<Record<string, string>> {
    const ee = this.eeOfRow(row.path);
    if (!ee) throw new DmError(7223, `${row.path} is not an execution environment of the engine`);
    await this.engine.removeEE(ee.id, force).catch(rethrow);
    this.dm.delete([row.path], this.agent);
    return {};
  }

  /** ApplicationData.{i}.Remove(): the volume goes with its data; refused while its DU is installed. */
  async removeVolume(row: ObjectNode): Promise<Record<string, string>> {
    const v = this.volumeOfRow(row);
    if (!v) throw new DmError(UspError.CommandFailure, `${row.path} is not a volume of the engine`);
    await this.engine.removeVolume(v.id).catch(rethrow);
    return {};
  }

  volumeUsedMiB(row: ObjectNode): number {
    const v = this.volumeOfRow(row);
    return v ? this.engine.volumeUsedMiB(v) : 0;
  }

  private volumeOfRow(row: ObjectNode): VolumeRecord | undefined {
    const ee = this.eeOfRow(row.path.slice(0, row.path.indexOf('ApplicationData.')));
    return this.engine
      .volumes()
      .find((v) => v.ee === ee?.id && v.appUuid === row.stored('ApplicationUUID') && v.name === row.stored('Name'));
  }

  /** ExecEnv.{i}.ApplicationData rows mirror the engine's volumes; EUs list the ones of their DU. */
  private readonly syncVolumes = (): void => {
    for (const ee of this.engine.execEnvs()) {
      const eeRow = this.eeRow(ee.id);
      const table = eeRow ? this.dm.node(eeRow)?.tables.get('ApplicationData') : undefined;
      if (!eeRow || !table) continue;
      const vols = this.engine.volumes().filter((v) => v.ee === ee.id);
      const key = (uuid: string | undefined, name: string | undefined) => `${uuid}/${name}`;
      const want = new Set(vols.map((v) => key(v.appUuid, v.name)));
      const stale = [...table.rows.values()]
        .filter((r) => !want.has(key(r.stored('ApplicationUUID'), r.stored('Name'))))
        .map((r) => r.path);
      if (stale.length) this.dm.delete(stale, this.agent);
      const have = new Set([...table.rows.values()].map((r) => key(r.stored('ApplicationUUID'), r.stored('Name'))));
      for (const v of vols) {
        if (have.has(key(v.appUuid, v.name))) continue;
        // Encrypted is false: the volume is a plain ext4 image (no key store on this device to encrypt with).
        this.dm.addInstance(
          `${eeRow}ApplicationData.`,
          {
            Name: v.name,
            ApplicationUUID: v.appUuid,
            Capacity: String(v.capacityMiB),
            Encrypted: 'false',
            Retain: v.retain,
            AccessPath: this.engine.volumePath(v),
          },
          ME,
        );
      }
    }
    for (const du of this.engine.deploymentUnits()) {
      const eeRow = this.eeRow(du.ee);
      const rows = eeRow ? [...(this.dm.node(eeRow)?.tables.get('ApplicationData')?.rows.values() ?? [])] : [];
      const list = rows
        .filter((r) => r.stored('ApplicationUUID') === du.uuid)
        .map((r) => ref(r.path))
        .join(',');
      for (const eu of du.eus) {
        const row = this.rowBy('ExecutionUnit', 'EUID', eu.euid);
        if (row) this.dm.update(row.path, { ApplicationDataList: list }, ME);
      }
    }
  };

  // ---- engine events ----------------------------------------------------------------------------

  private readonly onResult = (r: DuResult): void => {
    try {
      let duRow = r.duid ? this.rowBy('DeploymentUnit', 'DUID', r.duid) : undefined;
      if (r.operation === 'Uninstall' && !r.fault) {
        for (const euid of r.euids) {
          const eu = this.rowBy('ExecutionUnit', 'EUID', euid);
          if (eu) this.dropEU(eu);
        }
        if (duRow) this.dm.delete([duRow.path], this.agent);
      } else if (r.du) {
        duRow = this.syncDU(r.du, 'Installed');
      }
      const c = this.duStateChange(r);
      this.dm.emit(
        `${SM}DUStateChange!`,
        {
          UUID: c.uuid,
          DeploymentUnitRef: c.duRef,
          Version: c.version,
          CurrentState: c.state,
          Resolved: String(c.resolved),
          ExecutionUnitRefList: c.euRefs,
          StartTime: c.start,
          CompleteTime: c.complete,
          OperationPerformed: c.operation,
          'Fault.FaultCode': String(c.fault?.code ?? 0),
          'Fault.FaultString': c.fault?.message ?? '',
        },
        this.agent,
        // Whose request it ends, and a failed transfer's kind: for CWMP, which reports both its way.
        { commandKey: r.requestTag, ...(r.fault?.transfer ? { transfer: r.fault.transfer } : {}) },
      );
      this.syncVolumes();
      if (r.recovered && r.requestTag) this.reportOrphan(r, duRow);
    } catch (e) {
      this.log.error({ err: e }, 'could not reflect a DU operation in the data model');
    }
  };

  /** A finished operation in TR-181's terms, once its rows are in step (the rows of an uninstalled DU are gone). */
  duStateChange(r: DuResult): DuStateChange {
    const duRow = r.duid ? this.rowBy('DeploymentUnit', 'DUID', r.duid) : undefined;
    const state = r.fault
      ? r.operation === 'Install'
        ? 'Failed'
        : 'Installed'
      : r.operation === 'Uninstall'
        ? 'Uninstalled'
        : 'Installed';
    const euRefs =
      r.operation === 'Uninstall'
        ? []
        : r.euids
            .map((e) => this.rowBy('ExecutionUnit', 'EUID', e))
            .filter(Boolean)
            .map((n) => ref(n!.path));
    return {
      operation: r.operation,
      uuid: r.uuid,
      duRef: duRow ? ref(duRow.path) : '',
      version: r.version,
      state,
      resolved: state === 'Installed',
      euRefs: euRefs.join(','),
      start: r.startTime,
      complete: r.completeTime,
      fault: r.fault,
    };
  }

  /** The engine's EE an ExecutionEnvRef names; an empty reference means the first enabled one. */
  execEnvOf(eeRef: string): EERecord | undefined {
    if (!eeRef) return this.engine.execEnvs().find((e) => e.enabled);
    return this.eeOfRow(`${eeRef.replace(/\.$/, '')}.`);
  }

  /** An InstallDU/Update/Uninstall whose Request row was lost in a restart still gets its OperationComplete. */
  private reportOrphan(r: DuResult, duRow: ObjectNode | undefined): void {
    const path =
      r.operation === 'Install' ? `${SM}InstallDU()` : `${duRow?.path ?? `${SM}DeploymentUnit.`}${r.operation}()`;
    const ee = this.eeRow(r.ee);
    this.dm.operations.reportOrphan(
      path,
      r.requestTag,
      this.agent,
      r.fault
        ? { ok: false, code: r.fault.code, message: r.fault.message }
        : {
            ok: true,
            output:
              r.operation === 'Install' ? { UUID: r.uuid, Version: r.version, ExecEnvRef: ee ? ref(ee) : '' } : {},
          },
    );
  }

  private readonly onUnit = (euid: string, s: Readonly<UnitState>): void => {
    const row = this.rowBy('ExecutionUnit', 'EUID', euid);
    if (!row) return;
    this.dm.update(
      row.path,
      {
        Status: s.status,
        ExecutionFaultCode: s.fault,
        ExecutionFaultMessage: s.fault === 'NoFault' ? '' : s.faultMessage.slice(0, 256),
      },
      ME,
    );
    this.dm.update(
      `${row.path}AutoRestart.`,
      { RetryCount: String(s.retryCount), LastRestarted: s.lastRestarted, NextRestart: s.nextRestart },
      ME,
    );
    const found = this.engine.unitOf(euid);
    if (found) this.syncEEActive(found.du.ee);
  };

  private readonly onEE = (ee: EERecord): void => {
    this.syncEE(ee);
  };

  private readonly onDuStatus = (duid: string, status: string): void => {
    const row = this.rowBy('DeploymentUnit', 'DUID', duid);
    if (row) this.dm.update(row.path, { Status: status }, ME);
  };

  // ---- rows -------------------------------------------------------------------------------------

  private logRow(name: string): string | undefined {
    for (const row of this.dm.node(DI)?.tables.get('VendorLogFile')?.rows.values() ?? [])
      if (row.stored('Name') === name) return row.path;
    return undefined;
  }

  /** Removes an EU's row together with its vendor log file row. */
  private dropEU(row: ObjectNode): void {
    const log = row.stored('VendorLogList');
    const paths = [row.path, ...(log && this.dm.node(`${log}.`) ? [`${log}.`] : [])];
    this.dm.delete(paths, this.agent);
  }

  private rows(table: string): ObjectNode[] {
    return [...(this.dm.node(SM)?.tables.get(table)?.rows.values() ?? [])];
  }

  private rowBy(table: string, key: string, value: string): ObjectNode | undefined {
    return this.rows(table).find((r) => r.stored(key) === value);
  }

  private ensureRow(table: string, key: string, value: string, values: Record<string, string>): string {
    const name = table.slice(SM.length, -1);
    const row = this.rowBy(name, key, value);
    if (row) {
      this.dm.update(row.path, values, ME);
      return row.path;
    }
    return this.dm.addInstance(table, { [key]: value, ...values }, ME);
  }

  private eeRow(eeId: string): string | undefined {
    const ee = this.engine.execEnvs().find((e) => e.id === eeId);
    return ee ? this.rowBy('ExecEnv', 'Name', ee.name)?.path : undefined;
  }

  private eeOfRow(rowPath: string): EERecord | undefined {
    const name = this.dm.node(rowPath)?.stored('Name');
    return this.engine.execEnvs().find((e) => e.name === name);
  }

  private syncEE(ee: EERecord): void {
    const cls = this.rowBy('ExecEnvClass', 'Name', ee.backend === 'native' ? 'Native' : 'LXC');
    this.ensureRow(`${SM}ExecEnv.`, 'Name', ee.name, {
      Enable: String(ee.enabled),
      Status: ee.enabled ? 'Up' : 'Disabled',
      Type: ee.backend === 'native' ? 'Native' : 'LXC',
      Vendor: ee.backend === 'native' ? 'cpe-agent' : 'linuxcontainers.org',
      Version: packageVersion,
      InitialRunLevel: String(ee.initialRunLevel),
      CurrentRunLevel: String(ee.currentRunLevel),
      AllocatedDiskSpace: String(ee.allocatedDiskKiB),
      AllocatedMemory: String(ee.allocatedMemoryKiB),
      AllocatedCPUPercent: String(ee.allocatedCpuPercent),
      CreatedAt: ee.createdAt,
      ExecEnvClassRef: cls ? ref(cls.path) : '',
      RestartReason: ee.restartReason,
      RestartCount: String(ee.restartCount),
      LastRestarted: ee.lastRestarted,
      [ALLOW_PRIVILEGED]: String(ee.allowPrivileged === true),
    });
  }

  private syncEEActive(eeId: string): void {
    const row = this.eeRow(eeId);
    if (!row) return;
    const active = this.engine
      .deploymentUnits()
      .filter((d) => d.ee === eeId)
      .flatMap((d) => d.eus)
      .filter((e) => this.engine.unitState(e.euid)?.status === 'Active')
      .map((e) => this.rowBy('ExecutionUnit', 'EUID', e.euid))
      .filter(Boolean)
      .map((n) => ref(n!.path));
    this.dm.update(row, { ActiveExecutionUnits: active.join(',') }, ME);
  }

  private syncDU(du: DURecord, status: string): ObjectNode | undefined {
    const eeRow = this.eeRow(du.ee);
    const euRefs = du.eus.map((eu) => ref(this.syncEU(du, eu, eeRow)));
    const path = this.ensureRow(`${SM}DeploymentUnit.`, 'DUID', du.duid, {
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
    });
    for (const eu of du.eus) {
      const row = this.rowBy('ExecutionUnit', 'EUID', eu.euid);
      if (row) this.dm.update(row.path, { References: ref(path) }, ME);
    }
    return this.dm.node(path);
  }

  /** Who a unit runs as, inside its EE and on the host (TR-181 2.19 Allocated*UID/GID). */
  private unitIds(euid: string): Record<string, string> {
    const u = this.engine.unitUser(euid);
    return u
      ? {
          AllocatedEUUID: String(u.inside.uid),
          AllocatedEUGID: String(u.inside.gid),
          AllocatedHostUID: String(u.host.uid),
          AllocatedHostGID: String(u.host.gid),
        }
      : {};
  }

  private syncEU(du: DURecord, eu: EURecord, eeRow: string | undefined): string {
    const s = this.engine.unitState(eu.euid);
    const path = this.ensureRow(`${SM}ExecutionUnit.`, 'EUID', eu.euid, {
      Name: eu.service.name,
      ExecEnvLabel: eu.euid.slice(0, 64),
      Status: s?.status ?? 'Idle',
      ExecutionFaultCode: s?.fault ?? 'NoFault',
      ExecutionFaultMessage: s && s.fault !== 'NoFault' ? s.faultMessage.slice(0, 256) : '',
      AutoStart: String(eu.autoStart),
      RunLevel: String(eu.runLevel),
      Vendor: du.manifest.vendor,
      Version: du.manifest.version,
      Description: eu.service.description,
      DiskSpaceInUse: String(du.diskKiB),
      CreationTime: du.installedAt,
      ExecutionEnvRef: eeRow ? ref(eeRow) : '',
      ...this.unitIds(eu.euid),
      Privileged: String(du.privileged === true),
    });
    const policy = this.engine.unitPolicy(eu.euid)!;
    this.dm.update(
      `${path}AutoRestart.`,
      {
        Enable: String(policy.mode !== 'never'),
        RetryMinimumWaitInterval: String(policy.minWait),
        RetryMaximumWaitInterval: String(policy.maxWait),
        RetryIntervalMultiplier: String(policy.multiplier),
        MaximumRetryCount: String(policy.maxRetries),
        RetryCount: String(s?.retryCount ?? 0),
      },
      ME,
    );
    // The service's stdout and stderr, as a vendor log file of the device (Name is at most 64
    // characters: the file's name, which lives in the engine's log directory).
    const logName = basename(this.engine.unitLogFile(eu.euid)).slice(-64);
    const logRow =
      this.logRow(logName) ??
      this.dm.addInstance(
        `${DI}VendorLogFile.`,
        { Name: logName, MaximumSize: String(256 * 1024), Persistent: 'false' },
        ME,
      );
    this.dm.update(path, { VendorLogList: ref(logRow) }, ME);
    const env = this.dm.node(path)!.tables.get('EnvVariable')!;
    if (!env.rows.size)
      for (const [Key, Value] of Object.entries(eu.service.env))
        this.dm.addInstance(`${path}EnvVariable.`, { Key, Value }, ME);
    return path;
  }
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

function rethrow(e: unknown): never {
  if (e instanceof EngineError) throw new DmError(e.code, e.message, undefined, e.transfer);
  throw e;
}
