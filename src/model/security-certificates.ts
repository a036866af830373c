// Device.Security.Certificate.{i}.: the certificates the device trusts for what it installs (signer
// certificates that ExecEnv.Signers names). They come from PEM files in a directory (by default the
// state directory's certs/, which a factory reset keeps, like certificates the firmware ships) and from
// PEM text the defaults file gives; both are vendor parameters of Device.Security. Rows are matched by
// the table's key (SerialNumber, Issuer), so instance numbers stay stable across restarts; a row whose
// certificate is gone is removed. Re-read at every start and when either parameter changes.
import type { X509Certificate } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { agentCaller } from '../dm/caller.js';
import type { DataModel } from '../dm/datamodel.js';
import type { Logger } from '../util/logger.js';
import { dateTime, UNKNOWN_TIME } from '../util/time.js';
import { oneLine, parseCertificate } from './certificates.js';
import { certificateValues } from './x509-facts.js';

export const SECURITY = 'Device.Security.';
export const CERTIFICATE_TABLE = `${SECURITY}Certificate.`;
const DIRECTORY = 'X_CPE-AGENT_CertificateDirectory';
const GIVEN = 'X_CPE-AGENT_Certificates';
/** The component the rows are written as: they copy files, and are written again at every start. */
const ME = 'security';
const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

interface Found {
  readonly cert: X509Certificate;
  readonly lastModif: string;
}

/** The certificates of the Certificate table, by row, for the model's trust decisions. */
export class SecurityCertificates {
  private byRow = new Map<string, X509Certificate>();
  private readonly off: () => void;

  constructor(
    private readonly dm: DataModel,
    private readonly defaultDirectory: string,
    private readonly log: Logger,
  ) {
    dm.mirror(ME);
    this.off = dm.feed.subscribe([`${SECURITY}${DIRECTORY}`, `${SECURITY}${GIVEN}`], () => this.sync(), ['value']);
  }

  close(): void {
    this.off();
  }

  /** The certificate of a row (path with or without its trailing dot) while the row is enabled. */
  certificate(row: string): X509Certificate | undefined {
    const path = row.endsWith('.') ? row : `${row}.`;
    if (this.dm.node(path)?.stored('Enable') === 'false') return undefined;
    return this.byRow.get(path);
  }

  /** Brings the rows in line with the files and the defaults' certificates. */
  sync(): void {
    const found = new Map<string, Found>();
    const key = (c: X509Certificate) => `${c.serialNumber}\n${oneLine(c.issuer)}`;
    for (const f of [...this.fromDirectory(), ...this.fromDefaults()])
      if (!found.has(key(f.cert))) found.set(key(f.cert), f);
    const rows = [...(this.dm.node(SECURITY)?.tables.get('Certificate')?.rows.values() ?? [])];
    const byRow = new Map<string, X509Certificate>();
    for (const row of rows) {
      const f = found.get(`${row.stored('SerialNumber')}\n${row.stored('Issuer')}`);
      if (!f) {
        this.dm.delete([row.path], agentCaller(ME));
        continue;
      }
      found.delete(key(f.cert));
      this.dm.update(row.path, certificateValues(f.cert, f.lastModif), ME);
      byRow.set(row.path, f.cert);
    }
    for (const f of found.values()) {
      const path = this.dm.addInstance(
        CERTIFICATE_TABLE,
        { Enable: 'true', ...certificateValues(f.cert, f.lastModif) },
        ME,
      );
      byRow.set(path, f.cert);
    }
    this.byRow = byRow;
  }

  private fromDirectory(): Found[] {
    const dir = this.dm.value(`${SECURITY}${DIRECTORY}`) || this.defaultDirectory;
    let names: string[];
    try {
      names = readdirSync(dir)
        .filter((n) => /\.(pem|crt|cer)$/i.test(n))
        .sort();
    } catch {
      return []; // no directory: no certificates from it
    }
    const out: Found[] = [];
    for (const name of names) {
      const file = join(dir, name);
      try {
        const lastModif = dateTime(statSync(file).mtimeMs);
        for (const cert of this.parseAll(readFileSync(file, 'utf8'), file)) out.push({ cert, lastModif });
      } catch (e) {
        this.log.warn({ err: e, file }, 'certificate file not readable; skipped');
      }
    }
    return out;
  }

  private fromDefaults(): Found[] {
    return this.parseAll(this.dm.value(`${SECURITY}${GIVEN}`), GIVEN).map((cert) => ({
      cert,
      lastModif: UNKNOWN_TIME,
    }));
  }

  /** Every PEM certificate block of a text; one that does not parse is logged and skipped. */
  private parseAll(text: string, where: string): X509Certificate[] {
    const out: X509Certificate[] = [];
    for (const block of text.match(PEM_BLOCK) ?? []) {
      try {
        out.push(parseCertificate(block));
      } catch (e) {
        this.log.warn({ err: e, where }, 'not a valid X.509 certificate; skipped');
      }
    }
    return out;
  }
}
