// ChangeDUState: its operations, in order, become the SoftwareModules commands of the data model
// (InstallDU(), DeploymentUnit.{i}.Update(), .Uninstall()), the same a USP controller calls; each
// result is the DUStateChange! the command ends with, kept in the client's state as it comes, so a
// restart resumes the job where it stopped (an operation the restart interrupted is reported by the
// agent's recovery, through the same event, under the same command key). The whole job ends in one
// DUStateChangeComplete.
import { randomBytes } from 'node:crypto';
import type { DataModel } from '../dm/datamodel.js';
import { asDmError } from '../dm/errors.js';
import type { Logger } from '../util/logger.js';
import { dateTime as now } from '../util/time.js';
import { asWork } from '../util/work.js';
import { type DuStateEvent, onDuStateChange } from './du-event.js';
import { opResultXml, UUID } from './du-result.js';
import { dusFor, execEnvFor, isInstalled } from './du-select.js';
import { el } from './envelope.js';
import { DU_FAILED, duFaultOf } from './faults.js';
import { CWMP_CALLER } from './rpc/context.js';
import type { CdsJob, CwmpState, DuOp, OpResult } from './state.js';

const SM = 'Device.SoftwareModules.';
/** The command key of a job's operation: cwmp:<job id>:<operation index>. */
const OUR_KEY = /^cwmp:([0-9a-f]+):(\d+)$/;
/** The DU an operation acts on, as far as it is known before: the UUID and Version it was named by, or its row's. */
type Target = Pick<DuOp, 'uuid' | 'version'>;

/** Whether a command key is one a ChangeDUState job gave its operation (its end is no autonomous change). */
export const isJobKey = (commandKey: string): boolean => OUR_KEY.test(commandKey);

export class DuStateRunner {
  private readonly running = new Set<string>();
  /** Operations of ours in flight, by command key: each waits for the DUStateChange! that ends it. */
  private readonly waiting = new Map<string, (e: DuStateEvent) => void>();
  private readonly off: () => void;

  constructor(
    private readonly dm: DataModel,
    private readonly state: CwmpState,
    private readonly log: Logger,
    private readonly kick: () => void,
  ) {
    this.off = onDuStateChange(dm, this.onEvent);
  }

  close(): void {
    this.off();
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
      await asWork(() => this.runOps(job));
      this.state.data.jobs = this.state.data.jobs.filter((j) => j.id !== job.id);
      const resultsXml = job.results
        .flat()
        .map((r) => `<Results>${opResultXml(r)}</Results>`)
        .join('');
      this.state.addPending(
        'DUStateChangeComplete',
        `<cwmp:DUStateChangeComplete>${resultsXml}${el('CommandKey', job.commandKey)}</cwmp:DUStateChangeComplete>`,
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

  private async runOps(job: CdsJob): Promise<void> {
    // Results are kept per operation: an operation that acted on several DUs (an Update of all, an Uninstall
    // of every version) has one each. Its progress among them is not kept: after an agent restart it runs again
    // from its first DU, or, where the restart cut a DU's command short, is reported by that command's result.
    while (job.results.length < job.ops.length) {
      const i = job.results.length;
      const op = job.ops[i]!;
      const r = await this.exec(op, `cwmp:${job.id}:${i}`).catch((e: unknown) => {
        this.log.error({ err: e, job: job.id, operation: i }, 'a ChangeDUState operation failed unexpectedly');
        return [this.failed(op, op, DU_FAILED, (e as Error).message, now())];
      });
      if (job.results.length === i) job.results.push(r); // recovery may have filled it meanwhile
      this.state.save();
    }
  }

  private async exec(op: DuOp, key: string): Promise<OpResult[]> {
    const start = now();
    if (op.uuid && !UUID.test(op.uuid)) return [this.failed(op, op, 9022, `'${op.uuid}' is not a UUID`, start)];
    if (op.kind === 'Install') {
      const ee = execEnvFor(this.dm, op.eeRef);
      if (typeof ee !== 'string') return [this.failed(op, op, ee.code, ee.message, start)];
      const input = {
        URL: op.url,
        ...(op.uuid ? { UUID: op.uuid } : {}),
        Username: op.username,
        Password: op.password,
        ExecutionEnvRef: ee,
      };
      return [await this.operate(`${SM}InstallDU()`, input, op, op, key, start)];
    }
    const dus = dusFor(this.dm, op);
    if (!Array.isArray(dus)) return [this.failed(op, op, dus.code, dus.message, start)];
    // An Update without URL (of all DUs, say) fetches each from the URL it was installed or last updated from.
    const input: Record<string, string> =
      op.kind === 'Update' && op.url ? { URL: op.url, Username: op.username, Password: op.password } : {};
    // Each DU selected is acted on and reported on its own, in the order of its rows; one that fails does not
    // keep the others from theirs.
    const out: OpResult[] = [];
    for (const du of dus) out.push(await this.operate(`${du.path}${op.kind}()`, input, op, du, key, now()));
    return out;
  }

  /**
   * One SoftwareModules command through the data model. Its result is the DUStateChange! it ended
   * with; a command refused before anything was done (arguments, a DU gone meanwhile) has none.
   */
  private async operate(
    path: string,
    input: Record<string, string>,
    op: DuOp,
    du: Target,
    key: string,
    start: string,
  ): Promise<OpResult> {
    let heard: OpResult | undefined;
    this.waiting.set(key, (e) => {
      heard = e.result;
    });
    try {
      const [out] = await this.dm.operate(path, input, CWMP_CALLER, key);
      const outcome =
        out?.kind === 'async'
          ? await out.done
          : out?.kind === 'error'
            ? { ok: false as const, code: out.error.code, message: out.error.message, transfer: out.error.transfer }
            : undefined;
      if (heard) return heard;
      if (outcome && !outcome.ok) return this.failed(op, du, duFaultOf(outcome), outcome.message, start);
      return this.failed(op, du, DU_FAILED, `${path} ended without reporting a DU state change`, start);
    } catch (e) {
      const err = asDmError(e, path);
      return this.failed(op, du, duFaultOf({ code: err.code, transfer: err.transfer }), err.message, start);
    } finally {
      this.waiting.delete(key);
    }
  }

  /** The result of an operation on a DU (the one named, or one it selected) that failed. */
  private failed(op: DuOp, du: Target, code: number, message: string, start: string): OpResult {
    const installed = op.kind !== 'Install' && isInstalled(this.dm, du.uuid);
    return {
      uuid: du.uuid,
      duRef: '',
      version: du.version,
      state: installed ? 'Installed' : 'Failed',
      resolved: false,
      euRefs: '',
      start,
      complete: now(),
      fault: { code, message },
    };
  }

  private readonly onEvent = (e: DuStateEvent): void => {
    const m = OUR_KEY.exec(e.commandKey);
    if (!m) return;
    const waiter = this.waiting.get(e.commandKey);
    if (waiter) {
      waiter(e);
      return;
    }
    // An operation of ours found finished after a restart: its result fills the job's slot.
    const job = this.state.data.jobs.find((j) => j.id === m[1]);
    if (job && !this.running.has(job.id) && job.results.length === Number(m[2])) {
      job.results.push([e.result]);
      this.state.save();
    }
  };
}
