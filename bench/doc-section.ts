// A group's figures in a section of docs/benchmarks.md of its own, between markers, replaced in place (or
// appended the first time): `npm run bench -- <group> --write` records one group without running the rest,
// whose rows in the main table stay as the last full run wrote them.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Figure } from './figures.js';
import { figuresTable } from './figures.js';

export function writeSection(doc: string, group: string, heading: string, figures: Figure[]): void {
  const start = `<!-- bench ${group}: written by npm run bench -- ${group} --write -->`;
  const end = `<!-- /bench ${group} -->`;
  const section = `${start}\n## ${group}\n\n${heading}\n\n${figuresTable(figures)}\n${end}`;
  const text = existsSync(doc) ? readFileSync(doc, 'utf8') : '# Benchmarks\n';
  const at = text.indexOf(start);
  const until = text.indexOf(end, at);
  const next =
    at >= 0 && until > at
      ? `${text.slice(0, at)}${section}${text.slice(until + end.length)}`
      : `${text.trimEnd()}\n\n${section}\n`;
  writeFileSync(doc, next);
}
