// setTimeout with waits longer than its limit (2^31-1 ms, about 24.8 days). Past that limit node fires
// at once, so a TR-069 DelaySeconds or PeriodicInformInterval or a USP OnBoardingRestartTime of a month
// (all unsignedInt seconds) would run early. This one waits in steps until the moment has come.

/** setTimeout's longest wait; a longer one fires at once. */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

export interface LongTimer {
  cancel(): void;
}

/** Calls fn once, ms from now (ms may exceed MAX_TIMEOUT_MS); unref'd timers keep no process alive if asked. */
export function setLongTimeout(fn: () => void, ms: number, opts: { unref?: boolean } = {}): LongTimer {
  const due = Date.now() + Math.max(0, ms);
  let timer: NodeJS.Timeout;
  const arm = (): void => {
    const left = due - Date.now();
    timer = setTimeout(left > MAX_TIMEOUT_MS ? arm : fn, Math.max(0, Math.min(left, MAX_TIMEOUT_MS)));
    if (opts.unref) timer.unref();
  };
  arm();
  return { cancel: () => clearTimeout(timer) };
}
