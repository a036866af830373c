// USP Get: one RequestedPathResult per path, a path named more than once answered once; an error for
// one path does not fail the others. Each object is charged to the response budget as it is read, so
// an answer too large for the MTP stops at the limit (the endpoint answers 7005). Secured parameters
// read "" except for a controller that holds one of ControllerTrust.SecuredRoles.
import { DmError } from '../../dm/errors.js';
import { BudgetExceeded } from '../../util/byte-budget.js';
import type { RequestHandler } from '../context.js';
import type * as usp from '../generated/usp-msg.js';

// What each piece takes once encoded, near enough for the budget without encoding it twice: its
// strings plus protobuf framing. Lengths count UTF-16 units, so text outside ASCII is undercounted;
// the endpoint measures the encoded record as well.
/** Tag and length of a string or embedded message field of up to 16 KiB. */
const FIELD_BYTES = 3;
/** A map<string, string> entry of short strings: the tags and lengths of the entry, its key and its value. */
const ENTRY_BYTES = 7;

export const handleGet: RequestHandler<'get'> = (req, ctx) => {
  const maxDepth = req.max_depth;
  const results = [...new Set(req.param_paths)].map((path): usp.GetResp.IRequestedPathResult => {
    ctx.budget.charge(path.length + 3 * FIELD_BYTES);
    try {
      const resolved: { resolved_path: string; result_params: Record<string, string> }[] = [];
      ctx.dm.getEach(path, ctx.caller, maxDepth, (o) => {
        // One access answer for the whole object where the Permissions allow it (access.ts).
        const all = ctx.access.allowsParams('Param', 'r', o.path);
        // A controller with a SecuredRoles role reads secured values, which others read as "".
        const def = ctx.access.readsSecured ? ctx.dm.node(o.path)?.def : undefined;
        const params: Record<string, string> = all && !def ? o.params : {};
        let size = o.path.length + 2 * FIELD_BYTES;
        if (all !== false) {
          for (const k in o.params) {
            if (all === undefined && !ctx.access.allows('Param', 'r', `${o.path}${k}`)) continue;
            const v = def?.params.get(k)?.secured ? ctx.dm.value(`${o.path}${k}`) : o.params[k]!;
            if (params !== o.params) params[k] = v;
            size += k.length + v.length + ENTRY_BYTES;
          }
        }
        ctx.budget.charge(size);
        resolved.push({ resolved_path: o.path, result_params: params });
      });
      // R-GET.1: an object the controller may not read at all is as if it were not there.
      const visible = resolved.filter(
        (r) => Object.keys(r.result_params).length || ctx.access.allows('Param', 'r', r.resolved_path),
      );
      if (resolved.length && !visible.length && !path.includes('*') && !path.includes('['))
        throw new DmError(7026, `path '${path}' is not readable`);
      return { requested_path: path, err_code: 0, err_msg: '', resolved_path_results: visible };
    } catch (e) {
      if (e instanceof BudgetExceeded) throw e;
      const err = e instanceof DmError ? e : new DmError(7003, String(e));
      ctx.budget.charge(err.message.length);
      return { requested_path: path, err_code: err.code, err_msg: err.message, resolved_path_results: [] };
    }
  });
  return { response: { get_resp: { req_path_results: results } } };
};
