// Benchmark rows in the shape `installer/berth-bench` gathers into its one table (see
// tests/e2e/src/report.rs): a `BERTH-BENCH {json}` line per figure on stdout, with its median
// and spread, the baseline measured in the same run, and the goal from its issue.
const stats = (xs) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)], min: sorted[0], max: sorted[sorted.length - 1] };
};

export const median = (xs) => stats(xs).median;

/** Prints one row; `goal` is `{ kind: "absolute" | "ratio" | "added", bound }` or `{ kind: "none" }`. */
export function emitRow({ name, unit, values, baselineName, baseline, goal = { kind: "none" }, better = "lower" }) {
  const { median: m, min, max } = stats(values);
  const row = { name, unit, better, median: m, min, max, baseline_name: baselineName, baseline: stats(baseline).median, goal };
  console.log(`BERTH-BENCH ${JSON.stringify(row)}`);
}
