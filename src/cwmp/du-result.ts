// The OpResultStruct of TR-069 (DUStateChangeComplete, AutonomousDUStateChangeComplete).
import { el } from './envelope.js';
import type { OpResult } from './state.js';

export const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
/**
 * OpResultStruct.UUID must be a UUID: the nil one stands for a DU that never got one (failed before its package was
 * read).
 */
const NIL_UUID = '00000000-0000-0000-0000-000000000000';

export function opResultXml(r: OpResult): string {
  return (
    `${el('UUID', UUID.test(r.uuid) ? r.uuid : NIL_UUID)}${el('DeploymentUnitRef', r.duRef)}` +
    `${el('Version', r.version)}${el('CurrentState', r.state)}${el('Resolved', r.resolved ? '1' : '0')}` +
    `${el('ExecutionUnitRefList', r.euRefs)}${el('StartTime', r.start)}${el('CompleteTime', r.complete)}<Fault>` +
    `${el('FaultCode', r.fault.code)}${el('FaultString', r.fault.message)}</Fault>`
  );
}
