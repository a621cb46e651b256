import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { bootstrapMeans, quantileSorted } from "../../src/metrics/bootstrap.js";
import { ambiguityClass, auroc, MOCA_AMBIGUITY_THRESHOLD, mocaScores, type MoCaItem } from "../../src/metrics/moca.js";
import { seededRng } from "../../src/metrics/rng.js";

const close = (a: number, b: number, eps = 1e-12) => assert.ok(Math.abs(a - b) <= eps, `${a} != ${b}`);

/**
 * The area under the ROC curve as sklearn computes it (roc_curve + auc, MoCa's evaluator.py):
 * one ROC point per distinct score, thresholds from high to low, trapezoids between them.
 */
function trapezoidAuc(labels: readonly number[], scores: readonly number[]): number {
  const nPos = labels.filter((l) => l === 1).length;
  const nNeg = labels.length - nPos;
  const thresholds = [...new Set(scores)].sort((a, b) => b - a);
  let area = 0;
  let prev = [0, 0];
  for (const t of thresholds) {
    let tp = 0;
    let fp = 0;
    scores.forEach((s, i) => {
      if (s >= t) {
        if (labels[i] === 1) tp++;
        else fp++;
      }
    });
    const pt = [fp / nNeg, tp / nPos];
    area += ((pt[0]! - prev[0]!) * (pt[1]! + prev[1]!)) / 2;
    prev = pt;
  }
  return area;
}

describe("auroc", () => {
  it("perfect separation is 1, reversed is 0, all ties is 0.5", () => {
    assert.equal(auroc([1, 1, 0, 0], [0.9, 0.8, 0.3, 0.1]), 1);
    assert.equal(auroc([0, 0, 1, 1], [0.9, 0.8, 0.3, 0.1]), 0);
    assert.equal(auroc([1, 0, 1, 0, 0], [0.5, 0.5, 0.5, 0.5, 0.5]), 0.5);
  });

  it("a mixed case with a tie, computed by hand", () => {
    // labels [1,1,0,0,1], scores [.9,.4,.4,.2,.7]: positives .9 .4 .7, negatives .4 .2.
    // Pairs (pos, neg): (.9,.4)=1 (.9,.2)=1 (.4,.4)=1/2 (.4,.2)=1 (.7,.4)=1 (.7,.2)=1 -> 5.5 / 6.
    assert.equal(auroc([1, 1, 0, 0, 1], [0.9, 0.4, 0.4, 0.2, 0.7]), 5.5 / 6);
    assert.equal(trapezoidAuc([1, 1, 0, 0, 1], [0.9, 0.4, 0.4, 0.2, 0.7]), 5.5 / 6);
  });

  it("equals the trapezoidal ROC area (sklearn's) on a seeded case with many ties", () => {
    const rng = seededRng(7);
    const labels = Array.from({ length: 300 }, () => rng.int(0, 1));
    const scores = Array.from({ length: 300 }, () => rng.int(0, 20) / 20);
    close(auroc(labels, scores), trapezoidAuc(labels, scores));
  });

  it("is NaN when a class is missing, and rejects bad input", () => {
    assert.ok(Number.isNaN(auroc([1, 1], [0.2, 0.3])));
    assert.ok(Number.isNaN(auroc([], [])));
    assert.throws(() => auroc([1, 2], [0.2, 0.3]), RangeError);
    assert.throws(() => auroc([1], [0.2, 0.3]), RangeError);
    assert.throws(() => auroc([1, 0], [Number.NaN, 0.3]), RangeError);
  });
});

describe("ambiguityClass", () => {
  it("exactly 0.6 either way is ambiguous; just above is not", () => {
    assert.equal(MOCA_AMBIGUITY_THRESHOLD, 0.6);
    assert.equal(ambiguityClass(0.6), "ambiguous");
    assert.equal(ambiguityClass(0.4), "ambiguous"); // max(0.4, 0.6) = 0.6
    assert.equal(ambiguityClass(15 / 25), "ambiguous"); // 15 of MoCa's 25 people
    assert.equal(ambiguityClass(0.5), "ambiguous");
    assert.equal(ambiguityClass(16 / 25), "yes");
    assert.equal(ambiguityClass(9 / 25), "no");
    assert.equal(ambiguityClass(0.6000000000000001), "yes");
    assert.equal(ambiguityClass(1), "yes");
    assert.equal(ambiguityClass(0), "no");
  });

  it("takes another threshold; a tie goes to yes as numpy's argmax", () => {
    assert.equal(ambiguityClass(0.7, 0.7), "ambiguous");
    assert.equal(ambiguityClass(0.7, 0.69), "yes");
    assert.equal(ambiguityClass(0.5, 0.4), "yes");
  });
});

describe("mocaScores", () => {
  // humanYes / modelYes -> classes:
  //   a .64 yes        / .80 yes        -> right
  //   b .60 ambiguous  / .55 ambiguous  -> right
  //   c .40 ambiguous  / .30 no         -> wrong
  //   d .20 no         / .61 yes        -> wrong
  //   e .92 yes        / .60 ambiguous  -> wrong
  // accuracy 2/5. |differences| .16 .05 .10 .41 .32 -> agreement 1 - 1.04/5 = 0.792.
  // Unambiguous (humans): a (yes, .80), d (no, .61), e (yes, .60): positives .80 .60 vs the
  // negative .61 -> AuROC 1/2.
  const hand: MoCaItem[] = [
    { id: "a", humanYes: 0.64, modelYes: 0.8 },
    { id: "b", humanYes: 0.6, modelYes: 0.55 },
    { id: "c", humanYes: 0.4, modelYes: 0.3 },
    { id: "d", humanYes: 0.2, modelYes: 0.61 },
    { id: "e", humanYes: 0.92, modelYes: 0.6 },
  ];

  it("point estimates on a hand case", () => {
    const s = mocaScores(hand, { resamples: 50 });
    assert.equal(s.accuracy.mean, 0.4);
    assert.equal(s.accuracy.n, 5);
    close(s.agreement.mean, 0.792);
    assert.equal(s.agreement.n, 5);
    assert.equal(s.auroc.mean, 0.5);
    assert.equal(s.auroc.n, 3);
  });

  it("the dataset's ambiguity flag, when given, decides which items the AuROC uses", () => {
    // Marking d ambiguous leaves only yes-majority items: no AuROC at all.
    const flagged = hand.map((it) => ({ ...it, ambiguous: it.id === "d" || it.id === "b" || it.id === "c" }));
    const s = mocaScores(flagged, { resamples: 20 });
    assert.ok(Number.isNaN(s.auroc.mean));
    assert.equal(s.auroc.n, 2);
    assert.equal(s.auroc.skipped, 20);
    assert.ok(Number.isNaN(s.auroc.ci[0]) && Number.isNaN(s.auroc.ci[1]));
    // The accuracy still uses the 0.6 rule.
    assert.equal(s.accuracy.mean, 0.4);
    // Marking b (.60) unambiguous brings it in as a yes item (argmax of [.6, .4]).
    const withB = mocaScores(hand.map((it) => (it.id === "b" ? { ...it, ambiguous: false } : it)), { resamples: 20 });
    assert.equal(withB.auroc.n, 4);
    // positives .80 .60 .55 vs the negative .61 -> 1/3.
    close(withB.auroc.mean, 1 / 3);
  });

  /** A seeded synthetic set: 60 items, human shares in 25ths, model = human + noise. */
  function synthetic(seed: number): MoCaItem[] {
    const rng = seededRng(seed);
    return Array.from({ length: 60 }, (_, i) => {
      const h = rng.int(0, 25) / 25;
      const m = Math.min(1, Math.max(0, h + (rng.float() - 0.5) * 0.6));
      return { id: `q${i}`, humanYes: h, modelYes: m };
    });
  }

  it("is reproducible with a seed, and another seed gives other intervals", () => {
    const items = synthetic(3);
    const a = mocaScores(items, { seed: 11 });
    const b = mocaScores(items, { seed: 11 });
    const c = mocaScores(items, { seed: 12 });
    assert.deepEqual(a, b);
    assert.equal(c.agreement.mean, a.agreement.mean);
    assert.notDeepEqual(c.agreement.ci, a.agreement.ci);
    for (const e of [a.agreement, a.auroc, a.accuracy]) {
      assert.ok(e.ci[0] <= e.mean && e.mean <= e.ci[1], `${e.mean} in [${e.ci[0]}, ${e.ci[1]}]`);
    }
    assert.equal(a.auroc.skipped, 0);
  });

  it("resamples as bootstrapMeans does: same draws, same agreement interval", () => {
    const items = synthetic(5);
    const s = mocaScores(items, { seed: 4, resamples: 400 });
    const ref = bootstrapMeans([items.map((it) => 1 - Math.abs(it.modelYes - it.humanYes))], { seed: 4, resamples: 400 });
    close(s.agreement.mean, ref.series[0]!.mean);
    close(s.agreement.ci[0], ref.series[0]!.ci[0]);
    close(s.agreement.ci[1], ref.series[0]!.ci[1]);
    const acc = bootstrapMeans([items.map((it) => (ambiguityClass(it.modelYes) === ambiguityClass(it.humanYes) ? 1 : 0))], {
      seed: 4,
      resamples: 400,
    });
    close(s.accuracy.mean, acc.series[0]!.mean);
    close(s.accuracy.ci[0], acc.series[0]!.ci[0]);
    close(s.accuracy.ci[1], acc.series[0]!.ci[1]);
  });

  it("skips the resamples that lack a class, counts them, and takes percentiles of the rest", () => {
    // One unambiguous yes (model .9), one unambiguous no (model .1), two ambiguous items.
    const items: MoCaItem[] = [
      { id: "y", humanYes: 0.8, modelYes: 0.9 },
      { id: "n", humanYes: 0.2, modelYes: 0.1 },
      { id: "a1", humanYes: 0.52, modelYes: 0.5 },
      { id: "a2", humanYes: 0.44, modelYes: 0.5 },
    ];
    const resamples = 500;
    const s = mocaScores(items, { seed: 9, resamples });
    // Replay the draws: a resample has an AuROC only if it holds both "y" (0) and "n" (1).
    const rng = seededRng(9);
    let expected = 0;
    for (let b = 0; b < resamples; b++) {
      const drawn = new Set<number>();
      for (let k = 0; k < items.length; k++) drawn.add(rng.int(0, items.length - 1));
      if (!(drawn.has(0) && drawn.has(1))) expected++;
    }
    assert.equal(s.auroc.skipped, expected);
    assert.ok(expected > 0 && expected < resamples);
    // Every kept resample separates perfectly.
    assert.deepEqual(s.auroc.ci, [1, 1]);
    assert.equal(s.auroc.mean, 1);
    assert.equal(s.auroc.n, 2);
  });

  it("percentiles use numpy's linear interpolation", () => {
    // Two items: every resample's agreement is one of three values; check against quantileSorted
    // of the replayed draws.
    const items: MoCaItem[] = [
      { id: "p", humanYes: 0.2, modelYes: 0.7 },
      { id: "q", humanYes: 0.9, modelYes: 0.8 },
    ];
    const s = mocaScores(items, { seed: 1, resamples: 101 });
    const rng = seededRng(1);
    const agree = [0.5, 0.9];
    const draws: number[] = [];
    for (let b = 0; b < 101; b++) draws.push((agree[rng.int(0, 1)]! + agree[rng.int(0, 1)]!) / 2);
    const sorted = Float64Array.from(draws).sort();
    close(s.agreement.ci[0], quantileSorted(sorted, 0.025));
    close(s.agreement.ci[1], quantileSorted(sorted, 0.975));
  });

  it("no items: NaN everywhere; a value that is not a probability is an error naming the item", () => {
    const s = mocaScores([], { resamples: 10 });
    assert.ok(Number.isNaN(s.agreement.mean) && Number.isNaN(s.accuracy.mean) && Number.isNaN(s.auroc.mean));
    assert.equal(s.agreement.n, 0);
    assert.throws(() => mocaScores([{ id: "moral/3", humanYes: 0.5, modelYes: 1.2 }]), /moral\/3: modelYes 1\.2/);
    assert.throws(() => mocaScores([{ id: "x", humanYes: Number.NaN, modelYes: 0.2 }]), /x: humanYes NaN/);
  });
});
