// ChangeDUState behind the engine: operations run in order, each result kept in the client's state
// as it comes, so a restart resumes the job where it stopped (an operation the restart interrupted is
// reported by the engine's recovery under the same request tag). The whole job ends in one
// DUStateChangeComplete; DU changes made by others become AutonomousDUStateChangeComplete, filtered
// by ManagementServer.DUStateChangeComplPolicy.
import { randomBytes } from 'node:crypto';
import type { DataModel } from '../dm/datamodel.js';
import type { DuResult, Engine } from '../engine/engine.js';
import type { DURecord } from '../engine/records.js';
import type { SoftwareModules } from '../model/software-modules.js';
import type { Logger } from '../util/logger.js';
import { dateTime as now } from '../util/time.js';
import { el } from './envelope.js';
import { duFaultOf } from './faults.js';
import type { CdsJob, CwmpState, DuOp, OpResult } from './state.js';

const POLICY = 'Device.ManagementServer.DUStateChangeComplPolicy.';
const TAG = 'cwmp:';
/** The request tag of a job's operation: cwmp:<job id>:<operation index>. */
const OUR_TAG = /^cwmp:([0-9a-f]+):(\d+)$/;
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
/**
 * OpResultStruct.UUID must be a UUID: the nil one stands for a DU that never got one (failed before its package was
 * read).
 */
const NIL_UUID = '00000000-0000-0000-0000-000000000000';

const DU_SELECTION_FAULTS: Record<number, string> = {
  9023: 'no such execution environment',
  9025: 'the deployment unit is not in the execution environment named',
  9028: 'no such deployment unit',
  9031: 'several versions are installed; name the Version',
};

export class DuStateRunner {
  private readonly running = new Set<string>();

  /**
   * The engine runs the operations; the model (which heard each result first and put the rows in
   * step) says what they mean in TR-181: which EE a reference names, the refs of a result.
   */
  constructor(
    private readonly dm: DataModel,
    private readonly engine: Engine,
    private readonly sm: SoftwareModules,
    private readonly state: CwmpState,
    private readonly log: Logger,
    private readonly kick: () => void,
  ) {
    engine.on('result', this.onResult);
  }

  close(): void {
    this.engine.off('result', this.onResult);
  }

  start(ops: readonly DuOp[], commandKey: string): void {
    const job: CdsJob = { id: randomBytes(6).toString('hex'), commandKey, ops, results: [] };
    this.state.data.jobs.push(job);
    this.state.save();
    void this.run(job);
  }

  /** Jobs a restart interrupted go on from their first operation without a result. */
  resume(): void {
    for (const job of this.state.data.jobs) void this.run(job);
  }

  private async run(job: CdsJob): Promise<void> {
    if (this.running.has(job.id)) return;
    this.running.add(job.id);
    try {
      // Results are per operation (an Update or Uninstall of several DUs reports the last one).
      while (job.results.length < job.ops.length) {
        const i = job.results.length;
        const r = await this.exec(job.ops[i]!, `${TAG}${job.id}:${i}`).catch((e: unknown) =>
          this.failed(job.ops[i]!, 9002, (e as Error).message, now()),
        );
        if (job.results.length === i) job.results.push(r); // recovery may have filled it meanwhile
        this.state.save();
      }
      this.state.data.jobs = this.state.data.jobs.filter((j) => j.id !== job.id);
      this.state.addPending(
        'DUStateChangeComplete',
        `<cwmp:DUStateChangeComplete>${job.results.map((r) => `<Results>${opResult(r)}</Results>`).join('')}` +
          `${el('CommandKey', job.commandKey)}</cwmp:DUStateChangeComplete>`,
        [
          { code: '11 DU STATE CHANGE COMPLETE', key: '' },
          { code: 'M ChangeDUState', key: job.commandKey },
        ],
      );
      this.kick();
    } finally {
      this.running.delete(job.id);
    }
  }

  private async exec(op: DuOp, tag: string): Promise<OpResult> {
    const start = now();
    if (op.uuid && !UUID.test(op.uuid)) return this.failed(op, 9022, `'${op.uuid}' is not a UUID`, start);
    if (op.kind === 'Install') {
      const ee = this.eeFor(op.eeRef);
      if (typeof ee === 'number')
        return this.failed(
          op,
          ee,
          ee === 9023 ? `no execution environment ${op.eeRef}` : `execution environment ${op.eeRef} is disabled`,
          start,
        );
      return this.toResult(
        await this.engine.install({
          url: op.url,
          ...(op.uuid ? { uuid: op.uuid } : {}),
          username: op.username,
          password: op.password,
          ee,
          requestTag: tag,
        }),
      );
    }
    const dus = this.dusFor(op);
    if (typeof dus === 'number')
      return this.failed(op, dus, DU_SELECTION_FAULTS[dus] ?? 'no such deployment unit', start);
    let last: OpResult | undefined;
    for (const du of dus) {
      const r =
        op.kind === 'Update'
          ? await this.engine.update(du.duid, {
              ...(op.url ? { url: op.url, username: op.username, password: op.password } : {}),
              requestTag: tag,
            })
          : await this.engine.uninstall(du.duid, tag);
      last = this.toResult(r);
      if (r.fault) break;
    }
    return last!;
  }

  /** The EE an install goes to: the one referenced, else the first enabled; a fault code otherwise. */
  private eeFor(ref: string): string | number {
    const ee = this.sm.execEnvOf(ref);
    if (!ee) return 9023;
    return ee.enabled ? ee.id : 9024;
  }

  /** The DUs an Update or Uninstall names (by UUID, Version, EE, or for Update by URL). */
  private dusFor(op: DuOp): DURecord[] | number {
    let dus = [...this.engine.deploymentUnits()];
    if (op.uuid) dus = dus.filter((d) => d.uuid.toLowerCase() === op.uuid.toLowerCase());
    else if (op.kind === 'Update' && op.url) dus = dus.filter((d) => d.url === op.url);
    if (op.version) dus = dus.filter((d) => d.manifest.version === op.version);
    if (op.eeRef && dus.length) {
      const ee = this.eeFor(op.eeRef);
      if (ee === 9023) return 9023;
      dus = dus.filter((d) => d.ee === ee);
      if (!dus.length) return 9025; // the DU exists, but not in the EE named
    }
    if (!dus.length) return 9028;
    if (op.kind === 'Update' && op.uuid && !op.version && new Set(dus.map((d) => d.manifest.version)).size > 1)
      return 9031;
    return dus;
  }

  private failed(op: DuOp, code: number, message: string, start: string): OpResult {
    const installed = op.kind !== 'Install' && this.engine.deploymentUnits().some((d) => d.uuid === op.uuid);
    return {
      uuid: op.uuid,
      duRef: '',
      version: op.version,
      state: installed ? 'Installed' : 'Failed',
      resolved: false,
      euRefs: '',
      start,
      complete: now(),
      fault: { code, message },
    };
  }

  private toResult(r: DuResult): OpResult {
    const c = this.sm.duStateChange(r);
    return {
      uuid: c.uuid,
      duRef: c.duRef,
      version: c.version,
      state: c.state,
      resolved: c.resolved,
      euRefs: c.euRefs,
      start: c.start,
      complete: c.complete,
      fault: c.fault ? { code: duFaultOf(c.fault), message: c.fault.message } : { code: 0, message: '' },
    };
  }

  private readonly onResult = (r: DuResult): void => {
    try {
      const m = OUR_TAG.exec(r.requestTag);
      if (m) {
        // An operation of ours found finished after a restart: its result fills the job's slot.
        const job = this.state.data.jobs.find((j) => j.id === m[1]);
        if (r.recovered && job && job.results.length === Number(m[2])) {
          job.results.push(this.toResult(r));
          this.state.save();
        }
        return;
      }
      if (!this.policyAllows(r)) return;
      const res = this.toResult(r);
      this.state.addPending(
        'AutonomousDUStateChangeComplete',
        `<cwmp:AutonomousDUStateChangeComplete><Results>${opResult(res)}` +
          `${el('OperationPerformed', r.operation)}</Results></cwmp:AutonomousDUStateChangeComplete>`,
        [{ code: '12 AUTONOMOUS DU STATE CHANGE COMPLETE', key: '' }],
      );
      this.kick();
    } catch (e) {
      this.log.error({ err: e }, 'a DU state change could not be queued for the ACS');
    }
  };

  private policyAllows(r: DuResult): boolean {
    const v = (p: string) => this.dm.value(`${POLICY}${p}`);
    if (v('Enable') !== 'true') return false;
    const ops = v('OperationTypeFilter').split(',').filter(Boolean);
    if (ops.length && !ops.includes(r.operation)) return false;
    const results = v('ResultTypeFilter') || 'Both';
    if (results === 'Success' && r.fault) return false;
    if (results === 'Failure' && !r.fault) return false;
    const codes = v('FaultCodeFilter').split(',').filter(Boolean);
    if (r.fault && codes.length && !codes.includes(String(duFaultOf(r.fault)))) return false;
    return true;
  }
}

function opResult(r: OpResult): string {
  return (
    `${el('UUID', UUID.test(r.uuid) ? r.uuid : NIL_UUID)}${el('DeploymentUnitRef', r.duRef)}` +
    `${el('Version', r.version)}${el('CurrentState', r.state)}${el('Resolved', r.resolved ? '1' : '0')}` +
    `${el('ExecutionUnitRefList', r.euRefs)}${el('StartTime', r.start)}${el('CompleteTime', r.complete)}<Fault>` +
    `${el('FaultCode', r.fault.code)}${el('FaultString', r.fault.message)}</Fault>`
  );
}
