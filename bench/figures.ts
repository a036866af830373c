// A benchmark's result rows, printed as one table: figure, value, target, pass or fail.
export interface Figure {
  name: string;
  value: number;
  unit: string;
  target: number;
  better: 'lower' | 'higher';
}

/** The figures as a Markdown table (figure, value, target, pass or FAIL); printed and written to docs/. */
export function figuresTable(figures: Figure[]): string {
  const rows = figures.map((f) => {
    const ok = f.better === 'lower' ? f.value <= f.target : f.value >= f.target;
    return [
      f.name,
      `${f.value.toFixed(f.value < 10 ? 2 : 1)} ${f.unit}`,
      `${f.better === 'lower' ? '<' : '>'} ${f.target} ${f.unit}`,
      ok ? 'pass' : 'FAIL',
    ];
  });
  const w = [0, 1, 2, 3].map((i) =>
    Math.max(...rows.map((r) => r[i]!.length), ['figure', 'value', 'target', 'result'][i]!.length),
  );
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(w[i]!)).join(' | ')} |`;
  return [
    line(['figure', 'value', 'target', 'result']),
    `|${w.map((n) => '-'.repeat(n + 2)).join('|')}|`,
    ...rows.map(line),
  ].join('\n');
}

export function printFigures(title: string, figures: Figure[]): void {
  console.log(`\n${title}\n${figuresTable(figures)}`);
}

/** Median wall time in ms of fn over runs, after warm-up runs. */
export function medianMs(fn: () => unknown, runs = 21, warmup = 5): number {
  for (let i = 0; i < warmup; i++) fn();
  const t: number[] = [];
  for (let i = 0; i < runs; i++) {
    const s = process.hrtime.bigint();
    fn();
    t.push(Number(process.hrtime.bigint() - s) / 1e6);
  }
  t.sort((a, b) => a - b);
  return t[Math.floor(t.length / 2)]!;
}
