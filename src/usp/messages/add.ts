// USP Add: all create_objs in one transaction without allow_partial; unique keys the controller
// left out are generated and returned (R-ADD.5), as far as it may read them (R-ADD.6).
import type { RequestHandler } from '../context.js';
import type * as usp from '../generated/usp-msg.js';
import { denied, errorResult } from './error.js';

export const handleAdd: RequestHandler<'add'> = (req, ctx) => {
  const requests = req.create_objs.map((c) => ({
    objPath: c.obj_path,
    params: c.param_settings.map((p) => ({
      name: p.param,
      value: p.value,
      required: p.required,
    })),
  }));
  try {
    for (const r of requests) {
      for (const t of ctx.dm.resolve(r.objPath, ctx.caller)) {
        const path = t.kind === 'table' ? t.table.path : t.node.path;
        if (!ctx.access.allows('Obj', 'w', path)) throw denied(path, 'add to');
      }
    }
    const outcomes = ctx.dm.addAll(requests, ctx.caller, req.allow_partial);
    const created = outcomes.flatMap((o): usp.AddResp.ICreatedObjectResult[] =>
      o.ok
        ? o.results.map((r) => ({
            requested_path: o.objPath,
            oper_status: {
              oper_success: {
                instantiated_path: r.path,
                param_errs: r.failures.map((f) => ({
                  param: f.path.slice(r.path.length),
                  err_code: f.code,
                  err_msg: f.message,
                })),
                unique_keys: Object.fromEntries(
                  Object.entries(r.keys).filter(([k]) => ctx.access.allows('Param', 'r', `${r.path}${k}`)),
                ),
              },
            },
          }))
        : [
            {
              requested_path: o.objPath,
              oper_status: { oper_failure: { err_code: o.error.code, err_msg: o.error.message } },
            },
          ],
    );
    return { response: { add_resp: { created_obj_results: created } } };
  } catch (e) {
    return errorResult(e);
  }
};
