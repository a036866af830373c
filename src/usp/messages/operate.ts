// USP Operate: a synchronous command answers with its output, an asynchronous one with its
// Device.LocalAgent.Request.{i} path (its end comes as OperationComplete to subscribers). A command
// the controller's role may not run is that command's cmd_failure (7006), not an Error message:
// USP 1.4 R-OPR.1, TP-469 2.18.
import type { OperateOutcome } from '../../dm/api-types.js';
import { DmError, UspError } from '../../dm/errors.js';
import type { RequestHandler } from '../context.js';
import type * as usp from '../generated/usp-msg.js';
import { errorResult } from './error.js';

export const handleOperate: RequestHandler<'operate'> = async (req, ctx) => {
  const command = req.command;
  try {
    const name = command.slice(command.lastIndexOf('.') + 1);
    const paths = ctx.dm
      .resolve(command, ctx.caller)
      .flatMap((t) => (t.kind === 'node' ? [`${t.node.path}${name}`] : []));
    const allowed = (p: string) => ctx.access.allows('CommandEvent', 'x', p);
    // All allowed (the usual case): the data model resolves and runs the command path itself.
    let outcomes: OperateOutcome[] = [];
    if (paths.every(allowed)) outcomes = await ctx.dm.operate(command, req.input_args, ctx.caller, req.command_key);
    else {
      for (const p of paths) {
        if (allowed(p)) outcomes.push(...(await ctx.dm.operate(p, req.input_args, ctx.caller, req.command_key)));
        else
          outcomes.push({
            path: p,
            kind: 'error',
            error: new DmError(UspError.PermissionDenied, `permission denied: operate ${p}`, p),
          });
      }
    }
    if (!req.send_resp) return { none: true };
    return {
      response: {
        operate_resp: {
          operation_results: outcomes.map((o): usp.OperateResp.IOperationResult => {
            switch (o.kind) {
              case 'sync':
                return { executed_command: o.path, req_output_args: { output_args: o.output } };
              case 'async':
                return { executed_command: o.path, req_obj_path: o.operation.requestPath ?? '' };
              default:
                return { executed_command: o.path, cmd_failure: { err_code: o.error.code, err_msg: o.error.message } };
            }
          }),
        },
      },
    };
  } catch (e) {
    return req.send_resp ? errorResult(e, command) : { none: true };
  }
};
