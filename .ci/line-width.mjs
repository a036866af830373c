// Lines stay within 120 columns: the formatter wraps code, but not strings, regular expressions or
// comments, so this catches what it leaves. Runs as part of `npm run lint`.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const LIMIT = 120;
const files = execFileSync('git', ['ls-files', '*.ts', '*.mjs', '*.js'], { encoding: 'utf8' }).split('\n');
const long = files.filter(Boolean).flatMap((f) =>
  readFileSync(f, 'utf8')
    .split('\n')
    .map((line, i) => ({ where: `${f}:${i + 1}`, width: [...line].length }))
    .filter((l) => l.width > LIMIT),
);
for (const l of long) console.error(`${l.where}: ${l.width} columns (at most ${LIMIT})`);
if (long.length) process.exit(1);
