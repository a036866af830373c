// USP Add: all create_objs in one transaction without allow_partial; unique keys the controller
// left out are generated and returned (R-ADD.5), as far as it may read them (R-ADD.6). A parameter
// the controller's role may not write is a 7006: for the whole object when it is required, for that
// parameter alone (left at its default) when it is not (TP-469 2.25, 2.26).
import type { AddOutcome } from '../../dm/api-types.js';
import type { DmError } from '../../dm/errors.js';
import type { RequestHandler } from '../context.js';
import type * as usp from '../generated/usp-msg.js';
import { denied, errorResult } from './error.js';

interface Denied {
  readonly param: string;
  readonly path: string;
}

export const handleAdd: RequestHandler<'add'> = (req, ctx) => {
  try {
    // A search path that resolves to several tables is one plan per table once the role refuses a
    // required parameter in some of them: with allow_partial the others are still made (TP-469 2.23).
    const plans = req.create_objs.flatMap((c) => {
      const targets = ctx.dm.resolve(c.obj_path, ctx.caller).map((t) => {
        const path = t.kind === 'table' ? t.table.path : t.node.path;
        if (!ctx.access.allows('Obj', 'w', path)) throw denied(path, 'add to');
        const deniedParams: (Denied & { required: boolean })[] = [];
        for (const p of c.param_settings) {
          const where = `${path}{i}.${p.param}`;
          if (!ctx.access.allows('Param', 'w', where) && !deniedParams.some((d) => d.param === p.param))
            deniedParams.push({ param: p.param, path: where, required: p.required });
        }
        return { path, deniedParams };
      });
      const split = targets.length > 1 && targets.some((t) => t.deniedParams.some((d) => d.required));
      const groups = split
        ? targets.map((t) => ({ objPath: t.path, deniedParams: t.deniedParams }))
        : [{ objPath: c.obj_path, deniedParams: targets.flatMap((t) => t.deniedParams) }];
      return groups.map(({ objPath, deniedParams }) => {
        const refused = deniedParams.find((d) => d.required);
        if (refused && !req.allow_partial) throw denied(refused.path, 'write');
        const names = new Set(deniedParams.map((d) => d.param));
        return {
          objPath,
          requestedPath: c.obj_path,
          refused,
          skipped: deniedParams.filter((d) => !d.required),
          params: c.param_settings
            .filter((p) => !names.has(p.param))
            .map((p) => ({ name: p.param, value: p.value, required: p.required })),
        };
      });
    });
    const run = plans.filter((p) => !p.refused);
    const outcomes = ctx.dm.addAll(run, ctx.caller, req.allow_partial);
    const created = plans.flatMap((plan): usp.AddResp.ICreatedObjectResult[] => {
      if (plan.refused) {
        const err = denied(plan.refused.path, 'write');
        return [{ requested_path: plan.requestedPath, oper_status: { oper_failure: failure(err) } }];
      }
      const allows = ctx.access.allows.bind(ctx.access);
      return result(outcomes[run.indexOf(plan)]!, plan.requestedPath, plan.skipped, allows);
    });
    return { response: { add_resp: { created_obj_results: created } } };
  } catch (e) {
    return errorResult(e);
  }
};

const failure = (e: DmError) => ({ err_code: e.code, err_msg: e.message });

function result(
  o: AddOutcome,
  requestedPath: string,
  skipped: readonly Denied[],
  allows: (col: 'Param', right: 'r', path: string) => boolean,
): usp.AddResp.ICreatedObjectResult[] {
  if (!o.ok) return [{ requested_path: requestedPath, oper_status: { oper_failure: failure(o.error) } }];
  return o.results.map((r) => ({
    requested_path: requestedPath,
    oper_status: {
      oper_success: {
        instantiated_path: r.path,
        param_errs: [
          ...r.failures.map((f) => ({ param: f.path.slice(r.path.length), err_code: f.code, err_msg: f.message })),
          ...skipped.map((d) => ({ param: d.param, ...failure(denied(`${r.path}${d.param}`, 'write')) })),
        ],
        unique_keys: Object.fromEntries(Object.entries(r.keys).filter(([k]) => allows('Param', 'r', `${r.path}${k}`))),
      },
    },
  }));
}
