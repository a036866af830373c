// One handler per USP request type, as obuspa keeps them; anything else is 7001.
import type { AnsweredKind, HandlerResult, RequestHandler, UspContext } from './context.js';
import type * as usp from './generated/usp-msg.js';
import { handleAdd } from './messages/add.js';
import { handleDelete } from './messages/delete.js';
import { handleGet } from './messages/get.js';
import { handleGetInstances } from './messages/get-instances.js';
import { handleGetSupportedDM } from './messages/get-supported-dm.js';
import { handleGetSupportedProtocol } from './messages/get-supported-protocol.js';
import { handleOperate } from './messages/operate.js';
import { handleSet } from './messages/set.js';

/** The decoded body of a request of this kind (usp.Get for 'get'). */
type BodyOf<K extends AnsweredKind> = NonNullable<usp.Request[K]>;

const HANDLERS: { [K in AnsweredKind]: { respType: usp.Header.MsgType; handle: RequestHandler<K> } } = {
  get: { respType: 'GET_RESP', handle: handleGet },
  set: { respType: 'SET_RESP', handle: handleSet },
  add: { respType: 'ADD_RESP', handle: handleAdd },
  delete: { respType: 'DELETE_RESP', handle: handleDelete },
  operate: { respType: 'OPERATE_RESP', handle: handleOperate },
  get_supported_dm: { respType: 'GET_SUPPORTED_DM_RESP', handle: handleGetSupportedDM },
  get_instances: { respType: 'GET_INSTANCES_RESP', handle: handleGetInstances },
  get_supported_protocol: { respType: 'GET_SUPPORTED_PROTO_RESP', handle: handleGetSupportedProtocol },
};

const handled = (kind: string | undefined): kind is AnsweredKind => kind !== undefined && Object.hasOwn(HANDLERS, kind);

async function run<K extends AnsweredKind>(kind: K, body: BodyOf<K>, ctx: UspContext) {
  const h = HANDLERS[kind];
  return { respType: h.respType, result: await h.handle(body, ctx) };
}

/** Runs the request; returns the response type with the result. */
export async function dispatch(
  request: usp.Request,
  ctx: UspContext,
): Promise<{ respType: usp.Header.MsgType; result: HandlerResult }> {
  const kind = request.req_type;
  const body = handled(kind) ? request[kind] : undefined;
  if (!handled(kind) || !body) {
    return {
      respType: 'ERROR',
      result: { error: { err_code: 7001, err_msg: `the agent does not handle ${kind ?? 'an empty'} request` } },
    };
  }
  return run(kind, body, ctx);
}
