// Which changes a subscription's ReferenceList covers.
import { compilePattern } from '../dm/change-feed.js';
import type { DataModel } from '../dm/datamodel.js';

const AGENT = { kind: 'agent', component: 'subscriptions' } as const;

const patternCache = new Map<string, (p: string) => boolean>();

/**
 * Whether a ReferenceList entry covers a changed path: partial paths cover what is below them,
 * wildcards any instance, search expressions the objects they resolve to now. For creation and
 * deletion the entry names the table, and covers its rows.
 */
export function refMatches(dm: DataModel, ref: string, path: string, table: boolean): boolean {
  if (ref.includes('[')) {
    try {
      return dm.resolve(ref, AGENT).some((t) => {
        const p = t.kind === 'node' ? t.node.path : t.table.path;
        return table
          ? path.startsWith(p) && /^\d+\.$/.test(path.slice(p.length))
          : path === p || (p.endsWith('.') && path.startsWith(p));
      });
    } catch {
      return false;
    }
  }
  const key = `${table ? 't' : 'p'}${ref}`;
  let m = patternCache.get(key);
  if (!m) {
    m = table ? compilePattern(`${ref}*`) : compilePattern(ref);
    // Subscriptions come and go with references of the controllers' choosing: the cache must not grow with them.
    if (patternCache.size >= 10_000) patternCache.clear();
    patternCache.set(key, m);
  }
  return table ? m(path.replace(/\.$/, '')) || m(path) : m(path);
}
