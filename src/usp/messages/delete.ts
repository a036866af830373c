// USP Delete: one DeletedObjectResult per requested path; a path that matches nothing succeeds empty.
import type { RequestHandler } from '../context.js';
import type * as usp from '../generated/usp-msg.js';
import { denied, errorResult } from './error.js';

export const handleDelete: RequestHandler<'delete'> = (req, ctx) => {
  const paths = req.obj_paths;
  try {
    for (const p of paths) {
      let targets: ReturnType<typeof ctx.dm.resolve>;
      try {
        targets = ctx.dm.resolve(p, ctx.caller);
      } catch {
        continue;
      } // the data model reports it
      for (const t of targets)
        if (t.kind === 'node' && !ctx.access.allows('InstantiatedObj', 'w', t.node.path))
          throw denied(t.node.path, 'delete');
    }
    const out = ctx.dm.delete(paths, ctx.caller, req.allow_partial);
    return {
      response: {
        delete_resp: {
          deleted_obj_results: out.map(
            (r): usp.DeleteResp.IDeletedObjectResult => ({
              requested_path: r.requested,
              oper_status: r.error
                ? { oper_failure: { err_code: r.error.code, err_msg: r.error.message } }
                : { oper_success: { affected_paths: r.deleted, unaffected_path_errs: [] } },
            }),
          ),
        },
      },
    };
  } catch (e) {
    return errorResult(e);
  }
};
