// SOAP envelopes of CWMP: built as strings (a GetParameterValues of 10,000 parameters must serialize
// in a few milliseconds), parsed with xml2js with namespace prefixes stripped, so that an ACS's
// choice of prefixes never matters. The namespace decides the protocol version: we advertise the
// highest and follow the ACS from its InformResponse on.
import { Parser, processors } from 'xml2js';
import { CwmpFault } from './faults.js';

export const CWMP_NAMESPACES = [
  'urn:dslforum-org:cwmp-1-0',
  'urn:dslforum-org:cwmp-1-1',
  'urn:dslforum-org:cwmp-1-2',
] as const;
export type CwmpNamespace = (typeof CWMP_NAMESPACES)[number];
/** cwmp-1-3 and 1-4 reuse the 1-2 namespace; 1-2 is where ChangeDUState lives. */
export const HIGHEST_NS: CwmpNamespace = 'urn:dslforum-org:cwmp-1-2';
/** ACS envelopes are refused above this size (the protocol asks for at least 32 KiB). */
export const MAX_ENVELOPE_BYTES = 4 * 1024 * 1024;

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };
/** XML text and attribute escaping; characters XML 1.0 can't carry are dropped. */
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESC[c]!).replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '');
}

/** <Name>text</Name> with the text escaped. */
export const el = (name: string, text: string | number | boolean) => `<${name}>${esc(String(text))}</${name}>`;

/** A SOAP-encoded array: <Name soap-enc:arrayType="type[n]">items</Name>. */
export const soapArray = (name: string, type: string, items: readonly string[]) =>
  `<${name} soap-enc:arrayType="${type}[${items.length}]">${items.join('')}</${name}>`;

export function envelope(ns: CwmpNamespace, id: string, body: string, opts: { holdRequests?: boolean } = {}): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<soap-env:Envelope ` +
    `xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/" ` +
    `xmlns:soap-enc="http://schemas.xmlsoap.org/soap/encoding/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" ` +
    `xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:cwmp="${ns}">` +
    `<soap-env:Header><cwmp:ID ` +
    `soap-env:mustUnderstand="1">${esc(id)}</cwmp:ID>` +
    (opts.holdRequests ? '<cwmp:HoldRequests soap-env:mustUnderstand="1">1</cwmp:HoldRequests>' : '') +
    `</soap-env:Header>` +
    `<soap-env:Body>${body}</soap-env:Body></soap-env:Envelope>`
  );
}

/** The SOAP Fault a CPE answers a failed ACS request with (TR-069 A.3.2.1 shape). */
export function faultBody(f: CwmpFault): string {
  const client = f.code === 9003 || (f.code >= 9005 && f.code <= 9009);
  const spv = f.setFaults
    .map(
      (s) =>
        `<SetParameterValuesFault>${el('ParameterName', s.name)}${el('FaultCode', s.code)}` +
        `${el('FaultString', s.message)}</SetParameterValuesFault>`,
    )
    .join('');
  return (
    `<soap-env:Fault><faultcode>${client ? 'Client' : 'Server'}</faultcode><faultstring>CWMP ` +
    `fault</faultstring><detail><cwmp:Fault>${el('FaultCode', f.code)}${el('FaultString', f.message)}` +
    `${spv}</cwmp:Fault></detail></soap-env:Fault>`
  );
}

/** A parsed element: text, attributes ($) and children by local name (repeated ones as arrays). */
export type Xml = { readonly [name: string]: Xml | Xml[] | string | undefined } & {
  readonly _?: string;
  readonly $?: Readonly<Record<string, string>>;
};

export interface ParsedEnvelope {
  readonly ns: CwmpNamespace;
  readonly id: string;
  readonly holdRequests: boolean;
  /** The method element's local name ("GetParameterValues", "InformResponse", "Fault"). */
  readonly method: string;
  readonly body: Xml;
}

const parser = () =>
  new Parser({
    explicitArray: false,
    tagNameProcessors: [processors.stripPrefix],
    attrNameProcessors: [processors.stripPrefix],
    xmlns: false,
    explicitRoot: true,
    strict: true,
  });

/** Parses an ACS envelope; anything malformed is a 9003 fault naming the problem. */
export async function parseEnvelope(text: string): Promise<ParsedEnvelope> {
  if (Buffer.byteLength(text) > MAX_ENVELOPE_BYTES)
    throw new CwmpFault(9004, `envelope larger than ${MAX_ENVELOPE_BYTES} bytes`);
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) throw new CwmpFault(9003, 'document type declarations are not accepted');
  let doc: Record<string, unknown> | null;
  try {
    doc = (await parser().parseStringPromise(text)) as Record<string, unknown> | null;
  } catch (e) {
    throw new CwmpFault(9003, `not well-formed XML: ${(e as Error).message.split('\n')[0]}`);
  }
  const env = doc?.Envelope as Xml | undefined; // an empty document parses to null
  if (!env || typeof env !== 'object') throw new CwmpFault(9003, 'not a SOAP envelope');
  const attrs = env.$ ?? {};
  const ns = (Object.values(attrs).find((v) => (CWMP_NAMESPACES as readonly string[]).includes(v)) ??
    nsOfChildren(env)) as CwmpNamespace | undefined;
  if (!ns) throw new CwmpFault(9003, 'the envelope names no CWMP namespace this agent speaks (cwmp-1-0 to cwmp-1-2)');
  const header = one(env.Header);
  const body = one(env.Body);
  if (!body || typeof body !== 'object') throw new CwmpFault(9003, 'the envelope has no Body');
  const methods = Object.keys(body).filter((k) => k !== '$' && k !== '_');
  if (methods.length !== 1) throw new CwmpFault(9003, `the Body holds ${methods.length} elements; one is expected`);
  const method = methods[0]!;
  const hold = header ? text$(one(header.HoldRequests)) : '';
  return {
    ns,
    id: header ? text$(one(header.ID)) : '',
    holdRequests: hold === '1' || hold === 'true',
    method,
    body: (one(body[method]) ?? {}) as Xml,
  };
}

/** Namespaces may also be declared on inner elements. */
function nsOfChildren(x: Xml): string | undefined {
  for (const [k, v] of Object.entries(x)) {
    if (k === '$' || k === '_' || v === undefined || typeof v === 'string') continue;
    for (const item of Array.isArray(v) ? v : [v]) {
      const found =
        Object.values(item.$ ?? {}).find((a) => (CWMP_NAMESPACES as readonly string[]).includes(a)) ??
        nsOfChildren(item);
      if (found) return found;
    }
  }
  return undefined;
}

export function one(x: Xml | Xml[] | string | undefined): Xml | undefined {
  if (x === undefined) return undefined;
  if (Array.isArray(x)) return x[0];
  return typeof x === 'string' ? ({ _: x } as Xml) : x;
}

/** The items of an element that may occur once or many times (or not at all). */
export function all(x: Xml | Xml[] | string | undefined): Xml[] {
  if (x === undefined) return [];
  return (Array.isArray(x) ? x : [x]).map((i) => (typeof i === 'string' ? ({ _: i } as Xml) : i));
}

export function text$(x: Xml | Xml[] | string | undefined): string {
  if (x === undefined) return '';
  if (typeof x === 'string') return x;
  const o = Array.isArray(x) ? x[0] : x;
  return typeof o === 'string' ? o : (o?._ ?? '');
}

/** A child's text, or a 9003 fault naming it when it is missing and required. */
export function arg(x: Xml, name: string, required = true): string {
  const v = x[name];
  if (v === undefined) {
    if (required) throw new CwmpFault(9003, `argument ${name} is missing`);
    return '';
  }
  return text$(v as Xml);
}

/** The entries of a SOAP array argument (<ParameterNames><string>..</string></ParameterNames>). */
export function arrayItems(x: Xml, name: string, item: string): Xml[] {
  const a = one(x[name] as Xml | undefined);
  return a ? all(a[item] as Xml | Xml[] | undefined) : [];
}
