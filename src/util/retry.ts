// The one back-off of the agent. Four standards describe the same family of schedules: the n-th retry
// (n = 1, 2, ...) waits a random time in [m·(k/1000)^(n-1), m·(k/1000)^n] seconds, m the minimum wait,
// k the multiplier in thousandths (2000 doubles). They differ only in how the growth ends, so a
// schedule is data (Backoff) and each standard is one constructor below, its rule quoted there.
// Nothing here knows a data model path: the callers read the parameters, every time, because
// controllers and the ACS may change them while a retry is pending.

/** A retry schedule; times in seconds. */
export interface Backoff {
  /** m: the first retry's shortest wait. */
  readonly minWait: number;
  /** k: how the window grows per retry, in thousandths (the unit TR-069 and TR-181 use). */
  readonly multiplier: number;
  /** From this retry on, the window stays that of this retry. */
  readonly lastStep?: number;
  /** The longest wait, applied by maxRule. */
  readonly maxWait?: number;
  /**
   * 'draw': a drawn wait above maxWait is maxWait (TR-181 MQTT ConnectRetryMaxInterval).
   * 'window': windows end at maxWait; once a window would start at or above it, every wait is drawn
   * from [maxWait·1000/k, maxWait] (TR-181 AutoRestart RetryMaximumWaitInterval).
   */
  readonly maxRule?: 'draw' | 'window';
  /** Retries after which the caller gives up; 0 or absent: never. */
  readonly maxRetries?: number;
}

/**
 * TR-069 §3.2.1.1 "Session Retry" (TR-181 ManagementServer.CWMPRetryMinimumWaitInterval and
 * CWMPRetryIntervalMultiplier): #1 m to m·k/1000, ..., "#10 and subsequent" m·(k/1000)^9 to m·(k/1000)^10.
 */
export const cwmpSessionRetry = (m: number, k: number): Backoff => ({ minWait: m, multiplier: k, lastStep: 10 });

/**
 * USP 1.4 R-NOT.1 and R-NOT.2 (LocalAgent.Controller.{i}.USPNotifRetryMinimumWaitInterval and
 * USPNotifRetryIntervalMultiplier): the same table; "beginning with the tenth retry attempt, the Agent
 * MUST choose from the fixed maximum range". NotifExpiration, not a count, ends the retries.
 */
export const uspNotifRetry = (m: number, k: number): Backoff => ({ minWait: m, multiplier: k, lastStep: 10 });

/**
 * TR-181 MQTT.Client.{i}.ConnectRetryTime (USP R-MQTT.10, R-MQTT.33): "a random value between
 * ConnectRetryTime·(ConnectRetryIntervalMultiplier/1000)^(n-1) and ...^n ... The max number of n is 10",
 * and ConnectRetryMaxInterval is used "if the calculated random value exceeds" it.
 */
export const mqttConnectRetry = (m: number, k: number, max: number): Backoff => ({
  minWait: m,
  multiplier: k,
  lastStep: 10,
  maxWait: max,
  maxRule: 'draw',
});

/**
 * TR-181 ExecutionUnit.{i}.AutoRestart: with n = RetryCount, between m·(k/1000)^n and m·(k/1000)^(n+1)
 * (the (n+1)-th retry's window here) "so long as m·(k/1000)^n evaluates to a value less than
 * RetryMaximumWaitInterval", then between RetryMaximumWaitInterval·(1000/k) and RetryMaximumWaitInterval.
 * That parameter is "the maximum delay", so the window that crosses it ends at it. MaximumRetryCount
 * (0: unlimited) ends the restarts.
 */
export const autoRestart = (m: number, k: number, max: number, maxRetries: number): Backoff => ({
  minWait: m,
  multiplier: k,
  maxWait: max,
  maxRule: 'window',
  maxRetries,
});

/** The window, in seconds, the n-th retry (n >= 1) draws its wait from. */
export function retryWindow(b: Backoff, n: number): { lo: number; hi: number } {
  // A multiplier under 1.000 would shrink the waits (TR-181 ranges start at 1000); a negative or
  // unreadable minimum would make a negative wait.
  const r = Math.max(1000, b.multiplier || 0) / 1000;
  const m = Math.max(0, b.minWait || 0);
  const step = Math.max(1, Math.min(n, b.lastStep ?? Number.POSITIVE_INFINITY));
  const lo = m * r ** (step - 1);
  const hi = lo * r;
  const max = b.maxWait;
  if (max === undefined || b.maxRule !== 'window') return { lo, hi };
  return lo < max ? { lo, hi: Math.min(hi, max) } : { lo: max / r, hi: max };
}

/** The n-th retry's wait in milliseconds: a random point of its window (random() in [0, 1)). */
export function retryWaitMs(b: Backoff, n: number, random: () => number = Math.random): number {
  const { lo, hi } = retryWindow(b, n);
  const drawn = lo + random() * (hi - lo);
  const wait = b.maxRule === 'draw' && b.maxWait !== undefined ? Math.min(drawn, b.maxWait) : drawn;
  return Math.round(wait * 1000);
}

/** Whether a caller that already retried `count` times gives up. */
export const exhausted = (b: Backoff, count: number): boolean => !!b.maxRetries && count >= b.maxRetries;

/** Where a retry count lives when something else keeps or reports it (Inform RetryCount, EU RetryCount). */
export interface RetryCount {
  get(): number;
  set(n: number): void;
}

export interface RetryOptions {
  /** In [0, 1); Math.random by default. */
  readonly random?: () => number;
  /** Epoch milliseconds; Date.now by default. */
  readonly now?: () => number;
  /** Kept in the helper by default. */
  readonly count?: RetryCount;
}

/** A retry that was counted: its number, its wait, and when it is due (epoch ms). */
export interface Scheduled {
  readonly n: number;
  readonly waitMs: number;
  readonly at: number;
}

/** One thing being retried: counts the retries since the last success and says when the next is due. */
export class Retry {
  private readonly random: () => number;
  private readonly now: () => number;
  private readonly counter: RetryCount;

  /** policy is read at every retry: the parameters behind it may change between two. */
  constructor(
    private readonly policy: () => Backoff,
    opts: RetryOptions = {},
  ) {
    this.random = opts.random ?? Math.random;
    this.now = opts.now ?? Date.now;
    let n = 0;
    this.counter = opts.count ?? {
      get: () => n,
      set: (v) => {
        n = v;
      },
    };
  }

  /** Retries made since the last success. */
  get count(): number {
    return this.counter.get();
  }

  /** Counts the next retry and says when it is due; undefined when the policy's retries are spent. */
  next(): Scheduled | undefined {
    const b = this.policy();
    const done = this.counter.get();
    if (exhausted(b, done)) return undefined;
    const n = done + 1;
    this.counter.set(n);
    const waitMs = retryWaitMs(b, n, this.random);
    return { n, waitMs, at: this.now() + waitMs };
  }

  /** A success: the next failure starts the schedule again. */
  reset(): void {
    if (this.counter.get() !== 0) this.counter.set(0);
  }
}
