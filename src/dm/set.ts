// Set: parameters of the objects a path names, applied whole or not at all per request.
import {
  DmRequestError,
  type ParamFailure,
  type SetOutcome,
  type SetRequest,
  type UpdatedObject,
} from './api-types.js';
import { type Caller, viewOf } from './caller.js';
import { asDmError, DmError, UspError } from './errors.js';
import type { ModelCore } from './model-core.js';
import { writeParams } from './param-writes.js';
import { parsePath } from './path.js';
import { applyEach, type Tx } from './transaction.js';
import type { ObjectNode } from './tree.js';

/**
 * Set over several objects. Without allowPartial the whole request is one transaction: the first
 * failure throws a DmRequestError and nothing is applied. With it, each objPath stands alone.
 */
export function set(
  core: ModelCore,
  requests: readonly SetRequest[],
  caller: Caller,
  allowPartial: boolean,
): SetOutcome[] {
  const tx = core.begin(caller);
  return applyEach<SetRequest, SetOutcome>(
    tx,
    requests,
    allowPartial,
    (req) => req.objPath,
    (req) => ({ objPath: req.objPath, ok: true, objects: setOne(core, req, tx, caller) }),
    (req, error) => ({ objPath: req.objPath, ok: false, error }),
  );
}

/**
 * Every parameter a set would refuse, each with its own code, without applying anything: CWMP's
 * SetParameterValuesFault lists them all, where set() stops at the first.
 */
export function setFailures(core: ModelCore, requests: readonly SetRequest[], caller: Caller): ParamFailure[] {
  const tx = core.begin(caller);
  const failures: ParamFailure[] = [];
  for (const req of requests) {
    try {
      for (const o of setOne(
        core,
        { objPath: req.objPath, params: req.params.map((p) => ({ ...p, required: false })) },
        tx,
        caller,
      ))
        failures.push(...o.failures);
    } catch (e) {
      const err = asDmError(e, req.objPath);
      failures.push(
        ...(err instanceof DmRequestError
          ? err.failures
          : [{ path: err.path ?? req.objPath, code: err.code, message: err.message }]),
      );
    }
  }
  tx.rollback(0);
  return failures;
}

function setOne(core: ModelCore, req: SetRequest, tx: Tx, caller: Caller): UpdatedObject[] {
  const parsed = parsePath(req.objPath);
  if (parsed.leaf.kind !== 'object')
    throw new DmError(UspError.InvalidPath, `'${req.objPath}' is not an object path`, req.objPath);
  const { targets } = core.resolver.resolve(parsed, viewOf(caller));
  if (targets.some((t) => t.kind === 'table'))
    throw new DmError(UspError.ObjectNotUpdated, `'${req.objPath}' names a table, not an object instance`, req.objPath);
  if (!req.params.length)
    throw new DmError(UspError.InvalidArguments, `set of '${req.objPath}' names no parameter`, req.objPath);
  const results: UpdatedObject[] = [];
  for (const t of targets) {
    const node = (t as { node: ObjectNode }).node;
    results.push(writeParams(core.handlers, node, req.params, tx, caller, 'set'));
  }
  return results;
}
