// TR-106 value types: parsing a wire string into canonical form, with size, range, enum and
// pattern checks. Values live in the tree as canonical strings, which both protocols send as is.

import { UNKNOWN_TIME } from '../util/time.js';
import type { BaseType, ParamSpec } from './definition-format.js';
import { DmError, UspError } from './errors.js';

const INT_BOUNDS: Partial<Record<BaseType, [bigint, bigint]>> = {
  int: [-(2n ** 31n), 2n ** 31n - 1n],
  unsignedInt: [0n, 2n ** 32n - 1n],
  long: [-(2n ** 63n), 2n ** 63n - 1n],
  unsignedLong: [0n, 2n ** 64n - 1n],
};

/** The value a parameter has before anybody wrote it. */
export function zeroValue(p: ParamSpec): string {
  if (p.default !== undefined) return p.default;
  if (p.list) return '';
  switch (p.type) {
    case 'boolean':
      return 'false';
    case 'int':
    case 'unsignedInt':
    case 'long':
    case 'unsignedLong':
    case 'decimal': {
      const lo = p.ranges?.[0]?.min;
      return lo !== undefined && lo > 0 ? String(lo) : '0';
    }
    case 'dateTime':
      return UNKNOWN_TIME;
    default:
      return '';
  }
}

const bad = (code: number, msg: string): never => {
  throw new DmError(code, msg);
};

const INT_RE = /^[+-]?\d+$/;
const DEC_RE = /^[+-]?(\d+\.?\d*|\.\d+)$/;
const B64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const HEX_RE = /^(?:[0-9A-Fa-f]{2})*$/;
const DT_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})?$/;

const patternCache = new Map<string, RegExp>();
function fullMatch(pattern: string, value: string): boolean {
  let re = patternCache.get(pattern);
  if (!re) {
    try {
      re = new RegExp(`^(?:${pattern})$`, 'u');
    } catch {
      re = new RegExp(`^(?:${pattern})$`);
    }
    patternCache.set(pattern, re);
  }
  return re.test(value);
}

function canonicalDateTime(s: string): string {
  const m = DT_RE.exec(s);
  if (!m) return bad(UspError.InvalidType, `'${s}' is not a dateTime (YYYY-MM-DDThh:mm:ss[.fff][Z|±hh:mm])`);
  const [, y, mo, d, h, mi, se, frac, zone] = m;
  const month = Number(mo),
    day = Number(d),
    hour = Number(h),
    min = Number(mi),
    sec = Number(se);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 59) {
    return bad(UspError.InvalidValue, `'${s}' is not a valid date and time`);
  }
  if (Number(y) < 1000 || zone === undefined || zone === 'Z') {
    // Years before 1000 are TR-106 relative times (or the Unknown Time): keep them as written, in UTC form.
    return `${y}-${mo}-${d}T${h}:${mi}:${se}${frac ?? ''}Z`;
  }
  const ms = Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${se}${frac ? frac.slice(0, 4) : ''}${zone}`);
  if (Number.isNaN(ms)) return bad(UspError.InvalidValue, `'${s}' is not a valid date and time`);
  const iso = new Date(ms).toISOString();
  return frac ? `${iso.slice(0, 19)}${frac}Z` : `${iso.slice(0, 19)}Z`;
}

function checkLength(p: ParamSpec, v: string, len: number): void {
  if (!p.sizes?.length) return;
  if (!p.sizes.some((s) => (s.min === undefined || len >= s.min) && (s.max === undefined || len <= s.max))) {
    const desc = p.sizes.map((s) => `${s.min ?? 0}..${s.max ?? '∞'}`).join(' or ');
    bad(UspError.InvalidValue, `'${v}' has length ${len}, allowed ${desc}`);
  }
}

function checkRange(p: ParamSpec, v: string, n: number | bigint): void {
  if (!p.ranges?.length) return;
  const ok = p.ranges.some((r) => {
    if (r.min !== undefined && n < r.min) return false;
    if (r.max !== undefined && n > r.max) return false;
    if (r.step !== undefined && r.step > 1) return (BigInt(n) - BigInt(r.min ?? 0)) % BigInt(r.step) === 0n;
    return true;
  });
  if (!ok)
    bad(
      UspError.InvalidValue,
      `${v} is out of range ${p.ranges.map((r) => `[${r.min ?? '-∞'}..${r.max ?? '∞'}]`).join(' or ')}`,
    );
}

/** One scalar item (the whole value, or one list item) to canonical form. */
function canonicalItem(p: ParamSpec, raw: string): string {
  switch (p.type) {
    case 'boolean': {
      // TR-106 spells them in lower case; controllers (and TP-469 1.88) also send 'True'.
      const b = raw.toLowerCase();
      if (b === 'true' || b === '1') return 'true';
      if (b === 'false' || b === '0') return 'false';
      return bad(UspError.InvalidType, `'${raw}' is not a boolean (true, false, 1 or 0)`);
    }
    case 'int':
    case 'unsignedInt':
    case 'long':
    case 'unsignedLong': {
      if (!INT_RE.test(raw)) return bad(UspError.InvalidType, `'${raw}' is not an integer`);
      const n = BigInt(raw);
      const [lo, hi] = INT_BOUNDS[p.type]!;
      if (n < lo || n > hi) return bad(UspError.InvalidValue, `${raw} does not fit ${p.type} (${lo}..${hi})`);
      checkRange(p, raw, p.type === 'int' || p.type === 'unsignedInt' ? Number(n) : n);
      return n.toString();
    }
    case 'decimal': {
      if (!DEC_RE.test(raw)) return bad(UspError.InvalidType, `'${raw}' is not a decimal`);
      const n = Number(raw);
      checkRange(p, raw, n);
      return String(n);
    }
    case 'dateTime':
      return canonicalDateTime(raw);
    case 'base64': {
      const s = raw.replace(/\s+/g, '');
      if (!B64_RE.test(s)) return bad(UspError.InvalidType, `value is not base64`);
      checkLength(p, raw, Buffer.from(s, 'base64').length);
      return s;
    }
    case 'hexBinary': {
      if (!HEX_RE.test(raw))
        return bad(UspError.InvalidType, `'${raw}' is not hexBinary (an even number of hex digits)`);
      checkLength(p, raw, raw.length / 2);
      return raw.toLowerCase();
    }
    case 'string': {
      checkLength(p, raw, [...raw].length);
      if (p.enum && !p.enum.includes(raw)) {
        bad(UspError.InvalidValue, `'${raw}' is not one of ${p.enum.join(', ')}`);
      }
      if (p.patterns?.length && !p.patterns.some((pat) => fullMatch(pat, raw))) {
        bad(UspError.InvalidValue, `'${raw}' does not match the pattern ${p.patterns.filter(Boolean).join(' | ')}`);
      }
      return raw;
    }
  }
}

/** Parses a wire value for parameter p; throws DmError 7011 (type) or 7012 (value) naming the problem. */
export function canonicalValue(p: ParamSpec, raw: string): string {
  if (typeof raw !== 'string') bad(UspError.InvalidType, `value must be a string`);
  if (!p.list) return canonicalItem(p, p.type === 'string' ? raw : raw.trim());
  const items = raw.trim() === '' ? [] : raw.split(',').map((s) => (p.type === 'string' ? s.trim() : s.trim()));
  const { minItems, maxItems, maxLength } = p.list;
  if (minItems !== undefined && items.length < minItems)
    bad(UspError.InvalidValue, `list has ${items.length} items, needs at least ${minItems}`);
  if (maxItems !== undefined && items.length > maxItems)
    bad(UspError.InvalidValue, `list has ${items.length} items, at most ${maxItems} allowed`);
  const out = items.map((i) => canonicalItem(p, i)).join(',');
  if (maxLength !== undefined && out.length > maxLength)
    bad(UspError.InvalidValue, `list is ${out.length} characters long, at most ${maxLength} allowed`);
  return out;
}

/** canonicalValue for the parameter at path: the failure names the path, with the label before its reason. */
export function canonicalAt(p: ParamSpec, raw: string, path: string, label = path): string {
  try {
    return canonicalValue(p, raw);
  } catch (e) {
    throw new DmError((e as DmError).code ?? UspError.InvalidValue, `${label}: ${(e as Error).message}`, path);
  }
}

/** Splits a list value into its items (an empty string is the empty list). */
export function listItems(v: string): string[] {
  return v === '' ? [] : v.split(',').map((s) => s.trim());
}

/** Compares two canonical values of type t: negative, zero or positive. */
export function compareValues(t: BaseType, a: string, b: string): number {
  switch (t) {
    case 'int':
    case 'unsignedInt':
    case 'long':
    case 'unsignedLong': {
      const x = BigInt(a),
        y = BigInt(b);
      return x < y ? -1 : x > y ? 1 : 0;
    }
    case 'decimal':
      return Number(a) - Number(b);
    case 'dateTime':
      return a < b ? -1 : a > b ? 1 : 0;
    default:
      return a === b ? 0 : a < b ? -1 : 1;
  }
}
