// Device.ScheduleTimer(): an asynchronous command that completes DelaySeconds after it was invoked, so
// that its OperationComplete (with the caller's command key) reaches the subscribed controllers then.
// Device:2.19 deleted the Timer! event this command used to emit: OperationComplete is the signal now.

import type { DataModel } from '../dm/datamodel.js';
import { DmError, UspError } from '../dm/errors.js';

/** The timer resolves after `ms`, or rejects with 7023 when its Request is cancelled. */
function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const canceled = () => {
      clearTimeout(timer);
      reject(new DmError(UspError.CommandCanceled, 'ScheduleTimer() canceled'));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', canceled);
      resolve();
    }, ms);
    if (signal.aborted) canceled();
    else signal.addEventListener('abort', canceled, { once: true });
  });
}

export function registerScheduleTimer(dm: DataModel): void {
  // DelaySeconds is mandatory and at least 1 by its definition: validated before the handler runs.
  dm.command('Device.ScheduleTimer()', async (req) => {
    await delay(Number(req.input.DelaySeconds) * 1000, req.signal);
    return {};
  });
}
