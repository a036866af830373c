// The rows of one table by the value of each unique-key parameter, so that checking a new row's keys
// (7025) and generating free ones (R-ADD.5) cost the same in a table of 10,000 rows as in one of 10.
// The tree keeps it in step (tree.ts): a row is filed when it enters its table's rows and taken out
// when it leaves, and a row's key values are refiled as they are written, whoever writes them (a
// transaction, its undo, the load of the state). A row is filed under its stored value: the default
// when none was written.
/** A row as the index sees it: the tree's ObjectNode, named by its shape (the tree imports the index). */
export interface KeyedRow {
  stored(param: string): string | undefined;
}

/** The rows holding one value: the row itself while it is the only one (the usual case, and a Set each costs). */
type Filed<Row> = Row | Set<Row>;

export class KeyIndex<Row extends KeyedRow> {
  private readonly byParam = new Map<string, Map<string, Filed<Row>>>();

  constructor(params: Iterable<string>, rows: Iterable<Row>) {
    for (const p of params) this.byParam.set(p, new Map());
    for (const row of rows) this.add(row);
  }

  /** Whether a parameter is part of a unique key of the table. */
  has(param: string): boolean {
    return this.byParam.has(param);
  }

  /** The rows whose parameter holds this value. */
  rowsWith(param: string, value: string): ReadonlySet<Row> {
    const filed = this.byParam.get(param)?.get(value);
    return filed === undefined ? NONE : filed instanceof Set ? filed : new Set([filed]);
  }

  add(row: Row): void {
    for (const [p, byValue] of this.byParam) file(byValue, row.stored(p) ?? '', row);
  }

  remove(row: Row): void {
    for (const [p, byValue] of this.byParam) unfile(byValue, row.stored(p) ?? '', row);
  }

  /** A key parameter of a row filed in the table goes from one stored value to another. */
  move(row: Row, param: string, from: string, to: string): void {
    const byValue = this.byParam.get(param);
    if (!byValue || from === to) return;
    unfile(byValue, from, row);
    file(byValue, to, row);
  }
}

const NONE: ReadonlySet<never> = new Set();

function file<Row>(byValue: Map<string, Filed<Row>>, value: string, row: Row): void {
  const filed = byValue.get(value);
  if (filed === undefined) byValue.set(value, row);
  else if (filed instanceof Set) filed.add(row);
  else if (filed !== row) byValue.set(value, new Set([filed, row]));
}

function unfile<Row>(byValue: Map<string, Filed<Row>>, value: string, row: Row): void {
  const filed = byValue.get(value);
  if (filed === row) {
    byValue.delete(value);
    return;
  }
  if (!(filed instanceof Set)) return;
  filed.delete(row);
  if (filed.size === 1) byValue.set(value, filed.values().next().value!);
}
