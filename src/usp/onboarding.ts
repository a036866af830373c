// OnBoardingRestartTime (TR-181 LocalAgent.Controller, TP-469 1.102/1.103): once a controller has
// acknowledged an OnBoardRequest with its NotifyResp, the agent sends another after that many seconds,
// and again after each acknowledgement, until the controller sets OnBoardingComplete true (or the time
// to 0, or the controller row goes). Onboarding often needs several steps of the controller; a lost one
// would otherwise leave the device never onboarded.
import type { Change } from '../dm/change-feed.js';
import type { DataModel } from '../dm/datamodel.js';
import { type LongTimer, setLongTimeout } from '../util/long-timer.js';

const CONTROLLER = /^Device\.LocalAgent\.Controller\.\d+\./;

export class OnBoardingRetry {
  /** OnBoardRequest msg_ids waiting for their NotifyResp -> the controller row they went to. */
  private readonly awaiting = new Map<string, string>();
  /** At most one re-send armed per controller row. */
  private readonly timers = new Map<string, LongTimer>();
  private unsubscribe: (() => void) | undefined;

  /** send: an OnBoardRequest to the controller of a row; its msg_id, or undefined when it could not go. */
  constructor(
    private readonly dm: DataModel,
    private readonly send: (controllerRow: string) => string | undefined,
  ) {}

  start(): void {
    this.unsubscribe = this.dm.feed.subscribe('Device.LocalAgent.Controller.', (c) => this.onChange(c));
  }

  stop(): void {
    this.unsubscribe?.();
    for (const t of this.timers.values()) t.cancel();
    this.timers.clear();
    this.awaiting.clear();
  }

  /** An OnBoardRequest went to a controller: its acknowledgement starts the restart timer. */
  sent(controllerRow: string, msgId: string): void {
    this.cancel(controllerRow);
    this.awaiting.set(msgId, controllerRow);
  }

  /** A NotifyResp arrived: if it acknowledges an OnBoardRequest, the next one is armed. */
  acknowledged(msgId: string): void {
    const row = this.awaiting.get(msgId);
    if (row === undefined) return;
    this.awaiting.delete(msgId);
    const seconds = Number(this.dm.value(`${row}OnBoardingRestartTime`) || 0);
    if (!(seconds > 0) || this.dm.value(`${row}OnBoardingComplete`) === 'true') return;
    this.timers.set(
      row,
      setLongTimeout(
        () => {
          this.timers.delete(row);
          if (!this.dm.node(row) || this.dm.value(`${row}OnBoardingComplete`) === 'true') return;
          const id = this.send(row);
          if (id !== undefined) this.sent(row, id);
        },
        seconds * 1000,
        { unref: true },
      ),
    );
  }

  private onChange(c: Change): void {
    const row = CONTROLLER.exec(c.path)?.[0];
    if (!row) return;
    const ends =
      (c.kind === 'delete' && c.path === row) ||
      (c.kind === 'value' && c.path === `${row}OnBoardingComplete` && c.value === 'true') ||
      (c.kind === 'value' && c.path === `${row}OnBoardingRestartTime` && c.value === '0');
    if (ends) this.cancel(row);
  }

  private cancel(row: string): void {
    this.timers.get(row)?.cancel();
    this.timers.delete(row);
    for (const [id, r] of this.awaiting) if (r === row) this.awaiting.delete(id);
  }
}
