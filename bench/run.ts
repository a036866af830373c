// npm run bench: every benchmark in one run, one table of figures.
import { cpus, totalmem } from 'node:os';
import { printFigures } from './figures.js';
import { dmFigures } from './dm.js';
import { uspFigures } from './usp.js';
import { engineFigures } from './engine.js';
import { cwmpFigures } from './cwmp.js';

const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
if (!(globalThis as { gc?: unknown }).gc) console.log('note: run with --expose-gc for exact heap figures (npm run bench does)');
printFigures(`cpe-agent benchmarks on ${machine}`, [...dmFigures(), ...(await uspFigures()), ...(await cwmpFigures()), ...(await engineFigures())]);
