import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { bootstrapMeans, bootstrapStatistic, percentileInterval, quantileSorted } from "../../src/metrics/bootstrap.js";
import { seededRng } from "../../src/metrics/rng.js";
import { assertClose, exactInterval, quantile7, replayedInterval, strataGroups } from "../helpers/bootstrap.js";

describe("quantiles (numpy's default linear interpolation)", () => {
  it("matches numpy.percentile", () => {
    // numpy.percentile([1, 2, 3, 4], [25, 50, 97.5]) == [1.75, 2.5, 3.925]
    const a = [1, 2, 3, 4];
    assert.equal(quantileSorted(a, 0.25), 1.75);
    assert.equal(quantileSorted(a, 0.5), 2.5);
    assert.ok(Math.abs(quantileSorted(a, 0.975) - 3.925) < 1e-12);
    assert.equal(quantileSorted([7], 0.3), 7);
  });
});

describe("the percentile interval (one for every bootstrap: bootstrapMeans, bootstrapStatistic, mocaScores)", () => {
  it("takes the (1 -+ level) / 2 quantiles of the draws that are not NaN, in any order, by hand", () => {
    // Finite draws sorted: 1 1 2 3 4 5 6 9 (n = 8), h = q (n - 1).
    const draws = Float64Array.from([3, 1, Number.NaN, 4, 1, 5, 9, 2, 6]);
    // level 0.5: q = 0.25, h = 1.75: x1 + 0.75 (x2 - x1) = 1 + 0.75 = 1.75; q = 0.75, h = 5.25: 5 + 0.25 (6 - 5) = 5.25
    // (numpy.percentile([1, 1, 2, 3, 4, 5, 6, 9], [25, 75]) == [1.75, 5.25]).
    assert.deepEqual(percentileInterval(draws, 0.5), [1.75, 5.25]);
    // level 0.9: q = 0.05, h = 0.35: 1 + 0.35 (1 - 1) = 1; q = 0.95, h = 6.65: 6 + 0.65 (9 - 6) = 7.95.
    const [lo, hi] = percentileInterval(draws, 0.9);
    assert.equal(lo, 1);
    assert.ok(Math.abs(hi - 7.95) < 1e-12, String(hi));
    // level 0.95 on 0..100: q = 0.025, h = 2.5 -> 2.5; q = 0.975, h = 97.5 -> 97.5.
    const hundred = Float64Array.from({ length: 101 }, (_, i) => 100 - i);
    const [a, b] = percentileInterval(hundred, 0.95);
    assert.ok(Math.abs(a - 2.5) < 1e-12 && Math.abs(b - 97.5) < 1e-12, `${a} ${b}`);
  });
  it("is a point for one draw and [NaN, NaN] when every draw is NaN", () => {
    assert.deepEqual(percentileInterval([4, Number.NaN], 0.95), [4, 4]);
    const none = percentileInterval([Number.NaN, Number.NaN], 0.95);
    assert.ok(Number.isNaN(none[0]) && Number.isNaN(none[1]));
    assert.ok(Number.isNaN(percentileInterval([], 0.95)[0]));
  });
});

describe("seeded randomness", () => {
  it("gives the same numbers for the same seed and different ones for another", () => {
    const draw = (seed: number) => {
      const r = seededRng(seed);
      return Array.from({ length: 20 }, () => r.int(0, 99));
    };
    assert.deepEqual(draw(7), draw(7));
    assert.notDeepEqual(draw(7), draw(8));
    const r = seededRng(1);
    for (let i = 0; i < 1000; i++) {
      const f = r.float();
      assert.ok(f >= 0 && f < 1);
    }
  });
});

describe("percentile bootstrap over questions", () => {
  const values = [0.1, 0.4, 0.35, 0.8, 0.55, 0.62, 0.3, 0.9, 0.15, 0.5];

  it("reports the plain mean and an interval around it", () => {
    const r = bootstrapMeans([values], { seed: 0, resamples: 2000 });
    const s = r.series[0]!;
    assert.ok(Math.abs(s.mean - 0.467) < 1e-12); // sum 4.67 / 10
    assert.equal(s.n, 10);
    assert.ok(s.ci[0] < s.mean && s.mean < s.ci[1]);
    // The standard error is sd/sqrt(n) ~ 0.079; a 95% interval is about +-0.155 wide.
    assert.ok(s.ci[1] - s.ci[0] > 0.2 && s.ci[1] - s.ci[0] < 0.4, `width ${s.ci[1] - s.ci[0]}`);
  });

  it("is reproducible with a seed and changes with it", () => {
    const a = bootstrapMeans([values], { seed: 3 });
    const b = bootstrapMeans([values], { seed: 3 });
    const c = bootstrapMeans([values], { seed: 4 });
    assert.deepEqual(a, b);
    assert.notDeepEqual(a.series[0]!.ci, c.series[0]!.ci);
  });

  it("gives a zero-width interval when every question has the same value", () => {
    const r = bootstrapMeans([[0.7, 0.7, 0.7, 0.7]], { seed: 1 });
    assert.deepEqual(r.series[0]!.ci, [0.7, 0.7]);
  });

  it("leaves missing values (NaN) out of a series and averages series jointly", () => {
    // 20 questions; series b was asked only every other one (a draw without any of them has
    // probability 2^-20, so every draw averages both series).
    const a = Array.from({ length: 20 }, () => 1);
    const b = Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? 0 : Number.NaN));
    const r = bootstrapMeans([a, b], { seed: 0, resamples: 500 });
    assert.equal(r.series[1]!.mean, 0);
    assert.equal(r.series[1]!.n, 10);
    assert.equal(r.average.mean, 0.5);
    assert.deepEqual(r.average.ci, [0.5, 0.5]);
  });

  it("narrows as questions are added", () => {
    const few = bootstrapMeans([values], { seed: 0 }).series[0]!;
    const many = bootstrapMeans([[...values, ...values, ...values, ...values]], { seed: 0 }).series[0]!;
    assert.ok(many.ci[1] - many.ci[0] < few.ci[1] - few.ci[0]);
  });
});

/**
 * `bootstrapStatistic` is the interval behind every number civitas reports (test/runs/intervals.test.ts
 * checks the statistics production gives it). Here: what it resamples, how it turns the resampled
 * statistics into an interval, and exact answers on cases small enough to list every resample.
 */
describe("bootstrapStatistic", () => {
  /** Calls bootstrapStatistic, keeping every sample it evaluates the statistic on (copies). */
  function traced(nItems: number, statistic: (s: number[]) => number[], options: Parameters<typeof bootstrapStatistic>[2] = {}) {
    const samples: number[][] = [];
    const outputs: number[][] = [];
    const result = bootstrapStatistic(
      nItems,
      (sample) => {
        const s = Array.from(sample);
        const out = statistic(s);
        samples.push(s);
        outputs.push([...out]);
        return out;
      },
      options,
    );
    return { result, samples, outputs };
  }
  const meanOfItems = (values: readonly number[]) => (s: number[]) => [s.reduce((a, i) => a + values[i]!, 0) / s.length];

  it("gives the statistic of the items as they are, and the 2.5th and 97.5th percentiles of its resampled values", () => {
    const values = [0.1, 0.4, 0.35, 0.8, 0.55, 0.62, 0.3, 0.9, 0.15, 0.5];
    const { result, samples, outputs } = traced(values.length, (s) => [...meanOfItems(values)(s), Math.max(...s.map((i) => values[i]!))], { seed: 5, resamples: 500 });
    // First the items in order (the point estimate), then one sample per resample.
    assert.equal(samples.length, 501);
    assert.deepEqual(samples[0], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.equal(result.length, 2);
    assert.ok(Math.abs(result[0]!.mean - 0.467) < 1e-12); // 4.67 / 10
    assert.equal(result[1]!.mean, 0.9);
    for (const k of [0, 1]) {
      const resampled = outputs.slice(1).map((o) => o[k]!);
      assert.deepEqual(result[k]!.ci, [quantile7(resampled, 0.025), quantile7(resampled, 0.975)]);
    }
    // Another level: the 5th and 95th percentiles.
    const r90 = traced(values.length, meanOfItems(values), { seed: 5, resamples: 500, level: 0.9 });
    const resampled = r90.outputs.slice(1).map((o) => o[0]!);
    assert.deepEqual(r90.result[0]!.ci, [quantile7(resampled, 0.05), quantile7(resampled, 0.95)]);
  });

  it("draws each resample's items uniformly and independently, with replacement", () => {
    // 10 items, 4,000 resamples: 40,000 draws. Uniform draws put 4,000 on each item: the chi-square
    // statistic (9 degrees of freedom) exceeds 27.88 with probability 0.001. A resample of 10
    // independent uniform draws holds 10 (1 - 0.9^10) = 6.513 distinct items on average, with
    // variance 90 (0.8^10) + 10 (0.9^10) - 100 (0.9^20) = 0.9927: the mean over 4,000 resamples
    // lies within 0.063 (4 standard errors) of 6.513. Without replacement it would be 10.
    const n = 10;
    const B = 4000;
    const { samples } = traced(n, () => [0], { seed: 11, resamples: B });
    const counts = new Array<number>(n).fill(0);
    for (const s of samples.slice(1)) {
      assert.equal(s.length, n);
      for (const i of s) counts[i]!++;
    }
    const chi2 = counts.reduce((a, c) => a + (c - B) ** 2 / B, 0);
    assert.ok(chi2 < 27.88, `chi-square ${chi2.toFixed(2)} for counts ${counts.join(", ")}`);
    const distinct = samples.slice(1).reduce((a, s) => a + new Set(s).size, 0) / B;
    const expected = n * (1 - 0.9 ** n);
    assert.ok(Math.abs(distinct - expected) < 4 * Math.sqrt((90 * 0.8 ** 10 + 10 * 0.9 ** 10 - 100 * 0.9 ** 20) / B), `mean distinct ${distinct} vs ${expected}`);
  });

  it("gives the exact bootstrap interval of a mean on 4 items (all 256 resamples listed), for any seed", () => {
    // values 0, 0, 0, 1: the resampled mean is k/4 with k ~ Binomial(4, 1/4); P(k = 0) = 0.316 holds
    // the 2.5th percentile, P(k = 3) = 0.047 the 97.5th (P(k <= 2) = 0.949, P(k <= 3) = 0.996).
    const values = [0, 0, 0, 1];
    const exact = exactInterval(strataGroups(4), (s) => meanOfItems(values)(s)[0]!, 4000);
    assert.deepEqual(exact, [0, 0.75]);
    for (const seed of [0, 1, 2, 3, 4]) {
      const [r] = bootstrapStatistic(4, (s) => meanOfItems(values)(Array.from(s)), { seed, resamples: 4000 });
      assert.equal(r!.mean, 0.25);
      assertClose(r!.ci, exact, 1e-12, `seed ${seed}`);
    }
  });

  it("with strata: resamples within each stratum, keeping its size, laid out stratum by stratum", () => {
    // strata in the order their first item appears: 7 (items 0, 3), 2 (items 1, 2, 5), 9 (item 4)
    const strata = [7, 2, 2, 7, 9, 2];
    const { samples } = traced(6, () => [0], { seed: 3, resamples: 300, strata });
    const seen = new Set<string>();
    for (const s of samples.slice(1)) {
      assert.deepEqual(
        s.map((i) => strata[i]),
        [7, 7, 2, 2, 2, 9],
      );
      seen.add(`${s[0]},${s[1]}`);
    }
    // every pair of stratum 7's items occurs
    assert.deepEqual([...seen].sort(), ["0,0", "0,3", "3,0", "3,3"]);
  });

  it("with strata: the exact interval of the equal-weight mean of two strata (1,024 resamples listed), for any seed", () => {
    // Stratum A: 0, 1; stratum B: 0, 0, 0, 1. The statistic is (mean of A + mean of B) / 2, each
    // stratum's mean over its own items in the resample. Resampling the 6 items together would
    // sometimes draw no item of A (then the statistic has no value) and would change the interval.
    const values = [0, 1, 0, 0, 0, 1];
    const strata = [0, 0, 1, 1, 1, 1];
    const stat = (s: number[]) => {
      const mean = (g: number) => {
        const v = s.filter((i) => strata[i] === g).map((i) => values[i]!);
        return v.length > 0 ? v.reduce((a, b) => a + b, 0) / v.length : Number.NaN;
      };
      return (mean(0) + mean(1)) / 2;
    };
    const exact = exactInterval(strataGroups(6, strata), stat, 4000);
    assert.deepEqual(exact, [0, 0.75]);
    for (const seed of [0, 1, 2]) {
      const [r] = bootstrapStatistic(6, (s) => [stat(Array.from(s))], { seed, resamples: 4000, strata });
      assert.equal(r!.mean, 0.375);
      assertClose(r!.ci, exact, 1e-12, `seed ${seed}`);
    }
  });

  it("equals a re-computation from the same seeded draws, with and without strata", () => {
    const values = [0.3, 0.9, 0.1, 0.5, 0.7, 0.2, 0.8];
    const strata = [1, 0, 1, 2, 0, 0, 1];
    const stat = (s: number[]) => [s.reduce((a, i) => a + values[i]!, 0) / s.length, Math.min(...s.map((i) => values[i]!))];
    for (const st of [undefined, strata]) {
      const got = bootstrapStatistic(7, (s) => stat(Array.from(s)), { seed: 9, resamples: 700, ...(st ? { strata: st } : {}) });
      const want = replayedInterval(strataGroups(7, st), stat, 700, 9);
      got.forEach((g, k) => {
        assertClose(g.mean, want[k]!.mean, 1e-12, `statistic ${k} point`);
        assertClose(g.ci, want[k]!.ci, 1e-12, `statistic ${k} interval`);
      });
    }
  });

  it("leaves resamples whose statistic has no value (NaN) out of the interval, and is seeded", () => {
    const values = [1, 2, 3, 4, 5];
    // No value when item 0 is not drawn (probability 0.8^5 = 0.33 per resample).
    const stat = (s: number[]) => [s.includes(0) ? s.reduce((a, i) => a + values[i]!, 0) / s.length : Number.NaN];
    const { result, outputs } = traced(5, stat, { seed: 2, resamples: 400 });
    const resampled = outputs.slice(1).map((o) => o[0]!);
    assert.ok(resampled.some(Number.isNaN) && resampled.some((v) => !Number.isNaN(v)));
    assert.deepEqual(result[0]!.ci, [quantile7(resampled, 0.025), quantile7(resampled, 0.975)]);
    assert.deepEqual(traced(5, stat, { seed: 2, resamples: 400 }).result, result);
    assert.notDeepEqual(traced(5, stat, { seed: 3, resamples: 400 }).result, result);
    // The default seed is 0, and the default number of resamples 1,000.
    const byDefault = traced(5, stat);
    assert.equal(byDefault.samples.length, 1001);
    assert.deepEqual(byDefault.result, traced(5, stat, { seed: 0, resamples: 1000 }).result);
  });
});
