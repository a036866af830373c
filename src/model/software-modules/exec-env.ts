// ExecEnvClass and ExecEnv: one class per backend present, one ExecEnv row per engine execution
// environment, their commands (AddExecEnv, SetRunLevel, Restart, Remove, Reset, ModifyConstraints)
// and the writes of an operator that act on the engine (Enable, Reset, RequestedRunLevel, the
// X_CPE-AGENT_AllowPrivileged policy). Reset() is TR-181's: see engine/ee-reset.ts.
import type { DataModel } from '../../dm/datamodel.js';
import { DmError, UspError } from '../../dm/errors.js';
import type { ObjectNode } from '../../dm/tree.js';
import type { EERecord } from '../../engine/records.js';
import { packageVersion } from '../../util/package-info.js';
import { diskKiB } from '../disk-space.js';
import { rethrow } from '../engine-faults.js';
import { ME, type OperatorWrite, ref, SM, type SmRows } from './rows.js';

/** What an ExecEnvClass that runs OCI images declares (TR-181 ExecEnvClass.{i}.Capability.{i}.). */
const OCI_CAPABILITY = {
  Specification: 'OCIImage',
  SpecificationVersion: '1.1',
  SpecificationURI: 'https://github.com/opencontainers/image-spec/blob/v1.1.0/spec.md',
};

/** The operator's policy: privileged DUs may be installed into this EE (docs/security.md). */
const ALLOW_PRIVILEGED = 'X_CPE-AGENT_AllowPrivileged';
/** The EE's units share the host's network: only while ALLOW_PRIVILEGED is true too, from its next start. */
const HOST_NETWORK = 'X_CPE-AGENT_HostNetwork';
/** The classes whose EEs AddExecEnv() makes (the engine's LXC and OCI backends). */
const ADDABLE_CLASSES = ['LXC', 'OCI'];

export function registerExecEnvs(dm: DataModel, need: () => ExecEnvs, find: () => ExecEnvs | undefined): void {
  dm.command(`${SM}ExecEnv.{i}.SetRunLevel()`, (req) =>
    need().setRunLevel(req.node, Number(req.input.RequestedRunLevel ?? 0)),
  );
  dm.command(`${SM}ExecEnv.{i}.Restart()`, (req) => need().restartEE(req.node, req.input.Reason ?? ''));
  dm.command(`${SM}ExecEnv.{i}.Remove()`, (req) => need().removeEE(req.node, req.input.Force === 'true'));
  dm.command(`${SM}ExecEnv.{i}.Reset()`, (req) => need().resetEE(req.node));
  dm.command(`${SM}ExecEnvClass.{i}.AddExecEnv()`, (req) => need().addExecEnv(req.node, req.input));
  dm.command(`${SM}ExecEnv.{i}.ModifyConstraints()`, (req) => need().modifyConstraints(req.node, req.input));
  dm.param(`${SM}ExecEnv.{i}.AvailableDiskSpace`, { get: () => String(find()?.freeDiskKiB() ?? -1) });
  // The EUs running now: rebuilt from the supervisor at every start.
  dm.param(`${SM}ExecEnv.{i}.ActiveExecutionUnits`, { volatile: true });
  dm.param(`${SM}ExecEnv.{i}.AvailableMemory`, { get: () => '-1' });
  dm.param(`${SM}ExecEnv.{i}.AvailableCPUPercent`, { get: () => '-1' });
}

export class ExecEnvs {
  private readonly offFeed: () => void;
  /** EEs whose ActiveExecutionUnits awaits the end of the current run of unit changes. */
  private readonly activeDirty = new Set<string>();

  constructor(private readonly rows: SmRows) {
    this.offFeed = rows.onOperatorWrite(
      [
        `${SM}ExecEnv.*.Enable`,
        `${SM}ExecEnv.*.Reset`,
        `${SM}ExecEnv.*.RequestedRunLevel`,
        `${SM}ExecEnv.*.${ALLOW_PRIVILEGED}`,
        `${SM}ExecEnv.*.${HOST_NETWORK}`,
      ],
      (w, fail) => this.onWrite(w, fail),
    );
  }

  close(): void {
    this.offFeed();
  }

  private onWrite({ row, param, value }: OperatorWrite, fail: (e: unknown) => void): void {
    const engine = this.rows.engine;
    const ee = this.rows.eeOfRow(row);
    if (!ee) return;
    if (param === ALLOW_PRIVILEGED || param === HOST_NETWORK) {
      try {
        engine.setPolicy(ee.id, { [param === ALLOW_PRIVILEGED ? 'allowPrivileged' : 'hostNetwork']: value === 'true' });
      } catch (e) {
        fail(e);
      }
    } else if (param === 'Enable') void engine.setEnabled(ee.id, value === 'true').catch(fail);
    else if (param === 'Reset' && value === 'true') {
      // A command parameter (TR-181: syntax command="true"), false whenever read, also while the reset
      // runs on; set back once this write's change has reached every listener.
      queueMicrotask(() => {
        try {
          this.rows.dm.update(row, { Reset: 'false' }, ME);
        } catch (e) {
          fail(e);
        }
      });
      void engine.resetToFactory(ee.id).catch(fail);
    } else if (param === 'RequestedRunLevel') void engine.setRunLevel(ee.id, Number(value)).catch(fail);
  }

  /** One ExecEnvClass row per backend present. */
  syncClasses(): void {
    // Capability rows only for OCI images: TR-181 names OCI images, VM images, OSGi bundles, JAR and WAR
    // only, and our packages are none of them (docs/package-format.md).
    for (const c of this.rows.engine.classes()) {
      const row = this.rows.ensureRow('ExecEnvClass', 'Name', c.name, { Vendor: c.vendor, Version: c.version });
      if (c.formats.includes('oci') && this.rows.dm.value(`${row}CapabilityNumberOfEntries`) === '0')
        this.rows.dm.addInstance(`${row}Capability.`, OCI_CAPABILITY, ME);
    }
  }

  /**
   * ExecEnv rows the engine does not know come from the defaults file: they become LXC execution
   * environments with the allocations they name. The others get their policy handed to the engine.
   */
  async adoptRows(): Promise<void> {
    const { dm, engine } = this.rows;
    for (const row of this.rows.rows('ExecEnv')) {
      const allowPrivileged = row.stored(ALLOW_PRIVILEGED) === 'true';
      const hostNetwork = row.stored(HOST_NETWORK) === 'true';
      const ee = engine.execEnvs().find((e) => e.name === row.stored('Name'));
      if (ee) {
        engine.setPolicy(ee.id, { allowPrivileged, hostNetwork });
        continue;
      }
      const n = (p: string) => Number(row.stored(p) ?? -1) || -1;
      // The defaults may name the class (an OCI EE, say) by ExecEnvClassRef; else the first addable one (LXC).
      const given = row.stored('ExecEnvClassRef');
      const classRef = given ? given.replace(/\.?$/, '.') : undefined;
      const execEnvClass = classRef ? dm.node(classRef)?.stored('Name') : undefined;
      try {
        if (classRef && !execEnvClass) throw new Error(`ExecEnvClassRef ${classRef} names no ExecEnvClass row`);
        await engine.createEE({
          ...(execEnvClass ? { execEnvClass } : {}),
          name: row.stored('Name') || `lxc-${row.instance}`,
          enabled: row.stored('Enable') !== 'false',
          allowPrivileged,
          hostNetwork,
          memoryKiB: n('AllocatedMemory'),
          cpuPercent: n('AllocatedCPUPercent'),
          diskKiB: n('AllocatedDiskSpace'),
          initialRunLevel: Number(row.stored('InitialRunLevel') ?? 0),
        });
      } catch (e) {
        this.rows.log.error(
          { err: e, row: row.path },
          'the execution environment from the defaults could not be created; its row is dropped',
        );
        dm.delete([row.path], this.rows.agent);
      }
    }
  }

  freeDiskKiB(): number {
    return diskKiB(this.rows.engine.records.dir, 'free');
  }

  /** The engine's EE an ExecutionEnvRef names; an empty reference means the first enabled one. */
  execEnvOf(eeRef: string): EERecord | undefined {
    if (!eeRef) return this.rows.engine.execEnvs().find((e) => e.enabled);
    return this.rows.eeOfRow(`${eeRef.replace(/\.$/, '')}.`);
  }

  async setRunLevel(row: ObjectNode, level: number): Promise<Record<string, string>> {
    const ee = this.rows.eeForCommand(row);
    await this.rows.engine.setRunLevel(ee.id, level).catch(rethrow);
    return {};
  }

  async restartEE(row: ObjectNode, reason: string): Promise<Record<string, string>> {
    const ee = this.rows.eeForCommand(row);
    await this.rows.engine.restartEE(ee.id, reason).catch(rethrow);
    this.rows.dm.emit(
      `${row.path}Restarted!`,
      { RestartTime: ee.lastRestarted, RestartReason: reason },
      this.rows.agent,
    );
    return {};
  }

  /**
   * AddExecEnv() on a class whose EEs are made (LXC: a system container; OCI: a home for runc containers)
   * with its limits; returns its row.
   */
  async addExecEnv(cls: ObjectNode, input: Readonly<Record<string, string>>): Promise<Record<string, string>> {
    const name = cls.stored('Name') ?? '';
    if (!ADDABLE_CLASSES.includes(name))
      throw new DmError(
        UspError.CommandFailure,
        `${ref(cls.path)} can not create execution environments; use the ${ADDABLE_CLASSES.join(' or ')} class`,
      );
    const n = (v: string | undefined) => (v === undefined || v === '' ? -1 : Number(v));
    const ee = await this.rows.engine
      .createEE({
        execEnvClass: name,
        name: input.Name || `${name.toLowerCase()}-${this.rows.rows('ExecEnv').length + 1}`,
        enabled: input.Enable !== 'false',
        memoryKiB: n(input.AllocatedMemory),
        cpuPercent: n(input.AllocatedCPUPercent),
        diskKiB: n(input.AllocatedDiskSpace),
      })
      .catch(rethrow);
    this.sync(ee);
    const row = this.rows.eeRow(ee.id)!;
    if (input.Alias) this.rows.dm.update(row, { Alias: input.Alias }, ME);
    this.rows.dm.update(row, { ParentExecEnv: input.ParentExecEnv ?? '' }, ME);
    return { ExecEnvRef: ref(row) };
  }

  async modifyConstraints(row: ObjectNode, input: Readonly<Record<string, string>>): Promise<Record<string, string>> {
    const ee = this.rows.eeForCommand(row);
    const n = (v: string | undefined) => (v === undefined || v === '' ? undefined : Number(v));
    await this.rows.engine
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
    const ee = this.rows.eeForCommand(row);
    await this.rows.engine.resetToFactory(ee.id).catch(rethrow);
    return {};
  }

  async removeEE(row: ObjectNode, force: boolean): Promise<Record<string, string>> {
    const ee = this.rows.eeForCommand(row);
    await this.rows.engine.removeEE(ee.id, force).catch(rethrow);
    this.rows.dm.delete([row.path], this.rows.agent);
    return {};
  }

  /** The ExecEnv row of an engine EE, added or brought up to date. */
  readonly sync = (ee: EERecord): void => {
    const { name: type, vendor } = this.rows.engine.classOf(ee);
    const cls = this.rows.rowBy('ExecEnvClass', 'Name', type);
    this.rows.ensureRow('ExecEnv', 'Name', ee.name, {
      Enable: String(ee.enabled),
      Status: ee.enabled ? 'Up' : 'Disabled',
      Type: type,
      Vendor: vendor,
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
      [HOST_NETWORK]: String(ee.hostNetwork === true),
    });
  };

  /**
   * A unit of the EE changed state: its ActiveExecutionUnits is written again once the current run
   * of changes is over, not at each change. An EE starting 1,000 units rebuilt and wrote a list of up
   * to 1,000 references 2,000 times, most of an agent start with the EE stopped (bench engine).
   */
  activeChanged(eeId: string): void {
    if (!this.activeDirty.size)
      queueMicrotask(() => {
        const ees = [...this.activeDirty];
        this.activeDirty.clear();
        for (const id of ees) this.syncActive(id);
      });
    this.activeDirty.add(eeId);
  }

  /** ActiveExecutionUnits of an EE's row: its EUs that are running now. */
  syncActive(eeId: string): void {
    const row = this.rows.eeRow(eeId);
    if (!row) return;
    const engine = this.rows.engine;
    const active = engine
      .deploymentUnits()
      .filter((d) => d.ee === eeId)
      .flatMap((d) => d.eus)
      .filter((e) => engine.unitState(e.euid)?.status === 'Active')
      .map((e) => this.rows.rowBy('ExecutionUnit', 'EUID', e.euid))
      .filter(Boolean)
      .map((n) => ref(n!.path));
    this.rows.dm.update(row, { ActiveExecutionUnits: active.join(',') }, ME);
  }
}
