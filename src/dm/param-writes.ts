// Writing parameters of one object, for Set and Add alike: each value checked (supported, visible,
// writable by this caller, of its type, accepted by its handler), then the object as a whole
// (its handler, its unique keys), then staged in the transaction.
import { aliasWriteOnce, checkAlias, isAliasKey } from './alias.js';
import type { ParamFailure, ParamSetting, UpdatedObject } from './api-types.js';
import { DmRequestError } from './api-types.js';
import { type Caller, viewOf } from './caller.js';
import { asDmError, DmError, UspError } from './errors.js';
import type { HandlerRegistry } from './handler-registry.js';
import { visibleIn } from './schema.js';
import type { Tx } from './transaction.js';
import type { ObjectNode } from './tree.js';
import { canonicalAt } from './types.js';
import { checkKeys } from './unique-keys.js';

/** Validates and stages params on one node; a required failure throws, others are reported. */
export function writeParams(
  handlers: HandlerRegistry,
  node: ObjectNode,
  params: readonly ParamSetting[],
  tx: Tx,
  caller: Caller,
  verb: 'set' | 'add',
): UpdatedObject {
  const view = viewOf(caller);
  const privileged = caller.kind === 'agent';
  const failures: ParamFailure[] = [];
  const pending = new Map<string, string>();
  for (const s of params) {
    const path = `${node.path}${s.name}`;
    try {
      const p = node.def.params.get(s.name);
      if (!p || !visibleIn(p.only, view))
        throw new DmError(UspError.UnsupportedParameter, `${path} is not a parameter of ${node.def.path}`, path);
      const h = handlers.params.get(`${node.def.path}${s.name}`);
      const alias = isAliasKey(node, p.name);
      const writeOnce = p.access === 'writeOnceReadOnly' || (alias && aliasWriteOnce(view));
      const writeOnceDone = writeOnce && verb === 'set' && node.values.has(p.name);
      if (!privileged && !p.writable) throw new DmError(UspError.NotWritable, `${path} is not writable`, path);
      if (!privileged && writeOnceDone)
        throw new DmError(UspError.NotWritable, `${path} is write-once and was set when the object was created`, path);
      if (h?.get || node.def.counters.has(p.name))
        throw new DmError(UspError.NotWritable, `${path} is computed by the agent and can't be written`, path);
      if (!privileged && verb === 'set' && node.def.spec.table?.fixedKeys?.includes(p.name)) {
        throw new DmError(
          UspError.NotWritable,
          `${path} is a unique key and can't change after the object is created`,
          path,
        );
      }
      if (typeof s.value !== 'string') throw new DmError(UspError.InvalidType, `${path}: value must be a string`, path);
      const v = canonicalAt(p, s.value, path);
      if (alias && !privileged) checkAlias(v, path);
      h?.validate?.(v, node, caller);
      pending.set(p.name, v);
    } catch (e) {
      const err = asDmError(e, path);
      const failure = { path: err.path ?? path, code: err.code, message: err.message };
      // A unique key given to an Add counts as required whatever the caller said (USP 1.4 Add), so
      // that no row is created without the key the controller meant to address it by.
      const isKey = verb === 'add' && node.def.keys.some((k) => k.includes(s.name));
      if ((s.required ?? true) || isKey) {
        throw new DmRequestError(
          verb === 'set' ? UspError.ObjectNotUpdated : UspError.ObjectNotCreated,
          `${verb} of ${node.path} failed: ${err.message}`,
          [failure],
          node.path,
        );
      }
      failures.push(failure);
    }
  }
  try {
    handlers.objects.get(node.def.path)?.validate?.(node, pending, caller);
    checkKeys(node, pending);
  } catch (e) {
    const err = asDmError(e, node.path);
    throw new DmRequestError(
      err.code,
      err.message,
      [{ path: err.path ?? node.path, code: err.code, message: err.message }],
      node.path,
    );
  }
  const updated: Record<string, string> = {};
  for (const [name, v] of pending) {
    tx.setValue(node, node.def.params.get(name)!, v);
    updated[name] = node.def.params.get(name)!.secured ? '' : v;
  }
  return { path: node.path, updated, failures };
}
