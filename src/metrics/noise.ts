/**
 * The sampling noise floor: how far from the true distribution p an empirical distribution of n
 * draws from p lies on average, E[d(p, X/n)] with X ~ Multinomial(n, p). A model can not be
 * expected to come closer to a survey's population than the survey's own sampling noise, and a
 * model sampled K times (`--method sample`) no closer than K draws allow.
 *
 * Total variation and the ordinal Wasserstein distance are sums of absolute deviations of
 * (cumulative) counts, each marginally binomial, so their expectation is exact through the
 * binomial mean absolute deviation (de Moivre; Berend & Kontorovich 2013):
 *   E|X - np| = 2 (m + 1) C(n, m + 1) p^(m+1) (1 - p)^(n-m),  m = floor(np),  X ~ Bin(n, p).
 * The Jensen-Shannon distance does not decompose; it is estimated by seeded simulation: `draws`
 * multinomial samples, each a chain of binomial variates (binomial.ts) from the stream of
 * (seed, question) (rng.ts `streamRng`). Which of the two a metric uses is part of its
 * registration (`Metric.noise`, src/metrics/distances.ts).
 */
import { binomialSample } from "./binomial.js";
// distances.ts registers the metrics with the closed forms below; both modules use each other only
// when called, so they may be loaded in either order.
import { findMetric, type MetricName } from "./distances.js";
import { logGamma } from "./distributions.js";
import { streamRng } from "./rng.js";

/** E|X - np| for X ~ Binomial(n, p), exactly. */
export function binomialMeanAbsoluteDeviation(n: number, p: number): number {
  if (n <= 0 || p <= 0 || p >= 1) return 0;
  const m = Math.floor(n * p);
  if (m + 1 > n) return 0;
  const logC = logGamma(n + 1) - logGamma(m + 2) - logGamma(n - m);
  return 2 * (m + 1) * Math.exp(logC + (m + 1) * Math.log(p) + (n - m) * Math.log1p(-p));
}

/** E[TV(p, X/n)] = 1/2 sum_i E|X_i/n - p_i|, exactly. */
export function expectedTotalVariation(p: readonly number[], n: number): number {
  return p.reduce((s, pi) => s + binomialMeanAbsoluteDeviation(n, pi), 0) / (2 * n);
}

/**
 * E[W1(p, X/n)] / range on ordinal positions, exactly: the sum over gaps of E|F^_k - F_k| * gap,
 * where the cumulative count up to the k-th smallest ordinal is Binomial(n, F_k).
 */
export function expectedOrdinalWasserstein(p: readonly number[], ordinals: readonly number[], n: number): number {
  const idx = ordinals.map((_, i) => i).sort((a, b) => ordinals[a]! - ordinals[b]!);
  const lo = ordinals[idx[0]!]!;
  const hi = ordinals[idx[idx.length - 1]!]!;
  if (hi === lo) return 0;
  let cdf = 0;
  let w = 0;
  for (let k = 0; k < idx.length - 1; k++) {
    cdf += p[idx[k]!]!;
    const gap = ordinals[idx[k + 1]!]! - ordinals[idx[k]!]!;
    w += (binomialMeanAbsoluteDeviation(n, Math.min(1, cdf)) / n) * gap;
  }
  return w / (hi - lo);
}

export interface NoiseOptions {
  /** The run's seed (default 0). */
  readonly seed?: number;
  /**
   * What the simulation is for (e.g. the question id), so that each gets its own random stream
   * under every seed: the generator is seeded from a hash of (seed, stream). Default: none.
   */
  readonly stream?: string | number;
  /** Simulated surveys for metrics without an exact form (default 200). */
  readonly draws?: number;
}

/**
 * The expected distance between p and an empirical distribution of n draws from it, under a
 * metric: as its registration says (`Metric.noise`), in closed form (tv, wasserstein) or by seeded
 * simulation (jsd, mean).
 */
export function expectedSamplingDistance(
  metric: MetricName,
  p: readonly number[],
  n: number,
  ordinals: readonly number[] | null,
  options: NoiseOptions = {},
): number {
  if (!(n >= 1)) return Number.NaN;
  const total = p.reduce((a, b) => a + b, 0);
  const q = p.map((x) => x / total);
  const m = findMetric(metric);
  if (m.needsOrdinals && !ordinals) throw new RangeError(`the ${m.name} metric needs ordinal positions`);
  const scale = m.needsOrdinals ? ordinals : null;
  if (m.noise !== "simulated") return m.noise.exact(q, n, scale);
  // A multinomial draw as a chain of binomials: X_i ~ Bin(n - sum of earlier X, p_i / remaining mass).
  const draws = options.draws ?? 200;
  const rng = streamRng(options.seed ?? 0, options.stream);
  let sum = 0;
  const x = new Array<number>(q.length);
  for (let d = 0; d < draws; d++) {
    let left = n;
    let mass = 1;
    for (let i = 0; i < q.length; i++) {
      if (i === q.length - 1 || left === 0) {
        x[i] = i === q.length - 1 ? left : 0;
      } else {
        const pi = mass > 0 ? Math.min(1, Math.max(0, q[i]! / mass)) : 0;
        x[i] = pi <= 0 ? 0 : pi >= 1 ? left : binomialSample(rng, left, pi);
      }
      left -= x[i]!;
      mass -= q[i]!;
    }
    sum += m.distance(q, x.map((c) => c / n), scale);
  }
  return sum / draws;
}
