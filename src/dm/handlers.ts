// The registration API through which src/model gives the declarative definitions behaviour, in the
// spirit of obuspa's USP_REGISTER_* calls: live values, validation, commands. Handlers are keyed
// by supported path ("Device.MQTT.Client.{i}.Status", "Device.LocalAgent.Subscription.{i}.",
// "Device.Reboot()"). Side effects of committed changes come from the change feed, not from here.
import type { Caller } from './caller.js';
import type { ObjectNode } from './tree.js';

export interface ParamHandler {
  /** The live value, read at every get; such a parameter is never stored or persisted. */
  get?(node: ObjectNode): string;
  /** Checks a type-checked value before it is committed; throw a DmError to refuse it. */
  validate?(value: string, node: ObjectNode, caller: Caller): void;
  /** Runtime state: kept in memory, not in the state directory. */
  volatile?: boolean;
}

export interface ObjectHandler {
  /** Checks an object's values as a Set or Add would leave them (pending holds the new ones). */
  validate?(node: ObjectNode, pending: ReadonlyMap<string, string>, caller: Caller): void;
  /** Values a new row starts with unless the caller gives them (e.g. a Subscription's Recipient). */
  initial?(caller: Caller): Record<string, string>;
  /** Refuses an Add by a controller or ACS (throw a DmError); the agent's own adds are not asked. */
  canAdd?(table: string, caller: Caller): void;
  /** Refuses a Delete by a controller or ACS; the agent's own deletes are not asked. */
  canDelete?(node: ObjectNode, caller: Caller): void;
  /** Rows of this table are runtime state and are not persisted. */
  volatile?: boolean;
}

export interface CommandRequest {
  /** Instantiated command path: "Device.SoftwareModules.DeploymentUnit.3.Update()". */
  readonly path: string;
  /** The object the command belongs to. */
  readonly node: ObjectNode;
  /** Validated input arguments in canonical form; nested objects as "Obj.{i}.Param" keys. */
  readonly input: Readonly<Record<string, string>>;
  readonly caller: Caller;
  readonly commandKey: string;
  /** Aborted when the operation is cancelled (Request.{i}.Cancel()). */
  readonly signal: AbortSignal;
  /** Reports progress of an async command. */
  progress(percent: number, message?: string): void;
}

/** Returns the output arguments; throws a DmError (7022 and the like) when the command fails. */
export type CommandHandler = (req: CommandRequest) => Promise<Record<string, string>> | Record<string, string>;
