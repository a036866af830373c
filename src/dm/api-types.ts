// The shapes the data model's calls take and answer. Failures are DmErrors naming the offending part;
// a Set or Add that refuses some parameters but goes ahead lists them, each with its own code.
import { DmError } from './errors.js';
import type { Operation, OperationOutcome } from './operations.js';

export interface ResolvedObject {
  readonly path: string;
  readonly params: Record<string, string>;
}
export interface ParamSetting {
  readonly name: string;
  readonly value: string;
  readonly required?: boolean;
}
export interface SetRequest {
  readonly objPath: string;
  readonly params: readonly ParamSetting[];
}
export interface ParamFailure {
  readonly path: string;
  readonly code: number;
  readonly message: string;
}
export interface UpdatedObject {
  readonly path: string;
  readonly updated: Record<string, string>;
  readonly failures: ParamFailure[];
}
export type SetOutcome =
  | { readonly objPath: string; readonly ok: true; readonly objects: UpdatedObject[] }
  | { readonly objPath: string; readonly ok: false; readonly error: DmError };
export interface AddResult {
  readonly path: string;
  readonly keys: Record<string, string>;
  readonly failures: ParamFailure[];
}
export type AddOutcome =
  | { objPath: string; ok: true; results: AddResult[] }
  | { objPath: string; ok: false; error: DmError };
export interface DeleteOutcome {
  requested: string;
  deleted: string[];
  error?: DmError;
}
export interface InstanceInfo {
  readonly path: string;
  readonly keys: Record<string, string>;
}
export type OperateOutcome =
  | { readonly path: string; readonly kind: 'sync'; readonly output: Record<string, string> }
  | {
      readonly path: string;
      readonly kind: 'async';
      readonly operation: Operation;
      readonly done: Promise<OperationOutcome>;
    }
  | { readonly path: string; readonly kind: 'error'; readonly error: DmError };

/** A DmError for a whole request, with the per-parameter failures that caused it. */
export class DmRequestError extends DmError {
  constructor(
    code: number,
    message: string,
    readonly failures: ParamFailure[],
    path?: string,
  ) {
    super(code, message, path);
  }
}
