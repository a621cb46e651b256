/**
 * Independent computations of percentile bootstrap intervals, to test civitas's own
 * (`bootstrapStatistic` and the statistics built on it) against.
 *
 * - `exactInterval`: on a case small enough to list every resample, the exact bootstrap
 *   distribution of a statistic and its 2.5th and 97.5th percentiles (Efron & Tibshirani 1993,
 *   ch. 13: the percentile interval is the percentiles of the bootstrap distribution; resampling
 *   only approximates it). When each percentile falls well inside one value of that distribution
 *   (checked: at least 6 binomial standard deviations of the resampled share away from either edge
 *   of the value), B resamples give exactly that value, whatever the seed (the chance of any other
 *   is below 1e-8).
 * - `replayedInterval`: the same seeded resamples civitas draws (for each resample, each stratum in
 *   the order its first item appears, one uniform draw per item of the stratum, from
 *   `seededRng(seed)`), with the statistic and the percentiles computed here.
 */
import assert from "node:assert/strict";
import { seededRng } from "../../src/metrics/rng.js";

/** Item indices of each stratum, strata in the order their first item appears, items in order. */
export function strataGroups(nItems: number, strata?: ArrayLike<number>): number[][] {
  if (!strata) return [Array.from({ length: nItems }, (_, i) => i)];
  const groups = new Map<number, number[]>();
  for (let i = 0; i < nItems; i++) {
    const g = groups.get(strata[i]!) ?? [];
    g.push(i);
    groups.set(strata[i]!, g);
  }
  return [...groups.values()];
}

/**
 * The q-th sample quantile, definition 7 of Hyndman & Fan (1996) (R's default, numpy's "linear"):
 * with h = (N - 1) q + 1, x_(floor h) + (h - floor h) (x_(floor h + 1) - x_(floor h)), 1-based
 * order statistics. NaN values are left out.
 */
export function quantile7(values: readonly number[], q: number): number {
  const x = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  const h = (x.length - 1) * q + 1;
  const j = Math.floor(h);
  const below = x[j - 1]!;
  const above = x[Math.min(j, x.length - 1)]!;
  return below + (h - j) * (above - below);
}

/** Every resample of the items, each stratum resampled within itself: product of n_s^n_s. */
export function* allResamples(groups: readonly (readonly number[])[]): Generator<number[]> {
  const slots = groups.flatMap((g) => g.map(() => g));
  const pick = new Array<number>(slots.length).fill(0);
  for (;;) {
    yield pick.map((k, s) => slots[s]![k]!);
    let s = slots.length - 1;
    while (s >= 0 && pick[s] === slots[s]!.length - 1) pick[s--] = 0;
    if (s < 0) return;
    pick[s]!++;
  }
}

/** The exact bootstrap distribution of `statistic`: value -> probability (values within 1e-12 merged). */
export function exactDistribution(groups: readonly (readonly number[])[], statistic: (sample: number[]) => number): [number, number][] {
  const counts = new Map<number, number>();
  let total = 0;
  for (const sample of allResamples(groups)) {
    const v = Math.round(statistic(sample) * 1e12) / 1e12;
    counts.set(v, (counts.get(v) ?? 0) + 1);
    total++;
  }
  return [...counts.entries()].sort((a, b) => a[0] - b[0]).map(([v, c]) => [v, c / total]);
}

/**
 * The value of the exact bootstrap distribution holding its q-quantile, checked to be one that B
 * resamples find whatever their seed (see the top of this file).
 */
export function exactQuantile(dist: readonly [number, number][], q: number, resamples: number): number {
  let below = 0;
  for (const [value, p] of dist) {
    const upTo = below + p;
    if (below < q && q < upTo) {
      const sd = (f: number) => Math.sqrt((f * (1 - f)) / resamples);
      // Enough resamples fall below the value (or none can), and enough at or below it, to put
      // both order statistics around position q (B - 1) on it.
      const low = below === 0 ? Infinity : (q - below - 2 / resamples) / sd(below);
      const high = upTo >= 1 - 1e-15 ? Infinity : (upTo - q - 2 / resamples) / sd(upTo);
      assert.ok(low >= 6 && high >= 6, `the ${q} quantile (${value}) is too close to the edge of its value for ${resamples} resamples (${low.toFixed(1)} and ${high.toFixed(1)} sd)`);
      return value;
    }
    below = upTo;
  }
  assert.fail(`no value of the distribution holds the ${q} quantile alone`);
}

export function exactInterval(groups: readonly (readonly number[])[], statistic: (sample: number[]) => number, resamples: number, level = 0.95): [number, number] {
  const dist = exactDistribution(groups, statistic);
  const alpha = (1 - level) / 2;
  return [exactQuantile(dist, alpha, resamples), exactQuantile(dist, 1 - alpha, resamples)];
}

/** The resamples civitas draws for this seed: per resample, per stratum in order, one draw per item. */
export function replayedResamples(groups: readonly (readonly number[])[], resamples: number, seed: number): number[][] {
  const rng = seededRng(seed);
  const out: number[][] = [];
  for (let b = 0; b < resamples; b++) out.push(groups.flatMap((g) => g.map(() => g[rng.int(0, g.length - 1)]!)));
  return out;
}

/** Point estimate and percentile interval of each output of `statistic` over the replayed resamples. */
export function replayedInterval(
  groups: readonly (readonly number[])[],
  statistic: (sample: number[]) => readonly number[],
  resamples: number,
  seed: number,
  level = 0.95,
): { mean: number; ci: [number, number] }[] {
  const identity = groups.flat().sort((a, b) => a - b);
  const point = statistic(identity);
  const draws = replayedResamples(groups, resamples, seed).map((s) => statistic(s));
  const alpha = (1 - level) / 2;
  return point.map((mean, k) => {
    const values = draws.map((d) => d[k]!);
    return { mean, ci: [quantile7(values, alpha), quantile7(values, 1 - alpha)] };
  });
}

/** |a - b| <= tol for numbers, and for [lo, hi] pairs. */
export function assertClose(actual: number | readonly number[], expected: number | readonly number[], tol: number, what = ""): void {
  const a = typeof actual === "number" ? [actual] : actual;
  const e = typeof expected === "number" ? [expected] : expected;
  assert.equal(a.length, e.length, what);
  a.forEach((x, i) => {
    const y = e[i]!;
    const ok = (Number.isNaN(x) && Number.isNaN(y)) || Math.abs(x - y) <= tol;
    assert.ok(ok, `${what}: ${JSON.stringify(actual)} is not within ${tol} of ${JSON.stringify(expected)}`);
  });
}
