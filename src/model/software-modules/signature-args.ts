// The InstallDU / Update Signature argument and the trust it is checked against (docs/signatures.md).
// TR-181: the Signature URL "MUST NOT include the userinfo component"; a data: URL carries the
// signature itself (RFC 2397).
import { DmError, UspError } from '../../dm/errors.js';
import type { InstallRequest } from '../../engine/types.js';
import type { SmRows } from './rows.js';
import { trustOf } from './signers.js';

/** The request's signature and the trust of the EE at eeRow; 7027 for a Signature that is no usable URL. */
export function signatureArgs(
  input: Readonly<Record<string, string>>,
  rows: SmRows,
  eeRow: string,
): Pick<InstallRequest, 'signature' | 'trust'> {
  const trust = trustOf(rows.dm, eeRow, rows.certificates);
  const signature = input.Signature ?? '';
  if (!signature) return { trust };
  if (!signature.startsWith('data:')) {
    const u = URL.canParse(signature) ? new URL(signature) : undefined;
    if (!u || !['http:', 'https:'].includes(u.protocol))
      throw new DmError(UspError.InvalidCommandArguments, "argument 'Signature': not an http, https or data: URL");
    if (u.username || u.password)
      throw new DmError(
        UspError.InvalidCommandArguments,
        "argument 'Signature': the URL must not include userinfo (credentials)",
      );
  } else if (!signature.includes(','))
    throw new DmError(UspError.InvalidCommandArguments, "argument 'Signature': the data: URL has no data");
  return { signature, trust };
}
