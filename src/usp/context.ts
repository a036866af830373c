// What a USP message handler gets: the data model, who asks, what they may do, and how large the
// answer may grow.
import type { Caller } from '../dm/caller.js';
import type { DataModel } from '../dm/datamodel.js';
import type { ByteBudget } from '../util/byte-budget.js';
import type { Access } from './access.js';
import type { Plain } from './codec.js';

export interface UspContext {
  readonly dm: DataModel;
  readonly caller: Caller & { kind: 'usp' };
  readonly access: Access;
  /** What the response may still take in the record; a handler charges what it adds (see byte-budget.ts). */
  readonly budget: ByteBudget;
}

/** The result of handling a request: a response body, an Error body, or nothing (send_resp false). */
export type HandlerResult = { response: Plain } | { error: UspErrorBody } | { none: true };

export interface UspErrorBody {
  err_code: number;
  err_msg: string;
  param_errs?: { param_path: string; err_code: number; err_msg: string }[];
}

export type RequestHandler = (req: Plain, ctx: UspContext) => HandlerResult | Promise<HandlerResult>;
