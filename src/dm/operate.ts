// Operate: runs a command at each object a path names. A synchronous command is awaited and answers
// with its output; an asynchronous one answers at once with its operation, whose life (started,
// progress, complete or failed) goes out on the change feed for the Request table and OperationComplete.
import type { OperateOutcome } from './api-types.js';
import { type Caller, viewOf } from './caller.js';
import { validateArgs } from './command-args.js';
import { asDmError, DmError, UspError } from './errors.js';
import type { ModelCore } from './model-core.js';
import type { Operation, Operations } from './operations.js';
import { parsePath } from './path.js';
import type { ObjectNode } from './tree.js';

/** Tracks async operations in the model (the LocalAgent Request table); returns the row path. */
export type RequestTracker = (op: Operation) => string | undefined;

export class CommandRunner {
  tracker: RequestTracker | undefined;

  constructor(
    private readonly core: ModelCore,
    private readonly operations: Operations,
  ) {}

  async operate(
    path: string,
    input: Readonly<Record<string, string>>,
    caller: Caller,
    commandKey: string,
  ): Promise<OperateOutcome[]> {
    const parsed = parsePath(path);
    if (parsed.leaf.kind !== 'command')
      throw new DmError(UspError.InvalidPath, `'${path}' is not a command path (it ends with '()')`, path);
    const name = parsed.leaf.name;
    const { targets } = this.core.resolver.resolve(parsed, viewOf(caller));
    if (!targets.length && !parsed.isSearch)
      throw new DmError(UspError.ObjectDoesNotExist, `${path} does not exist`, path);
    const out: OperateOutcome[] = [];
    for (const t of targets)
      out.push(await this.operateOne((t as { node: ObjectNode }).node, name, input, caller, commandKey));
    return out;
  }

  private async operateOne(
    node: ObjectNode,
    name: string,
    input: Readonly<Record<string, string>>,
    caller: Caller,
    commandKey: string,
  ): Promise<OperateOutcome> {
    const path = `${node.path}${name}`;
    const spec = node.def.commands.get(name)!;
    const handler = this.core.handlers.commands.get(`${node.def.path}${name}`);
    if (!handler)
      return {
        path,
        kind: 'error',
        error: new DmError(UspError.CommandFailure, `${path} is defined but this agent does not implement it`, path),
      };
    let args: Record<string, string>;
    try {
      args = validateArgs(spec.input, input, path);
    } catch (e) {
      return { path, kind: 'error', error: asDmError(e, path) };
    }
    if (!spec.async) {
      try {
        const output = await handler({
          path,
          node,
          input: args,
          caller,
          commandKey,
          signal: new AbortController().signal,
          progress: () => {},
        });
        return { path, kind: 'sync', output };
      } catch (e) {
        return { path, kind: 'error', error: asDmError(e, path) };
      }
    }
    const op = this.operations.start(path, commandKey, caller);
    op.requestPath = this.tracker?.(op);
    const done = this.operations.run(op, async () =>
      handler({
        path,
        node,
        input: args,
        caller,
        commandKey,
        signal: op.abort.signal,
        progress: (pct, msg) => this.operations.progress(op, pct, msg),
      }),
    );
    return { path, kind: 'async', operation: op, done };
  }
}
