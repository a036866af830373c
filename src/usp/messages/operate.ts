// USP Operate: a synchronous command answers with its output, an asynchronous one with its
// Device.LocalAgent.Request.{i} path (its end comes as OperationComplete to subscribers).
import type { RequestHandler } from '../context.js';
import type * as usp from '../generated/usp-msg.js';
import { denied, errorResult } from './error.js';

export const handleOperate: RequestHandler<'operate'> = async (req, ctx) => {
  const command = req.command;
  try {
    for (const t of ctx.dm.resolve(command, ctx.caller)) {
      if (
        t.kind === 'node' &&
        !ctx.access.allows('CommandEvent', 'x', `${t.node.path}${command.slice(command.lastIndexOf('.') + 1)}`)
      )
        throw denied(command, 'operate');
    }
    const outcomes = await ctx.dm.operate(command, req.input_args, ctx.caller, req.command_key);
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
