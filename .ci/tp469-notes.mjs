// The TP-469 cases that spec/notes/tp469-cases.md names and the plan copy in spec/tp-469 lacks.
// The copy holds only the sections that can apply to an MQTT agent; the notes list every section of
// the full plan with its case count, name a few of the other cases (a table row with a title, or an
// id range in the feature table) and give no titles for the rest. So the table gets one row per case
// the notes name and one row per section for what they only count, without a title made up.

import { readFileSync } from 'node:fs';

/** "10.10–10.12" -> ['10.10', '10.11', '10.12']; "10.13" -> ['10.13']. */
function expand(from, to) {
  const [s, a] = from.split('.').map(Number);
  const b = to ? Number(to.split('.')[1]) : a;
  return Array.from({ length: b - a + 1 }, (_, i) => `${s}.${a + i}`);
}

/**
 * Rows for the cases of the notes that are not in the plan copy (known: its case ids), each with its
 * section: { section, id, title, tag } for a case the notes give with a title, { section, id: range,
 * title } for an id range of the feature table, { section, id: 'N.*', title, count } for the rest of a
 * section, which the notes only count.
 */
export function casesOnlyInNotes(file, known) {
  const text = readFileSync(file, 'utf8');
  const sections = [...text.matchAll(/^- \*\*(\d+) (.+?)\*\* — (\d+) cases/gm)].map((m) => ({
    section: Number(m[1]),
    name: m[2],
    count: Number(m[3]),
  }));
  if (!sections.length) throw new Error(`${file}: no section list ("- **N Name** — K cases")`);
  const rows = [];
  // Case tables: | id | title | tag | ...
  for (const m of text.matchAll(/^\| (\d+\.\d+) \| ([^|]+?) \| ([^|]+?) \|/gm))
    if (!known.has(m[1])) rows.push({ section: Number(m[1].split('.')[0]), id: m[1], title: m[2], tag: m[3] });
  // Feature table: | feature | name | case ids or ranges |, for the cases no table row names.
  const features = text.slice(text.indexOf('## Feature-ID table'), text.indexOf('\n## ', text.indexOf('## Feature')));
  // A row may pair features with groups of cases: "| 34/41 | BulkData Push!/over MQTT | 10.10–10.12 / 10.13 |".
  for (const m of features.matchAll(/^\| ([^|]+?) \| ([^|]+?) \| ([^|]+?) \|$/gm)) {
    const [nums, names, groups] = [m[1].split('/'), m[2].split('/'), m[3].split(' / ')];
    const paired = nums.length > 1 && nums.length === names.length && names.length === groups.length;
    for (const [g, group] of (paired ? groups : [m[3]]).entries())
      for (const r of group.matchAll(/(?<![\w.])(\d+\.[1-9]\d*)(?:[–-](\d+\.\d+))?(?![\w.-])/g)) {
        // Cases count from N.1: "5.0-only" and the like are no case ids.
        const ids = expand(r[1], r[2]).filter((id) => !known.has(id) && !rows.some((x) => x.id === id));
        if (ids.length === 0) continue;
        const id = ids.length > 1 ? `${ids[0]}–${ids.at(-1)}` : ids[0];
        const feature = paired ? `${nums[g].trim()}: ${names[g].trim()}` : `${m[1]}: ${m[2]}`;
        rows.push({
          section: Number(ids[0].split('.')[0]),
          id,
          title: `(no title in the notes; feature ${feature})`,
          tag: '',
          ids,
        });
      }
  }
  for (const s of sections) {
    const inCopy = [...known].filter((id) => id.startsWith(`${s.section}.`)).length;
    const named = rows.filter((r) => r.section === s.section).reduce((n, r) => n + (r.ids?.length ?? 1), 0);
    const rest = s.count - inCopy - named;
    if (rest <= 0) continue;
    const which = inCopy + named ? `the other ${rest} of its ${s.count} cases` : `all ${s.count} cases`;
    rows.push({
      section: s.section,
      id: `${s.section}.*`,
      title: `${s.name}: ${which}, not in the plan copy (the notes give only the count, no ids or titles)`,
      tag: '',
      count: rest,
    });
  }
  const order = (r) => (r.id.endsWith('*') ? Infinity : Number(r.id.split(/[.–]/)[1]));
  return rows
    .sort((a, b) => a.section - b.section || order(a) - order(b))
    .map((r) => ({ ...r, count: r.count ?? r.ids?.length ?? 1 }));
}
