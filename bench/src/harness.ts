/**
 * The benchmarks' shared helpers. Every figure is the median of several runs, and is
 * reported next to a baseline measured in the same process run, because the machines
 * are shared and noisy: the ratio means more than the raw number.
 */
export const RUNS = Number(process.env.IKC_BENCH_RUNS ?? 5);

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Runs `once` RUNS times (after one warm-up run) and returns the median of its results. */
export async function medianOf(once: () => number | Promise<number>, runs = RUNS): Promise<number> {
  await once();
  const results: number[] = [];
  for (let i = 0; i < runs; i++) results.push(await once());
  return median(results);
}

/** Operations per second of `count` calls of a synchronous body, timed as one block. */
export function opsPerSec(count: number, body: (i: number) => void): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i++) body(i);
  const ns = Number(process.hrtime.bigint() - start);
  return (count * 1e9) / ns;
}

export interface Row {
  name: string;
  value: number;
  unit: string;
  /** Name of the row in the same table this one is compared with, if any. */
  baseline?: string;
  target?: string;
}

export function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Math.abs(n) >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (Math.abs(n) >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return n.toFixed(n < 10 ? 2 : 0);
}

/** Prints a markdown table with a ratio column against each row's baseline. */
export function report(title: string, rows: Row[]): void {
  const byName = new Map(rows.map((r) => [r.name, r]));
  const lines = [
    `### ${title}`,
    '',
    '| measure | median | unit | ratio | target |',
    '|---|---:|---|---:|---|',
  ];
  for (const r of rows) {
    const base = r.baseline ? byName.get(r.baseline) : undefined;
    const ratio = base ? `${(r.value / base.value).toFixed(2)}x ${r.baseline}` : '';
    lines.push(`| ${r.name} | ${fmt(r.value)} | ${r.unit} | ${ratio} | ${r.target ?? ''} |`);
  }
  console.log(`${lines.join('\n')}\n\n(median of ${RUNS} runs after a warm-up, node ${process.version})\n`);
}
