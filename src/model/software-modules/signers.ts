// ExecEnv.{i}.Signers and X_CPE-AGENT_SignaturePolicy: which Device.Security.Certificate rows may sign
// what is installed into an EE, and whether it must be signed. The engine never sees TR-181 paths: the
// model hands it the trust these resolve to (SignatureTrust) with each install and update.
import type { DataModel } from '../../dm/datamodel.js';
import { DmError, UspError } from '../../dm/errors.js';
import type { SignatureTrust } from '../../engine/package/signature.js';
import { CERTIFICATE_TABLE, type SecurityCertificates } from '../security-certificates.js';
import { ME, SM } from './rows.js';

export const SIGNATURE_POLICY = 'X_CPE-AGENT_SignaturePolicy';

const items = (list: string | undefined) =>
  (list ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** A reference names a Certificate row ("Device.Security.Certificate.2", with or without the dot). */
const rowOf = (ref: string) => (ref.endsWith('.') ? ref : `${ref}.`);

export function registerSigners(dm: DataModel): void {
  dm.param(`${SM}ExecEnv.{i}.Signers`, {
    validate(value, _node, caller) {
      // The defaults file names rows the certificate files make only after it is applied; a reference
      // that stays dangling is dropped at the engine's start (pruneSigners).
      if (caller.kind === 'agent') return;
      for (const ref of items(value)) {
        const row = rowOf(ref);
        if (!row.startsWith(CERTIFICATE_TABLE) || !/^\d+\.$/.test(row.slice(CERTIFICATE_TABLE.length)) || !dm.node(row))
          throw new DmError(UspError.InvalidValue, `Signers: ${ref} is not a row of ${CERTIFICATE_TABLE}`);
      }
    },
  });
}

/** What the EE of that row trusts: its policy, and the certificates of its enabled Signers. */
export function trustOf(dm: DataModel, eeRow: string, certificates: SecurityCertificates | undefined): SignatureTrust {
  const node = dm.node(eeRow);
  const signers = items(node?.stored('Signers'))
    .map((ref) => certificates?.certificate(ref)?.toString())
    .filter((pem): pem is string => pem !== undefined);
  return { required: node?.stored(SIGNATURE_POLICY) === 'Required', signers };
}

/** TR-181 strong references: a Certificate row that is gone leaves every EE's Signers. */
export function pruneSigners(dm: DataModel): void {
  const ees = [...(dm.node(SM)?.tables.get('ExecEnv')?.rows.values() ?? [])];
  for (const ee of ees) {
    const now = items(ee.stored('Signers'));
    const kept = now.filter((ref) => dm.node(rowOf(ref)));
    if (kept.length !== now.length) dm.update(ee.path, { Signers: kept.join(',') }, ME);
  }
}

/** Prunes Signers whenever a Certificate row is deleted; returns the unsubscribe. */
export function followCertificates(dm: DataModel): () => void {
  return dm.feed.subscribe(CERTIFICATE_TABLE, () => pruneSigners(dm), ['delete']);
}
