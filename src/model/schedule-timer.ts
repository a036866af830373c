// Device.ScheduleTimer(): an asynchronous command that completes DelaySeconds after it was invoked, so
// that its OperationComplete (with the caller's command key) reaches the subscribed controllers then.
// Device:2.19 deleted the Timer! event this command used to emit: OperationComplete is the signal now.
// TR-181: "a scheduled timer MUST persist across reboots": each running timer is a file (due time,
// command key, caller) until it fires or a controller cancels it; the next start runs it again for
// the time left (at least a second, the command's minimum).

import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Caller } from '../dm/caller.js';
import type { DataModel } from '../dm/datamodel.js';
import { DmError, UspError } from '../dm/errors.js';
import { OperationAborted } from '../dm/operations.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { isNumber, isObject, isString } from '../util/json-shape.js';

const TIMER = 'Device.ScheduleTimer()';

interface Stored {
  due: number;
  commandKey: string;
  caller: Caller;
}

const isStored = (x: unknown): x is Stored =>
  isObject(x) && isNumber(x.due) && isString(x.commandKey) && isObject(x.caller) && isString(x.caller.kind);

/** Resolves after `ms`; rejects with the signal's reason when the operation is aborted first. */
function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const aborted = () => {
      clearTimeout(timer);
      reject(signal.reason ?? new DmError(UspError.CommandCanceled, 'ScheduleTimer() canceled'));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', aborted);
      resolve();
    }, ms);
    if (signal.aborted) aborted();
    else signal.addEventListener('abort', aborted, { once: true });
  });
}

/** dir: where running timers are kept; returns resume(), to call once the protocols listen. */
export function registerScheduleTimer(dm: DataModel, dir: string): { resume(): void } {
  // DelaySeconds is mandatory and at least 1 by its definition: validated before the handler runs.
  dm.command(TIMER, async (req) => {
    const ms = Number(req.input.DelaySeconds) * 1000;
    const file = join(dir, `${randomUUID()}.json`);
    const stored: Stored = { due: Date.now() + ms, commandKey: req.commandKey, caller: req.caller };
    mkdirSync(dir, { recursive: true });
    writeFileAtomic(file, JSON.stringify(stored));
    try {
      await delay(ms, req.signal);
    } catch (e) {
      // Stopping keeps the file, for the next start; a Cancel() ends the timer for good.
      if (!(e instanceof OperationAborted && e.why === 'stopping')) rmSync(file, { force: true });
      throw e;
    }
    rmSync(file, { force: true });
    return {};
  });
  return {
    resume() {
      let names: string[];
      try {
        names = readdirSync(dir).filter((n) => n.endsWith('.json'));
      } catch {
        return; // no timer ever ran
      }
      for (const name of names) {
        const file = join(dir, name);
        let t: unknown;
        try {
          t = JSON.parse(readFileSync(file, 'utf8'));
        } catch {
          t = undefined;
        }
        rmSync(file, { force: true });
        if (!isStored(t)) continue;
        const left = String(Math.max(1, Math.ceil((t.due - Date.now()) / 1000)));
        void dm.operate(TIMER, { DelaySeconds: left }, t.caller, t.commandKey);
      }
    },
  };
}
