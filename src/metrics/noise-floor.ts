/**
 * A metric's sampling noise floor, E[d(p, X/n)] with X ~ Multinomial(n, p), as its registration
 * says (`Metric.noise`, distances.ts): in closed form (noise.ts: total variation, the ordinal
 * Wasserstein distance) or by seeded simulation: `draws` multinomial samples, each a chain of
 * binomial variates (binomial.ts) from the stream of (seed, question) (rng.ts `streamRng`).
 */
import { binomialSample } from "./binomial.js";
import { findMetric, type MetricName } from "./distances.js";
import { streamRng } from "./rng.js";

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
