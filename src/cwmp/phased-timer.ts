// A timer that fires every interval in phase with a reference time: PeriodicInformTime for the periodic
// Inform, HeartbeatPolicy.InitiationTime for the heartbeat. TR-069 wants the sessions at the reference
// time plus whole intervals (before or after it), not at the agent's start plus intervals.
import { type LongTimer, setLongTimeout } from '../util/long-timer.js';
import { UNKNOWN_TIME } from '../util/time.js';

/**
 * ms from now to the next moment phase + k * interval (k any integer, the moment after now). No phase
 * (empty, Unknown Time, not a date): in phase with now, so the first one is a whole interval away.
 */
export function nextPhaseDelay(now: number, intervalMs: number, phase: string): number {
  const t0 = phase && phase !== UNKNOWN_TIME ? Date.parse(phase) : Number.NaN;
  const ref = Number.isFinite(t0) ? t0 : now;
  const elapsed = (((now - ref) % intervalMs) + intervalMs) % intervalMs;
  return intervalMs - elapsed;
}

export class PhasedTimer {
  private timer: LongTimer | undefined;

  constructor(private readonly fire: () => void) {}

  /** (Re)starts the timer; enabled false or a zero interval only stops it. */
  schedule(enabled: boolean, intervalSeconds: number, phase: string, justFired = false): void {
    this.stop();
    if (!enabled || !(intervalSeconds > 0)) return;
    const interval = intervalSeconds * 1000;
    let wait = nextPhaseDelay(Date.now(), interval, phase);
    // A timer that fired a hair before its moment must not fire again for the same one.
    if (justFired && wait < Math.min(1000, interval / 2)) wait += interval;
    this.timer = setLongTimeout(() => {
      this.timer = undefined;
      this.fire();
      this.schedule(enabled, intervalSeconds, phase, true);
    }, wait);
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }
}
