// CWMP envelopes checked against the official schemas in ../shared (spec/cwmp/xsd) with libxml2
// compiled to WebAssembly (xmllint-wasm), so that no system tool is needed. The schemas import each
// other by URL; the standards' catalog.xml says which local file each URL is, and the imports are
// pointed at those files in memory (no network). The schema is picked from the envelope's cwmp
// namespace, as spec/cwmp/xsd/validate.sh does: SOAP Body is xs:any lax, so an envelope whose
// namespace has no loaded schema would pass unchecked.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateXML, type XMLFileInfo } from 'xmllint-wasm';
import { sharedPath } from '../helpers.js';

const SCHEMA_OF: Record<string, string> = {
  'urn:dslforum-org:cwmp-1-0': 'cwmp-1-0.xsd',
  'urn:dslforum-org:cwmp-1-1': 'cwmp-1-1.xsd',
  'urn:dslforum-org:cwmp-1-2': 'cwmp-1-4.xsd', // 1-3 and 1-4 extend the cwmp-1-2 namespace
};

/** The XSDs of dir with every schemaLocation the catalog maps turned into its local file name. */
function loadSchemas(dir: string): XMLFileInfo[] {
  const catalog = readFileSync(join(dir, 'catalog.xml'), 'utf8');
  const local = new Map<string, string>();
  for (const m of catalog.matchAll(/<(?:uri name|system systemId)="([^"]+)"\s+uri="([^"]+)"/g)) local.set(m[1]!, m[2]!);
  return readdirSync(dir)
    .filter((f) => f.endsWith('.xsd'))
    .map((f) => ({
      fileName: f,
      contents: readFileSync(join(dir, f), 'utf8').replace(/schemaLocation="([^"]+)"/g, (all, url: string) =>
        local.has(url) ? `schemaLocation="${local.get(url)}"` : all,
      ),
    }));
}

/** Validates each envelope; ok with no output when all do, else what xmllint said about each failure. */
export async function validateEnvelopes(dir: string, envelopes: string[]): Promise<{ ok: boolean; output: string }> {
  const schemas = loadSchemas(dir);
  const out: string[] = [];
  const bySchema = new Map<string, XMLFileInfo[]>();
  for (const [i, xml] of envelopes.entries()) {
    const ns = /urn:dslforum-org:cwmp-1-[0-9]/.exec(xml)?.[0] ?? '';
    const file = SCHEMA_OF[ns];
    if (file) bySchema.set(file, [...(bySchema.get(file) ?? []), { fileName: `m${i}.xml`, contents: xml }]);
    else out.push(`m${i}.xml: no or unknown cwmp namespace '${ns}'`);
  }
  for (const [file, xml] of bySchema) {
    const r = await validateXML({
      xml,
      schema: schemas.find((s) => s.fileName === file)!,
      preload: schemas.filter((s) => s.fileName !== file),
      modifyArguments: (args) => ['--nonet', ...args],
    });
    if (!r.valid) out.push(r.errors.map((e) => e.rawMessage).join('\n') || r.rawOutput.trim());
  }
  return { ok: out.length === 0, output: out.join('\n') };
}

/**
 * Envelopes a test captured, checked against the schemas of the standards folder (../shared). Without it
 * the check is skipped loudly (skipped says so), except under CI, where an unchecked envelope fails.
 */
export async function validateCaptured(
  envelopes: string[],
): Promise<{ ok: boolean; output: string; skipped?: string }> {
  const dir = sharedPath('spec', 'cwmp', 'xsd');
  if (existsSync(join(dir, 'catalog.xml'))) return validateEnvelopes(dir, envelopes);
  const what = `${dir} is absent (../shared beside the clone, or set CPE_SHARED_DIR)`;
  if (process.env.CI) return { ok: false, output: `${what}, and CI must validate the envelopes` };
  return { ok: true, output: '', skipped: `SKIPPED LOUDLY: envelopes not validated against the CWMP schema: ${what}` };
}
