// CWMP faults: what an RPC handler throws, and the mapping of data model (USP 7xxx) codes and engine
// failure kinds to the 9xxx codes an ACS expects, so both protocols agree on every failure.

import { DmRequestError } from '../dm/datamodel.js';
import { cwmpFaultOf, DmError } from '../dm/errors.js';
import type { EngineFaultKind, TransferFailure } from '../engine/errors.js';
import { BudgetExceeded } from '../util/byte-budget.js';

export interface SetFault {
  readonly name: string;
  readonly code: number;
  readonly message: string;
}

export class CwmpFault extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly setFaults: readonly SetFault[] = [],
  ) {
    super(message);
    this.name = 'CwmpFault';
  }
}

/** SoftwareModules (USP) codes -> ChangeDUState / Download faults (TR-069 Table 61). */
const DU_FAULTS: Record<number, number> = {
  7004: 9003,
  7012: 9003,
  7022: 9002,
  7003: 9002,
  7033: 9015,
  7034: 9012,
  7035: 9018,
  7036: 9018,
  7223: 9023,
  7224: 9024,
  7225: 9025,
  7226: 9026,
  7227: 9027,
  7228: 9028,
  7229: 9029,
  7230: 9029,
};

/** Engine failure kinds -> ChangeDUState / Download faults: the same as their USP codes' in DU_FAULTS. */
export const ENGINE_FAULTS: Readonly<Record<EngineFaultKind, number>> = {
  'invalid-arguments': 9003,
  'invalid-value': 9003,
  'command-failure': 9002,
  canceled: 9002,
  'unknown-exec-env': 9023,
  'exec-env-mismatch': 9025,
  'duplicate-du': 9026,
  'resources-exceeded': 9027,
  'invalid-du-state': 9029,
  'invalid-unit-state': 9029,
  'server-unreachable': 9015,
  'server-insecure': 9012,
  'corrupt-data': 9018,
  internal: 9002,
};

const TRANSFER_FAULTS: Record<TransferFailure, number> = {
  auth: 9012,
  insecure: 9012,
  protocol: 9013,
  unreachable: 9015,
  'not-found': 9016,
  incomplete: 9017,
};

/** An engine failure as the 9xxx code of a DU operation or a Download: the transfer detail first. */
export function duFaultOf(fault: { code: number | EngineFaultKind; transfer?: TransferFailure | undefined }): number {
  if (fault.transfer) return TRANSFER_FAULTS[fault.transfer];
  if (typeof fault.code === 'string') return ENGINE_FAULTS[fault.code] ?? 9002;
  if (fault.code >= 9000 && fault.code < 10000) return fault.code;
  return DU_FAULTS[fault.code] ?? 9002;
}

/** Anything a handler throws, as the fault to answer with. */
export function asCwmpFault(e: unknown): CwmpFault {
  if (e instanceof CwmpFault) return e;
  if (e instanceof BudgetExceeded) return new CwmpFault(9004, `resources exceeded: ${e.message}`);
  if (e instanceof DmError) {
    const failures = e instanceof DmRequestError ? e.failures : [];
    return new CwmpFault(
      e.cwmp,
      e.message,
      failures.map((f) => ({ name: f.path, code: cwmpFaultOf(f.code), message: f.message })),
    );
  }
  return new CwmpFault(9002, (e as Error)?.message ?? String(e));
}
