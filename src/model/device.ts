// Device.: the root data model version, Reboot(), FactoryReset() and the Boot! event. The agent's
// life cycle (restart, reset) belongs to the composition root, which passes it in.

import { agentCaller } from '../dm/caller.js';
import type { DataModel } from '../dm/datamodel.js';

export const ROOT_DATA_MODEL_VERSION = '2.19';

export type BootCause = 'LocalReboot' | 'RemoteReboot' | 'FactoryReset' | 'LocalFactoryReset' | 'RemoteFactoryReset';

export interface Lifecycle {
  /** Restarts the agent; the next Boot! carries this cause. */
  reboot(cause: BootCause, reason: string, commandKey: string): void;
  /** Wipes the persistent state, applies the defaults and restarts. */
  factoryReset(cause: BootCause, commandKey: string): void;
}

export function registerDevice(dm: DataModel, life: Lifecycle): void {
  dm.param('Device.RootDataModelVersion', { get: () => ROOT_DATA_MODEL_VERSION });
  dm.command('Device.Reboot()', (req) => {
    const local = req.caller.kind === 'local' || req.caller.kind === 'agent';
    const cause = (req.input.Cause as BootCause | undefined) ?? (local ? 'LocalReboot' : 'RemoteReboot');
    // Answer first, restart after: the caller gets its response before the agent goes down.
    setImmediate(() => life.reboot(cause, req.input.Reason ?? '', req.commandKey));
    return {};
  });
  dm.command('Device.FactoryReset()', (req) => {
    const cause: BootCause = req.caller.kind === 'local' ? 'LocalFactoryReset' : 'RemoteFactoryReset';
    setImmediate(() => life.factoryReset(cause, req.commandKey));
    return {};
  });
}

export interface BootInfo {
  cause: BootCause;
  reason: string;
  commandKey: string;
  firmwareUpdated: boolean;
}

/** Device.Boot! once the agent is up; ParameterMap is left to the USP layer (per controller). */
export function emitBoot(dm: DataModel, boot: BootInfo): void {
  dm.emit(
    'Device.Boot!',
    {
      CommandKey: boot.commandKey,
      Cause: boot.cause,
      Reason: boot.reason,
      FirmwareUpdated: String(boot.firmwareUpdated),
      ParameterMap: '{}',
    },
    agentCaller('device'),
  );
}
