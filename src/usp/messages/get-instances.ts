// USP GetInstances: the instances (with unique keys) at and below each path, a path named more than
// once answered once. Each path's result is charged to the response budget (7005 past it).
import { DmError } from '../../dm/errors.js';
import { encodedSize } from '../codec.js';
import type { RequestHandler } from '../context.js';
import type * as usp from '../generated/usp-msg.js';

export const handleGetInstances: RequestHandler<'get_instances'> = (req, ctx) => ({
  response: {
    get_instances_resp: {
      req_path_results: [...new Set(req.obj_paths)].map((path) => {
        let result: usp.GetInstancesResp.IRequestedPathResult;
        try {
          const insts = ctx.dm
            .instances(path, ctx.caller, req.first_level_only)
            .filter((i) => ctx.access.allows('InstantiatedObj', 'r', i.path))
            .map(
              (i): usp.GetInstancesResp.ICurrInstance => ({
                instantiated_obj_path: i.path,
                unique_keys: Object.fromEntries(
                  Object.entries(i.keys).filter(([k]) => ctx.access.allows('Param', 'r', `${i.path}${k}`)),
                ),
              }),
            );
          result = { requested_path: path, err_code: 0, err_msg: '', curr_insts: insts };
        } catch (e) {
          const err = e instanceof DmError ? e : new DmError(7003, String(e));
          result = { requested_path: path, err_code: err.code, err_msg: err.message, curr_insts: [] };
        }
        ctx.budget.charge(encodedSize('GetInstancesResp.RequestedPathResult', result));
        return result;
      }),
    },
  },
});
