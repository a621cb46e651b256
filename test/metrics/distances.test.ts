/**
 * Known-answer tests of the distances. Expected values are hand-computed (shown in comments) or
 * published in scipy's documentation for the function the definition follows.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { distance, jensenShannonDistance, ordinalWasserstein, parseMetric, totalVariation, uniform } from "../../src/metrics/distances.js";

const close = (actual: number, expected: number, tol = 1e-12) =>
  assert.ok(Math.abs(actual - expected) <= tol, `expected ${expected}, got ${actual}`);

describe("total variation", () => {
  it("is half the L1 distance", () => {
    // 1/2 (|.2-.1| + |.3-.6| + |.5-.3|) = 1/2 (.1 + .3 + .2) = .3
    close(totalVariation([0.2, 0.3, 0.5], [0.1, 0.6, 0.3]), 0.3);
  });
  it("is 1 for disjoint supports and 0 for equal distributions", () => {
    close(totalVariation([1, 0, 0], [0, 0, 1]), 1);
    close(totalVariation([0.25, 0.75], [0.25, 0.75]), 0);
  });
  it("handles zero-probability options", () => {
    // 1/2 (|.5-0| + |.5-.5| + |0-.5|) = .5
    close(totalVariation([0.5, 0.5, 0], [0, 0.5, 0.5]), 0.5);
  });
  it("is symmetric", () => {
    close(totalVariation([0.7, 0.2, 0.1], [0.1, 0.1, 0.8]), totalVariation([0.1, 0.1, 0.8], [0.7, 0.2, 0.1]));
  });
  it("rejects distributions of different lengths", () => {
    assert.throws(() => totalVariation([1], [0.5, 0.5]), RangeError);
  });
});

describe("Jensen-Shannon distance (natural log, as scipy.spatial.distance.jensenshannon)", () => {
  it("matches scipy's documented examples", () => {
    // scipy docs: jensenshannon([1.0, 0.0], [0.5, 0.5]) == 0.46450140402245893
    close(jensenShannonDistance([1, 0], [0.5, 0.5]), 0.46450140402245893);
    // scipy docs: jensenshannon([1.0, 0.0, 0.0], [1.0, 0.0, 0.0]) == 0.0
    close(jensenShannonDistance([1, 0, 0], [1, 0, 0]), 0);
  });
  it("reaches sqrt(ln 2) for disjoint distributions", () => {
    // m = (.5, .5); KL(p||m) = ln 2 = KL(q||m); JS = ln 2; distance = sqrt(ln 2)
    close(jensenShannonDistance([1, 0], [0, 1]), Math.sqrt(Math.LN2));
  });
  it("matches a hand computation on an asymmetric case", () => {
    // m = (.15, .45, .4); KL(p||m) = .2 ln(.2/.15) + .3 ln(.3/.45) + .5 ln(.5/.4)
    // KL(q||m) = .1 ln(.1/.15) + .6 ln(.6/.45) + .3 ln(.3/.4); sqrt of their mean = 0.21590133005580303
    close(jensenShannonDistance([0.2, 0.3, 0.5], [0.1, 0.6, 0.3]), 0.21590133005580303);
  });
  it("normalises unnormalised inputs as scipy does, and handles zeros", () => {
    // [2, 6, 0] -> [.25, .75, 0]; both give 0.41627730557884884
    close(jensenShannonDistance([0.25, 0.75, 0], [0.5, 0.25, 0.25]), 0.41627730557884884);
    close(jensenShannonDistance([2, 6, 0], [0.5, 0.25, 0.25]), 0.41627730557884884);
  });
  it("is symmetric", () => {
    close(jensenShannonDistance([0.2, 0.3, 0.5], [0.1, 0.6, 0.3]), jensenShannonDistance([0.1, 0.6, 0.3], [0.2, 0.3, 0.5]));
  });
});

describe("ordinal Wasserstein-1, normalised by the ordinal range", () => {
  it("matches scipy's documented weighted example", () => {
    // scipy docs: wasserstein_distance([0, 1], [0, 1], [3, 1], [2, 2]) == 0.25; range 1
    close(ordinalWasserstein([3, 1], [2, 2], [0, 1]), 0.25);
  });
  it("integrates the CDF difference over a 4-point scale", () => {
    // CDFs: p .1 .3 .6, q .4 .7 .9; |diff| .3 .4 .3 at unit gaps -> W1 = 1.0; range 3 -> 1/3
    close(ordinalWasserstein([0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1], [1, 2, 3, 4]), 1 / 3);
  });
  it("is 1 when all mass moves from one end of the scale to the other", () => {
    close(ordinalWasserstein([1, 0, 0, 0], [0, 0, 0, 1], [1, 2, 3, 4]), 1);
  });
  it("follows the ordinal values, not the option order (OpinionQA's [1, 2, 1.5])", () => {
    // "safer" at 1, "more dangerous" at 2, "neither" at 1.5
    close(ordinalWasserstein([1, 0, 0], [0, 1, 0], [1, 2, 1.5]), 1);
    close(ordinalWasserstein([0, 0, 1], [0, 1, 0], [1, 2, 1.5]), 0.5);
    close(ordinalWasserstein([1, 0, 0], [0, 0, 1], [1, 2, 1.5]), 0.5);
  });
  it("uses unequal gaps", () => {
    // ordinals 0, 1, 3: p all at 0, q all at 3 -> W1 = 3, range 3 -> 1; q at 1 -> 1/3
    close(ordinalWasserstein([1, 0, 0], [0, 0, 1], [0, 1, 3]), 1);
    close(ordinalWasserstein([1, 0, 0], [0, 1, 0], [0, 1, 3]), 1 / 3);
  });
  it("is symmetric and zero for equal distributions", () => {
    const p = [0.2, 0.5, 0.3];
    const q = [0.6, 0.1, 0.3];
    close(ordinalWasserstein(p, q, [1, 2, 3]), ordinalWasserstein(q, p, [1, 2, 3]));
    close(ordinalWasserstein(p, p, [1, 2, 3]), 0);
  });
  it("needs one ordinal per option", () => {
    assert.throws(() => ordinalWasserstein([0.5, 0.5], [0.5, 0.5], [1]), RangeError);
    assert.throws(() => distance("wasserstein", [0.5, 0.5], [0.5, 0.5], null), RangeError);
  });
});

describe("metric selection", () => {
  it("dispatches by name and rejects unknown names with the valid ones", () => {
    close(distance("tv", [1, 0], [0, 1], null), 1);
    close(distance("jsd", [1, 0], [0.5, 0.5], null), 0.46450140402245893);
    close(distance("wasserstein", [1, 0], [0, 1], [1, 2]), 1);
    assert.equal(parseMetric("TV"), "tv");
    assert.throws(() => parseMetric("kl"), /unknown metric "kl"/);
  });
  it("builds the uniform distribution", () => {
    assert.deepEqual(uniform(4), [0.25, 0.25, 0.25, 0.25]);
  });
});
