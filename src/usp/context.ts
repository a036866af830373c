// What a USP message handler gets: the data model, who asks, what they may do, and how large the
// answer may grow.
import type { Caller } from '../dm/caller.js';
import type { DataModel } from '../dm/datamodel.js';
import type { ByteBudget } from '../util/byte-budget.js';
import type { Access } from './access.js';
import type * as usp from './generated/usp-msg.js';

export interface UspContext {
  readonly dm: DataModel;
  readonly caller: Caller & { kind: 'usp' };
  readonly access: Access;
  /** What the response may still take in the record; a handler charges what it adds (see byte-budget.ts). */
  readonly budget: ByteBudget;
}

/** The result of handling a request: a response body, an Error body, or nothing (send_resp false). */
export type HandlerResult = { response: usp.IResponse } | { error: UspErrorBody } | { none: true };

/** An Error body always says what went wrong. */
export type UspErrorBody = usp.IError & { err_code: number; err_msg: string };

/** Answers one request type; Req is its decoded body (usp.Get for Get). */
export type RequestHandler<Req> = (req: Req, ctx: UspContext) => HandlerResult | Promise<HandlerResult>;
