/**
 * Confidence intervals for a proportion.
 *
 * The Wilson score interval (E. B. Wilson, "Probable inference, the law of succession, and
 * statistical inference", JASA 22:209-212, 1927): for k successes in n trials, p^ = k / n and z the
 * standard normal quantile of (1 + level) / 2,
 *
 *   ( p^ + z^2 / (2n)  +-  z sqrt( p^ (1 - p^) / n + z^2 / (4 n^2) ) ) / (1 + z^2 / n).
 *
 * It always lies in [0, 1], is never empty at k = 0 or k = n (where the Wald interval p^ +- z se
 * collapses to a point), and its coverage stays close to the nominal level for small n; Brown, Cai
 * and DasGupta ("Interval estimation for a binomial proportion", Statistical Science 16:101-133,
 * 2001) recommend it for small n over Wald and over the exact Clopper-Pearson interval, which is
 * conservative (coverage above the level, so wider than it needs to be). Newcombe ("Two-sided
 * confidence intervals for the single proportion: comparison of seven methods", Statistics in
 * Medicine 17:857-872, 1998, Table II, method 3) lists worked values; the tests check them.
 */
import { CivitasError } from "../errors.js";
import { normalQuantile } from "./distributions.js";

export interface ProportionInterval {
  /** k / n, or NaN when n = 0. */
  readonly share: number;
  /** [lo, hi] inside [0, 1]; [NaN, NaN] when n = 0. */
  readonly ci: readonly [number, number];
}

/** The Wilson score interval for k successes in n trials (see the module comment). */
export function wilsonInterval(k: number, n: number, level = 0.95): ProportionInterval {
  if (!(level > 0 && level < 1)) throw new CivitasError("usage", `interval level must be in (0, 1), got ${level}`);
  if (!(Number.isInteger(n) && n >= 0 && k >= 0 && k <= n)) throw new CivitasError("usage", `a proportion needs 0 <= k <= n with n a whole number (got k = ${k}, n = ${n})`);
  if (n === 0) return { share: Number.NaN, ci: [Number.NaN, Number.NaN] };
  const z = normalQuantile((1 + level) / 2);
  const p = k / n;
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denom;
  // At k = 0 and k = n one bound is exactly 0 or 1; rounding must not put it outside.
  return { share: p, ci: [k === 0 ? 0 : Math.max(0, centre - half), k === n ? 1 : Math.min(1, centre + half)] };
}
