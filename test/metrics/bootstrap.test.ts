import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { bootstrapMeans, quantileSorted } from "../../src/metrics/bootstrap.js";
import { seededRng } from "../../src/metrics/rng.js";

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
