// How many subscriptions the agent and each controller may hold: X_CPE-AGENT_MaxSubscriptions
// (reported as SupportedNumberOfSubscriptions) and X_CPE-AGENT_MaxSubscriptionsPerController.
import type { Caller } from '../dm/caller.js';
import type { DataModel } from '../dm/datamodel.js';
import { DmError, UspError } from '../dm/errors.js';
import { controllerByEndpoint } from './controllers.js';
import { SubscriptionIndex } from './subscription-index.js';

const LA = 'Device.LocalAgent.';

/** A limit of LocalAgent's; 0 stands for none. */
export function limitOf(dm: DataModel, name: string): number | undefined {
  return Number(dm.value(`${LA}${name}`)) || undefined;
}

/**
 * 7005 for an Add past the agent's or the controller's number of subscriptions (the agent's own adds are not asked).
 */
export function checkLimits(dm: DataModel, table: string, caller: Caller): void {
  const all = limitOf(dm, 'X_CPE-AGENT_MaxSubscriptions');
  if (all !== undefined && (dm.node(LA)?.tables.get('Subscription')?.rows.size ?? 0) >= all) {
    throw new DmError(
      UspError.ResourcesExceeded,
      `resources exceeded: the agent holds ${all} subscriptions, the most it supports (SupportedNumberOfSubscriptions)`,
      table,
    );
  }
  const mine = limitOf(dm, 'X_CPE-AGENT_MaxSubscriptionsPerController');
  if (mine === undefined || caller.kind !== 'usp') return;
  const ctl = controllerByEndpoint(dm, caller.endpointId);
  if (ctl && SubscriptionIndex.of(dm).countFor(ctl.path.slice(0, -1)) >= mine) {
    throw new DmError(
      UspError.ResourcesExceeded,
      `resources exceeded: ${caller.endpointId} holds ${mine} subscriptions, the most a controller may ` +
        `(X_CPE-AGENT_MaxSubscriptionsPerController)`,
      table,
    );
  }
}
