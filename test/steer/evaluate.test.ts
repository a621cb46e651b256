/** How a steering run is judged, against hand computations on stored distributions (total variation). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { resolveConventions } from "../../src/runs/index.js";
import { evaluate, type SteeredAnswers } from "../../src/steer/index.js";

import { pop, question, suiteOf } from "./synthetic.js";

// Means of a few TV distances (sums of |a - b| / 2 of shares): rounding is some 1e-16.
const near = (a: number | null | undefined, b: number, what: string) => assert.ok(a !== null && a !== undefined && Math.abs(a - b) < 1e-9, `${what}: ${a} vs ${b}`);

const A = pop("a");
const B = pop("b");
const test = ["q1", "q2", "q3", "q4"].map((id) => question(id));
const humans = Object.fromEntries(test.map((q) => [q.id, { [A.id]: [1, 0], [B.id]: [0, 1] }]));
const fixed = (dist: number[], tokens: number): SteeredAnswers => () => [{ dist, tokens }];

function run(plain: number[], variants = ["standard"], unsteered?: SteeredAnswers) {
  const { suite } = suiteOf(test, [A, B], humans);
  return evaluate({
    suite,
    conventions: resolveConventions(suite),
    seed: 0,
    resamples: 200,
    targets: [A, B],
    evaluated: [A, B],
    test,
    variants,
    unsteered: unsteered ?? fixed(plain, 10),
    methods: [
      // Steered toward A: [0.8, 0.2] (TV 0.2 to A, 0.8 to B); toward B: [0.4, 0.6] (TV 0.4 to B, 0.6 to A).
      { method: "persona", byTarget: new Map([[A.id, fixed([0.8, 0.2], 20)], [B.id, fixed([0.4, 0.6], 20)]]) },
      { method: "calibrate", byTarget: new Map([[A.id, fixed(plain, 10)], [B.id, fixed(plain, 10)]]) },
    ],
  });
}

describe("the judgement on test", () => {
  const e = run([0.5, 0.5]);

  it("alignment and paired gains per target and over targets, by hand", () => {
    const [a, b] = e.targets;
    // Unsteered [0.5, 0.5]: TV 0.5 to both.
    near(a!.unsteered.mean, 0.5, "unsteered A");
    const pa = a!.methods.find((m) => m.method === "persona")!;
    near(pa.alignment.mean, 0.8, "persona A");
    near(pa.gain_unsteered.mean, 0.3, "gain A");
    // Every question gives the same gain: the interval is that point.
    near(pa.gain_unsteered.ci[0], 0.3, "gain A lo");
    near(pa.gain_unsteered.ci[1], 0.3, "gain A hi");
    near(pa.gain_persona!.mean, 0, "persona vs itself");
    near(pa.gain_calibrate!.mean, 0.3, "persona vs calibrate (= unsteered here)");
    const pb = b!.methods.find((m) => m.method === "persona")!;
    near(pb.gain_unsteered.mean, 0.1, "gain B");
    near(e.overall.methods[0]!.gain_unsteered.mean, 0.2, "mean gain over targets");
    near(e.overall.methods[0]!.alignment.mean, 0.7, "mean alignment over targets");
    assert.equal(a!.n, 4);
  });

  it("the matrix, and specificity: gain on the target minus the gain on the other population", () => {
    assert.deepEqual(e.matrix.evaluated, [A.id, B.id]);
    near(e.matrix.unsteered[0], 0.5, "unsteered with A");
    const row = e.matrix.rows.find((r) => r.method === "persona" && r.target === A.id)!;
    near(row.alignment[0], 0.8, "toward A, with A");
    near(row.alignment[1], 0.2, "toward A, with B");
    const s = e.specificity.find((x) => x.method === "persona")!;
    // A: 0.3 - (0.2 - 0.5) = 0.6; B: 0.1 - (0.4 - 0.5) = 0.2; mean 0.4.
    near(s.targets[0]!.value, 0.6, "specificity A");
    near(s.targets[1]!.value, 0.2, "specificity B");
    near(s.mean, 0.4, "specificity");
  });

  it("cost: tokens per question and gain per 1,000 of them; the per-target gain distribution", () => {
    const c = Object.fromEntries(e.cost.map((x) => [x.method, x]));
    assert.equal(c.unsteered!.tokens_per_question, 10);
    assert.equal(c.persona!.tokens_per_question, 20);
    // 0.2 / (20 / 1000) = 10.
    near(c.persona!.gain_per_1k_tokens, 10, "gain per 1k tokens");
    const i = e.individuals.find((x) => x.method === "persona")!;
    near(i.min, 0.1, "min");
    near(i.max, 0.3, "max");
    near(i.median, 0.2, "median");
    assert.equal(i.positive, 1);
  });

  it("pluralism: distributional (the targets' mean without a reference), steerable, Overton", () => {
    near(e.pluralism.distributional.mean, 0.5, "distributional");
    near(e.pluralism.steerable[0]!.mean, 0.2, "steerable persona");
    // Each question: A chose option 1, B option 2 (100% each); the model gives each 50%.
    assert.equal(e.pluralism.overton.options, 8);
    assert.equal(e.pluralism.overton.share, 1);
    // A model giving option 2 only 5% keeps half of them.
    assert.equal(run([0.95, 0.05]).pluralism.overton.share, 0.5);
    assert.equal(e.variants_check, null);
  });

  it("with variants: a gain positive in every variant survives; one that reverses does not", () => {
    // Unsteered per variant: [0.5, 0.5] then [0.9, 0.1]; persona toward A is [0.8, 0.2] in both:
    // gain over unsteered toward A is +0.3 in the first, -0.1 in the second (TV 0.1 to A).
    const unsteered: SteeredAnswers = () => [{ dist: [0.5, 0.5], tokens: 10 }, { dist: [0.9, 0.1], tokens: 10 }];
    const { suite } = suiteOf(test, [A, B], humans);
    const twoVariant = (persona: number[][]) =>
      evaluate({
        suite,
        conventions: resolveConventions(suite),
        seed: 0,
        resamples: 200,
        targets: [A],
        evaluated: [A, B],
        test,
        variants: ["standard", "order=reversed"],
        unsteered,
        methods: [{ method: "persona", byTarget: new Map([[A.id, () => persona.map((dist) => ({ dist, tokens: 20 }))]]) }],
      });
    const mixed = twoVariant([[0.8, 0.2], [0.8, 0.2]]).variants_check!.methods[0]!;
    near(mixed.per_variant_gain[0], 0.3, "variant 1");
    near(mixed.per_variant_gain[1], -0.1, "variant 2");
    assert.equal(mixed.survives, false);
    const both = twoVariant([[0.8, 0.2], [0.95, 0.05]]).variants_check!.methods[0]!;
    near(both.per_variant_gain[1], 0.05, "variant 2");
    assert.equal(both.survives, true);
    assert.equal(both.share_positive, 1);
  });
});

