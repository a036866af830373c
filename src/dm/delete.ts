// Delete: the rows the paths name, with everything below them.
import type { DeleteOutcome } from './api-types.js';
import { type Caller, viewOf } from './caller.js';
import { DmError, UspError } from './errors.js';
import type { ModelCore } from './model-core.js';
import { parsePath } from './path.js';
import { applyEach } from './transaction.js';

/** Deletes the rows the paths name. Without allowPartial one failure undoes all. */
export function deleteAll(
  core: ModelCore,
  paths: readonly string[],
  caller: Caller,
  allowPartial: boolean,
): DeleteOutcome[] {
  const tx = core.begin(caller);
  return applyEach<string, DeleteOutcome>(
    tx,
    paths,
    allowPartial,
    (path) => path,
    (path) => {
      const parsed = parsePath(path);
      if (parsed.leaf.kind !== 'object')
        throw new DmError(UspError.InvalidPath, `'${path}' is not an object instance path`, path);
      // An instance that is already gone is a success with nothing deleted (USP R-DEL.2a).
      const { targets } = core.resolver.resolve(parsed, viewOf(caller), true);
      const deleted: string[] = [];
      for (const t of targets) {
        if (t.kind !== 'node' || t.node.instance === undefined)
          throw new DmError(UspError.InvalidPath, `'${path}' is not an object instance`, path);
        const node = t.node;
        if (caller.kind !== 'agent') {
          if (!node.def.creatable)
            throw new DmError(UspError.DeleteFailure, `${node.path} can't be deleted by a controller`, node.path);
          core.handlers.objects.get(node.def.path)?.canDelete?.(node, caller);
        }
        const min = node.def.spec.table?.min ?? 0;
        if (caller.kind !== 'agent' && node.table!.rows.size <= min)
          throw new DmError(
            UspError.DeleteFailure,
            `${node.table!.path} must keep at least ${min} instances`,
            node.path,
          );
        deleted.push(node.path);
        tx.deleteRow(node);
      }
      return { requested: path, deleted };
    },
    (path, error) => ({ requested: path, deleted: [], error }),
  );
}
