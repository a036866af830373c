// Add: a new row in each table a path names, with the caller's values, the handler's initial
// values and generated unique keys; and the agent's own adds, with a chosen instance number.
import type { AddOutcome, AddResult, ParamSetting } from './api-types.js';
import { agentCaller, type Caller, viewOf } from './caller.js';
import { DmError, UspError } from './errors.js';
import type { ModelCore } from './model-core.js';
import { writeParams } from './param-writes.js';
import { parsePath } from './path.js';
import { applyEach, type Tx } from './transaction.js';
import { type ObjectNode, type Table, tableAt } from './tree.js';
import { generateKeys } from './unique-keys.js';

export interface AddRequest {
  readonly objPath: string;
  readonly params: readonly ParamSetting[];
}

/**
 * Several adds in one transaction (USP Add with several create_objs): without allowPartial the
 * first failure throws and nothing is created; with it, each request stands alone.
 */
export function addAll(
  core: ModelCore,
  requests: readonly AddRequest[],
  caller: Caller,
  allowPartial: boolean,
): AddOutcome[] {
  const tx = core.begin(caller);
  return applyEach<AddRequest, AddOutcome>(
    tx,
    requests,
    allowPartial,
    (req) => req.objPath,
    ({ objPath, params }) => {
      const parsed = parsePath(objPath);
      if (parsed.leaf.kind !== 'object')
        throw new DmError(UspError.InvalidPath, `'${objPath}' is not an object path`, objPath);
      const { targets } = core.resolver.resolve(parsed, viewOf(caller));
      if (!targets.length && !parsed.isSearch)
        throw new DmError(UspError.ObjectDoesNotExist, `${objPath} does not exist`, objPath);
      const results: AddResult[] = [];
      for (const t of targets) {
        if (t.kind !== 'table')
          throw new DmError(
            UspError.NotATable,
            `${objPath} is not a multi-instance object (ends with the table name and '.')`,
            objPath,
          );
        results.push(addRow(core, t.table, params, tx, caller));
      }
      return { objPath, ok: true, results };
    },
    (req, error) => ({ objPath: req.objPath, ok: false, error }),
  );
}

/** Adds a row as the agent, optionally with a chosen instance number; returns its path. */
export function addInstance(
  core: ModelCore,
  tablePath: string,
  values: Readonly<Record<string, string>>,
  component: string,
  instance?: number,
): string {
  const caller = agentCaller(component);
  const table = tableAt(core.root, tablePath);
  if (!table) throw new DmError(UspError.ObjectDoesNotExist, `${tablePath} is not a table`, tablePath);
  if (instance !== undefined && table.rows.has(instance))
    throw new DmError(UspError.DuplicateKey, `${tablePath}${instance}. exists`, tablePath);
  const tx = core.begin(caller);
  const res = addRow(
    core,
    table,
    Object.entries(values).map(([name, value]) => ({ name, value, required: true })),
    tx,
    caller,
    instance,
  );
  tx.commit();
  return res.path;
}

function addRow(
  core: ModelCore,
  table: Table,
  params: readonly ParamSetting[],
  tx: Tx,
  caller: Caller,
  instance?: number,
): AddResult {
  const def = table.def;
  const handler = core.handlers.objects.get(def.path);
  if (caller.kind !== 'agent') {
    if (!def.creatable)
      throw new DmError(UspError.NotCreatable, `${table.path} can't be added to by a controller`, table.path);
    handler?.canAdd?.(table.path, caller);
  }
  const max = def.spec.table?.max;
  if (max !== null && max !== undefined && table.rows.size >= max) {
    throw new DmError(UspError.ResourcesExceeded, `${table.path} holds at most ${max} instances`, table.path);
  }
  const node = tx.addRow(table, instance);
  const given = new Set(params.map((p) => p.name));
  const initial = Object.entries(handler?.initial?.(caller) ?? {})
    .filter(([name]) => !given.has(name))
    .map(([name, value]) => ({ name, value }));
  // Initial values are the agent's (a Recipient is read-only to the controller that gets it).
  if (initial.length) writeParams(core.handlers, node, initial, tx, agentCaller('initial'), 'add');
  const { own, nested } = bySubObject(node, params);
  const generated = generateKeys(node, [...initial, ...own]);
  const res = writeParams(core.handlers, node, [...generated, ...own], tx, caller, 'add');
  const failures = [...res.failures];
  for (const [sub, settings] of nested)
    failures.push(...writeParams(core.handlers, sub, settings, tx, caller, 'add').failures);
  const keys: Record<string, string> = {};
  for (const k of def.keys.flat()) keys[k] = res.updated[k] ?? core.read(node, def.params.get(k)!);
  return { path: node.path, keys, failures };
}

/**
 * USP Add's param_settings may name a parameter of a nested single-instance sub-object by its
 * relative path ("MQTT.Topic" for a Controller's MTP row): those go to the sub-object they name. A
 * name whose sub-object does not exist stays with the row, which reports it as unsupported.
 */
function bySubObject(node: ObjectNode, params: readonly ParamSetting[]) {
  const own: ParamSetting[] = [];
  const nested = new Map<ObjectNode, ParamSetting[]>();
  for (const p of params) {
    const parts = p.name.split('.');
    let sub: ObjectNode | undefined = node;
    for (const name of parts.slice(0, -1)) sub = sub?.singles.get(name);
    if (parts.length === 1 || !sub) own.push(p);
    else nested.set(sub, [...(nested.get(sub) ?? []), { ...p, name: parts.at(-1)! }]);
  }
  return { own, nested };
}
