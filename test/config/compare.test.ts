/**
 * Paired differences between two models' alignment on the questions both scored: known answers by
 * hand, and the point of pairing (a difference that is the same on every question has no spread,
 * however much the questions differ).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pairedDifference, type DistanceMap } from "../../src/config/index.js";

const map = (o: Record<string, Record<string, number>>): DistanceMap => new Map(Object.entries(o).map(([p, qs]) => [p, new Map(Object.entries(qs))]));
const close = (a: number, b: number, why: string) => assert.ok(Math.abs(a - b) < 1e-12, `${why}: ${a} vs ${b}`);

describe("paired differences", () => {
  it("alignment of A minus B on the shared questions, per population and over populations, by hand", () => {
    // Alignment is 1 - distance, so A - B = d_B - d_A per question.
    const a = map({ P: { q1: 0.1, q2: 0.2, q3: 0.3, q4: 0.9 }, Q: { q1: 0.5, q2: 0.5 } });
    const b = map({ P: { q1: 0.3, q2: 0.2, q3: 0.6 }, Q: { q1: 0.4, q2: 0.8, q5: 0.1 } });
    const d = pairedDifference(a, b, ["P", "Q"], { seed: 0, resamples: 200 });
    // Shared: P on q1..q3 (q4 only in A), Q on q1, q2 (q5 only in B): questions q1, q2, q3.
    assert.equal(d.questions, 3);
    // P: (0.2 + 0 + 0.3) / 3 = 1/6; Q: (-0.1 + 0.3) / 2 = 0.1; over populations (1/6 + 0.1) / 2 = 2/15.
    const p = d.populations.find((x) => x.population === "P")!;
    const q = d.populations.find((x) => x.population === "Q")!;
    close(p.mean, 1 / 6, "P");
    assert.equal(p.n, 3);
    close(q.mean, 0.1, "Q");
    assert.equal(q.n, 2);
    close(d.overall.mean, 2 / 15, "overall");
    for (const i of [p, q, d.overall]) assert.ok(i.ci[0] <= i.mean && i.mean <= i.ci[1], JSON.stringify(i));
  });

  it("is paired: the same difference on every question has a zero-width interval, whatever the questions' spread", () => {
    const distances = [0.05, 0.6, 0.2, 0.9, 0.35, 0.75, 0.1, 0.5];
    const a = map({ P: Object.fromEntries(distances.map((v, i) => [`q${i}`, v])) });
    const b = map({ P: Object.fromEntries(distances.map((v, i) => [`q${i}`, v + 0.05])) });
    const d = pairedDifference(a, b, ["P"], { seed: 3, resamples: 500 });
    // Every resample's mean difference is 0.05 (up to the rounding of v + 0.05 - v).
    close(d.overall.mean, 0.05, "mean");
    assert.ok(Math.abs(d.overall.ci[0] - 0.05) < 1e-12 && Math.abs(d.overall.ci[1] - 0.05) < 1e-12, JSON.stringify(d.overall.ci));
  });

  it("the same seed gives the same interval; a difference that changes sign straddles 0", () => {
    const a = map({ P: { q1: 0.1, q2: 0.5, q3: 0.3, q4: 0.6, q5: 0.2 } });
    const b = map({ P: { q1: 0.2, q2: 0.4, q3: 0.4, q4: 0.5, q5: 0.2 } });
    const one = pairedDifference(a, b, ["P"], { seed: 7, resamples: 300 });
    const two = pairedDifference(a, b, ["P"], { seed: 7, resamples: 300 });
    assert.deepEqual(one, two);
    // Differences 0.1, -0.1, 0.1, -0.1, 0: mean 0.
    close(one.overall.mean, 0, "mean");
    assert.ok(one.overall.ci[0] < 0 && one.overall.ci[1] > 0, JSON.stringify(one.overall.ci));
  });

  it("no shared question: no number", () => {
    const d = pairedDifference(map({ P: { q1: 0.1 } }), map({ P: { q2: 0.1 } }), ["P"], { seed: 0, resamples: 50 });
    assert.equal(d.questions, 0);
    assert.ok(Number.isNaN(d.overall.mean));
  });
});
