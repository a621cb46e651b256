import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pearson, pearsonWithInterval } from "../../src/metrics/index.js";

describe("pearson", () => {
  it("a hand-computed case", () => {
    // x = 1,2,3,4; y = 2,1,4,3: means 2.5, 2.5; deviations -1.5,-.5,.5,1.5 and -.5,-1.5,1.5,.5;
    // sxy = .75 + .75 + .75 + .75 = 3; sxx = syy = 5; r = 3/5.
    assert.ok(Math.abs(pearson([1, 2, 3, 4], [2, 1, 4, 3]) - 0.6) < 1e-15);
  });
  it("is unchanged by increasing affine maps (the paper's (share - 0.5) / 0.5)", () => {
    const x = [0.1, 0.7, 0.4, 0.9, 0.3];
    const y = [0.16, 0.97, 0.6, 0.55, 0.2];
    const r = pearson(x, y);
    assert.ok(Math.abs(pearson(x.map((v) => 2 * v - 1), y.map((v) => (v - 0.5) / 0.5)) - r) < 1e-12);
    assert.ok(Math.abs(pearson(x, y.map((v) => -v)) + r) < 1e-12);
  });
  it("NaN when a side is constant or fewer than two pairs; perfect lines give +-1", () => {
    assert.ok(Number.isNaN(pearson([1, 1, 1], [1, 2, 3])));
    assert.ok(Number.isNaN(pearson([1], [2])));
    assert.equal(pearson([1, 2, 3], [3, 5, 7]), 1);
    assert.equal(pearson([1, 2, 3], [7, 5, 3]), -1);
    assert.throws(() => pearson([1, 2], [1]), /2 x values for 1 y values/u);
  });
  it("on a sample of the pairs, and with a seeded interval around the point", () => {
    assert.ok(Math.abs(pearson([9, 1, 2, 3, 4], [9, 2, 1, 4, 3], [1, 2, 3, 4]) - 0.6) < 1e-15);
    const x = Array.from({ length: 40 }, (_, i) => i / 40);
    const y = x.map((v, i) => v + (i % 3 === 0 ? 0.2 : -0.1));
    const a = pearsonWithInterval(x, y, { seed: 3, resamples: 300 });
    assert.equal(a.mean, pearson(x, y));
    assert.ok(a.ci[0] <= a.mean && a.mean <= a.ci[1] && a.ci[1] <= 1);
    assert.deepEqual(pearsonWithInterval(x, y, { seed: 3, resamples: 300 }), a);
    assert.equal(a.n, 40);
  });
});
