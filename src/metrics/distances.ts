/**
 * Distances between two distributions over the same options (same order), and the metrics built
 * on them: each a registered component (src/registry.ts) with its distance, whether it needs an
 * ordinal scale, and how its sampling noise floor is computed. Each distance lies in a range
 * documented per function; alignment is always `1 - distance`. Adding a metric: one file that
 * defines a `Metric` and `metrics.register(...)` (docs/extending.md).
 */
import { NO_ARGS, Registry, type Component } from "../registry.js";
// The metrics take their closed-form noise floors from noise.ts; noise-floor.ts reads this registry.
import { expectedOrdinalWasserstein, expectedTotalVariation } from "./noise.js";

/** A metric's name: a built-in (wasserstein, tv, jsd, mean) or one registered later. */
export type MetricName = string;

/**
 * How a metric's noise floor E[d(p, X/n)], X ~ Multinomial(n, p), is computed: in closed form
 * (p sums to 1; ordinals are given when the metric needs them), or by seeded simulation of
 * multinomial samples (src/metrics/noise.ts).
 */
export type NoiseFloor = { readonly exact: (p: readonly number[], n: number, ordinals: readonly number[] | null) => number } | "simulated";

/** A metric: the distance behind an alignment score. */
export interface Metric extends Component {
  /** How the alignment score built on it is described in reports ("1 - total variation"). */
  readonly label: string;
  /** Where it comes from (paper), for reports and docs. */
  readonly source: string;
  /**
   * It needs the options' ordinal positions: questions without a usable ordinal scale are not
   * scored under it (counted as `no_scale`), and protocols that keep refusals cannot use it.
   */
  readonly needsOrdinals: boolean;
  /** The distance of two distributions over the same options; `ordinals` is null unless needsOrdinals. */
  distance(p: readonly number[], q: readonly number[], ordinals: readonly number[] | null): number;
  readonly noise: NoiseFloor;
}

/** Kept for callers of the first releases: a metric as reports describe it. */
export type MetricInfo = Metric;

/** The metrics `--metric` accepts. */
export const metrics = new Registry<Metric>({
  kind: "metric",
  unknown: (name, names) => ({ message: `unknown metric "${name}"`, hint: `choose one of: ${names.join(", ")}` }),
  check: (m) => {
    const out: string[] = [];
    if (typeof m.distance !== "function") out.push("distance: expected a function (p, q, ordinals) => number");
    if (typeof m.label !== "string" || m.label === "") out.push('label: expected how reports describe the score, e.g. "1 - total variation"');
    if (typeof m.source !== "string") out.push("source: expected where the metric comes from");
    if (typeof m.needsOrdinals !== "boolean") out.push("needsOrdinals: expected true or false");
    const noise = m.noise as unknown;
    const exact = noise !== null && typeof noise === "object" && typeof (noise as { exact?: unknown }).exact === "function";
    if (noise !== "simulated" && !exact) out.push('noise: expected "simulated" or { exact: (p, n, ordinals) => number }');
    return out;
  },
});

/** The registered metric names (live). */
export const METRIC_NAMES: readonly MetricName[] = metrics.names;

/** The metric of a name (any case); an unknown name is a usage error that lists the valid ones. */
export function findMetric(name: string): Metric {
  return metrics.get(name);
}

/** A metric's registered name from what a user typed. */
export function parseMetric(name: string): MetricName {
  return metrics.get(name).name;
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

/** The distance a metric names; `ordinals` is required by the metrics that need them (wasserstein, mean). */
export function distance(metric: MetricName, p: readonly number[], q: readonly number[], ordinals: readonly number[] | null): number {
  const m = findMetric(metric);
  if (m.needsOrdinals && !ordinals) throw new RangeError(`the ${m.name} metric needs ordinal positions`);
  return m.distance(p, q, m.needsOrdinals ? ordinals : null);
}

/** The uniform distribution over k options. */
export function uniform(k: number): number[] {
  return Array.from({ length: k }, () => 1 / k);
}

// ---------------------------------------------------------------------------------------------
// The built-in metrics

const wasserstein: Metric = {
  name: "wasserstein",
  description: "ordinal Wasserstein-1 distance divided by the ordinal range",
  args: NO_ARGS,
  label: "1 - ordinal Wasserstein-1 / ordinal range",
  source: "Santurkar et al. 2023 (OpinionQA)",
  needsOrdinals: true,
  distance: (p, q, ordinals) => ordinalWasserstein(p, q, ordinals!),
  // Sums of absolute deviations of cumulative counts, each binomial: exact (noise.ts).
  noise: { exact: (p, n, ordinals) => expectedOrdinalWasserstein(p, ordinals!, n) },
};

const tv: Metric = {
  name: "tv",
  description: "total variation distance",
  args: NO_ARGS,
  label: "1 - total variation",
  source: "Meister et al. 2024",
  needsOrdinals: false,
  distance: (p, q) => totalVariation(p, q),
  noise: { exact: (p, n) => expectedTotalVariation(p, n) },
};

const jsd: Metric = {
  name: "jsd",
  description: "Jensen-Shannon distance, natural log (scipy's jensenshannon)",
  args: NO_ARGS,
  label: "1 - Jensen-Shannon distance (natural log)",
  source: "Durmus et al. 2023 (GlobalOpinionQA)",
  needsOrdinals: false,
  distance: (p, q) => jensenShannonDistance(p, q),
  // Does not decompose over options.
  noise: "simulated",
};

const mean: Metric = {
  name: "mean",
  description: "difference of the mean answers on the ordinal scale, divided by its range",
  args: NO_ARGS,
  label: "1 - |difference of mean answers on the ordinal scale| / ordinal range",
  source: "Randomness, Not Representation (2025)",
  needsOrdinals: true,
  distance: (p, q, ordinals) => {
    checkSameLength(p, q);
    return Math.abs(meanOrdinalScore(p, ordinals!) - meanOrdinalScore(q, ordinals!));
  },
  noise: "simulated",
};

metrics.register(wasserstein);
metrics.register(tv);
metrics.register(jsd);
metrics.register(mean);
