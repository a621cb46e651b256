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
 * The Jensen-Shannon distance does not decompose; it is estimated by seeded simulation
 * (noise-floor.ts). Which of the two a metric uses is part of its registration (`Metric.noise`,
 * src/metrics/distances.ts, which takes its closed forms from here).
 */
import { logGamma } from "./distributions.js";

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

