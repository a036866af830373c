// The CWMP heartbeat (HeartbeatPolicy, TR-069 Amendment 6 Annex O): "14 HEARTBEAT" at InitiationTime plus
// whole ReportingIntervals, in an Inform of its own that carries no other event, no changed parameters
// and none of our requests. A heartbeat that falls while a failed session is being retried waits for that
// retry to go through; a heartbeat session that fails is dropped, not retried: the next beat says the same.
import { PhasedTimer } from './phased-timer.js';

export const HEARTBEAT = '14 HEARTBEAT';

export class Heartbeat {
  private due = false;
  private readonly timer: PhasedTimer;

  constructor(kick: () => void) {
    this.timer = new PhasedTimer(() => {
      this.due = true;
      kick();
    });
  }

  get pending(): boolean {
    return this.due;
  }

  schedule(enabled: boolean, intervalSeconds: number, phase: string): void {
    this.timer.schedule(enabled, intervalSeconds, phase);
  }

  stop(): void {
    this.timer.stop();
    this.due = false;
  }

  /** Whether the session about to start is the heartbeat's (then the beat is taken, whatever comes of it). */
  take(retrying: boolean, bootstrapping: boolean): boolean {
    if (!this.due || retrying || bootstrapping) return false;
    this.due = false;
    return true;
  }
}
