/**
 * Distances between two distributions over the same options (same order). Each returns a value in
 * [0, 1]-ish ranges documented per function; alignment is always `1 - distance`.
 */
import { CivitasError } from "../errors.js";

export type MetricName = "wasserstein" | "tv" | "jsd" | "mean";

export const METRIC_NAMES: readonly MetricName[] = ["wasserstein", "tv", "jsd", "mean"];

export interface MetricInfo {
  readonly name: MetricName;
  /** How the alignment score built on it is described in reports. */
  readonly label: string;
  readonly source: string;
  readonly needsOrdinals: boolean;
}

export const METRICS: Readonly<Record<MetricName, MetricInfo>> = {
  wasserstein: {
    name: "wasserstein",
    label: "1 - ordinal Wasserstein-1 / ordinal range",
    source: "Santurkar et al. 2023 (OpinionQA)",
    needsOrdinals: true,
  },
  tv: {
    name: "tv",
    label: "1 - total variation",
    source: "Meister et al. 2024",
    needsOrdinals: false,
  },
  jsd: {
    name: "jsd",
    label: "1 - Jensen-Shannon distance (natural log)",
    source: "Durmus et al. 2023 (GlobalOpinionQA)",
    needsOrdinals: false,
  },
  mean: {
    name: "mean",
    label: "1 - |difference of mean answers on the ordinal scale| / ordinal range",
    source: "Randomness, Not Representation (2025)",
    needsOrdinals: true,
  },
};

export function parseMetric(name: string): MetricName {
  const m = METRIC_NAMES.find((x) => x === name.toLowerCase());
  if (!m) {
    throw new CivitasError("usage", `unknown metric "${name}"`, {
      hint: `choose one of: ${METRIC_NAMES.join(", ")}`,
    });
  }
  return m;
}

function checkSameLength(p: readonly number[], q: readonly number[]): void {
  if (p.length !== q.length || p.length === 0) {
    throw new RangeError(`distributions must have the same non-zero length (got ${p.length} and ${q.length})`);
  }
}

/**
 * Total variation distance, TV(p, q) = 1/2 * sum_i |p_i - q_i|, in [0, 1].
 * (Meister et al. 2024, "Benchmarking Distributional Alignment of Large Language Models".)
 */
export function totalVariation(p: readonly number[], q: readonly number[]): number {
  checkSameLength(p, q);
  let s = 0;
  for (let i = 0; i < p.length; i++) s += Math.abs(p[i]! - q[i]!);
  return s / 2;
}

/** x * ln(x / y) with the conventions of scipy.special.rel_entr (0 * ln(0/y) = 0). */
function relEntr(x: number, y: number): number {
  if (x > 0 && y > 0) return x * Math.log(x / y);
  if (x === 0 && y >= 0) return 0;
  return Infinity;
}

/**
 * Jensen-Shannon distance with the natural logarithm, as scipy.spatial.distance.jensenshannon(p, q):
 * sqrt((KL(p || m) + KL(q || m)) / 2) with m = (p + q) / 2. Inputs are normalised to sum 1 first,
 * as scipy does. In [0, sqrt(ln 2)] ~ [0, 0.8326]. (Durmus et al. 2023, GlobalOpinionQA, report
 * similarity = 1 - this distance.)
 */
export function jensenShannonDistance(p: readonly number[], q: readonly number[]): number {
  checkSameLength(p, q);
  const sp = p.reduce((a, b) => a + b, 0);
  const sq = q.reduce((a, b) => a + b, 0);
  let js = 0;
  for (let i = 0; i < p.length; i++) {
    const pi = p[i]! / sp;
    const qi = q[i]! / sq;
    const m = (pi + qi) / 2;
    js += relEntr(pi, m) + relEntr(qi, m);
  }
  js /= 2;
  // Rounding can leave a tiny negative value for identical inputs.
  return Math.sqrt(Math.max(0, js));
}

/**
 * Wasserstein-1 distance between two distributions placed at the given ordinal positions (which
 * need not be sorted, e.g. [1, 2, 1.5] for "safer / more dangerous / neither"), divided by the
 * ordinal range max - min so that it lies in [0, 1]. Equals
 * scipy.stats.wasserstein_distance(o, o, p, q) / (max(o) - min(o)). (Santurkar et al. 2023,
 * OpinionQA: representativeness = 1 - mean of this over questions.)
 */
export function ordinalWasserstein(
  p: readonly number[],
  q: readonly number[],
  ordinals: readonly number[],
): number {
  checkSameLength(p, q);
  if (ordinals.length !== p.length) {
    throw new RangeError(`need one ordinal per option (got ${ordinals.length} for ${p.length} options)`);
  }
  const sp = p.reduce((a, b) => a + b, 0);
  const sq = q.reduce((a, b) => a + b, 0);
  const idx = ordinals.map((_, i) => i).sort((a, b) => ordinals[a]! - ordinals[b]!);
  const lo = ordinals[idx[0]!]!;
  const hi = ordinals[idx[idx.length - 1]!]!;
  if (hi === lo) return 0;
  // W1 on the line = integral of |F_p - F_q| over the support.
  let cdfP = 0;
  let cdfQ = 0;
  let w = 0;
  for (let k = 0; k < idx.length - 1; k++) {
    const i = idx[k]!;
    cdfP += p[i]! / sp;
    cdfQ += q[i]! / sq;
    const gap = ordinals[idx[k + 1]!]! - ordinals[i]!;
    w += Math.abs(cdfP - cdfQ) * gap;
  }
  return w / (hi - lo);
}

/**
 * The mean answer of a distribution on its ordinal scale, normalised to [0, 1]:
 * sum_k p_k (o_k - min o) / (max o - min o), p renormalised. ("Randomness, Not Representation"
 * compares models and countries by this score.) NaN for a scale whose ordinals are all equal.
 */
export function meanOrdinalScore(dist: readonly number[], ordinals: readonly number[]): number {
  if (dist.length !== ordinals.length) {
    throw new RangeError(`meanScore: the distribution has ${dist.length} values but the scale has ${ordinals.length} ordinals`);
  }
  let lo = Infinity;
  let hi = -Infinity;
  for (const o of ordinals) {
    if (o < lo) lo = o;
    if (o > hi) hi = o;
  }
  if (!Number.isFinite(lo) || !Number.isFinite(hi) || hi === lo) return Number.NaN;
  let mass = 0;
  let s = 0;
  for (let k = 0; k < dist.length; k++) {
    mass += dist[k]!;
    s += dist[k]! * (ordinals[k]! - lo);
  }
  if (!(mass > 0) || !Number.isFinite(mass)) return Number.NaN;
  return s / mass / (hi - lo);
}

/** The distance a metric names; `ordinals` is required for "wasserstein" and "mean". */
export function distance(
  metric: MetricName,
  p: readonly number[],
  q: readonly number[],
  ordinals: readonly number[] | null,
): number {
  switch (metric) {
    case "tv":
      return totalVariation(p, q);
    case "jsd":
      return jensenShannonDistance(p, q);
    case "wasserstein":
      if (!ordinals) throw new RangeError("the ordinal Wasserstein distance needs ordinal positions");
      return ordinalWasserstein(p, q, ordinals);
    case "mean":
      if (!ordinals) throw new RangeError("the mean-score distance needs ordinal positions");
      checkSameLength(p, q);
      return Math.abs(meanOrdinalScore(p, ordinals) - meanOrdinalScore(q, ordinals));
  }
}

/** The uniform distribution over k options. */
export function uniform(k: number): number[] {
  return Array.from({ length: k }, () => 1 / k);
}
