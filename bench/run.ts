// npm run bench: every benchmark in one run, one table of figures, printed and written to
// docs/benchmarks.md with the machine it ran on.
import { writeFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../src/util/package-info.js';
import { figuresTable, printFigures } from './figures.js';
import { dmFigures } from './dm.js';
import { uspFigures } from './usp.js';
import { engineFigures } from './engine.js';
import { cwmpFigures } from './cwmp.js';

const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
if (!(globalThis as { gc?: unknown }).gc) console.log('note: run with --expose-gc for exact heap figures (npm run bench does)');
const figures = [...dmFigures(), ...(await uspFigures()), ...(await cwmpFigures()), ...(await engineFigures())];
printFigures(`cpe-agent benchmarks on ${machine}`, figures);
const doc = join(packageRoot, 'docs', 'benchmarks.md');
writeFileSync(doc, `# Benchmarks

Written by \`npm run bench\` (bench/run.ts); each figure's method is described in the bench/ file that
measures it. Targets come from the issues; a FAIL row is a target not met yet.

Machine: ${machine}, Linux ${release()}. Run: ${new Date().toISOString().slice(0, 16)}Z.

${figuresTable(figures)}
`);
console.log(`\nwritten to ${doc}`);
