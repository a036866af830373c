// test/cwmp/checklist.json, the CWMP checklist behind docs/conformance.md: every line says either which
// tests prove it (and those tests exist, by file and the start of their name) or why none does, so the
// table can not claim a test that was renamed or removed.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../helpers.js';

interface Line {
  id: string;
  line: string;
  tests?: [string, string][];
  na?: string;
  todo?: string;
}

const checklist = JSON.parse(readFileSync(join(repoRoot, 'test', 'cwmp', 'checklist.json'), 'utf8')) as {
  sections: { title: string; lines: Line[] }[];
};

/** The names of the tests in a test source: test('...') literals, and test(NAME) with const NAME = '...'. */
function testNames(file: string): string[] {
  const src = readFileSync(join(repoRoot, 'test', file), 'utf8');
  const names = [...src.matchAll(/\btest\(\s*(['`"])((?:\\.|(?!\1)[^\\])*)\1/gs)].map((m) => m[2]!);
  for (const m of src.matchAll(/\btest\(\s*([A-Z_]+)\s*,/g)) {
    const c = new RegExp(`const ${m[1]} =\\s*(['\`"])((?:\\\\.|(?!\\1)[^\\\\])*)\\1`, 's').exec(src);
    if (c) names.push(c[2]!);
  }
  return names;
}

test('the CWMP checklist: unique ids, each line tested or saying why not, every named test exists', () => {
  const lines = checklist.sections.flatMap((s) => s.lines);
  assert.ok(lines.length >= 40, `${lines.length} lines`);
  const ids = lines.map((l) => l.id);
  assert.equal(new Set(ids).size, ids.length, 'ids are unique');
  for (const l of lines) {
    assert.match(l.id, /^CWMP-\d+\.\d+$/);
    const kinds = [l.tests?.length ? 'tests' : '', l.na ? 'na' : '', l.todo ? 'todo' : ''].filter(Boolean);
    assert.equal(kinds.length, 1, `${l.id}: tests, na or todo, one of them (${kinds.join(', ')})`);
    for (const [file, name] of l.tests ?? [])
      assert.ok(
        testNames(file).some((n) => n.startsWith(name)),
        `${l.id}: test/${file} has no test named "${name}..."`,
      );
  }
});
