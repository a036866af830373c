// USP Set: atomic without allow_partial (an Error naming each failed parameter), per object with it.
import type { ParamFailure, SetRequest } from '../../dm/datamodel.js';
import type { RequestHandler } from '../context.js';
import type * as usp from '../generated/usp-msg.js';

import { denied, errorResult } from './error.js';

const rel = (f: ParamFailure, obj: string): usp.SetResp.IParameterError => ({
  param: f.path.startsWith(obj) ? f.path.slice(obj.length) : f.path,
  err_code: f.code,
  err_msg: f.message,
});

export const handleSet: RequestHandler<'set'> = (req, ctx) => {
  const requests: SetRequest[] = req.update_objs.map((u) => ({
    objPath: u.obj_path,
    params: u.param_settings.map((p) => ({ name: p.param, value: p.value, required: p.required })),
  }));
  const allowPartial = req.allow_partial;
  try {
    for (const r of requests) {
      for (const t of ctx.dm.resolve(r.objPath, ctx.caller)) {
        const path = t.kind === 'node' ? t.node.path : t.table.path;
        for (const p of r.params)
          if (!ctx.access.allows('Param', 'w', `${path}${p.name}`)) throw denied(`${path}${p.name}`, 'write');
      }
    }
    const outcomes = ctx.dm.set(requests, ctx.caller, allowPartial);
    return {
      response: {
        set_resp: {
          updated_obj_results: outcomes.map(
            (o): usp.SetResp.IUpdatedObjectResult => ({
              requested_path: o.objPath,
              oper_status: o.ok
                ? {
                    oper_success: {
                      updated_inst_results: o.objects.map(
                        (u): usp.SetResp.IUpdatedInstanceResult => ({
                          affected_path: u.path,
                          updated_params: u.updated,
                          param_errs: u.failures.map((f) => rel(f, u.path)),
                        }),
                      ),
                    },
                  }
                : { oper_failure: failure(o.error) },
            }),
          ),
        },
      },
    };
  } catch (e) {
    return errorResult(e);
  }
};

function failure(
  e: Error & { code?: number; failures?: ParamFailure[]; path?: string },
): usp.SetResp.UpdatedObjectResult.OperationStatus.IOperationFailure {
  const failures = e.failures ?? [];
  const byObj = new Map<string, ParamFailure[]>();
  for (const f of failures) {
    const obj = f.path.slice(0, f.path.lastIndexOf('.') + 1);
    byObj.set(obj, [...(byObj.get(obj) ?? []), f]);
  }
  return {
    err_code: e.code ?? 7003,
    err_msg: e.message,
    updated_inst_failures: [...byObj].map(([obj, fs]) => ({
      affected_path: obj,
      param_errs: fs.map((f) => rel(f, obj)),
    })),
  };
}
