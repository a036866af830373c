// Writes TypeScript types for the messages of each proto/*.proto into src/usp/generated/ (gitignored,
// compiled by tsc), so that a misspelt USP field fails the build. `npm run build` runs it first.
//
// The types describe the objects src/usp/codec.ts exchanges with protobufjs, not the protobufjs
// classes: field names as in the proto (keepCase); decoded objects as toObject gives them with
// { longs: String, enums: String, bytes: Uint8Array, defaults: true, oneofs: true }. For each message X:
//   X   what decoding gives: every field present (a message field may be null), 64-bit integers as
//       strings, enums by name (a value the proto does not name stays a number), a oneof as a union
//       keyed by its virtual field (absent when no member is set).
//   IX  what encoding accepts (fromObject): every field optional, enums by name or number, 64-bit
//       integers as numbers or strings. Every X is an IX, so a decoded message can be sent on.
// Nested messages and enums live in a namespace named after their parent, as in the proto.
//
// Beside them descriptor.ts: the schema of all the files as protobufjs's JSON descriptor, which the codec
// loads with protobufjs/light. Parsing the .proto text at every start took the parser into the agent and
// left its work in the heap (docs/footprint.md); the build parses it once here.
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

const protoDir = dirname(fileURLToPath(import.meta.url));
const outDir = join(protoDir, '..', 'src', 'usp', 'generated');

const NUMBER = new Set(['double', 'float', 'int32', 'uint32', 'sint32', 'fixed32', 'sfixed32']);
const LONG = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);

/** The package's namespace: the one object of the root with nested types (usp, usp_record). */
function packageOf(root, file) {
  const pkgs = root.nestedArray.filter((n) => n instanceof protobuf.Namespace);
  if (pkgs.length !== 1) throw new Error(`${file}: expected one package, found ${pkgs.length}`);
  return pkgs[0];
}

/** The names a namespace of ours declares: its nested messages (and their input forms) and enums. */
function declared(ns) {
  const names = ns.nestedArray.flatMap((n) => (n instanceof protobuf.Type ? [n.name, `I${n.name}`] : [n.name]));
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice) throw new Error(`${ns.fullName}: ${twice} is declared twice (a message Foo takes IFoo too)`);
  return names;
}

/**
 * The name of a type as a field of `from` refers to it: its path from the package ("GetResp.RequestedPathResult").
 * The field is resolved in the namespaces around `from`; one declaring the path's first name would take it.
 */
function ref(type, pkg, from, input) {
  if (!type.fullName.startsWith(`${pkg.fullName}.`)) throw new Error(`${type.fullName} is outside ${pkg.fullName}`);
  const parts = type.fullName.slice(pkg.fullName.length + 1).split('.');
  if (input && type instanceof protobuf.Type) parts.push(`I${parts.pop()}`);
  for (let ns = from.parent; ns !== pkg; ns = ns.parent)
    if (declared(ns).includes(parts[0]))
      throw new Error(`${from.fullName}: ${ns.fullName}.${parts[0]} hides ${parts[0]}`);
  return parts.join('.');
}

function valueType(field, pkg, input) {
  const t = field.resolvedType;
  // Decoded, a value the proto does not name stays a number; encoding takes names or numbers.
  if (t instanceof protobuf.Enum) return `${ref(t, pkg, field.parent)} | number`;
  if (t instanceof protobuf.Type) return ref(t, pkg, field.parent, input);
  if (NUMBER.has(field.type)) return 'number';
  if (LONG.has(field.type)) return input ? 'number | string' : 'string';
  if (field.type === 'bool') return 'boolean';
  if (field.type === 'string') return 'string';
  if (field.type === 'bytes') return 'Uint8Array';
  throw new Error(`${field.fullName}: unsupported type ${field.type}`);
}

function fieldType(field, pkg, input, set = false) {
  const v = valueType(field, pkg, input);
  // Not Record<>: the package may define a message of that name (usp_record.Record).
  if (field.map) return `{ [key: string]: ${v} }`;
  if (field.repeated) return v.includes(' ') ? `(${v})[]` : `${v}[]`;
  // A message field nobody set decodes as null (defaults: true), and null is accepted back.
  return field.resolvedType instanceof protobuf.Type && !set ? `${v} | null` : v;
}

const member = (f, pkg, input, optional, set) => `${f.name}${optional ? '?' : ''}: ${fieldType(f, pkg, input, set)};`;

function decodedType(type, pkg, ind) {
  const plain = type.fieldsArray.filter((f) => !f.partOf).map((f) => `${ind}  ${member(f, pkg, false, false)}`);
  const body = plain.length ? `{\n${plain.join('\n')}\n${ind}}` : undefined;
  if (!type.oneofsArray.length) return `${ind}export interface ${type.name} ${body ?? '{}'}\n`;
  // One union per oneof: the member that is set (never null then) and the virtual field naming it, or none set.
  // Decoding keeps only the last member read, so the others are absent (and may be read as undefined).
  const unions = type.oneofsArray.map((o) => {
    const absent = (but) => o.fieldsArray.filter((f) => f !== but).map((f) => ` ${f.name}?: undefined;`);
    const alts = o.fieldsArray.map(
      (f) => `{ ${o.name}: '${f.name}'; ${member(f, pkg, false, false, true)}${absent(f).join('')} }`,
    );
    return `(\n${ind}  | ${[...alts, `{ ${o.name}?: undefined;${absent().join('')} }`].join(`\n${ind}  | `)}\n${ind})`;
  });
  const parts = body ? [body, ...unions] : unions;
  return `${ind}export type ${type.name} = ${parts.join(` &\n${ind}  `)};\n`;
}

function inputType(type, pkg, ind) {
  const lines = type.fieldsArray.map((f) => `${ind}  ${member(f, pkg, true, true)}`);
  for (const o of type.oneofsArray)
    lines.push(`${ind}  ${o.name}?: ${o.fieldsArray.map((f) => `'${f.name}'`).join(' | ')};`);
  return `${ind}export interface I${type.name} ${lines.length ? `{\n${lines.join('\n')}\n${ind}}` : '{}'}\n`;
}

function enumType(e, ind) {
  return `${ind}export type ${e.name} = ${Object.keys(e.values)
    .map((v) => `'${v}'`)
    .join(' | ')};\n`;
}

/** A message, its input form and, in a namespace of its name, what is nested in it. */
function emitType(type, pkg, ind, names) {
  names.push(type.fullName.slice(pkg.fullName.length + 1));
  let out = decodedType(type, pkg, ind) + inputType(type, pkg, ind);
  const nested = type.nestedArray;
  if (declared(type).length) {
    out += `${ind}export namespace ${type.name} {\n`;
    out += nested.map((n) => emitNested(n, pkg, `${ind}  `, names)).join('');
    out += `${ind}}\n`;
  }
  return out;
}

function emitNested(n, pkg, ind, names) {
  if (n instanceof protobuf.Type) return emitType(n, pkg, ind, names);
  if (n instanceof protobuf.Enum) return enumType(n, ind);
  throw new Error(`${n.fullName}: unsupported nested ${n.constructor.name}`);
}

function generate(file) {
  const root = loadProto(join(protoDir, file));
  root.resolveAll();
  const pkg = packageOf(root, file);
  declared(pkg);
  const out = basename(file, '.proto');
  const names = [];
  const types = pkg.nestedArray.map((n) => emitNested(n, pkg, '', names)).join('');
  const byName = names.map((n) => `  '${n}': ${n.replace(/([^.]+)$/, 'I$1')};`).join('\n');
  const text = [
    `// Generated by proto/generate.mjs from proto/${file} (package ${pkg.name}); do not edit.`,
    '',
    types,
    `/** The input form of each message by its name in package ${pkg.name} ("GetResp.RequestedPathResult"). */`,
    `export interface InputByName {\n${byName}\n}`,
    '',
  ].join('\n');
  writeFileSync(join(outDir, `${out}.ts`), text);
}

// keepCase: the field names stay those of the wire format (to_id, msg_id ...).
const loadProto = (files) => new protobuf.Root().loadSync(files, { keepCase: true });

/** All the files in one root, without comments: what the agent's codec needs to encode and decode. */
function descriptor(files) {
  const root = loadProto(files.map((f) => join(protoDir, f)));
  root.resolveAll();
  const text = [
    `// Generated by proto/generate.mjs from proto/${files.join(', proto/')}; do not edit.`,
    "import type { INamespace } from 'protobufjs/light.js';",
    '',
    // A JSON text, not an object literal: protobufjs's types do not name every field of its JSON (keyType).
    `export const descriptor: INamespace = JSON.parse(${JSON.stringify(JSON.stringify(root.toJSON()))});`,
    '',
  ].join('\n');
  writeFileSync(join(outDir, 'descriptor.ts'), text);
}

// Afresh, so that the types of a proto file since removed go with it.
rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
const protos = readdirSync(protoDir)
  .filter((f) => f.endsWith('.proto'))
  .sort();
for (const f of protos) generate(f);
descriptor(protos);
