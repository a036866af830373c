// npm run bench: every benchmark in one run, one table of figures, printed and written to
// docs/benchmarks.md with the machine it ran on.
import { writeFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../src/util/package-info.js';
import { boundsFigures } from './bounds.js';
import { cwmpFigures } from './cwmp.js';
import { dmFigures } from './dm.js';
import { writeSection } from './doc-section.js';
import { downloadFigures } from './downloads.js';
import { engineFigures } from './engine.js';
import type { Figure } from './figures.js';
import { figuresTable, printFigures } from './figures.js';
import { footprintFigures } from './footprint.js';
import { imageFigures } from './images.js';
import { networkedFigures } from './networked.js';
import { uspFigures } from './usp.js';
import { writesFigures } from './writes.js';

const machine =
  `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ` +
  `${process.version}`;
if (!(globalThis as { gc?: unknown }).gc)
  console.log('note: run with --expose-gc for exact heap figures (npm run bench does)');
const groups: Record<string, () => Figure[] | Promise<Figure[]>> = {
  dm: dmFigures,
  usp: uspFigures,
  cwmp: cwmpFigures,
  engine: engineFigures,
  downloads: downloadFigures,
  bounds: boundsFigures,
  footprint: footprintFigures,
  writes: writesFigures,
  images: imageFigures,
  networked: networkedFigures,
};
// `npm run bench -- usp footprint` runs only those groups and leaves docs/benchmarks.md alone; with
// `--write`, each of them replaces its own section there (doc-section.ts).
const write = process.argv.includes('--write');
const only = process.argv.slice(2).filter((a) => a !== '--write');
const unknown = only.filter((g) => !(g in groups));
if (unknown.length) {
  console.error(`unknown benchmark group(s) ${unknown.join(', ')}; there are ${Object.keys(groups).join(', ')}`);
  process.exit(2);
}
const doc = join(packageRoot, 'docs', 'benchmarks.md');
const ranOn = () => `Machine: ${machine}, Linux ${release()}. Run: ${new Date().toISOString().slice(0, 16)}Z.`;
const figures: Figure[] = [];
for (const [name, run] of Object.entries(groups)) {
  if (only.length && !only.includes(name)) continue;
  const got = await run();
  figures.push(...got);
  if (only.length && write && got.length)
    writeSection(doc, name, `${ranOn()} How each figure is measured: bench/${name}.ts.`, got);
}
printFigures(`cpe-agent benchmarks on ${machine}`, figures);
if (only.length) process.exit(0);
writeFileSync(
  doc,
  `# Benchmarks

Written by \`npm run bench\` (bench/run.ts); each figure's method is described in the bench/ file that
measures it. Targets come from the issues; a FAIL row is a target not met yet.

${ranOn()}

${figuresTable(figures)}
`,
);
console.log(`\nwritten to ${doc}`);
