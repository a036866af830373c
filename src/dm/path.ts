// The USP path grammar (TR-369 "Data Model Path Grammar"), which also covers CWMP names: full and
// partial paths, instance numbers, wildcards, search expressions, reference following, commands,
// events, and CWMP alias-based addressing ("[alias]"). A syntax error is 7008; whether the path
// exists is the resolver's question (7026).
import { DmError, UspError } from './errors.js';

export type Op = '==' | '!=' | '~=' | '<' | '>' | '<=' | '>=';

/** A name, optionally followed by reference following ("Ref+", "Ref#2+", "Ref#*+"). */
export interface RelStep {
  name: string;
  follow?: number | '*';
}

export interface ExprComp {
  rel: RelStep[];
  op: Op;
  value: string;
}

export type Segment =
  | { t: 'name'; name: string; follow?: number | '*' }
  | { t: 'inst'; n: number }
  | { t: 'wild' }
  | { t: 'search'; expr: ExprComp[] }
  | { t: 'alias'; alias: string };

export type Leaf =
  | { kind: 'object' }
  | { kind: 'param'; name: string }
  | { kind: 'command'; name: string } // with "()"
  | { kind: 'event'; name: string }; // with "!"

export interface ParsedPath {
  readonly text: string;
  readonly segments: Segment[]; // the object part
  readonly leaf: Leaf;
  /** Wildcards or search expressions: no match is an empty result, not an error. */
  readonly isSearch: boolean;
}

const NAME_START = /[A-Za-z_]/;
const NAME_CHAR = /[A-Za-z0-9_-]/;
const OPS: Op[] = ['==', '!=', '~=', '<=', '>=', '<', '>'];
export const MAX_PATH_LENGTH = 4096;

/** A parameter (or command, or event) path as its object's path and its own name: "Device.X.1." and "Name". */
export function splitParamPath(path: string): [objPath: string, name: string] {
  const dot = path.lastIndexOf('.') + 1;
  return [path.slice(0, dot), path.slice(dot)];
}

class Cursor {
  i = 0;
  constructor(
    readonly s: string,
    readonly whole: string,
  ) {}
  get ch(): string | undefined {
    return this.s[this.i];
  }
  /** The same as ch, as a call, so that the compiler does not narrow it across this.i++. */
  peek(): string | undefined {
    return this.s[this.i];
  }
  fail(msg: string): never {
    throw new DmError(
      UspError.InvalidPathSyntax,
      `invalid path '${this.whole}': ${msg} at character ${this.i + 1}`,
      this.whole,
    );
  }
  name(): string {
    const start = this.i;
    if (!this.ch || !NAME_START.test(this.ch)) this.fail('expected a name');
    while (this.ch && NAME_CHAR.test(this.ch)) this.i++;
    return this.s.slice(start, this.i);
  }
  follow(): number | '*' | undefined {
    if (this.ch === '+') {
      this.i++;
      return 1;
    }
    if (this.ch !== '#') return undefined;
    this.i++;
    let item: number | '*';
    if (this.peek() === '*') {
      this.i++;
      item = '*';
    } else item = this.posnum();
    if (this.peek() !== '+') this.fail("expected '+' after a list item reference");
    this.i++;
    return item;
  }
  posnum(): number {
    const start = this.i;
    if (!this.ch || !/[1-9]/.test(this.ch)) this.fail('expected an instance number (1 or more, no leading zero)');
    while (this.ch && /\d/.test(this.ch)) this.i++;
    const n = Number(this.s.slice(start, this.i));
    if (!Number.isSafeInteger(n) || n > 0xffffffff) this.fail('instance number too large');
    return n;
  }
}

/** Finds the ']' closing the bracket opened at s[i] ('['), skipping quoted strings. */
function closingBracket(c: Cursor): number {
  let inQuote = false;
  for (let j = c.i + 1; j < c.s.length; j++) {
    const ch = c.s[j];
    if (ch === '"') inQuote = !inQuote;
    else if (ch === ']' && !inQuote) return j;
  }
  return c.fail("unterminated '['");
}

function splitOutsideQuotes(s: string, sep: string): string[] {
  const out: string[] = [];
  let inQuote = false,
    start = 0;
  for (let j = 0; j < s.length; j++) {
    if (s[j] === '"') inQuote = !inQuote;
    else if (!inQuote && s.startsWith(sep, j)) {
      out.push(s.slice(start, j));
      start = j + sep.length;
      j += sep.length - 1;
    }
  }
  out.push(s.slice(start));
  return out;
}

function hasOperator(s: string): boolean {
  let inQuote = false;
  for (let j = 0; j < s.length; j++) {
    if (s[j] === '"') inQuote = !inQuote;
    else if (
      !inQuote &&
      (s[j] === '=' ||
        s[j] === '<' ||
        s[j] === '>' ||
        (s[j] === '!' && s[j + 1] === '=') ||
        (s[j] === '~' && s[j + 1] === '='))
    )
      return true;
  }
  return false;
}

function parseComp(text: string, whole: string): ExprComp {
  const fail = (m: string): never => {
    throw new DmError(UspError.InvalidPathSyntax, `invalid search expression in '${whole}': ${m}`, whole);
  };
  const c = new Cursor(text.trim(), whole);
  const rel: RelStep[] = [];
  for (;;) {
    const name = c.name();
    const follow = c.follow();
    rel.push(follow === undefined ? { name } : { name, follow });
    if (c.ch !== '.') break;
    c.i++;
  }
  while (c.ch === ' ') c.i++;
  const op = OPS.find((o) => c.s.startsWith(o, c.i));
  if (!op) return fail(`expected one of ${OPS.join(' ')} after '${rel.map((r) => r.name).join('.')}'`);
  c.i += op.length;
  const rest = c.s.slice(c.i).trim();
  let value: string;
  if (rest.startsWith('"')) {
    if (rest.length < 2 || !rest.endsWith('"') || rest.slice(1, -1).includes('"'))
      return fail(`badly quoted value ${rest}`);
    value = rest.slice(1, -1).replace(/%22/gi, '"').replace(/%25/g, '%');
  } else {
    if (rest === '' || /[\s"&\]]/.test(rest)) return fail(`expected a value after '${op}'`);
    value = rest;
  }
  return { rel, op, value };
}

export function parsePath(text: string): ParsedPath {
  if (typeof text !== 'string' || text.length === 0) throw new DmError(UspError.InvalidPathSyntax, 'empty path', '');
  if (text.length > MAX_PATH_LENGTH)
    throw new DmError(UspError.InvalidPathSyntax, `path longer than ${MAX_PATH_LENGTH} characters`, text.slice(0, 64));
  const c = new Cursor(text, text);
  const segments: Segment[] = [];
  let isSearch = false;
  let leaf: Leaf = { kind: 'object' };
  for (;;) {
    const ch = c.ch;
    if (ch === undefined) return c.fail('unexpected end');
    if (ch === '[') {
      if (segments.length === 0) c.fail("a path can't start with '['");
      const end = closingBracket(c);
      const inner = c.s.slice(c.i + 1, end);
      if (hasOperator(inner)) {
        segments.push({ t: 'search', expr: splitOutsideQuotes(inner, '&&').map((p) => parseComp(p, text)) });
        isSearch = true;
      } else {
        if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(inner))
          c.fail(`'[${inner}]' is neither a search expression nor an alias`);
        segments.push({ t: 'alias', alias: inner });
      }
      c.i = end + 1;
    } else if (ch === '*') {
      if (segments.length === 0) c.fail("a path can't start with '*'");
      segments.push({ t: 'wild' });
      isSearch = true;
      c.i++;
    } else if (/\d/.test(ch)) {
      if (segments.length === 0) c.fail('a path starts with a name');
      segments.push({ t: 'inst', n: c.posnum() });
    } else {
      const name = c.name();
      if (c.ch === '(') {
        if (c.s.slice(c.i) !== '()') c.fail("a command ends with '()'");
        leaf = { kind: 'command', name: `${name}()` };
        c.i += 2;
        break;
      }
      if (c.ch === '!') {
        if (c.i !== c.s.length - 1) c.fail("an event ends with '!'");
        leaf = { kind: 'event', name: `${name}!` };
        c.i++;
        break;
      }
      const follow = c.follow();
      if (follow !== undefined) {
        segments.push({ t: 'name', name, follow });
        isSearch ||= follow === '*';
      } else if (c.ch === undefined) {
        if (segments.length === 0) c.fail("a path of one name ends with '.'");
        leaf = { kind: 'param', name };
        break;
      } else segments.push({ t: 'name', name });
    }
    if (c.ch === undefined) {
      const last = segments[segments.length - 1];
      if (last?.t === 'name' && last.follow !== undefined) {
        // "Ref+" at the end names the referenced object itself.
        break;
      }
      c.fail("an object path ends with '.'");
    }
    if (c.ch !== '.') c.fail(`unexpected '${c.ch}'`);
    c.i++;
    if (c.ch === undefined) break;
  }
  if (segments[0]?.t !== 'name') c.fail('a path starts with a name');
  return { text, segments, leaf, isSearch };
}

const NAME = '[A-Za-z_][A-Za-z0-9_-]*';
const SUPPORTED_PATH = new RegExp(`^${NAME}\\.((${NAME}|\\{i\\}|[1-9]\\d*)\\.)*(${NAME}(\\(\\)|!)?)?$`);

/** True when the text is a path of the supported data model ("Device.X.{i}.Y"). */
export function isSupportedPathSyntax(text: string): boolean {
  return SUPPORTED_PATH.test(text);
}
