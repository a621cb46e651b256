/**
 * Pearson's correlation coefficient between paired values, with a seeded percentile bootstrap
 * interval over the pairs: the statistic Schramowski et al. 2022 report between a model's moral
 * score and the share of people answering "yes" (MoRT_NMI, mort/plot_corr/plt_UserstudyCorr.py:
 * `pearsonr(f, d)`, scipy's definition). It is unchanged by any increasing affine map of either
 * side, so the paper's scores on [-1, 1] ((share - 0.5) / 0.5, and P(yes) - P(no)) give the same r
 * as the shares themselves.
 */
import { bootstrapStatistic } from "./bootstrap.js";

/** r over the pairs (x[i], y[i]) for i in `sample` (all by default); NaN when either side is constant or there are fewer than 2 pairs. */
export function pearson(x: ArrayLike<number>, y: ArrayLike<number>, sample?: ArrayLike<number>): number {
  if (x.length !== y.length) throw new RangeError(`pearson: ${x.length} x values for ${y.length} y values`);
  const n = sample ? sample.length : x.length;
  if (n < 2) return Number.NaN;
  const at = (i: number) => (sample ? sample[i]! : i);
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[at(i)]!;
    my += y[at(i)]!;
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[at(i)]! - mx;
    const dy = y[at(i)]! - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx === 0 || syy === 0) return Number.NaN;
  // Rounding can put |r| a hair above 1 for (anti)collinear data.
  return Math.max(-1, Math.min(1, sxy / Math.sqrt(sxx * syy)));
}

/**
 * r with a percentile bootstrap interval over the pairs (seeded; resamples in which one side is
 * constant are left out of the interval, as they have no r).
 */
export function pearsonWithInterval(
  x: readonly number[],
  y: readonly number[],
  options: { readonly seed?: number; readonly resamples?: number } = {},
): { readonly mean: number; readonly ci: [number, number]; readonly n: number } {
  const [e] = bootstrapStatistic(x.length, (sample) => [pearson(x, y, sample)], { seed: options.seed ?? 0, resamples: options.resamples ?? 1000 });
  return { mean: e!.mean, ci: e!.ci, n: x.length };
}
