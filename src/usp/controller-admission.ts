// Controllers the agent does not know yet. TR-181 ControllerTrust.UntrustedRole is "the Role assigned
// to any Controller that has not been assigned a Role" (TP-469 2.9): when the operator opts in with
// ControllerTrust.X_CPE-AGENT_AdmitUnknownControllers, a record from an unknown endpoint gets a
// Controller row of its own (Enable true, AssignedRole the UntrustedRole, an MTP row on the topic it
// sent from, so that answers and notifications reach it), marked X_CPE-AGENT_Admitted. Anyone who
// can publish to the agent's topic can make such a row, so their number is bounded by
// X_CPE-AGENT_MaxAdmittedControllers and what a row holds is checked first (docs/security.md).
import { agentCaller } from '../dm/caller.js';
import type { DataModel } from '../dm/datamodel.js';
import { controllers } from './controllers.js';

const LA = 'Device.LocalAgent.';
const CT = `${LA}ControllerTrust.`;
const AGENT = 'usp-admission';

/** USP's "authority-scheme ':' [authority-id] ':' instance-id", printable ASCII, of a size a row can hold. */
const ENDPOINT_ID = /^[A-Za-z][A-Za-z0-9-]*:[A-Za-z0-9._~%-]*:[\x21-\x7e]+$/;
const MAX_ENDPOINT_ID = 256;
/** An MQTT topic the controller subscribed to; wildcards can't be published to. */
const MAX_TOPIC = 1024;

export type Admission =
  | { readonly admitted: true; readonly row: string }
  | { readonly admitted: false; readonly why: string };

export const admitsUnknown = (dm: DataModel): boolean =>
  dm.value(`${CT}X_CPE-AGENT_AdmitUnknownControllers`) === 'true';

/**
 * Makes the Controller row of an unknown endpoint that sent a record, answered on `replyTopic`;
 * refuses (and makes nothing) when the operator has not opted in, the bound is reached or the
 * endpoint id or topic can't be a controller's.
 */
export function admitController(dm: DataModel, endpointId: string, replyTopic: string | undefined): Admission {
  if (!admitsUnknown(dm)) return { admitted: false, why: 'unknown controllers are not admitted' };
  if (endpointId.length > MAX_ENDPOINT_ID || !ENDPOINT_ID.test(endpointId))
    return { admitted: false, why: 'the endpoint id is not a USP endpoint id' };
  if (!replyTopic || replyTopic.length > MAX_TOPIC || /[+#\0]/.test(replyTopic))
    return { admitted: false, why: 'the record names no topic to answer on' };
  const max = Number(dm.value(`${CT}X_CPE-AGENT_MaxAdmittedControllers`));
  const held = controllers(dm).filter((c) => c.stored('X_CPE-AGENT_Admitted') === 'true').length;
  if (held >= max) return { admitted: false, why: `${held} admitted controllers already (the bound is ${max})` };
  const row = dm.addInstance(
    `${LA}Controller.`,
    {
      EndpointID: endpointId,
      Enable: 'true',
      AssignedRole: dm.value(`${CT}UntrustedRole`),
      'X_CPE-AGENT_Admitted': 'true',
    },
    AGENT,
  );
  try {
    const mtp = dm.addInstance(`${row}MTP.`, { Enable: 'true', Protocol: 'MQTT' }, AGENT);
    dm.update(`${mtp}MQTT.`, { Topic: replyTopic }, AGENT);
  } catch (e) {
    // Half a controller would be answered on no topic: none at all is better.
    dm.delete([row], agentCaller(AGENT));
    throw e;
  }
  return { admitted: true, row };
}
