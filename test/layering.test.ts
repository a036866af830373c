// DESIGN.md "Layers": a layer imports only from layers below it, protocols speak to the data model
// only, and the engine knows nothing of TR-181 or the protocols. This walks the imports of src/ (type
// imports too: a protocol that names an engine type is tied to it all the same) and fails on an
// arrow the layering forbids or on an import cycle. The list of exceptions below is empty: src/cwmp
// and src/usp import nothing from src/engine or src/model, and an exception listed that no longer
// occurs fails too, so the list can only shrink back to empty.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from './helpers.js';

const SRC = join(repoRoot, 'src');

/** Which layers each layer may import (util: what every layer needs; agent.ts and cli/: the composition root). */
const ALLOWED: Record<string, readonly string[]> = {
  util: ['util'],
  engine: ['engine', 'util'],
  dm: ['dm', 'engine', 'util'],
  model: ['model', 'dm', 'engine', 'util'],
  cwmp: ['cwmp', 'dm', 'util'],
  usp: ['usp', 'dm', 'util'],
  root: ['root', 'cli', 'model', 'dm', 'engine', 'cwmp', 'usp', 'util'],
  cli: ['root', 'cli', 'model', 'dm', 'engine', 'cwmp', 'usp', 'util'],
};

/**
 * Arrows against the layering that are still there ("from -> to", paths under src/), each with its
 * reason. None is left: CWMP's ChangeDUState calls Device.SoftwareModules.InstallDU() / Update() /
 * Uninstall() through the data model and reads DUStateChange! from the change feed, and Download
 * fetches with util/download. A new exception needs a reason here, and fails once it no longer occurs.
 */
const EXCEPTIONS: Record<string, string> = {};

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? files(p) : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

// `import ... from '...'` / `export ... from '...'` / `import '...'`, or a dynamic `import('...')`.
const STATIC = String.raw`(?:^|[\s;])(?:import|export)\s+(?:type\s+)?(?:[\w*{}\s,$]+\s+from\s+)?['"]([^'"]+)['"]`;
const IMPORT = new RegExp(`${STATIC}|${String.raw`\bimport\(\s*['"]([^'"]+)['"]\s*\)`}`, 'g');

/** The files of src/ a file imports (relative specifiers only; packages are not layers). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2]!;
    if (!spec.startsWith('.')) continue;
    out.push(relative(SRC, resolve(dirname(file), spec.replace(/\.js$/, '.ts'))));
  }
  return out;
}

function layerOf(rel: string): string {
  const top = rel.split('/')[0]!;
  return top.endsWith('.ts') ? 'root' : top;
}

const graph = new Map(files(SRC).map((f) => [relative(SRC, f), importsOf(f)]));

test('every layer of src/ is known to the layering', () => {
  for (const file of graph.keys())
    assert.ok(ALLOWED[layerOf(file)], `src/${file}: layer '${layerOf(file)}' is not in DESIGN.md's layering`);
});

test('no import goes against the layering, but the listed exceptions', () => {
  const found = new Set<string>();
  const bad: string[] = [];
  for (const [file, deps] of graph) {
    for (const dep of deps) {
      assert.ok(graph.has(dep), `src/${file} imports src/${dep}, which does not exist`);
      if (ALLOWED[layerOf(file)]!.includes(layerOf(dep))) continue;
      const arrow = `${file} -> ${dep}`;
      if (arrow in EXCEPTIONS) found.add(arrow);
      else bad.push(arrow);
    }
  }
  assert.deepEqual(bad, [], `imports against DESIGN.md's layering:\n${bad.join('\n')}`);
  const gone = Object.keys(EXCEPTIONS).filter((a) => !found.has(a));
  assert.deepEqual(gone, [], `exceptions that no longer occur (remove them from the list):\n${gone.join('\n')}`);
});

test('the imports of src/ have no cycle', () => {
  const state = new Map<string, 'open' | 'done'>();
  const cycles: string[] = [];
  const visit = (file: string, stack: string[]): void => {
    const s = state.get(file);
    if (s === 'done') return;
    if (s === 'open') {
      cycles.push([...stack.slice(stack.indexOf(file)), file].join(' -> '));
      return;
    }
    state.set(file, 'open');
    for (const dep of graph.get(file) ?? []) visit(dep, [...stack, file]);
    state.set(file, 'done');
  };
  for (const file of [...graph.keys()].sort()) visit(file, []);
  assert.deepEqual(cycles, [], `import cycles:\n${cycles.join('\n')}`);
});
