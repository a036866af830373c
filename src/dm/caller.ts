// Who caused a change or asked for an operation. Notifications carry it so that, for example, the
// CWMP client informs the ACS of changes made by anybody but the ACS itself.
import type { View } from './schema.js';

export type Caller =
  | { readonly kind: 'usp'; readonly endpointId: string }
  | { readonly kind: 'cwmp' }
  | { readonly kind: 'agent'; readonly component: string } // the agent itself: engine events, handlers, defaults
  | { readonly kind: 'local'; readonly user: string }; // a person on the device (CLI, local socket)

export const agentCaller = (component: string): Caller => ({ kind: 'agent', component });

/** The protocol view a caller sees: USP-only items are hidden from CWMP and the other way round. */
export function viewOf(c: Caller): View {
  return c.kind === 'usp' ? 'usp' : c.kind === 'cwmp' ? 'cwmp' : 'all';
}

export function describeCaller(c: Caller): string {
  switch (c.kind) {
    case 'usp':
      return `usp:${c.endpointId}`;
    case 'cwmp':
      return 'cwmp';
    case 'agent':
      return `agent:${c.component}`;
    case 'local':
      return `local:${c.user}`;
  }
}
