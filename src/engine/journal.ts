// The journal of DU operations: every install, update and uninstall has an entry (ops/<id>.json) from
// before it touches anything until it has been reported. Reporting journals the outcome first, and the
// entry goes only after the requester's own completion has had its turn: a crash in between reports
// the same outcome again, which the protocols recognise as a repeat, instead of nothing or something else.
import { randomBytes } from 'node:crypto';
import type { Logger } from '../util/logger.js';
import { dateTime as iso } from '../util/time.js';
import { faultKindOf } from './errors.js';
import type { EngineRecords } from './records.js';
import type { DURecord, DuOperation, DuResult, OpRecord } from './types.js';

/** A new operation's id (its journal entry's name, and part of an installed DU's). */
export const newOpId = (): string => randomBytes(6).toString('hex');

export interface JournalContext {
  readonly records: EngineRecords;
  readonly log: Logger;
  /** Aborted once the engine detaches: nothing more is reported, entries stay for the next engine. */
  readonly detached: AbortSignal;
  /** Tells whoever listens (the engine's 'result' event). */
  readonly report: (r: DuResult) => void;
}

export class Journal {
  /** Operations a crash interrupted, reported by reportRecovered() once everyone listens. */
  private recovered: { opId: string; result: DuResult }[] = [];

  constructor(private readonly c: JournalContext) {}

  /** Reports an operation, then forgets its journal entry. */
  finish(opId: string, result: DuResult): void {
    if (this.c.detached.aborted) return; // the journal entry stays for the next engine to recover
    // Reported even if the outcome can't be journalled (a full disk): a crash before the entry goes
    // would then report it again (a failed install as interrupted), which is better than never.
    if (!result.recovered) {
      try {
        this.c.records.recordOutcome(opId, result);
      } catch (e) {
        this.c.log.error({ err: e, opId }, 'the outcome of a DU operation could not be journalled');
      }
    }
    this.c.log.debug(
      {
        opId,
        operation: result.operation,
        requestTag: result.requestTag,
        recovered: result.recovered === true,
        fault: result.fault?.code,
      },
      'DU operation reported',
    );
    try {
      this.c.report(result);
    } finally {
      setImmediate(() => this.c.records.dropOp(opId));
    }
  }

  /** After a crash: what an interrupted operation came to, kept until reportRecovered(). */
  defer(op: OpRecord, result: DuResult): void {
    // Undone or not, an outcome already reached (and perhaps heard) is reported as it was.
    this.recovered.push({ opId: op.id, result: op.outcome ? journalled(op.outcome) : result });
  }

  /**
   * Reports what start() found interrupted. The agent calls it once the protocols listen, so the
   * outcome reaches the controllers and the ACS; the journal entry goes only after the report.
   */
  reportRecovered(): void {
    const list = this.recovered;
    this.recovered = [];
    for (const { opId, result } of list) this.finish(opId, { ...result, recovered: true });
  }
}

/** An outcome as a journal entry holds it: an older agent's has a USP number where the fault's kind is. */
function journalled(outcome: DuResult): DuResult {
  return outcome.fault ? { ...outcome, fault: { ...outcome.fault, code: faultKindOf(outcome.fault.code) } } : outcome;
}

/** The result of an operation on a DU (gone: the DU as it was before an uninstall removed it). */
export function resultOf(
  operation: DuOperation,
  requestTag: string,
  du: DURecord | undefined,
  fault: DuResult['fault'],
  startTime: string,
  gone?: DURecord,
): DuResult {
  const d = du ?? gone!;
  return {
    operation,
    requestTag,
    uuid: d.uuid,
    version: d.manifest.version,
    ee: d.ee,
    du: fault ? d : du,
    duid: d.duid,
    euids: d.eus.map((e) => e.euid),
    fault,
    startTime,
    completeTime: iso(),
  };
}
