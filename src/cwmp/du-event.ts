// DUStateChange! as CWMP reads it off the data model's change feed: every finished install, update
// and uninstall, whoever asked for it (a ChangeDUState job of ours, a USP controller, the agent's
// recovery after a restart), as the OpResultStruct TR-069 reports it in.
import type { DataModel } from '../dm/datamodel.js';
import { duFaultOf } from './faults.js';
import type { OpResult } from './state.js';

const DU_STATE_CHANGE = 'Device.SoftwareModules.DUStateChange!';
const OPERATIONS = ['Install', 'Update', 'Uninstall'] as const;
const STATES = ['Installed', 'Uninstalled', 'Failed'] as const;

export interface DuStateEvent {
  readonly operation: (typeof OPERATIONS)[number];
  /** The command key of the InstallDU() / Update() / Uninstall() whose end this is ('' when none). */
  readonly commandKey: string;
  readonly result: OpResult;
}

/** Calls listener with every DUStateChange!; returns the unsubscribe. */
export function onDuStateChange(dm: DataModel, listener: (e: DuStateEvent) => void): () => void {
  return dm.feed.subscribe(
    DU_STATE_CHANGE,
    (c) => {
      if (c.kind !== 'event') return;
      const a = (name: string) => c.args[name] ?? '';
      const code = Number(a('Fault.FaultCode')) || 0;
      const state = STATES.find((s) => s === a('CurrentState')) ?? 'Failed';
      listener({
        operation: OPERATIONS.find((o) => o === a('OperationPerformed')) ?? 'Install',
        commandKey: c.detail?.commandKey ?? '',
        result: {
          uuid: a('UUID'),
          duRef: a('DeploymentUnitRef'),
          version: a('Version'),
          state,
          resolved: a('Resolved') === 'true',
          euRefs: a('ExecutionUnitRefList'),
          start: a('StartTime'),
          complete: a('CompleteTime'),
          fault: code
            ? { code: duFaultOf({ code, transfer: c.detail?.transfer }), message: a('Fault.FaultString') }
            : { code: 0, message: '' },
        },
      });
    },
    ['event'],
  );
}
