// USP Get: one RequestedPathResult per path; an error for one path does not fail the others.
import { DmError } from '../../dm/errors.js';
import type { RequestHandler } from '../context.js';

export const handleGet: RequestHandler = (req, ctx) => {
  const maxDepth = Number(req.max_depth ?? 0);
  const results = (req.param_paths as string[]).map((path) => {
    try {
      const resolved = ctx.dm.get(path, ctx.caller, maxDepth).map((o) => {
        const params: Record<string, string> = {};
        for (const [k, v] of Object.entries(o.params)) if (ctx.access.allows('Param', 'r', `${o.path}${k}`)) params[k] = v;
        return { resolved_path: o.path, result_params: params };
      });
      // R-GET.1: an object the controller may not read at all is as if it were not there.
      const visible = resolved.filter((r) => Object.keys(r.result_params).length || ctx.access.allows('Param', 'r', r.resolved_path));
      if (resolved.length && !visible.length && !path.includes('*') && !path.includes('[')) throw new DmError(7026, `path '${path}' is not readable`);
      return { requested_path: path, err_code: 0, err_msg: '', resolved_path_results: visible };
    } catch (e) {
      const err = e instanceof DmError ? e : new DmError(7003, String(e));
      return { requested_path: path, err_code: err.code, err_msg: err.message, resolved_path_results: [] };
    }
  });
  return { response: { get_resp: { req_path_results: results } } };
};
