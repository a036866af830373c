// The transfers the ACS asked for (Download, Upload) from acceptance until done, kept in the client's
// state so that a restart neither loses nor forgets them: each waits its DelaySeconds, runs, and leaves
// the queue once its TransferComplete is among the pending requests. GetAllQueuedTransfers lists the
// queue; CancelTransfer removes what has not started (one that has is not stopped halfway: 9021).
import { randomBytes } from 'node:crypto';
import { type LongTimer, setLongTimeout } from '../util/long-timer.js';
import { CwmpFault } from './faults.js';
import type { CwmpState, QueuedTransfer, TransferRequest } from './state.js';

export class TransferQueue {
  private readonly timers = new Map<string, LongTimer>();
  private closed = false;

  /** run: performs one transfer and keeps its TransferComplete; done: after each, the queue changed. */
  constructor(
    private readonly state: CwmpState,
    private readonly run: (t: QueuedTransfer) => Promise<void>,
    private readonly done: () => void,
  ) {}

  get size(): number {
    return this.state.data.transfers.length;
  }

  list(): readonly QueuedTransfer[] {
    return this.state.data.transfers;
  }

  /** Queues a transfer due DelaySeconds from now; it starts once armed (after the session that asked). */
  add(request: TransferRequest): QueuedTransfer {
    const t: QueuedTransfer = {
      id: randomBytes(6).toString('hex'),
      request,
      due: Date.now() + request.delaySeconds * 1000,
      state: 1,
    };
    this.state.data.transfers.push(t);
    this.state.save();
    return t;
  }

  /**
   * Transfers an earlier run left: each starts at its time; one a restart cut short starts again from
   * the beginning (a fetch or an upload is repeated whole; nothing was applied before it completed).
   */
  resume(): void {
    for (const t of this.state.data.transfers) {
      t.state = 1;
      this.arm(t);
    }
    this.state.save();
  }

  arm(t: QueuedTransfer): void {
    if (this.closed || this.timers.has(t.id) || !this.state.data.transfers.includes(t)) return;
    const timer = setLongTimeout(() => {
      this.timers.delete(t.id);
      void this.start(t);
    }, t.due - Date.now());
    this.timers.set(t.id, timer);
  }

  /** TR-069 A.4.1.8: every transfer with the CommandKey goes, or none (9021 if one is in progress). */
  cancel(commandKey: string): void {
    const named = this.state.data.transfers.filter((t) => t.request.commandKey === commandKey);
    if (!named.length) throw new CwmpFault(9003, `no transfer with CommandKey '${commandKey}' is queued`);
    if (named.some((t) => t.state === 2))
      throw new CwmpFault(9021, `the transfer with CommandKey '${commandKey}' is in progress: it can not be canceled`);
    for (const t of named) {
      this.timers.get(t.id)?.cancel();
      this.timers.delete(t.id);
    }
    this.state.data.transfers = this.state.data.transfers.filter((t) => !named.includes(t));
    this.state.save();
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers.values()) t.cancel();
    this.timers.clear();
  }

  private async start(t: QueuedTransfer): Promise<void> {
    if (this.closed || !this.state.data.transfers.includes(t)) return;
    t.state = 2;
    this.state.save();
    try {
      await this.run(t);
    } finally {
      // Its TransferComplete is kept by now: the transfer is done.
      this.state.data.transfers = this.state.data.transfers.filter((x) => x !== t);
      this.state.save();
      this.done();
    }
  }
}
