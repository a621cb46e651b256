/**
 * Binomial variates (src/metrics/binomial.ts) against the exact binomial probabilities: a
 * chi-square goodness-of-fit test and the mean, for each of the sampler's paths (inversion, BTRD's
 * recursive evaluation and its squeeze, p > 1/2). The generator is seeded, so each test is one
 * fixed computation; the thresholds are those a correct sampler exceeds with probability 1e-4,
 * and the sampler civitas used before (@stdlib, mean 15.48 at n = 100, p = 0.15) fails them by far.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { binomialSample } from "../../src/metrics/binomial.js";
import { seededRng } from "../../src/metrics/rng.js";

/** P(X = k) for X ~ Binomial(n, p), with ln C(n, k) summed term by term (independent of the sampler's code). */
function pmf(n: number, p: number, k: number): number {
  let logC = 0;
  for (let i = 1; i <= k; i++) logC += Math.log((n - k + i) / i);
  return Math.exp(logC + k * Math.log(p) + (n - k) * Math.log1p(-p));
}

/** The upper 1e-4 point of chi-square with d degrees of freedom (Wilson & Hilferty 1931). */
function chiSquareCritical(d: number): number {
  const z = 3.719; // standard normal upper 1e-4 point
  const a = 2 / (9 * d);
  return d * (1 - a + z * Math.sqrt(a)) ** 3;
}

function check(n: number, p: number, draws: number, seed: number): void {
  const rng = seededRng(seed);
  const counts = new Float64Array(n + 1);
  let sum = 0;
  for (let i = 0; i < draws; i++) {
    const x = binomialSample(rng, n, p);
    assert.ok(Number.isInteger(x) && x >= 0 && x <= n, `n ${n}, p ${p}: drew ${x}`);
    counts[x]!++;
    sum += x;
  }
  // Cells merged from the left until each expects at least 10 draws.
  let chi = 0;
  let cells = 0;
  let observed = 0;
  let expected = 0;
  for (let k = 0; k <= n; k++) {
    observed += counts[k]!;
    expected += pmf(n, p, k) * draws;
    if (expected >= 10 || k === n) {
      chi += (observed - expected) ** 2 / expected;
      cells++;
      observed = 0;
      expected = 0;
    }
  }
  const critical = chiSquareCritical(cells - 1);
  assert.ok(chi < critical, `n ${n}, p ${p}: chi-square ${chi.toFixed(1)} over ${cells - 1} degrees of freedom (critical ${critical.toFixed(1)})`);
  const se = Math.sqrt((n * p * (1 - p)) / draws);
  assert.ok(Math.abs(sum / draws - n * p) < 4 * se, `n ${n}, p ${p}: mean ${sum / draws}, expected ${n * p} (se ${se.toExponential(2)})`);
}

describe("binomial variates", () => {
  it("by inversion (n p < 10) have the binomial distribution", () => {
    check(20, 0.1, 100_000, 1);
    check(200, 0.04, 100_000, 2);
  });
  it("by BTRD (n p >= 10) have the binomial distribution, near the mode and in the tails", () => {
    check(100, 0.15, 100_000, 3); // |k - m| <= 15 mostly: the recursive evaluation
    check(1000, 0.3, 100_000, 4); // sd 14.5: |k - m| > 15 often, the squeeze and Stirling's series
    check(5000, 0.5, 50_000, 5);
  });
  it("for p > 1/2 are n minus the variates of 1 - p", () => {
    check(60, 0.8, 100_000, 6);
    check(30, 0.9, 100_000, 7);
  });
  it("are the same for the same seed, and the edge cases are exact", () => {
    const draw = (seed: number) => {
      const rng = seededRng(seed);
      return Array.from({ length: 50 }, (_, i) => binomialSample(rng, 10 + 37 * i, 0.3));
    };
    assert.deepEqual(draw(11), draw(11));
    assert.notDeepEqual(draw(11), draw(12));
    const rng = seededRng(0);
    assert.equal(binomialSample(rng, 0, 0.4), 0);
    assert.equal(binomialSample(rng, 25, 0), 0);
    assert.equal(binomialSample(rng, 25, 1), 25);
    assert.throws(() => binomialSample(rng, 2.5, 0.5), RangeError);
    assert.throws(() => binomialSample(rng, 10, 1.5), RangeError);
  });
});
