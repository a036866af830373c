// CWMP faults: what an RPC handler throws, and CWMP's own tables from the codes the data model speaks
// (USP 7xxx, TR-181's 72xx for software modules) and the kinds of a failed transfer to the 9xxx codes
// an ACS expects: the one place where the codes of the layers below become CWMP's.

import { DmRequestError } from '../dm/datamodel.js';
import { DmError } from '../dm/errors.js';
import { BudgetExceeded } from '../util/byte-budget.js';
import type { DownloadError, DownloadFailure, TransferFailure } from '../util/download.js';

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

/** USP code -> CWMP fault code (TR-069 Table 61), for the faults the CWMP client answers RPCs with. */
const CWMP_OF: Record<number, number> = {
  7000: 9002,
  7001: 9000,
  7002: 9001,
  7003: 9002,
  7004: 9003,
  7005: 9004,
  7006: 9001,
  7007: 9003,
  7008: 9005,
  7009: 9002,
  7010: 9005,
  7011: 9006,
  7012: 9007,
  7013: 9008,
  7014: 9007,
  7015: 9002,
  7016: 9005,
  7017: 9004,
  7018: 9005,
  7019: 9005,
  7020: 9002,
  7021: 9003,
  7022: 9002,
  7023: 9002,
  7024: 9001,
  7025: 9007,
  7026: 9005,
  7027: 9003,
};

/** A data model failure as the fault of an RPC. */
export function cwmpFaultOf(usp: number): number {
  if (usp >= 9000 && usp < 10000) return usp; // already a CWMP fault
  return CWMP_OF[usp] ?? 9002;
}

/** SoftwareModules codes (DUStateChange!, InstallDU() and the like) -> ChangeDUState faults (TR-069 Table 61). */
const DU_FAULTS: Record<number, number> = {
  7004: 9003,
  7012: 9003,
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
  7830: 9030,
  7832: 9032,
};

const TRANSFER_FAULTS: Record<TransferFailure, number> = {
  auth: 9012,
  insecure: 9012,
  protocol: 9013,
  unreachable: 9015,
  'not-found': 9016,
  incomplete: 9017,
};

/** A Download failure's class, where no transfer kind says more (bad arguments, too large, short, canceled). */
const DOWNLOAD_FAULTS: Record<DownloadFailure, number> = {
  'bad-request': 9003,
  unreachable: 9015,
  insecure: 9012,
  'too-large': 9027,
  truncated: 9018,
  canceled: 9002,
};

/** The codes a TransferComplete may carry (the schema's TransferCompleteCPEFaultCodeType; 9800 up vendor's). */
const TRANSFER_RESULT_CODES = new Set([9001, 9002, 9010, 9011, 9012, 9014, 9015, 9016, 9017, 9018, 9019, 9020]);

/** A failed Download's fetch as its TransferComplete fault: the transfer detail first; else 9010 download failure. */
export function downloadFaultOf(e: DownloadError): number {
  const code = e.transfer ? TRANSFER_FAULTS[e.transfer] : DOWNLOAD_FAULTS[e.failure];
  return TRANSFER_RESULT_CODES.has(code) ? code : 9010;
}

/**
 * The codes a DU operation's result may carry (the schema's DeploymentUnitCPEFaultCodeType; 9033 and up
 * are extension and vendor codes). There is no internal error (9002) among them: a failure that is no
 * one of these is "9001 Request denied (no reason specified)", its FaultString saying what happened.
 */
const DU_RESULT_CODES = new Set([
  9001, 9003, 9012, 9013, 9015, 9016, 9017, 9018, 9022, 9023, 9024, 9025, 9026, 9027, 9028, 9029, 9030, 9031, 9032,
]);
export const DU_FAILED = 9001;

/** A DU operation's failure as the 9xxx code of its result: the transfer detail first. */
export function duFaultOf(fault: { code: number; transfer?: TransferFailure | undefined }): number {
  const code = fault.transfer ? TRANSFER_FAULTS[fault.transfer] : (DU_FAULTS[fault.code] ?? fault.code);
  return DU_RESULT_CODES.has(code) || (code >= 9033 && code < 9900) ? code : DU_FAILED;
}

/** Anything a handler throws, as the fault to answer with. */
export function asCwmpFault(e: unknown): CwmpFault {
  if (e instanceof CwmpFault) return e;
  if (e instanceof BudgetExceeded) return new CwmpFault(9004, `resources exceeded: ${e.message}`);
  if (e instanceof DmError) {
    const failures = e instanceof DmRequestError ? e.failures : [];
    return new CwmpFault(
      cwmpFaultOf(e.code),
      e.message,
      failures.map((f) => ({ name: f.path, code: cwmpFaultOf(f.code), message: f.message })),
    );
  }
  return new CwmpFault(9002, (e as Error)?.message ?? String(e));
}
