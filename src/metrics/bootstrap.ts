/**
 * Percentile bootstrap over questions (Efron & Tibshirani 1993, ch. 13): resample the questions
 * with replacement, recompute the statistic, and take the 2.5th and 97.5th percentiles of the
 * resampled statistics as the 95% interval.
 *
 * Clustered (Davison & Hinkley 1997, "Bootstrap Methods and their Application", sec. 3.8, the
 * first stage of their two-stage scheme; Field & Welsh 2007, "Bootstrapping clustered data",
 * JRSS B 69:369-390, the "cluster bootstrap"): where items are not independent (MoCa's stories,
 * each asked with several questions), whole clusters are resampled with replacement, each with all
 * its items, as many clusters as there are; a resample then holds a varying number of items. When
 * every cluster is one item this is the item bootstrap, draw for draw (the same calls to the
 * generator).
 */
import { seededRng } from "./rng.js";

export interface Estimate {
  readonly mean: number;
  readonly ci: readonly [number, number];
  /** Number of questions with a value. */
  readonly n: number;
}

export interface BootstrapOptions {
  /** Number of resamples (default 1000). */
  readonly resamples?: number;
  readonly seed?: number;
  /** Confidence level (default 0.95). */
  readonly level?: number;
}

/**
 * The q-quantile of sorted values with linear interpolation between order statistics: for
 * x_0 <= ... <= x_{n-1} and h = q (n - 1), x_floor(h) + (h - floor(h)) (x_floor(h)+1 - x_floor(h)).
 * This is definition 7 of Hyndman & Fan ("Sample quantiles in statistical packages", The American
 * Statistician 50:361-365, 1996), R's default `quantile(type = 7)` and numpy.percentile /
 * numpy.quantile's default (`method="linear"`).
 */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const pos = q * (n - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(n - 1, lo + 1);
  const frac = pos - lo;
  return sorted[lo]! + frac * (sorted[hi]! - sorted[lo]!);
}

/**
 * The percentile interval of bootstrap draws at `level` (Efron & Tibshirani 1993, ch. 13): the
 * (1 - level) / 2 and (1 + level) / 2 quantiles (`quantileSorted`, numpy's default linear
 * interpolation) of the draws that are not NaN; [NaN, NaN] when every draw is NaN.
 */
export function percentileInterval(draws: ArrayLike<number>, level: number): [number, number] {
  const finite: number[] = [];
  for (let i = 0; i < draws.length; i++) if (!Number.isNaN(draws[i]!)) finite.push(draws[i]!);
  const sorted = Float64Array.from(finite).sort();
  const alpha = (1 - level) / 2;
  return [quantileSorted(sorted, alpha), quantileSorted(sorted, 1 - alpha)];
}

function meanOf(values: ArrayLike<number>): { mean: number; n: number } {
  let s = 0;
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isNaN(v)) {
      s += v;
      n++;
    }
  }
  return { mean: n > 0 ? s / n : Number.NaN, n };
}

export interface BootstrapResult {
  /** One estimate per series. */
  readonly series: Estimate[];
  /** The mean over series (series without values left out), resampled jointly. */
  readonly average: Estimate;
}

/**
 * Means of several series measured on the same questions, with percentile intervals from one
 * shared set of question resamples (so that the interval of their average is right, too).
 * `series[s][i]` is the value of series s on question i; NaN means "no value" (e.g. a population
 * the question was not asked of) and is left out of that series' mean.
 */
export function bootstrapMeans(series: ReadonlyArray<ArrayLike<number>>, options: BootstrapOptions = {}): BootstrapResult {
  const resamples = options.resamples ?? 1000;
  const level = options.level ?? 0.95;
  const nq = series.length > 0 ? series[0]!.length : 0;
  for (const s of series) {
    if (s.length !== nq) throw new RangeError("all series must have one value per question");
  }
  const point = series.map((s) => meanOf(s));
  const averageOf = (means: ArrayLike<number>): number => meanOf(means).mean;
  const pointAverage = averageOf(point.map((p) => p.mean));

  const draws = series.map(() => new Float64Array(resamples));
  const avgDraws = new Float64Array(resamples);
  const rng = seededRng(options.seed ?? 0);
  const idx = new Int32Array(nq);
  const sums = new Float64Array(series.length);
  const counts = new Int32Array(series.length);
  const drawMeans = new Float64Array(series.length);
  for (let b = 0; b < resamples; b++) {
    for (let i = 0; i < nq; i++) idx[i] = rng.int(0, nq - 1);
    sums.fill(0);
    counts.fill(0);
    for (let s = 0; s < series.length; s++) {
      const col = series[s]!;
      for (let i = 0; i < nq; i++) {
        const v = col[idx[i]!]!;
        if (!Number.isNaN(v)) {
          sums[s]! += v;
          counts[s]!++;
        }
      }
      drawMeans[s] = counts[s]! > 0 ? sums[s]! / counts[s]! : Number.NaN;
      draws[s]![b] = drawMeans[s]!;
    }
    avgDraws[b] = averageOf(drawMeans);
  }
  return {
    series: point.map((p, s) => ({ mean: p.mean, ci: percentileInterval(draws[s]!, level), n: p.n })),
    average: { mean: pointAverage, ci: percentileInterval(avgDraws, level), n: nq },
  };
}

/**
 * The general percentile bootstrap: `statistic` maps a sample of item indices (with repeats) to
 * one or more numbers; it is evaluated on the original items (the point estimates) and on
 * `resamples` resamples drawn with replacement. With `strata` (a stratum number per item), items
 * are resampled within their stratum, so every resample keeps each stratum's size (e.g. each of
 * distalign's three datasets). NaN draws are left out of an interval.
 */
export function bootstrapStatistic(
  nItems: number,
  statistic: (sample: Int32Array) => readonly number[],
  options: BootstrapOptions & { readonly strata?: ArrayLike<number>; readonly clusters?: ArrayLike<string | number> } = {},
): { mean: number; ci: [number, number] }[] {
  if (options.clusters) return clusteredStatistic(nItems, statistic, { ...options, clusters: options.clusters });
  const resamples = options.resamples ?? 1000;
  const level = options.level ?? 0.95;
  const identity = Int32Array.from({ length: nItems }, (_, i) => i);
  const point = statistic(identity);
  const draws = point.map(() => new Float64Array(resamples));
  const rng = seededRng(options.seed ?? 0);
  // Items of each stratum, strata in order of their first item: each one's block of a sample.
  const groups = options.strata ? clusterMembers(options.strata) : [Array.from(identity)];
  const sample = new Int32Array(nItems);
  for (let b = 0; b < resamples; b++) {
    let k = 0;
    for (const g of groups) {
      for (let j = 0; j < g.length; j++) sample[k++] = g[rng.int(0, g.length - 1)]!;
    }
    const out = statistic(sample);
    for (let s = 0; s < out.length; s++) draws[s]![b] = out[s]!;
  }
  return point.map((mean, s) => ({ mean, ci: percentileInterval(draws[s]!, level) }));
}

/** Item indices grouped by cluster, clusters in order of their first item. */
export function clusterMembers(clusters: ArrayLike<string | number>, items?: readonly number[]): number[][] {
  const byCluster = new Map<string | number, number[]>();
  for (const i of items ?? Array.from({ length: clusters.length }, (_, k) => k)) {
    const c = clusters[i]!;
    const g = byCluster.get(c);
    if (g) g.push(i);
    else byCluster.set(c, [i]);
  }
  return [...byCluster.values()];
}

/**
 * bootstrapStatistic with `clusters` (a cluster id per item; see the module comment): within each
 * stratum, as many clusters as it has are drawn with replacement, and a sample holds all the items
 * of each drawn cluster, stratum by stratum. A cluster must lie within one stratum.
 */
function clusteredStatistic(
  nItems: number,
  statistic: (sample: Int32Array) => readonly number[],
  options: BootstrapOptions & { readonly strata?: ArrayLike<number>; readonly clusters: ArrayLike<string | number> },
): { mean: number; ci: [number, number] }[] {
  if (options.clusters.length !== nItems) throw new RangeError("clusters: expected one cluster id per item");
  const resamples = options.resamples ?? 1000;
  const level = options.level ?? 0.95;
  const identity = Int32Array.from({ length: nItems }, (_, i) => i);
  const point = statistic(identity);
  const draws = point.map(() => new Float64Array(resamples));
  const rng = seededRng(options.seed ?? 0);
  const strata = options.strata ? clusterMembers(options.strata) : [Array.from(identity)];
  const groups = strata.map((items) => clusterMembers(options.clusters, items));
  const sample: number[] = [];
  for (let b = 0; b < resamples; b++) {
    sample.length = 0;
    for (const clusters of groups) {
      for (let j = 0; j < clusters.length; j++) sample.push(...clusters[rng.int(0, clusters.length - 1)]!);
    }
    const out = statistic(Int32Array.from(sample));
    for (let s = 0; s < out.length; s++) draws[s]![b] = out[s]!;
  }
  return point.map((mean, s) => ({ mean, ci: percentileInterval(draws[s]!, level) }));
}
