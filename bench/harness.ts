/**
 * Benchmark reporting: one JSON object per line on stdout,
 * `{"name","value","unit","baseline","ratio"}`, where the baseline is measured in the same run
 * on the same machine so the ratio survives a noisy host. Higher-is-better and lower-is-better
 * figures both use ratio = value / baseline; each benchmark's doc says which way is good.
 */
export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  baseline: number;
  ratio: number;
}

const round = (x: number): number => (Math.abs(x) >= 100 ? Math.round(x * 10) / 10 : Math.round(x * 1000) / 1000);

export function report(name: string, value: number, unit: string, baseline: number): BenchResult {
  const result: BenchResult = {
    name,
    value: round(value),
    unit,
    baseline: round(baseline),
    ratio: baseline === 0 ? 0 : Math.round((value / baseline) * 1000) / 1000,
  };
  process.stdout.write(JSON.stringify(result) + '\n');
  return result;
}

/** Median of a list of numbers (benchmarks compare medians: the machine is noisy). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The p-th percentile (0-100) by nearest rank. */
export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  const idx = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[idx];
}
