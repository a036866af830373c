// One handler per USP request type, as obuspa keeps them; anything else is 7001.
import type { Plain } from './codec.js';
import type { HandlerResult, RequestHandler, UspContext } from './context.js';
import { handleAdd } from './messages/add.js';
import { handleDelete } from './messages/delete.js';
import { handleGet } from './messages/get.js';
import { handleGetInstances } from './messages/get-instances.js';
import { handleGetSupportedDM } from './messages/get-supported-dm.js';
import { handleGetSupportedProtocol } from './messages/get-supported-protocol.js';
import { handleOperate } from './messages/operate.js';
import { handleSet } from './messages/set.js';

const HANDLERS: Record<string, { type: string; handle: RequestHandler }> = {
  get: { type: 'GET', handle: handleGet },
  set: { type: 'SET', handle: handleSet },
  add: { type: 'ADD', handle: handleAdd },
  delete: { type: 'DELETE', handle: handleDelete },
  operate: { type: 'OPERATE', handle: handleOperate },
  get_supported_dm: { type: 'GET_SUPPORTED_DM', handle: handleGetSupportedDM },
  get_instances: { type: 'GET_INSTANCES', handle: handleGetInstances },
  get_supported_protocol: { type: 'GET_SUPPORTED_PROTO', handle: handleGetSupportedProtocol },
};

/** Runs the request; returns the response type with the result. */
export async function dispatch(request: Plain, ctx: UspContext): Promise<{ respType: string; result: HandlerResult }> {
  const kind = request.req_type as string | undefined;
  const h = kind ? HANDLERS[kind] : undefined;
  if (!h || !request[kind!]) {
    return {
      respType: 'ERROR',
      result: { error: { err_code: 7001, err_msg: `the agent does not handle ${kind ?? 'an empty'} request` } },
    };
  }
  return { respType: `${h.type}_RESP`, result: await h.handle(request[kind!], ctx) };
}
