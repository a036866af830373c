// The supported data model: definition files loaded into a tree of object definitions that the
// instantiated tree, the path resolver and GetSupportedDM all walk.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CommandSpec, DefinitionFile, EventSpec, ObjectSpec, Only, ParamSpec } from './definition-format.js';
import { zeroValue } from './types.js';

export type View = Only | 'all';

export interface ParamDef extends ParamSpec {
  readonly owner: ObjectDef;
  readonly zero: string;
  readonly writable: boolean;
}

export interface ObjectDef {
  readonly path: string; // supported path: "Device.MQTT.Client.{i}."
  readonly name: string; // "Client"
  readonly multi: boolean;
  readonly spec: ObjectSpec;
  readonly parent: ObjectDef | undefined;
  readonly params: Map<string, ParamDef>;
  readonly commands: Map<string, CommandSpec>; // key with "()"
  readonly events: Map<string, EventSpec>; // key with "!"
  readonly children: Map<string, ObjectDef>;
  readonly keys: string[][];
  /** Add and Delete allowed from outside (TR-181 access readWrite on a table). */
  readonly creatable: boolean;
  /** Parameters of this object counting its child tables: param name -> child object name. */
  readonly counters: Map<string, string>;
}

export const visibleIn = (only: Only | undefined, view: View): boolean =>
  only === undefined || view === 'all' || only === view;

/** "Device.A.{i}.B." -> ["Device", "A", "B"] segment names without instance markers. */
export function defSegments(path: string): string[] {
  return path.split('.').filter((s) => s !== '' && s !== '{i}');
}

export class Schema {
  readonly root: ObjectDef;
  private readonly byPath = new Map<string, ObjectDef>();

  constructor(files: DefinitionFile[]) {
    const specs = files.flatMap((f) => f.objects).sort((a, b) => a.path.split('.').length - b.path.split('.').length);
    const rootSpec = specs.find((s) => s.path === 'Device.');
    if (!rootSpec) throw new Error('definitions lack the Device. object');
    this.root = this.make(rootSpec, undefined);
    for (const s of specs) {
      if (s.path === 'Device.') continue;
      // A vendor file adds parameters, commands and events to a standard object (TR-106 X_ names).
      const known = this.byPath.get(s.path);
      if (known) {
        this.extend(known, s);
        continue;
      }
      const parentPath = parentDefPath(s.path);
      const parent = this.byPath.get(parentPath) ?? this.implicitParent(parentPath);
      const def = this.make(s, parent);
      parent.children.set(def.name, def);
    }
    for (const def of this.byPath.values()) this.linkCounters(def);
  }

  static load(dir: string): Schema {
    const files = readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .sort();
    return new Schema(files.map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as DefinitionFile));
  }

  /** An object named by a path but not defined itself (a gap in the imported areas) is single and read-only. */
  private implicitParent(path: string): ObjectDef {
    const parent = this.byPath.get(parentDefPath(path)) ?? this.implicitParent(parentDefPath(path));
    const def = this.make({ path, access: 'readOnly', params: [], commands: [], events: [] }, parent);
    parent.children.set(def.name, def);
    return def;
  }

  private make(spec: ObjectSpec, parent: ObjectDef | undefined): ObjectDef {
    const segs = defSegments(spec.path);
    const def: ObjectDef = {
      path: spec.path,
      name: segs[segs.length - 1]!,
      multi: spec.path.endsWith('.{i}.'),
      spec,
      parent,
      params: new Map(),
      commands: new Map(spec.commands.map((c) => [c.name, c])),
      events: new Map(spec.events.map((e) => [e.name, e])),
      children: new Map(),
      keys: spec.table?.keys ?? [],
      creatable: spec.path.endsWith('.{i}.') && spec.access === 'readWrite' && !spec.fixed,
      counters: new Map(),
    };
    for (const p of spec.params) def.params.set(p.name, paramDef(p, def));
    this.byPath.set(spec.path, def);
    return def;
  }

  private extend(def: ObjectDef, spec: ObjectSpec): void {
    for (const p of spec.params) {
      if (def.params.has(p.name)) throw new Error(`${def.path}${p.name} is defined twice`);
      def.params.set(p.name, paramDef(p, def));
    }
    for (const c of spec.commands) def.commands.set(c.name, c);
    for (const e of spec.events) def.events.set(e.name, e);
  }

  private linkCounters(def: ObjectDef): void {
    if (!def.multi || !def.parent || !def.spec.table?.numEntries) return;
    def.parent.counters.set(def.spec.table.numEntries, def.name);
  }

  get(path: string): ObjectDef | undefined {
    return this.byPath.get(path);
  }

  all(): IterableIterator<ObjectDef> {
    return this.byPath.values();
  }

  /** The definition of an instantiated or supported object path ("Device.X.3." or "Device.X.{i}."). */
  defOf(path: string): ObjectDef | undefined {
    return this.byPath.get(toSupportedPath(path));
  }
}

const paramDef = (p: ParamSpec, owner: ObjectDef): ParamDef => ({
  ...p,
  owner,
  zero: zeroValue(p),
  writable: p.access === 'readWrite' || p.access === 'writeOnceReadOnly',
});

export function parentDefPath(path: string): string {
  const parts = path.split('.').filter(Boolean);
  if (parts[parts.length - 1] === '{i}') parts.pop();
  parts.pop();
  return `${parts.join('.')}.`;
}

/** "Device.X.3.Y.12." -> "Device.X.{i}.Y.{i}." */
export function toSupportedPath(path: string): string {
  return path.replace(/\.\d+(?=\.)/g, '.{i}');
}
