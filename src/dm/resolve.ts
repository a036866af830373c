// Resolves a parsed path against the instantiated tree: wildcards, search expressions, aliases and
// reference following. A name outside the supported model, or an instance that does not exist in a
// path without wildcards or searches, is 7026; a search that matches nothing is an empty result.
import { DmError, UspError } from './errors.js';
import type { ExprComp, ParsedPath, RelStep } from './path.js';
import { type ObjectDef, type ParamDef, type View, visibleIn } from './schema.js';
import { nodeAt, type ObjectNode, type Table } from './tree.js';
import { canonicalValue, compareValues, listItems } from './types.js';

export type Target = { kind: 'node'; node: ObjectNode } | { kind: 'table'; table: Table };

/** Where a target's subtree starts: the node itself, or every row of the table (under the table's parent). */
export function subtreeOf(t: Target): { base: ObjectNode; starts: ObjectNode[] } {
  return t.kind === 'node'
    ? { base: t.node, starts: [t.node] }
    : { base: t.table.parent, starts: [...t.table.rows.values()] };
}

export interface Resolution {
  readonly parsed: ParsedPath;
  readonly targets: Target[];
}

/** Reads a parameter's current value (live handlers included). */
export type ValueReader = (node: ObjectNode, param: ParamDef) => string;

export class Resolver {
  constructor(
    private readonly root: ObjectNode,
    private readonly read: ValueReader,
  ) {}

  /** missingIsEmpty: an instance number that does not exist matches nothing instead of failing. */
  resolve(parsed: ParsedPath, view: View, missingIsEmpty = false): Resolution {
    const invalid = (what: string): never => {
      throw new DmError(UspError.InvalidPath, `path '${parsed.text}' ${what}`, parsed.text);
    };
    const [first, ...rest] = parsed.segments;
    if (first?.t !== 'name' || first.name !== this.root.def.name)
      invalid(`does not start with '${this.root.def.name}.'`);
    let targets: Target[] = [{ kind: 'node', node: this.root }];
    // The definition all targets share; unknown after following references to several places.
    let def: ObjectDef | undefined = this.root.def;
    let atTable = false;

    for (const seg of rest) {
      const next: Target[] = [];
      if (seg.t === 'name') {
        if (def && atTable) invalid(`names '${def.name}' without an instance before '${seg.name}'`);
        if (seg.follow !== undefined) {
          for (const t of targets)
            if (t.kind === 'node') next.push(...this.follow(t.node, seg.name, seg.follow, view, parsed.text));
          if (def && !next.length) this.paramDef(def, seg.name, view) ?? invalid(`has no parameter '${seg.name}'`);
          def = sameDef(next);
          atTable = false;
        } else {
          const child = def?.children.get(seg.name);
          if (def && (!child || !visibleIn(child.spec.only, view)))
            invalid(`has no object '${seg.name}' in ${def.path}`);
          for (const t of targets) {
            if (t.kind !== 'node') continue;
            const table = t.node.tables.get(seg.name);
            if (table) next.push({ kind: 'table', table });
            else {
              const single = t.node.singles.get(seg.name);
              if (single) next.push({ kind: 'node', node: single });
              else if (!def) continue;
              else invalid(`has no object '${seg.name}'`);
            }
          }
          if (child) {
            def = child;
            atTable = child.multi;
          }
        }
      } else {
        if (def && !atTable) invalid(`has an instance selector after a non-table object ${def.path}`);
        for (const t of targets) {
          if (t.kind !== 'table') continue;
          const rows = t.table.rows;
          switch (seg.t) {
            case 'inst': {
              const row = rows.get(seg.n);
              if (row) next.push({ kind: 'node', node: row });
              else if (!parsed.isSearch && !missingIsEmpty)
                throw new DmError(
                  UspError.InvalidPath,
                  `object instance ${t.table.path}${seg.n}. does not exist`,
                  parsed.text,
                );
              break;
            }
            case 'wild':
              for (const row of rows.values()) next.push({ kind: 'node', node: row });
              break;
            case 'alias': {
              for (const row of rows.values())
                if (row.values.get('Alias') === seg.alias) next.push({ kind: 'node', node: row });
              if (!next.length && !parsed.isSearch && !missingIsEmpty)
                throw new DmError(
                  UspError.InvalidPath,
                  `no instance of ${t.table.path} has the alias '${seg.alias}'`,
                  parsed.text,
                );
              break;
            }
            case 'search': {
              const tests = seg.expr.map((c) => this.compile(t.table.def, c, view, parsed.text));
              for (const row of rows.values())
                if (tests.every((test) => test(row))) next.push({ kind: 'node', node: row });
              break;
            }
          }
        }
        atTable = false;
      }
      targets = next;
    }

    const leaf = parsed.leaf;
    if (leaf.kind === 'object') return { parsed, targets };
    if (def && atTable) invalid(`names the table ${def.path} without an instance`);
    const has = (d: ObjectDef): boolean => {
      if (leaf.kind === 'param') return this.paramDef(d, leaf.name, view) !== undefined;
      const item = leaf.kind === 'command' ? d.commands.get(leaf.name) : d.events.get(leaf.name);
      return item !== undefined && visibleIn(item.only ?? d.spec.only, view);
    };
    if (def && !has(def)) invalid(`has no ${leaf.kind} '${leaf.name}' in ${def.path}`);
    return { parsed, targets: targets.filter((t) => t.kind === 'node' && has(t.node.def)) };
  }

  private paramDef(def: ObjectDef, name: string, view: View): ParamDef | undefined {
    const p = def.params.get(name);
    return p && visibleIn(p.only, view) ? p : undefined;
  }

  /** The objects a reference parameter points at (the item'th, or all for '*'); dangling ones are skipped. */
  private follow(node: ObjectNode, name: string, item: number | '*', view: View, text: string): Target[] {
    const p = this.paramDef(node.def, name, view);
    if (!p)
      throw new DmError(
        UspError.InvalidPath,
        `path '${text}' follows '${name}', which is not a parameter of ${node.def.path}`,
        text,
      );
    if (!p.ref && !p.list && p.type !== 'string')
      throw new DmError(UspError.InvalidPath, `'${name}' is not a reference`, text);
    const items = listItems(this.read(node, p));
    const chosen = item === '*' ? items : [items[item - 1]].filter((x): x is string => x !== undefined);
    const out: Target[] = [];
    for (const ref of chosen) {
      const refPath = ref.endsWith('.') ? ref : `${ref}.`;
      const target = nodeAt(this.root, refPath);
      if (target) out.push({ kind: 'node', node: target });
    }
    return out;
  }

  /** A predicate for one search expression component over rows of table def. */
  private compile(def: ObjectDef, comp: ExprComp, view: View, text: string): (row: ObjectNode) => boolean {
    const syntax = (m: string): never => {
      throw new DmError(UspError.InvalidPathSyntax, `search expression in '${text}': ${m}`, text);
    };
    // The type of the compared parameter, found through the definitions when no reference is followed.
    let d: ObjectDef | undefined = def;
    let pdef: ParamDef | undefined;
    comp.rel.forEach((step, i) => {
      if (!d) return;
      if (i === comp.rel.length - 1 && step.follow === undefined) {
        pdef = this.paramDef(d, step.name, view);
        if (!pdef)
          throw new DmError(
            UspError.InvalidPath,
            `search expression in '${text}' names '${step.name}', not a parameter of ${d.path}`,
            text,
          );
      } else if (step.follow !== undefined) d = undefined;
      else {
        const child: ObjectDef | undefined = d.children.get(step.name);
        if (!child || child.multi)
          throw new DmError(
            UspError.InvalidPath,
            `search expression in '${text}' names '${step.name}', not a single sub-object of ${d.path}`,
            text,
          );
        d = child;
      }
    });
    const check = (p: ParamDef): string => {
      const ordered = comp.op === '<' || comp.op === '>' || comp.op === '<=' || comp.op === '>=';
      if (ordered && (p.type === 'string' || p.type === 'boolean' || p.list))
        syntax(`'${comp.op}' does not apply to ${p.list ? 'a list' : p.type} '${p.name}'`);
      if (comp.op === '~=' && !p.list) syntax(`'~=' applies only to list parameters, and '${p.name}' is not one`);
      try {
        return canonicalValue(
          { ...p, list: undefined, enum: undefined, patterns: undefined, sizes: undefined, ranges: undefined },
          comp.value,
        );
      } catch (e) {
        return syntax(`'${comp.value}' is not a value of type ${p.type} for '${p.name}': ${(e as Error).message}`);
      }
    };
    const known = pdef ? check(pdef) : undefined;
    return (row) => {
      const found = this.relValue(row, comp.rel, view);
      if (!found) return false;
      const [p, value] = found;
      const want = known ?? check(p);
      if (comp.op === '~=') return listItems(value).includes(want);
      if (p.list) return comp.op === '==' ? value === want : comp.op === '!=' ? value !== want : false;
      const c = compareValues(p.type, value, want);
      switch (comp.op) {
        case '==':
          return c === 0;
        case '!=':
          return c !== 0;
        case '<':
          return c < 0;
        case '>':
          return c > 0;
        case '<=':
          return c <= 0;
        default:
          return c >= 0;
      }
    };
  }

  private relValue(row: ObjectNode, rel: RelStep[], view: View): [ParamDef, string] | undefined {
    let node: ObjectNode | undefined = row;
    for (let i = 0; i < rel.length && node; i++) {
      const step = rel[i]!;
      const last = i === rel.length - 1;
      if (step.follow !== undefined) {
        const targets = this.follow(node, step.name, step.follow === '*' ? 1 : step.follow, view, step.name);
        const t = targets[0];
        node = t?.kind === 'node' ? t.node : undefined;
        if (last) return undefined;
      } else if (last) {
        const p = this.paramDef(node.def, step.name, view);
        return p ? [p, this.read(node, p)] : undefined;
      } else node = node.singles.get(step.name);
    }
    return undefined;
  }
}

function sameDef(targets: Target[]): ObjectDef | undefined {
  const defs = new Set(targets.map((t) => (t.kind === 'node' ? t.node.def : t.table.def)));
  return defs.size === 1 ? [...defs][0] : undefined;
}
