// What a USP message handler gets: the data model, who asks, what they may do, and how large the
// answer may grow.
import type { Caller } from '../dm/caller.js';
import type { DataModel } from '../dm/datamodel.js';
import type { ByteBudget } from '../util/byte-budget.js';
import type { Access } from './access.js';
import type { RequestKind } from './codec.js';
import type * as usp from './generated/usp-msg.js';

export interface UspContext {
  readonly dm: DataModel;
  readonly caller: Caller & { kind: 'usp' };
  readonly access: Access;
  /** What the response may still take in the record; a handler charges what it adds (see byte-budget.ts). */
  readonly budget: ByteBudget;
}

/** The requests an agent answers (Notify, Register and Deregister go the other way). */
export type AnsweredKind = Exclude<RequestKind, 'notify' | 'register' | 'deregister'>;

/** The response body to a request of this kind: { get_resp: IGetResp } for 'get'. */
export type ResponseTo<K extends AnsweredKind> = {
  [P in `${K}_resp` & keyof usp.IResponse]: NonNullable<usp.IResponse[P]>;
};

/** The result of handling a request: a response body, an Error body, or nothing (send_resp false). */
export type HandlerResult<R extends usp.IResponse = usp.IResponse> =
  | { response: R }
  | { error: UspErrorBody }
  | { none: true };

/** An Error body always says what went wrong. */
export type UspErrorBody = usp.IError & { err_code: number; err_msg: string };

/** Answers one kind of request: its decoded body (usp.Get for 'get') with its response (get_resp) or an Error. */
export type RequestHandler<K extends AnsweredKind> = (
  req: NonNullable<usp.Request[K]>,
  ctx: UspContext,
) => HandlerResult<ResponseTo<K>> | Promise<HandlerResult<ResponseTo<K>>>;
