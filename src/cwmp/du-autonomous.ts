// AutonomousDUStateChangeComplete: DU state changes nobody asked the ACS's way (a USP controller, the
// CLI, the agent's recovery of an operation a restart cut), read off the same DUStateChange! event
// feed USP notifies from, and filtered by ManagementServer.DUStateChangeComplPolicy.
import type { DataModel } from '../dm/datamodel.js';
import type { Logger } from '../util/logger.js';
import { type DuStateEvent, onDuStateChange } from './du-event.js';
import { opResultXml } from './du-result.js';
import { isJobKey } from './du-state.js';
import { el } from './envelope.js';
import type { CwmpState } from './state.js';

const POLICY = 'Device.ManagementServer.DUStateChangeComplPolicy.';

export class AutonomousDuReporter {
  private readonly off: () => void;

  constructor(
    private readonly dm: DataModel,
    private readonly state: CwmpState,
    private readonly log: Logger,
    private readonly kick: () => void,
  ) {
    this.off = onDuStateChange(dm, this.onEvent);
  }

  close(): void {
    this.off();
  }

  private readonly onEvent = (e: DuStateEvent): void => {
    if (isJobKey(e.commandKey)) return; // a ChangeDUState job's: its DUStateChangeComplete reports it
    try {
      if (!this.policyAllows(e)) return;
      // Kept before anything else happens: a crash now has the agent's recovery report it again,
      // and the same request is kept once (CwmpState.addPending).
      this.state.addPending(
        'AutonomousDUStateChangeComplete',
        `<cwmp:AutonomousDUStateChangeComplete><Results>${opResultXml(e.result)}` +
          `${el('OperationPerformed', e.operation)}</Results></cwmp:AutonomousDUStateChangeComplete>`,
        [{ code: '12 AUTONOMOUS DU STATE CHANGE COMPLETE', key: '' }],
      );
      this.kick();
    } catch (err) {
      this.log.error({ err }, 'a DU state change could not be queued for the ACS');
    }
  };

  private policyAllows(e: DuStateEvent): boolean {
    const v = (p: string) => this.dm.value(`${POLICY}${p}`);
    if (v('Enable') !== 'true') return false;
    const ops = v('OperationTypeFilter').split(',').filter(Boolean);
    if (ops.length && !ops.includes(e.operation)) return false;
    const failed = e.result.fault.code !== 0;
    const results = v('ResultTypeFilter') || 'Both';
    if (results === 'Success' && failed) return false;
    if (results === 'Failure' && !failed) return false;
    const codes = v('FaultCodeFilter').split(',').filter(Boolean);
    if (failed && codes.length && !codes.includes(String(e.result.fault.code))) return false;
    return true;
  }
}
