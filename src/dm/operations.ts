// Running asynchronous operations: each has an id, a command key, progress and an AbortController.
// Its life (started, progress, complete or failed) goes out on the change feed, from which the
// LocalAgent Request table and OperationComplete notifications are made.

import type { TransferFailure } from '../util/download.js';
import type { Caller } from './caller.js';
import type { Change, OperationChange } from './change-feed.js';
import { asDmError, DmError, UspError } from './errors.js';

/** canceled: by a controller (Request.{i}.Cancel()); stopping: the agent is going down and will start again. */
export type AbortCause = 'canceled' | 'stopping';

/** The reason of an aborted operation's signal. */
export class OperationAborted extends DmError {
  constructor(readonly why: AbortCause) {
    super(UspError.CommandCanceled, why === 'canceled' ? 'operation canceled' : 'the agent is stopping');
  }
}

export interface Operation {
  readonly id: number;
  readonly path: string;
  readonly commandKey: string;
  readonly caller: Caller;
  readonly startedAt: Date;
  percent: number;
  readonly abort: AbortController;
  /** Set by whoever tracks the operation in the data model (Device.LocalAgent.Request.{i}.). */
  requestPath: string | undefined;
}

export type OperationOutcome =
  | { readonly ok: true; readonly output: Record<string, string> }
  | {
      readonly ok: false;
      readonly code: number;
      readonly message: string;
      /** A failed transfer's kind (DmError.transfer): for in-process callers, never on the wire. */
      readonly transfer?: TransferFailure;
    };

export class Operations {
  private nextId = 1;
  private readonly running = new Map<number, Operation>();

  constructor(private readonly publish: (changes: Change[]) => void) {}

  start(path: string, commandKey: string, caller: Caller): Operation {
    const op: Operation = {
      id: this.nextId++,
      path,
      commandKey,
      caller,
      startedAt: new Date(),
      percent: 0,
      abort: new AbortController(),
      requestPath: undefined,
    };
    this.running.set(op.id, op);
    this.emit(op, { state: 'started', id: op.id, commandKey });
    return op;
  }

  progress(op: Operation, percent: number, message = ''): void {
    if (!this.running.has(op.id)) return;
    op.percent = Math.max(0, Math.min(100, Math.round(percent)));
    this.emit(op, { state: 'progress', id: op.id, commandKey: op.commandKey, percent: op.percent, message });
  }

  /** Runs the work and reports its end exactly once, whatever it throws. */
  async run(op: Operation, work: () => Promise<Record<string, string>>): Promise<OperationOutcome> {
    let outcome: OperationOutcome;
    try {
      const output = await work();
      outcome = op.abort.signal.aborted
        ? { ok: false, code: UspError.CommandCanceled, message: 'operation canceled' }
        : { ok: true, output };
    } catch (e) {
      const err =
        op.abort.signal.aborted && !(e instanceof DmError)
          ? new DmError(UspError.CommandCanceled, 'operation canceled')
          : asDmError(e);
      outcome = {
        ok: false,
        code: err.code === UspError.InternalError && op.abort.signal.aborted ? UspError.CommandCanceled : err.code,
        message: err.message,
        ...(err.transfer ? { transfer: err.transfer } : {}),
      };
    }
    this.running.delete(op.id);
    this.emit(
      op,
      outcome.ok
        ? { state: 'complete', id: op.id, commandKey: op.commandKey, output: outcome.output }
        : { state: 'failed', id: op.id, commandKey: op.commandKey, code: outcome.code, message: outcome.message },
    );
    return outcome;
  }

  /**
   * The end of an operation whose request did not survive an agent restart: subscribers still get
   * its OperationComplete, under the same command key.
   */
  reportOrphan(path: string, commandKey: string, caller: Caller, outcome: OperationOutcome): void {
    const id = this.nextId++;
    this.publish([
      {
        kind: 'operation',
        path,
        cause: caller,
        operation: outcome.ok
          ? { state: 'complete', id, commandKey, output: outcome.output }
          : { state: 'failed', id, commandKey, code: outcome.code, message: outcome.message },
      },
    ]);
  }

  /** Aborts an operation; the signal's reason says why (a command that persists keeps itself when stopping). */
  cancel(id: number, why: AbortCause = 'canceled'): boolean {
    const op = this.running.get(id);
    if (!op) return false;
    op.abort.abort(new OperationAborted(why));
    return true;
  }

  get(id: number): Operation | undefined {
    return this.running.get(id);
  }
  list(): Operation[] {
    return [...this.running.values()];
  }

  private emit(op: Operation, operation: OperationChange): void {
    this.publish([{ kind: 'operation', path: op.path, operation, cause: op.caller }]);
  }
}
