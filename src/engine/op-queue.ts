// The order operations run in: one queue they take turns in (what touches shared state: the records,
// mounts, containers), and per DU the order they were asked for (an update's download included). Once
// detached (an agent stop), no more turns are given: what is left is the next engine's to recover.
import { EngineCode, EngineError } from './errors.js';

export class OpQueue {
  private tail: Promise<unknown> = Promise.resolve();
  /** The last operation asked for on each DU (update, uninstall): the next one waits for it. */
  private readonly perDU = new Map<string, Promise<unknown>>();
  private readonly detachment = new AbortController();

  /** failed: hears every failure of a turn (its detail is logged there). */
  constructor(private readonly failed: (e: unknown) => void) {}

  /** Aborted once the engine detaches: downloads stop, nothing more is committed or reported. */
  get detached(): AbortSignal {
    return this.detachment.signal;
  }

  /** Gives no more turns; settles once the operation that held the queue is done. */
  detach(): Promise<void> {
    this.detachment.abort();
    return this.tail.then(() => undefined);
  }

  /** Runs fn in its turn. */
  serial<T>(fn: () => Promise<T>): Promise<T> {
    const turn = () =>
      this.detached.aborted ? Promise.reject(new EngineError(EngineCode.InternalError, 'the agent is stopping')) : fn();
    const next = this.tail.then(turn, turn);
    next.catch((e: unknown) => this.failed(e));
    this.tail = next.catch(() => undefined);
    return next;
  }

  /** Runs fn after whatever was asked for on the same DU before it. */
  inOrder<T>(duid: string, fn: () => Promise<T>): Promise<T> {
    const next = (this.perDU.get(duid) ?? Promise.resolve()).then(fn, fn);
    const settled = next.catch(() => undefined);
    this.perDU.set(duid, settled);
    void settled.then(() => {
      if (this.perDU.get(duid) === settled) this.perDU.delete(duid);
    });
    return next;
  }
}
