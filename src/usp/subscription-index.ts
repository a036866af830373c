// The rows of Device.LocalAgent.Subscription indexed by what they watch, so that a change costs the
// subscriptions that may match it rather than all of them: per NotifType, a trie over the
// dot-separated segments of each ReferenceList entry ("*" is a segment of its own and matches any).
// An entry with a search expression is filed under its part before the first "["; one that follows a
// reference ("+", "#") may lead anywhere and is a candidate for every change. The trie only narrows:
// the caller decides with the exact rules. It also knows the rows of each Recipient, for the limits
// on subscriptions.
//
// It is kept up from the data model itself: rows a transaction adds, changes or deletes are marked
// before its commit (so a change sees the subscriptions its own transaction created), again if the
// commit is undone, and re-read from the tree when the index is next asked.
import type { Change } from '../dm/change-feed.js';
import type { DataModel } from '../dm/datamodel.js';
import type { ObjectNode, Table } from '../dm/tree.js';
import { listItems } from '../dm/types.js';

const SUB = 'Device.LocalAgent.Subscription.';

interface TrieNode {
  readonly children: Map<string, TrieNode>;
  readonly rows: Set<ObjectNode>;
}
interface Entry {
  readonly type: string;
  readonly recipient: string;
  readonly keys: (readonly string[] | undefined)[];
}

const trieNode = (): TrieNode => ({ children: new Map(), rows: new Set() });

/** Segments a ReferenceList entry is filed under; undefined for one that follows references. */
function keyOf(ref: string): string[] | undefined {
  if (ref.includes('+') || ref.includes('#')) return undefined;
  const bracket = ref.indexOf('[');
  const fixed = bracket < 0 ? ref : ref.slice(0, ref.lastIndexOf('.', bracket) + 1);
  return fixed.split('.').filter(Boolean);
}

/** The segments of a changed path ("Device.A.1." and "Device.A.1.B" both start Device, A, 1). */
function segmentsOf(path: string): string[] {
  const segs = path.split('.');
  if (segs[segs.length - 1] === '') segs.pop();
  return segs;
}

const indexes = new WeakMap<DataModel, SubscriptionIndex>();

export class SubscriptionIndex {
  private readonly tries = new Map<string, TrieNode>();
  /** Rows with an entry that follows a reference, per NotifType. */
  private readonly anywhere = new Map<string, Set<ObjectNode>>();
  private readonly entries = new Map<ObjectNode, Entry>();
  private readonly byRecipient = new Map<string, Set<ObjectNode>>();
  private readonly byPath = new Map<string, ObjectNode>();
  /** Row paths whose values or existence changed since the index last read them. */
  private readonly dirty = new Set<string>();

  /** The index of a model's subscriptions; built at the first call, which must come after the model is opened. */
  static of(dm: DataModel): SubscriptionIndex {
    let index = indexes.get(dm);
    if (!index) {
      index = new SubscriptionIndex(dm);
      indexes.set(dm, index);
    }
    return index;
  }

  private constructor(private readonly dm: DataModel) {
    for (const row of this.table()?.rows.values() ?? []) this.put(row);
    const mark = (changes: readonly Change[]) => {
      for (const c of changes) if (c.path.startsWith(SUB)) this.dirty.add(rowPathOf(c.path));
    };
    dm.feed.onBeforeCommit((changes) => {
      mark(changes);
      return () => mark(changes);
    });
  }

  /** The rows whose subscription of this NotifType may match a change at this path, in instance order. */
  candidates(type: string, path: string): ObjectNode[] {
    this.refresh();
    const out = new Set<ObjectNode>(this.anywhere.get(type));
    const trie = this.tries.get(type);
    if (trie) collect(trie, segmentsOf(path), 0, out);
    return [...out].sort((a, b) => a.instance! - b.instance!);
  }

  /** The rows whose Recipient is this controller (its path without the final dot). */
  ofRecipient(recipient: string): ObjectNode[] {
    this.refresh();
    return [...(this.byRecipient.get(recipient) ?? [])];
  }

  /**
   * How many subscriptions the table holds for this recipient, counting every row the current
   * transaction added and the index has not seen yet as one of them (they are the caller's own).
   */
  countFor(recipient: string): number {
    this.refresh();
    const unseen = Math.max(0, (this.table()?.rows.size ?? 0) - this.entries.size);
    return (this.byRecipient.get(recipient)?.size ?? 0) + unseen;
  }

  private table(): Table | undefined {
    return this.dm.node('Device.LocalAgent.')?.tables.get('Subscription');
  }

  private refresh(): void {
    if (!this.dirty.size) return;
    for (const path of this.dirty) {
      const old = this.byPath.get(path);
      if (old) this.remove(old);
      const row = this.dm.node(path);
      if (row && row.instance !== undefined) this.put(row);
    }
    this.dirty.clear();
  }

  private put(row: ObjectNode): void {
    const type = row.stored('NotifType') ?? '';
    const entry: Entry = {
      type,
      recipient: row.stored('Recipient') ?? '',
      keys: listItems(row.stored('ReferenceList') ?? '').map(keyOf),
    };
    this.entries.set(row, entry);
    this.byPath.set(row.path, row);
    setOf(this.byRecipient, entry.recipient).add(row);
    for (const key of entry.keys) {
      if (!key) {
        setOf(this.anywhere, type).add(row);
        continue;
      }
      let node: TrieNode | undefined = this.tries.get(type);
      if (!node) {
        node = trieNode();
        this.tries.set(type, node);
      }
      for (const seg of key) {
        let next: TrieNode | undefined = node.children.get(seg);
        if (!next) {
          next = trieNode();
          node.children.set(seg, next);
        }
        node = next;
      }
      node.rows.add(row);
    }
  }

  private remove(row: ObjectNode): void {
    const entry = this.entries.get(row);
    this.entries.delete(row);
    this.byPath.delete(row.path);
    if (!entry) return;
    dropFrom(this.byRecipient, entry.recipient, row);
    for (const key of entry.keys) {
      if (!key) {
        dropFrom(this.anywhere, entry.type, row);
        continue;
      }
      const trie = this.tries.get(entry.type);
      if (trie) prune(trie, key, 0, row);
    }
  }
}

/** Rows filed at the nodes along the path's segments, "*" children included. */
function collect(node: TrieNode, segs: readonly string[], i: number, out: Set<ObjectNode>): void {
  for (const r of node.rows) out.add(r);
  if (i === segs.length) return;
  const exact = node.children.get(segs[i]!);
  if (exact) collect(exact, segs, i + 1, out);
  const wild = segs[i] === '*' ? undefined : node.children.get('*');
  if (wild) collect(wild, segs, i + 1, out);
}

/** Takes the row from the node its key leads to, and drops nodes left empty on the way back. */
function prune(node: TrieNode, key: readonly string[], i: number, row: ObjectNode): void {
  if (i === key.length) {
    node.rows.delete(row);
    return;
  }
  const child = node.children.get(key[i]!);
  if (!child) return;
  prune(child, key, i + 1, row);
  if (!child.rows.size && !child.children.size) node.children.delete(key[i]!);
}

/** "Device.LocalAgent.Subscription.3.Enable" and "...Subscription.3." -> "...Subscription.3.". */
function rowPathOf(path: string): string {
  const rest = path.slice(SUB.length);
  const dot = rest.indexOf('.');
  return `${SUB}${dot < 0 ? rest : rest.slice(0, dot)}.`;
}

function setOf<K, V>(map: Map<K, Set<V>>, key: K): Set<V> {
  let s = map.get(key);
  if (!s) {
    s = new Set();
    map.set(key, s);
  }
  return s;
}

function dropFrom<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  const s = map.get(key);
  if (!s) return;
  s.delete(value);
  if (!s.size) map.delete(key);
}
