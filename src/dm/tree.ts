// The instantiated data model: object nodes holding the values written to them (canonical strings),
// their single sub-objects and their tables. A value never written reads as the definition's default.
// A table files its rows by unique-key values (key-index.ts) once first asked to, and from then on
// keeps them filed through its rows map and its rows' values maps, so nothing that writes them has to
// remember it.
import { KeyIndex } from './key-index.js';
import { splitParamPath } from './path.js';
import type { ObjectDef, ParamDef } from './schema.js';

export class Table {
  readonly rows: Map<number, ObjectNode> = new TableRows(this);
  /** The next instance number to hand out; numbers are never reused, even after deletion. */
  next = 1;
  private index: KeyIndex<ObjectNode> | undefined;
  constructor(
    readonly def: ObjectDef,
    readonly parent: ObjectNode,
  ) {}

  /** The rows by unique-key values. Built at the first call: most tables are never asked. */
  get keys(): KeyIndex<ObjectNode> {
    return (this.index ??= new KeyIndex(this.def.keys.flat(), this.rows.values()));
  }

  /** The index if it was built: what entering, leaving and written rows keep in step. */
  get builtKeys(): KeyIndex<ObjectNode> | undefined {
    return this.index;
  }

  /** Path of the table itself: "Device.MQTT.Client." */
  get path(): string {
    return `${this.parent.path}${this.def.name}.`;
  }
}

export class ObjectNode {
  readonly values: Map<string, string>;
  readonly singles = new Map<string, ObjectNode>();
  readonly tables = new Map<string, Table>();

  constructor(
    readonly def: ObjectDef,
    readonly path: string, // "Device.MQTT.Client.2."
    readonly parent: ObjectNode | undefined,
    readonly instance: number | undefined, // set for table rows
  ) {
    this.values = instance === undefined || !def.keys.length ? new Map() : new RowValues(this);
    for (const child of def.children.values()) {
      if (child.multi) this.tables.set(child.name, new Table(child, this));
      else this.singles.set(child.name, new ObjectNode(child, `${path}${child.name}.`, this, undefined));
    }
  }

  /** The stored value, or the definition default when none was written. */
  stored(name: string): string | undefined {
    return this.values.get(name) ?? this.def.params.get(name)?.zero;
  }

  /** The table this node is a row of. */
  get table(): Table | undefined {
    return this.instance === undefined ? undefined : this.parent?.tables.get(this.def.name);
  }

  /** Every node of this subtree, this one first, children in instance order. */
  walk(): ObjectNode[] {
    const out: ObjectNode[] = [];
    const visit = (n: ObjectNode): void => {
      out.push(n);
      for (const child of n.def.children.values()) {
        if (child.multi) for (const row of n.tables.get(child.name)!.rows.values()) visit(row);
        else visit(n.singles.get(child.name)!);
      }
    };
    visit(this);
    return out;
  }

  /** Calls fn on every node of this subtree in walk() order, without gathering them first. */
  visit(fn: (n: ObjectNode) => void): void {
    fn(this);
    for (const child of this.def.children.values()) {
      if (child.multi) for (const row of this.tables.get(child.name)!.rows.values()) row.visit(fn);
      else this.singles.get(child.name)!.visit(fn);
    }
  }

  /** Levels between an ancestor and this node; a table row is one level, as in USP max_depth. */
  depthBelow(ancestor: ObjectNode): number {
    let d = 0;
    for (let n: ObjectNode | undefined = this; n && n !== ancestor; n = n.parent) d++;
    return d;
  }
}

/** A table's rows: entering and leaving files and unfiles them in the table's key index. */
class TableRows extends Map<number, ObjectNode> {
  constructor(private readonly table: Table) {
    super();
  }

  override set(n: number, row: ObjectNode): this {
    const index = this.table.builtKeys;
    const old = this.get(n);
    if (old) index?.remove(old);
    super.set(n, row);
    index?.add(row);
    return this;
  }

  override delete(n: number): boolean {
    const row = this.get(n);
    if (row) this.table.builtKeys?.remove(row);
    return super.delete(n);
  }
}

/** A row's values: a key parameter written while the row is in its table is refiled. */
class RowValues extends Map<string, string> {
  constructor(private readonly row: ObjectNode) {
    super();
  }

  override set(name: string, value: string): this {
    const index = this.filedIn();
    if (!index?.has(name)) return super.set(name, value);
    const from = this.row.stored(name) ?? '';
    super.set(name, value);
    index.move(this.row, name, from, value);
    return this;
  }

  override delete(name: string): boolean {
    const index = this.filedIn();
    if (!index?.has(name)) return super.delete(name);
    const from = this.row.stored(name) ?? '';
    const had = super.delete(name);
    index.move(this.row, name, from, this.row.stored(name) ?? '');
    return had;
  }

  private filedIn(): KeyIndex<ObjectNode> | undefined {
    const table = this.row.table;
    return table?.rows.get(this.row.instance!) === this.row ? table.builtKeys : undefined;
  }
}

/** Finds the node at an instantiated object path ("Device.X.3.Y."), or undefined. */
export function nodeAt(root: ObjectNode, path: string): ObjectNode | undefined {
  const parts = path.split('.').filter(Boolean);
  if (parts[0] !== root.def.name) return undefined;
  let node: ObjectNode = root;
  for (let i = 1; i < parts.length; i++) {
    const part = parts[i]!;
    const table = node.tables.get(part);
    if (table) {
      const n = Number(parts[++i]);
      const row = table.rows.get(n);
      if (!row) return undefined;
      node = row;
      continue;
    }
    const single = node.singles.get(part);
    if (!single) return undefined;
    node = single;
  }
  return node;
}

/** The node and definition of an instantiated parameter path ("Device.X.3.Name"), or undefined. */
export function paramAt(root: ObjectNode, path: string): { node: ObjectNode; p: ParamDef } | undefined {
  const [objPath, name] = splitParamPath(path);
  const node = nodeAt(root, objPath);
  const p = node?.def.params.get(name);
  return node && p ? { node, p } : undefined;
}

/** The table at an instantiated table path ("Device.X.3.Y."), or undefined. */
export function tableAt(root: ObjectNode, path: string): Table | undefined {
  const m = /^(.*\.)([^.]+)\.$/.exec(path);
  return (m && nodeAt(root, m[1]!)?.tables.get(m[2]!)) || undefined;
}
