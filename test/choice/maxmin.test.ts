import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { maxMinChoice, maxMinRlhf, winProbabilityUtilities, type LocatedComparison, type MaxMinInput } from "../../src/choice/maxmin.js";
import { parseComparisons } from "../../src/choice/comparisons.js";
import { seededRng } from "../../src/metrics/rng.js";
import { CivitasError } from "../../src/errors.js";

const close = (a: number, b: number, eps: number) => assert.ok(Math.abs(a - b) <= eps, `${a} vs ${b}`);

/** Adjusted Rand index (Hubert & Arabie 1985) of two labelings. */
function adjustedRandIndex(x: readonly number[], y: readonly number[]): number {
  const c2 = (n: number) => (n * (n - 1)) / 2;
  const table = new Map<string, number>();
  const rows = new Map<number, number>();
  const cols = new Map<number, number>();
  x.forEach((a, i) => {
    const b = y[i]!;
    table.set(`${a},${b}`, (table.get(`${a},${b}`) ?? 0) + 1);
    rows.set(a, (rows.get(a) ?? 0) + 1);
    cols.set(b, (cols.get(b) ?? 0) + 1);
  });
  let index = 0;
  for (const n of table.values()) index += c2(n);
  let a = 0;
  for (const n of rows.values()) a += c2(n);
  let b = 0;
  for (const n of cols.values()) b += c2(n);
  const expected = (a * b) / c2(x.length);
  return (index - expected) / ((a + b) / 2 - expected);
}

/**
 * Annotators drawn from two Bradley-Terry models with opposite preferences over 3 prompts of 4
 * responses: log-strengths (1.5, 0.5, -0.5, -1.5) for cluster 0 and the reverse for cluster 1.
 */
function planted(seed: number, clusterOf: readonly number[], perAnnotator: number): MaxMinInput {
  const rng = seededRng(seed);
  const theta = [
    [1.5, 0.5, -0.5, -1.5],
    [-1.5, -0.5, 0.5, 1.5],
  ];
  const problems = [0, 1, 2].map((p) => ({ alternatives: ["r0", "r1", "r2", "r3"].map((r) => `p${p}:${r}`) }));
  const annotators = clusterOf.map((k, a) => {
    const comparisons: LocatedComparison[] = [];
    for (let n = 0; n < perAnnotator; n++) {
      const problem = rng.int(0, 2);
      const i = rng.int(0, 3);
      let j = rng.int(0, 2);
      if (j >= i) j++;
      const t = theta[k]!;
      const pi = 1 / (1 + Math.exp(t[j]! - t[i]!));
      comparisons.push(rng.float() < pi ? { problem, chosen: i, rejected: j } : { problem, chosen: j, rejected: i });
    }
    return { id: `a${a}`, comparisons };
  });
  return { problems, annotators };
}

describe("MaxMin-RLHF EM", () => {
  // 12 annotators in cluster 0 and 8 in cluster 1, interleaved.
  const clusterOf = Array.from({ length: 20 }, (_, a) => ([1, 3].includes(a % 5) ? 1 : 0));

  it("recovers two planted clusters, with K = 2 chosen by held-out likelihood", () => {
    const input = planted(42, clusterOf, 30);
    const r = maxMinRlhf(input, { seed: 1, maxK: 4 });
    assert.equal(r.k, 2);
    assert.ok(r.selection !== null);
    assert.deepEqual(
      r.selection.map((s) => s.k),
      [1, 2, 3, 4],
    );
    const best = r.selection.find((s) => s.k === 2)!;
    for (const s of r.selection) if (s.k !== 2) assert.ok(s.heldOutLogLikelihood < best.heldOutLogLikelihood, `K=${s.k}`);
    // one held-out pass over every comparison: 20 annotators x 30
    assert.equal(best.heldOut, 600);
    assert.equal(maxMinRlhf(input, { seed: 1, maxK: 4, rule: "one-se" }).k, 2);
    // two clusters explain the training data far better than one
    assert.ok(r.selection[1]!.trainLogLikelihood > r.selection[0]!.trainLogLikelihood + 50);
    assert.equal(adjustedRandIndex(r.assignment, clusterOf), 1);
    // largest first: cluster 0 of the result is the planted majority, with the planted order in each prompt
    assert.equal(r.clusters[0]!.size, 12);
    assert.equal(r.clusters[1]!.size, 8);
    assert.deepEqual(r.clusters[1]!.members, clusterOf.flatMap((k, a) => (k === 1 ? [`a${a}`] : [])));
    for (let p = 0; p < 3; p++) {
      assert.deepEqual(r.clusters[0]!.models[p]!.ranking, [[0], [1], [2], [3]]);
      assert.deepEqual(r.clusters[1]!.models[p]!.ranking, [[3], [2], [1], [0]]);
    }
    assert.ok(r.converged);
    // the same seed gives the same result
    assert.deepEqual(maxMinRlhf(input, { seed: 1, maxK: 4 }).selection, r.selection);
  });

  it("recovers them again from other data and another seed", () => {
    const r = maxMinRlhf(planted(7, clusterOf, 24), { seed: 5 });
    assert.equal(r.k, 2);
    assert.equal(adjustedRandIndex(r.assignment, clusterOf), 1);
  });

  it("chooses K = 1 when everyone shares one model", () => {
    const r = maxMinRlhf(planted(3, clusterOf.map(() => 0), 30), { seed: 2, maxK: 3 });
    assert.equal(r.k, 1);
    assert.equal(r.clusters[0]!.size, 20);
  });
});

describe("the max-min choice", () => {
  it("computes win-probability utilities and both choices by hand", () => {
    // majority strengths (A 0.6, B 0.1, C 0.3): u_A = (6/7 + 2/3)/2 = 16/21, u_B = (1/7 + 1/4)/2 = 11/56, u_C = (1/3 + 3/4)/2 = 13/24
    const maj = winProbabilityUtilities([0.6, 0.1, 0.3]);
    close(maj[0]!, 16 / 21, 1e-15);
    close(maj[1]!, 11 / 56, 1e-15);
    close(maj[2]!, 13 / 24, 1e-15);
    const min = winProbabilityUtilities([0.1, 0.6, 0.3]);
    const c = maxMinChoice([maj, min], [8, 2]);
    // utilitarian: A = 0.8 * 16/21 + 0.2 * 11/56 = 0.6488 > C = 13/24 = 0.5417 > B
    close(c.utilitarian.values[0]!, 0.8 * (16 / 21) + 0.2 * (11 / 56), 1e-15);
    assert.deepEqual(c.utilitarian.winners, [0]);
    // max-min: min(A) = min(B) = 11/56, min(C) = 13/24
    assert.deepEqual(c.maxmin.values.map((v) => +v.toFixed(12)), [11 / 56, 11 / 56, 13 / 24].map((v) => +v.toFixed(12)));
    assert.deepEqual(c.maxmin.winners, [2]);
    // equal weights: A and B both average (16/21 + 11/56)/2 = 0.479 < 13/24, so C wins here too
    assert.deepEqual(maxMinChoice([maj, min]).utilitarian.winners, [2]);
    close(maxMinChoice([maj, min]).utilitarian.values[1]!, (16 / 21 + 11 / 56) / 2, 1e-15);
    assert.throws(() => maxMinChoice([[0.5, 0.5], [1]]), CivitasError);
  });

  it("protects a minority the utilitarian choice ignores, end to end from a comparisons file", () => {
    // 8 annotators rank A > C > B, 2 rank B > C > A; each states all three pairs twice.
    const lines: string[] = [];
    const rankOf = (a: number) => (a < 8 ? ["A", "C", "B"] : ["B", "C", "A"]);
    for (let a = 0; a < 10; a++) {
      const [x, y, z] = rankOf(a);
      for (let rep = 0; rep < 2; rep++) {
        for (const [c, r] of [[x, y], [x, z], [y, z]]) lines.push(JSON.stringify({ annotator: `u${a}`, prompt: "q", chosen: c, rejected: r }));
      }
    }
    const data = parseComparisons(lines.join("\n"), "hand.jsonl");
    const r = maxMinRlhf(data, { k: 2, seed: 0 });
    assert.equal(r.selection, null);
    assert.deepEqual(r.clusters.map((c) => c.members), [
      ["u0", "u1", "u2", "u3", "u4", "u5", "u6", "u7"],
      ["u8", "u9"],
    ]);
    const alts = data.problems[0]!.alternatives; // A, C, B in order of appearance
    const name = (ws: number[]) => ws.map((w) => alts[w]);
    assert.deepEqual(name(r.clusters[0]!.models[0]!.winners), ["A"]);
    assert.deepEqual(name(r.clusters[1]!.models[0]!.winners), ["B"]);
    const choice = r.choices[0]!;
    assert.deepEqual(name(choice.utilitarian.winners), ["A"]);
    assert.deepEqual(name(choice.maxmin.winners), ["C"]);
    // the minority's utility of its max-min outcome is far above its utility of the utilitarian one
    const a = alts.indexOf("A");
    const cc = alts.indexOf("C");
    assert.ok(choice.utilities[1]![cc]! > choice.utilities[1]![a]! + 0.2);
  });

  it("refuses what it cannot do", () => {
    const one: MaxMinInput = { problems: [{ alternatives: ["x", "y"] }], annotators: [{ id: "a", comparisons: [{ problem: 0, chosen: 0, rejected: 1 }] }] };
    assert.throws(() => maxMinRlhf(one), /no annotator has two comparisons/u);
    assert.throws(() => maxMinRlhf(one, { k: 2 }), /k = 2 clusters for 1 annotators/u);
    assert.throws(() => maxMinRlhf({ ...one, annotators: [{ id: "a", comparisons: [{ problem: 0, chosen: 0, rejected: 2 }] }] }, { k: 1 }), /annotator a, comparison 1: rejected = 2/u);
    const r = maxMinRlhf(one, { k: 1 });
    assert.deepEqual(r.choices[0]!.maxmin.winners, [0]);
  });
});
