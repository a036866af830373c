// Engine failures carry a kind that says what went wrong in the engine's own terms ('unknown-exec-env',
// 'duplicate-du', 'resources-exceeded' ...), never a protocol's number: each protocol maps the kinds to
// its own codes in one table (src/model/engine-faults.ts for USP and DUStateChange!).
import type { TransferFailure } from '../util/download.js';

export const EngineCode = {
  InvalidArguments: 'invalid-arguments',
  InvalidValue: 'invalid-value',
  CommandFailure: 'command-failure',
  Canceled: 'canceled',
  UnknownExecEnv: 'unknown-exec-env',
  ExecEnvMismatch: 'exec-env-mismatch',
  DuplicateDU: 'duplicate-du',
  ResourcesExceeded: 'resources-exceeded',
  InvalidDUState: 'invalid-du-state',
  /** An Update to the version another DU of the same application has in the EE (TR-069 9032). */
  VersionExists: 'version-exists',
  /** An Update to a lower version where the EE does not permit downgrades (TR-069 9030). */
  DowngradeRefused: 'downgrade-refused',
  /** An execution unit that can't do what is asked now (it is stopping). */
  InvalidUnitState: 'invalid-unit-state',
  ServerUnreachable: 'server-unreachable',
  /** TR-181: the server "fails security checks (e.g. by not presenting a valid certificate)". */
  ServerInsecure: 'server-insecure',
  CorruptData: 'corrupt-data',
  /** TR-181: the package does not match its signature, or a required signature is absent (docs/signatures.md). */
  BadSignature: 'bad-signature',
  InternalError: 'internal',
} as const;

export type EngineFaultKind = (typeof EngineCode)[keyof typeof EngineCode];

export const ENGINE_FAULT_KINDS: readonly EngineFaultKind[] = Object.values(EngineCode);

export function isEngineFaultKind(x: unknown): x is EngineFaultKind {
  return (ENGINE_FAULT_KINDS as readonly unknown[]).includes(x);
}

// Before faults had kinds, the engine used USP numbers: an operation's outcome journalled by an older
// agent (ops/<id>.json) still holds one when a restart reports it.
const KIND_OF = {
  7003: 'internal',
  7004: 'invalid-arguments',
  7012: 'invalid-value',
  7022: 'command-failure',
  7023: 'canceled',
  7033: 'server-unreachable',
  7034: 'server-insecure',
  7035: 'corrupt-data',
  7036: 'bad-signature',
  7223: 'unknown-exec-env',
  7225: 'exec-env-mismatch',
  7226: 'duplicate-du',
  7227: 'resources-exceeded',
  7229: 'invalid-du-state',
  7230: 'invalid-unit-state',
  // Never journalled as numbers, but read back all the same: the table is the USP one turned around.
  7830: 'downgrade-refused',
  7832: 'version-exists',
} as const satisfies Record<number, EngineFaultKind>;

/** A fault code as a kind: a kind stays, an older engine's number is read; anything else is internal. */
export function faultKindOf(code: unknown): EngineFaultKind {
  if (isEngineFaultKind(code)) return code;
  return (KIND_OF as Record<number, EngineFaultKind>)[code as number] ?? 'internal';
}

/** What went wrong in a file transfer beyond the kinds (util/download tells them apart for CWMP). */
export type { TransferFailure };

/**
 * The longest message an engine error carries. Messages become faults that controllers, ACSes and
 * their logs keep (FaultString, DUStateChange! Fault.FaultString, err_msg): short, and in our words.
 */
export const MAX_MESSAGE = 256;

export class EngineError extends Error {
  /**
   * What only the debug log hears: host paths, a tool's command line and output, an entry's name.
   * Not enumerable, so that an error logged whole (pino's `err`) at any other level leaves it out.
   */
  declare readonly detail: string | undefined;

  constructor(
    readonly code: EngineFaultKind,
    message: string,
    readonly transfer?: TransferFailure,
    detail?: string,
  ) {
    super(message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE - 3)}...` : message);
    this.name = 'EngineError';
    Object.defineProperty(this, 'detail', { value: detail, enumerable: false });
  }
}
