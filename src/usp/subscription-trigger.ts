// Subscription.{i}.TriggerAction: a subscription that fires may notify its Recipient (Notify), change
// the device's configuration as its TriggerConfigSettings say (Config), or both (NotifyAndConfig).
// The settings are written with the Recipient's own rights, so a subscription can't do what its
// controller could not (TP-469 1.93, 1.94).
import type { DataModel } from '../dm/datamodel.js';
import { DmError, UspError } from '../dm/errors.js';
import type { ObjectNode } from '../dm/tree.js';
import { listItems } from '../dm/types.js';
import type { Logger } from '../util/logger.js';
import type { AccessCache } from './access.js';

export type TriggerAction = 'Notify' | 'Config' | 'NotifyAndConfig';

interface Setting {
  readonly objPath: string;
  readonly name: string;
  readonly value: string;
}

export function triggerActionOf(row: ObjectNode): TriggerAction {
  const a = row.stored('TriggerAction');
  return a === 'Config' || a === 'NotifyAndConfig' ? a : 'Notify';
}

export const notifies = (row: ObjectNode): boolean => triggerActionOf(row) !== 'Config';
export const configures = (row: ObjectNode): boolean => triggerActionOf(row) !== 'Notify';

/**
 * The "<parameter path>=<value>" items of TriggerConfigSettings; string values may be quoted
 * (TR-181 writes them in the syntax of their type). 7012 for an item of another shape.
 */
export function parseSettings(value: string, path = ''): Setting[] {
  return listItems(value).map((item) => {
    const m = /^(Device\.(?:[^.=\s]+\.)*)([^.=\s]+)=(.*)$/.exec(item);
    if (!m) throw new DmError(UspError.InvalidValue, `'${item}' is not "<parameter path>=<value>"`, path);
    const v = m[3]!;
    return { objPath: m[1]!, name: m[2]!, value: /^".*"$/.test(v) ? v.slice(1, -1) : v };
  });
}

/** Registers the check of TriggerConfigSettings values; before the model is opened. */
export function registerTriggerSettings(dm: DataModel, subscriptionPath: string): void {
  dm.param(`${subscriptionPath}TriggerConfigSettings`, {
    validate: (v, node) => void parseSettings(v, `${node.path}TriggerConfigSettings`),
  });
}

/**
 * Applies the subscription's settings as its Recipient would with a Set; what its role may not
 * write, or the model refuses, is logged and left as it was. Runs after the change that fired it
 * has been delivered, never inside that delivery.
 */
export function applyTriggerConfig(dm: DataModel, access: AccessCache, row: ObjectNode, log: Logger): void {
  const recipient = row.stored('Recipient') ?? '';
  const endpointId = recipient ? dm.node(`${recipient}.`)?.stored('EndpointID') : undefined;
  if (!endpointId) return;
  const rights = access.of(endpointId);
  const settings = parseSettings(row.stored('TriggerConfigSettings') ?? '');
  const allowed = settings.filter((s) => rights.allows('Param', 'w', `${s.objPath}${s.name}`));
  if (allowed.length < settings.length)
    log.warn({ subscription: row.path }, 'trigger settings the recipient may not write were left out');
  if (!allowed.length) return;
  queueMicrotask(() => {
    try {
      const out = dm.set(
        allowed.map((s) => ({ objPath: s.objPath, params: [{ name: s.name, value: s.value, required: true }] })),
        { kind: 'usp', endpointId },
        true,
      );
      for (const o of out)
        if (!o.ok) log.warn({ subscription: row.path, error: o.error.message }, 'trigger setting refused');
    } catch (e) {
      log.warn({ subscription: row.path, error: (e as Error).message }, 'trigger settings not applied');
    }
  });
}
