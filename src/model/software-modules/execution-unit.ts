// ExecutionUnit: one row per service of an installed DU, with its state, restart settings and
// statistics, its vendor log file and environment; SetRequestedState() and Restart(); and the writes
// of an operator that act on the engine (RequestedState, AutoStart, RunLevel, AutoRestart.*).
import { basename } from 'node:path';
import type { DataModel } from '../../dm/datamodel.js';
import { DmError, UspError } from '../../dm/errors.js';
import type { ObjectNode } from '../../dm/tree.js';
import type { DURecord, EURecord } from '../../engine/records.js';
import type { UnitState } from '../../engine/supervisor.js';
import { rethrow } from '../engine-faults.js';
import { euSettingValues, syncEuTables } from './du-settings-rows.js';
import type { ExecEnvs } from './exec-env.js';
import { DI, ME, type OperatorWrite, ref, SM, type SmRows } from './rows.js';

const RUNTIME = [
  'Status',
  'ExecutionFaultCode',
  'ExecutionFaultMessage',
  'AutoRestart.RetryCount',
  'AutoRestart.LastRestarted',
  'AutoRestart.NextRestart',
];

export function registerExecutionUnits(
  dm: DataModel,
  need: () => ExecutionUnits,
  find: () => ExecutionUnits | undefined,
): void {
  dm.command(`${SM}ExecutionUnit.{i}.SetRequestedState()`, (req) =>
    need().setRequestedState(req.node, req.input.RequestedState ?? ''),
  );
  dm.command(`${SM}ExecutionUnit.{i}.Restart()`, (req) => need().restartEU(req.node));
  // A start asked through the CWMP parameter fails like the command when the EE is disabled.
  dm.param(`${SM}ExecutionUnit.{i}.RequestedState`, {
    validate: (v, node) => {
      if (v === 'Active') find()?.assertEEEnabledFor(node);
    },
  });
  // What the supervisor knows of a unit now: rebuilt from the running services at every start, so
  // kept in memory only (TR-181 asks none of it to outlive a reboot).
  for (const p of RUNTIME) dm.param(`${SM}ExecutionUnit.{i}.${p}`, { volatile: true });
  dm.param(`${SM}ExecutionUnit.{i}.MemoryInUse`, { get: (n) => String(find()?.memoryOf(n) ?? 0) });
  // Its package, and what its data takes on the DU's own disk (read when asked: it changes with every write).
  dm.param(`${SM}ExecutionUnit.{i}.DiskSpaceInUse`, { get: (n) => String(find()?.diskOf(n) ?? 0) });
}

export class ExecutionUnits {
  private readonly offFeed: () => void;

  constructor(
    private readonly rows: SmRows,
    private readonly execEnvs: ExecEnvs,
  ) {
    this.offFeed = rows.onOperatorWrite(
      [
        `${SM}ExecutionUnit.*.RequestedState`,
        `${SM}ExecutionUnit.*.AutoStart`,
        `${SM}ExecutionUnit.*.RunLevel`,
        `${SM}ExecutionUnit.*.ShutdownDelay`,
        `${SM}ExecutionUnit.*.AutoRestart.`,
      ],
      (w, fail) => this.onWrite(w, fail),
    );
  }

  private onWrite({ row, param, value }: OperatorWrite, fail: (e: unknown) => void): void {
    if (row.endsWith('.AutoRestart.') || ['AutoStart', 'RunLevel', 'ShutdownDelay'].includes(param)) {
      try {
        this.configureUnit(
          this.rows.dm.node(row.endsWith('.AutoRestart.') ? row.slice(0, -'AutoRestart.'.length) : row)!,
        );
      } catch (e) {
        fail(e);
      }
      return;
    }
    if (param === 'RequestedState') {
      const euid = this.rows.dm.node(row)?.stored('EUID') ?? '';
      if (value === 'Active' || value === 'Idle') void this.rows.engine.setRequestedState(euid, value).catch(fail);
    }
  }

  close(): void {
    this.offFeed();
  }

  memoryOf(euRow: ObjectNode): number {
    return this.rows.engine.unitMemoryKiB(euRow.stored('EUID') ?? '');
  }
  diskOf(euRow: ObjectNode): number {
    return this.rows.engine.unitDiskKiB(euRow.stored('EUID') ?? '');
  }

  async setRequestedState(row: ObjectNode, state: string): Promise<Record<string, string>> {
    if (state !== 'Active' && state !== 'Idle')
      throw new DmError(UspError.InvalidCommandArguments, `RequestedState must be Active or Idle, not '${state}'`);
    await this.rows.engine.setRequestedState(row.stored('EUID') ?? '', state).catch(rethrow);
    return {};
  }

  async restartEU(row: ObjectNode): Promise<Record<string, string>> {
    await this.rows.engine.restartUnit(row.stored('EUID') ?? '').catch(rethrow);
    return {};
  }

  assertEEEnabledFor(euRow: ObjectNode): void {
    const engine = this.rows.engine;
    const found = engine.unitOf(euRow.stored('EUID') ?? '');
    const ee = found && engine.execEnvs().find((e) => e.id === found.du.ee);
    if (ee && !ee.enabled) throw new DmError(UspError.InvalidValue, `execution environment ${ee.name} is disabled`);
  }

  /** Hands the operator's AutoStart, RunLevel and AutoRestart settings of an EU row to the engine. */
  private configureUnit(row: ObjectNode): void {
    const ar = row.singles.get('AutoRestart')!;
    const num = (n: ObjectNode, p: string) => Number(n.stored(p) ?? 0);
    this.rows.engine.configureUnit(row.stored('EUID') ?? '', {
      autoStart: row.stored('AutoStart') === 'true',
      runLevel: num(row, 'RunLevel'),
      ...(row.stored('ShutdownDelay') !== undefined ? { shutdownDelayS: num(row, 'ShutdownDelay') } : {}),
      restart: {
        enabled: ar.stored('Enable') === 'true',
        minWait: num(ar, 'RetryMinimumWaitInterval'),
        maxWait: num(ar, 'RetryMaximumWaitInterval'),
        multiplier: num(ar, 'RetryIntervalMultiplier'),
        maxRetries: num(ar, 'MaximumRetryCount'),
        resetPeriod: num(ar, 'ResetPeriod'),
      },
    });
  }

  /** Drops the rows of EUs the engine no longer has. */
  prune(): void {
    const eus = new Set(this.rows.engine.deploymentUnits().flatMap((d) => d.eus.map((e) => e.euid)));
    for (const row of this.rows.rows('ExecutionUnit')) if (!eus.has(row.stored('EUID') ?? '')) this.drop(row);
  }

  /** Removes an EU's row together with its vendor log file row. */
  drop(row: ObjectNode): void {
    const log = row.stored('VendorLogList');
    const paths = [row.path, ...(log && this.rows.dm.node(`${log}.`) ? [`${log}.`] : [])];
    this.rows.dm.delete(paths, this.rows.agent);
  }

  readonly onUnit = (euid: string, s: Readonly<UnitState>): void => {
    const row = this.rows.rowBy('ExecutionUnit', 'EUID', euid);
    if (!row) return;
    this.rows.dm.update(
      row.path,
      {
        Status: s.status,
        ExecutionFaultCode: s.fault,
        ExecutionFaultMessage: s.fault === 'NoFault' ? '' : s.faultMessage.slice(0, 256),
      },
      ME,
    );
    this.rows.dm.update(
      `${row.path}AutoRestart.`,
      { RetryCount: String(s.retryCount), LastRestarted: s.lastRestarted, NextRestart: s.nextRestart },
      ME,
    );
    const found = this.rows.engine.unitOf(euid);
    if (found) this.execEnvs.activeChanged(found.du.ee);
  };

  /** The row of one EU of a DU, added or brought up to date; returns its path. */
  sync(du: DURecord, eu: EURecord, eeRow: string | undefined): string {
    const { dm, engine } = this.rows;
    const s = engine.unitState(eu.euid);
    const path = this.rows.ensureRow('ExecutionUnit', 'EUID', eu.euid, {
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
      CreationTime: du.installedAt,
      ExecutionEnvRef: eeRow ? ref(eeRow) : '',
      ...this.unitIds(eu.euid),
      Privileged: String(du.privileged === true),
      ...euSettingValues(du, eu),
    });
    const policy = engine.unitPolicy(eu.euid)!;
    dm.update(
      `${path}AutoRestart.`,
      {
        Enable: String(policy.mode !== 'never'),
        RetryMinimumWaitInterval: String(policy.minWait),
        RetryMaximumWaitInterval: String(policy.maxWait),
        RetryIntervalMultiplier: String(policy.multiplier),
        MaximumRetryCount: String(policy.maxRetries),
        ResetPeriod: String(policy.resetPeriod ?? 0),
        RetryCount: String(s?.retryCount ?? 0),
      },
      ME,
    );
    // The service's stdout and stderr, as a vendor log file of the device (Name is at most 64
    // characters: the file's name, which lives in the engine's log directory).
    const logName = basename(engine.unitLogFile(eu.euid)).slice(-64);
    const logRow =
      this.logRow(logName) ??
      dm.addInstance(
        `${DI}VendorLogFile.`,
        { Name: logName, MaximumSize: String(256 * 1024), Persistent: 'false' },
        ME,
      );
    dm.update(path, { VendorLogList: ref(logRow) }, ME);
    syncEuTables(dm, path, du, eu);
    return path;
  }

  /** Who a unit runs as, inside its EE and on the host (TR-181 2.19 Allocated*UID/GID). */
  private unitIds(euid: string): Record<string, string> {
    const u = this.rows.engine.unitUser(euid);
    return u
      ? {
          AllocatedEUUID: String(u.inside.uid),
          AllocatedEUGID: String(u.inside.gid),
          AllocatedHostUID: String(u.host.uid),
          AllocatedHostGID: String(u.host.gid),
        }
      : {};
  }

  private logRow(name: string): string | undefined {
    for (const row of this.rows.dm.node(DI)?.tables.get('VendorLogFile')?.rows.values() ?? [])
      if (row.stored('Name') === name) return row.path;
    return undefined;
  }
}
