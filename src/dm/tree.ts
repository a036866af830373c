// The instantiated data model: object nodes holding the values written to them (canonical strings),
// their single sub-objects and their tables. A value never written reads as the definition's default.
import type { ObjectDef } from './schema.js';

export class Table {
  readonly rows = new Map<number, ObjectNode>();
  /** The next instance number to hand out; numbers are never reused, even after deletion. */
  next = 1;
  constructor(readonly def: ObjectDef, readonly parent: ObjectNode) {}

  /** Path of the table itself: "Device.MQTT.Client." */
  get path(): string { return `${this.parent.path}${this.def.name}.`; }
}

export class ObjectNode {
  readonly values = new Map<string, string>();
  readonly singles = new Map<string, ObjectNode>();
  readonly tables = new Map<string, Table>();

  constructor(
    readonly def: ObjectDef,
    readonly path: string,                  // "Device.MQTT.Client.2."
    readonly parent: ObjectNode | undefined,
    readonly instance: number | undefined,  // set for table rows
  ) {
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

  /** Levels between an ancestor and this node; a table row is one level, as in USP max_depth. */
  depthBelow(ancestor: ObjectNode): number {
    let d = 0;
    for (let n: ObjectNode | undefined = this; n && n !== ancestor; n = n.parent) d++;
    return d;
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
