// The declarative definition format of datamodel/*.json. It is our own: one JSON file per area,
// each an array of objects with their parameters, commands and events. Names, types, access,
// ranges, enums and patterns are the TR-181 facts and must match the standard exactly.

export type BaseType =
  | 'string'
  | 'boolean'
  | 'int'
  | 'unsignedInt'
  | 'long'
  | 'unsignedLong'
  | 'decimal'
  | 'dateTime'
  | 'base64'
  | 'hexBinary';

export const BASE_TYPES: readonly BaseType[] = [
  'string',
  'boolean',
  'int',
  'unsignedInt',
  'long',
  'unsignedLong',
  'decimal',
  'dateTime',
  'base64',
  'hexBinary',
];

export type Access = 'readOnly' | 'readWrite' | 'writeOnceReadOnly';
/** Which protocol's view holds an item; absent means both. */
export type Only = 'usp' | 'cwmp';

export interface SizeSpec {
  min?: number;
  max?: number;
}
export interface RangeSpec {
  min?: number;
  max?: number;
  step?: number;
}
export interface RefSpec {
  kind: 'path' | 'instance';
  refType: 'strong' | 'weak';
  targetParent?: string;
  targetType?: 'any' | 'parameter' | 'object' | 'single' | 'table' | 'row';
}

export interface ParamSpec {
  name: string;
  type: BaseType;
  access?: Access; // readOnly when absent
  list?: { minItems?: number; maxItems?: number; maxLength?: number };
  sizes?: SizeSpec[]; // string/base64/hexBinary length bounds (of each item for lists)
  ranges?: RangeSpec[]; // numeric bounds; a value must fit one of them
  enum?: string[];
  patterns?: string[]; // the value must match one of them in full
  enumRef?: string; // values are those of another (list) parameter
  ref?: RefSpec;
  default?: string; // value when the object is created
  units?: string;
  secured?: boolean; // never returned by a read, never logged
  forcedInform?: boolean;
  activeNotify?: 'normal' | 'forceEnabled' | 'forceDefaultEnabled' | 'canDeny';
  mandatory?: boolean; // command / event arguments
  only?: Only;
}

export interface ArgObjectSpec {
  path: string;
  multi: boolean;
  params: ParamSpec[];
}
export interface ArgsSpec {
  params: ParamSpec[];
  objects: ArgObjectSpec[];
}
export interface CommandSpec {
  name: string;
  async: boolean;
  input: ArgsSpec;
  output: ArgsSpec;
  only?: Only;
}
export interface EventSpec {
  name: string;
  args: ArgsSpec;
  only?: Only;
}

export interface TableSpec {
  min: number;
  max: number | null; // null: unbounded
  numEntries?: string; // parameter of the parent object that counts the rows
  enable?: string;
  keys: string[][]; // unique keys, each a set of parameter names
  /** Parameters of non-functional keys (Alias aside): set at creation, never changed after (USP R-KEY.1). */
  fixedKeys?: string[];
}

export interface ObjectSpec {
  path: string; // supported path, "{i}" for instance numbers, ends with "."
  access: 'readOnly' | 'readWrite';
  table?: TableSpec;
  fixed?: boolean; // rows are created by the device only (dmr:fixedObject)
  params: ParamSpec[];
  commands: CommandSpec[];
  events: EventSpec[];
  only?: Only;
}

export interface DefinitionFile {
  area: string;
  source: string;
  objects: ObjectSpec[];
}
