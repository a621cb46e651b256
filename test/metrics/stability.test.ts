import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { parse as parseCsv } from "csv-parse/sync";
import { totalVariation } from "../../src/metrics/distances.js";
import { seededRng } from "../../src/metrics/rng.js";
import {
  conclusionStability,
  kendallTauB,
  meanScore,
  populationStd,
  positionBias,
  scoreSpreadBaseline,
  variantSpread,
  varianceDecomposition,
} from "../../src/metrics/stability.js";

const RNR_CSV = fileURLToPath(new URL("../../../shared/data/cultural-stability/global_opinion_data.csv", import.meta.url));
const GLOBALVALUES_JSON = fileURLToPath(new URL("../../../shared/data/distalign/globalvalues/data.json", import.meta.url));

const close = (actual: number, expected: number, tol = 1e-12, what = ""): void => {
  assert.ok(Math.abs(actual - expected) <= tol, `${what} expected ${expected}, got ${actual}`);
};

/** A Python dict literal of string keys and number values, e.g. "{'Brazil': 0.64, 'France': 0.62}". */
function parsePyNumberDict(text: string): Map<string, number> {
  const body = text.trim();
  assert.ok(body.startsWith("{") && body.endsWith("}"), `not a dict literal: ${body.slice(0, 40)}`);
  const out = new Map<string, number>();
  const entry = /\s*(?:'([^']*)'|"([^"]*)")\s*:\s*(-?[0-9.]+(?:[eE][-+]?[0-9]+)?)\s*(?:,|$)/y;
  const inner = body.slice(1, -1);
  entry.lastIndex = 0;
  while (entry.lastIndex < inner.length) {
    const m = entry.exec(inner);
    assert.ok(m, `cannot parse the dict literal near: ${inner.slice(entry.lastIndex, entry.lastIndex + 40)}`);
    out.set(m[1] ?? m[2]!, Number(m[3]));
  }
  return out;
}

interface RnrRow {
  question_idx: string;
  question_text: string;
  options: string;
  variation: string;
  mean_weights: string;
}

function rnrRows(): RnrRow[] {
  return parseCsv(readFileSync(RNR_CSV, "utf8"), { columns: true, skip_empty_lines: true }) as RnrRow[];
}

/** The options list of the RnR csv: a Python list of strings. */
function pyStringList(text: string): string[] {
  const items = [...text.matchAll(/'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1] ?? m[2]!);
  return items;
}

// ---------------------------------------------------------------------------------------------

describe("variantSpread: mean pairwise total variation across variants", () => {
  it("matches a hand computation", () => {
    // TV([.5,.5],[1,0]) = .5; TV([.5,.5],[0,1]) = .5; TV([1,0],[0,1]) = 1; mean = 2/3.
    close(variantSpread([[0.5, 0.5], [1, 0], [0, 1]]), 2 / 3);
    assert.equal(variantSpread([[0.2, 0.8], [0.2, 0.8]]), 0);
  });
  it("is NaN for fewer than 2 variants and rejects distributions of different lengths", () => {
    assert.ok(Number.isNaN(variantSpread([[1, 0]])));
    assert.ok(Number.isNaN(variantSpread([])));
    assert.throws(() => variantSpread([[1, 0], [0.5, 0.25, 0.25]]));
  });
});

describe("meanScore: mean position on the ordinal scale in [0, 1]", () => {
  it("matches hand computations", () => {
    // ordinals 1..3 -> positions 0, .5, 1: .3 * .5 + .5 * 1 = .65
    close(meanScore([0.2, 0.3, 0.5], [1, 2, 3]), 0.65);
    // renormalised first: [2, 3, 5] / 10
    close(meanScore([2, 3, 5], [1, 2, 3]), 0.65);
    // unsorted ordinals, as OpinionQA's [1, 2, 1.5]: .2 * 0 + .3 * 1 + .5 * .5 = .55
    close(meanScore([0.2, 0.3, 0.5], [1, 2, 1.5]), 0.55);
    assert.equal(meanScore([1, 0, 0, 0], [1, 2, 3, 4]), 0);
    assert.equal(meanScore([0, 0, 0, 1], [1, 2, 3, 4]), 1);
  });
  it("is NaN for a degenerate scale or no mass, and rejects a length mismatch", () => {
    assert.ok(Number.isNaN(meanScore([0.5, 0.5], [1, 1])));
    assert.ok(Number.isNaN(meanScore([0, 0], [1, 2])));
    assert.throws(() => meanScore([0.5, 0.5], [1, 2, 3]), /2 values but the scale has 3/);
  });
  it("reproduces the RnR paper's per-country mean scores from the GlobalOpinionQA distributions", () => {
    // The RnR csv gives each country's mean normalised score (mean_weights); 4 of its questions are
    // also in Meister et al.'s globalvalues file, with per-country distributions (in another
    // option order). Mapped into the csv's option order with ordinals 1..K, meanScore must agree.
    const gv = JSON.parse(readFileSync(GLOBALVALUES_JSON, "utf8")) as Record<string, Record<string, unknown>>;
    let checked = 0;
    const seen = new Set<string>();
    for (const row of rnrRows()) {
      if (seen.has(row.question_idx) || !row.variation.includes("'ascending'")) continue;
      seen.add(row.question_idx);
      const entry = gv[row.question_text];
      if (!entry) continue;
      const opts = pyStringList(row.options);
      const gvOpts = pyStringList(entry["MC_options"] as string);
      const weights = parsePyNumberDict(row.mean_weights);
      for (const [country, expected] of weights) {
        const dist = entry[country] as number[] | undefined;
        if (!dist) continue;
        const p = opts.map((o) => {
          const i = gvOpts.indexOf(o);
          assert.ok(i >= 0, `option ${o} of question ${row.question_idx} not in globalvalues`);
          return dist[i]!;
        });
        close(meanScore(p, opts.map((_, k) => k + 1)), expected, 1e-9, `question ${row.question_idx} ${country}`);
        checked++;
      }
    }
    assert.equal(checked, 10); // (question, country) pairs present in both files
  });
});

describe("populationStd and the RnR human baseline", () => {
  it("is numpy.std with ddof = 0, ignoring NaN", () => {
    // numpy.std([1, 2, 3, 4]) = sqrt(1.25) = 1.118033988749895 (ddof = 1 would give 1.2909944)
    close(populationStd([1, 2, 3, 4]), Math.sqrt(1.25));
    close(populationStd([1, Number.NaN, 2, 3, 4]), Math.sqrt(1.25));
    assert.equal(populationStd([5]), 0);
    assert.ok(Number.isNaN(populationStd([])));
  });
  it("scoreSpreadBaseline is the mean over questions of the std across populations (hand case)", () => {
    // q0: std([0, 1]) = .5; q1: std([.2, .4, .6]) = sqrt(.08 / 3); q2: one population, left out.
    close(scoreSpreadBaseline([[0, 1], [0.2, 0.4, 0.6], [0.3, Number.NaN]]), (0.5 + Math.sqrt(0.08 / 3)) / 2);
    assert.ok(Number.isNaN(scoreSpreadBaseline([])));
  });
  it("is 0.114 on the paper's 77 questions x 15 countries", () => {
    const byQuestion = new Map<string, number[]>();
    for (const row of rnrRows()) {
      if (byQuestion.has(row.question_idx)) continue;
      const w = parsePyNumberDict(row.mean_weights);
      assert.equal(w.size, 15, `question ${row.question_idx} should have 15 countries`);
      byQuestion.set(row.question_idx, [...w.values()]);
    }
    assert.equal(byQuestion.size, 77);
    const baseline = scoreSpreadBaseline([...byQuestion.values()]);
    assert.equal(Math.round(baseline * 1000) / 1000, 0.114);
    close(baseline, 0.1143053163309197, 1e-12);
  });
});

describe("kendallTauB (scipy.stats.kendalltau, variant b)", () => {
  it("matches known answers", () => {
    // scipy docs example: kendalltau([12, 2, 1, 12, 2], [1, 4, 7, 1, 0]).statistic = -0.47140452079103173
    // (by hand: C = 3, D = 6, T_x = 2, T_y = 1, N = 10: -3 / sqrt(8 * 9) = -0.4714045)
    close(kendallTauB([12, 2, 1, 12, 2], [1, 4, 7, 1, 0]), -0.47140452079103173);
    // [1,2,3] vs [1,3,2]: C = 2, D = 1, N = 3: 1/3
    close(kendallTauB([1, 2, 3], [1, 3, 2]), 1 / 3);
    // ties: [1,1,2,3] vs [1,2,2,3]: C = 4, D = 0, T_x = 1, T_y = 1, N = 6: 4 / sqrt(5 * 5) = 0.8
    close(kendallTauB([1, 1, 2, 3], [1, 2, 2, 3]), 0.8);
    assert.equal(kendallTauB([1, 2, 3, 4], [4, 3, 2, 1]), -1);
    assert.equal(kendallTauB(Float64Array.from([0.1, 0.5, 0.3]), [1, 3, 2]), 1);
  });
  it("is NaN when a side is constant, for one item, or with NaN (scipy's propagate)", () => {
    assert.ok(Number.isNaN(kendallTauB([1, 1, 1], [1, 2, 3])));
    assert.ok(Number.isNaN(kendallTauB([1], [1])));
    assert.ok(Number.isNaN(kendallTauB([1, 2, Number.NaN], [1, 2, 3])));
    assert.throws(() => kendallTauB([1, 2], [1, 2, 3]));
  });
});

// ---------------------------------------------------------------------------------------------
// Hand-made models.

/** K = 4 option questions with three populations' distributions, in survey order. */
const HUMANS: number[][][] = [
  // [question][population] -> distribution
  [[0.5, 0.3, 0.1, 0.1], [0.1, 0.2, 0.3, 0.4], [0.25, 0.25, 0.25, 0.25]],
  [[0.4, 0.4, 0.1, 0.1], [0.1, 0.1, 0.4, 0.4], [0.25, 0.25, 0.25, 0.25]],
  [[0.6, 0.2, 0.1, 0.1], [0.2, 0.2, 0.2, 0.4], [0.25, 0.25, 0.25, 0.25]],
  [[0.3, 0.3, 0.3, 0.1], [0.1, 0.3, 0.3, 0.3], [0.25, 0.25, 0.25, 0.25]],
  [[0.7, 0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.7], [0.25, 0.25, 0.25, 0.25]],
  [[0.45, 0.35, 0.1, 0.1], [0.05, 0.15, 0.4, 0.4], [0.25, 0.25, 0.25, 0.25]],
];

/** scores[v][p][q] = 1 - TV(model answer of variant v on q, population p on q). */
function alignmentScores(model: number[][][] /* [q][v] survey-order distribution */, humans: number[][][]): number[][][] {
  const nv = model[0]!.length;
  const np = humans[0]!.length;
  return Array.from({ length: nv }, (_, v) =>
    Array.from({ length: np }, (_, p) => model.map((answers, q) => 1 - totalVariation(answers[v]!, humans[q]![p]!))),
  );
}

/** y[q][p][v] from scores[v][p][q]. */
function byQuestion(scores: number[][][]): number[][][] {
  const nq = scores[0]![0]!.length;
  return Array.from({ length: nq }, (_, q) => scores[0]!.map((_, p) => scores.map((sv) => sv[p]![q]!)));
}

describe("a perfectly stable model (same distribution under every variant)", () => {
  // The model answers exactly as population 0 under each of 3 variants.
  const model = HUMANS.map((pops) => [pops[0]!, [...pops[0]!], [...pops[0]!]]);
  const scores = alignmentScores(model, HUMANS);

  it("has spread 0 on every question", () => {
    for (const answers of model) assert.equal(variantSpread(answers), 0);
  });
  it("keeps its top population on every variant and draw, with tau 1", () => {
    const r = conclusionStability(scores, { seed: 3, resamples: 300 });
    assert.equal(r.top, 0);
    assert.deepEqual(r.perVariantTop, [0, 0, 0]);
    assert.equal(r.topShare, 1);
    assert.equal(r.kendallTau, 1);
    assert.equal(r.stable, true);
    assert.equal(r.means[0], 1);
    // populations 1 and 2: mean alignment by hand is 1 - mean TV; just check the ranking is by it
    assert.deepEqual(r.ranking, [...r.ranking].sort((a, b) => r.means[b]! - r.means[a]!));
  });
  it("has no variance from variants", () => {
    const d = varianceDecomposition(byQuestion(scores));
    assert.equal(d.questionsUsed, HUMANS.length);
    close(d.variant, 0, 1e-12);
    close(d.interaction, 0, 1e-12);
    close(d.population, 1, 1e-12);
  });
});

describe("a model with pure position bias (0.7 on the first option shown)", () => {
  const K = 4;
  const survey = [0, 1, 2, 3];
  const reversed = [3, 2, 1, 0];
  const letters = ["A", "B", "C", "D"];
  const numbers = ["1", "2", "3", "4"];
  const variants = [
    { order: survey, labels: letters },
    { order: reversed, labels: letters },
    { order: survey, labels: numbers },
    { order: reversed, labels: numbers },
  ];
  // Whatever the content: 0.7 on the option shown first, 0.1 on each other.
  const presented = [0.7, 0.1, 0.1, 0.1];
  const toSurveyOrder = (order: number[]): number[] => {
    const d = new Array<number>(K).fill(0);
    order.forEach((surveyIndex, position) => (d[surveyIndex] = presented[position]!));
    return d;
  };

  it("flips its survey-order distribution between orders: spread 0.4 by hand", () => {
    const dists = variants.map((v) => toSurveyOrder(v.order));
    assert.deepEqual(dists[0], [0.7, 0.1, 0.1, 0.1]);
    assert.deepEqual(dists[1], [0.1, 0.1, 0.1, 0.7]);
    // pairs (survey, reversed): TV = (0.6 + 0.6) / 2 = 0.6, four such pairs; (survey, survey) and
    // (reversed, reversed): 0. Mean over the 6 pairs: 4 * 0.6 / 6 = 0.4.
    close(variantSpread(dists), 0.4);
  });

  const answers = HUMANS.flatMap(() => variants.map((v) => ({ presented, labels: v.labels })));

  it("puts 0.7 on position 1 against an expected 1/K", () => {
    const r = positionBias(answers);
    assert.equal(r.answersUsed, HUMANS.length * variants.length);
    assert.equal(r.byPosition.length, K);
    assert.deepEqual(
      r.byPosition.map((b) => b.position),
      [1, 2, 3, 4],
    );
    close(r.byPosition[0]!.mean, 0.7);
    close(r.byPosition[0]!.expected, 1 / K);
    assert.equal(r.byPosition[0]!.n, HUMANS.length * variants.length);
    for (const b of r.byPosition.slice(1)) close(b.mean, 0.1);
  });

  it("reaches the labels shown first too", () => {
    const r = positionBias(answers);
    const label = (l: string) => r.byLabel.find((b) => b.label === l)!;
    assert.deepEqual(
      r.byLabel.map((b) => b.label),
      ["A", "B", "C", "D", "1", "2", "3", "4"],
    );
    close(label("A").mean, 0.7);
    close(label("1").mean, 0.7);
    close(label("A").expected, 0.25);
    assert.equal(label("A").n, HUMANS.length * 2);
    close(label("D").mean, 0.1);
    close(label("4").mean, 0.1);
  });

  it("shows up as population x variant interaction when two populations mirror each other", () => {
    // Population 0 prefers option 1, population 1 option 4: under survey order the model matches
    // population 0 exactly, under reversed order population 1. Neither population is closer on
    // average and no variant scores higher on average: all the variation is interaction.
    const humans = [[[0.7, 0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.7]]];
    const scores = alignmentScores([variants.map((v) => toSurveyOrder(v.order))], humans);
    const d = varianceDecomposition(byQuestion(scores));
    close(d.interaction, 1);
    close(d.population, 0);
    close(d.variant, 0);
    // cells 1, 0.4, 1, 0.4 / 0.4, 1, 0.4, 1 around 0.7: 8 * 0.3^2
    close(d.sumsOfSquares.interaction, 0.72);
  });

  it("differs from a content preference, which averages out over rotated orders", () => {
    // Shown in all K rotations, a model preferring the content of survey option 0 (0.7 on it
    // wherever it is) spreads its mass evenly over positions; a position-biased model does not.
    const rotations = Array.from({ length: K }, (_, s) => Array.from({ length: K }, (_, j) => (j + s) % K));
    const content = [0.7, 0.1, 0.1, 0.1]; // survey order
    const contentAnswers = rotations.map((order) => ({ presented: order.map((i) => content[i]!), labels: letters }));
    const positionAnswers = rotations.map(() => ({ presented, labels: letters }));
    const c = positionBias(contentAnswers);
    const p = positionBias(positionAnswers);
    for (const b of c.byPosition) close(b.mean, 1 / K);
    for (const b of c.byLabel) close(b.mean, 1 / K);
    close(p.byPosition[0]!.mean, 0.7);
    close(p.byLabel[0]!.mean, 0.7);
  });

  it("renormalises answers, averages over answers with different K, and does not count answers without mass", () => {
    const r = positionBias([
      { presented: [7, 1, 1, 1], labels: letters },
      { presented: [0.5, 0.5], labels: ["A", "B"] },
      { presented: [0, 0], labels: ["A", "B"] },
    ]);
    assert.equal(r.answersUsed, 2);
    assert.equal(r.answersWithoutMass, 1);
    close(r.byPosition[0]!.mean, (0.7 + 0.5) / 2);
    close(r.byPosition[0]!.expected, (0.25 + 0.5) / 2);
    assert.equal(r.byPosition[0]!.n, 2);
    assert.equal(r.byPosition[3]!.n, 1);
    close(r.byPosition[3]!.expected, 0.25);
    assert.throws(() => positionBias([{ presented: [0.5, 0.5], labels: ["A"] }]), /answer 0/);
  });
});

describe("conclusionStability: a model whose ranking of populations flips under reversal", () => {
  // Variant 0 ranks populations 0 > 1 > 2 (means .8, .6, .4); variant 1 reverses it (.35, .5, .65).
  // Per-question noise of at most +-0.05 cannot close gaps of 0.15 on any resample.
  const rng = seededRng(11);
  const nq = 30;
  const make = (base: number[]) => base.map((b) => Array.from({ length: nq }, () => b + (rng.float() - 0.5) * 0.1));
  const scores = [make([0.8, 0.6, 0.4]), make([0.35, 0.5, 0.65])];

  it("keeps the top on half of the (variant x draw) pairs and has tau -1", () => {
    const r = conclusionStability(scores, { seed: 1, resamples: 200 });
    assert.deepEqual(r.perVariantTop, [0, 2]);
    // pooled means ~ .575, .55, .525
    assert.equal(r.top, 0);
    assert.deepEqual(r.ranking, [0, 1, 2]);
    assert.equal(r.topShare, 0.5);
    assert.equal(r.kendallTau, -1);
    assert.equal(r.stable, false);
    assert.equal(r.threshold, 0.95);
  });

  it("pools variants with equal weight (means over variants of means over questions)", () => {
    const r = conclusionStability(scores, { resamples: 10 });
    for (let p = 0; p < 3; p++) {
      const m = (v: number) => scores[v]![p]!.reduce((a, b) => a + b, 0) / nq;
      close(r.means[p]!, (m(0) + m(1)) / 2);
      close(r.perVariantMeans[1]![p]!, m(1));
    }
  });
});

describe("conclusionStability: what an unstable conclusion is unstable under", () => {
  it("variants that flip the ranking: unstable under rewording, each variant stable under resampling", () => {
    // The flipping case above: each variant's own top survives every draw (gaps of 0.15 against
    // noise of +-0.05), but the two variants name different tops.
    const rng = seededRng(11);
    const make = (base: number[]) => base.map((b) => Array.from({ length: 30 }, () => b + (rng.float() - 0.5) * 0.1));
    const r = conclusionStability([make([0.8, 0.6, 0.4]), make([0.35, 0.5, 0.65])], { seed: 1, resamples: 200 });
    assert.equal(r.rewordingShare, 0.5); // one of two variants names the pooled top
    assert.equal(r.resamplingShare, 1);
    assert.deepEqual(r.perVariantResamplingShare, [1, 1]);
    assert.equal(r.cause, "rewording");
    assert.equal(r.questions, 30);
  });

  it("identical variants on an uncertain top: stable under rewording, unstable under resampling", () => {
    const nq = 20;
    const noisy = [Array.from({ length: nq }, (_, q) => (q % 2 === 0 ? 0.9 : 0.1)), new Array<number>(nq).fill(0.48)];
    const one = conclusionStability([noisy], { seed: 5, resamples: 1000 });
    const r = conclusionStability([noisy, noisy, noisy, noisy], { seed: 5, resamples: 1000 });
    assert.equal(r.rewordingShare, 1);
    // Every variant keeps its own top (= the pooled top) on the same draws: the three shares agree.
    assert.equal(r.resamplingShare, one.topShare);
    assert.equal(r.topShare, one.topShare);
    assert.deepEqual(r.perVariantResamplingShare, [one.topShare, one.topShare, one.topShare, one.topShare]);
    assert.equal(r.cause, "resampling");
  });

  it("both: the variants disagree and neither survives resampling", () => {
    const nq = 20;
    const a = [Array.from({ length: nq }, (_, q) => (q % 2 === 0 ? 0.9 : 0.1)), new Array<number>(nq).fill(0.48)];
    const b = [new Array<number>(nq).fill(0.48), Array.from({ length: nq }, (_, q) => (q % 2 === 0 ? 0.9 : 0.1))];
    const r = conclusionStability([a, b], { seed: 5, resamples: 1000 });
    assert.deepEqual(r.perVariantTop, [0, 1]);
    assert.equal(r.rewordingShare, 0.5);
    assert.ok(r.resamplingShare < 0.95);
    assert.equal(r.cause, "both");
  });

  it("stable: no cause", () => {
    const r = conclusionStability([[[0.9, 0.9, 0.9], [0.1, 0.1, 0.1]]], { resamples: 50 });
    assert.equal(r.stable, true);
    assert.equal(r.cause, null);
    assert.equal(r.rewordingShare, 1);
    assert.equal(r.resamplingShare, 1);
  });
});

describe("conclusionStability: bootstrap over questions", () => {
  // Population 0 alternates .9 / .1 (mean .5), population 1 is always .48: the top is population 0
  // on all questions but not on many resamples.
  const nq = 20;
  const noisy = [Array.from({ length: nq }, (_, q) => (q % 2 === 0 ? 0.9 : 0.1)), new Array<number>(nq).fill(0.48)];

  it("finds an uncertain top unstable", () => {
    const r = conclusionStability([noisy], { seed: 5, resamples: 1000 });
    assert.equal(r.top, 0);
    assert.ok(r.topShare > 0.4 && r.topShare < 0.8, `topShare ${r.topShare}`);
    assert.equal(r.stable, false);
    assert.ok(Number.isNaN(r.kendallTau)); // one variant: no pairs
    assert.equal(conclusionStability([noisy], { seed: 5, resamples: 1000, threshold: 0.4 }).stable, true);
  });

  it("is seeded, and uses the same resamples for every variant", () => {
    const one = conclusionStability([noisy], { seed: 5, resamples: 500 });
    assert.deepEqual(conclusionStability([noisy], { seed: 5, resamples: 500 }), one);
    assert.notEqual(conclusionStability([noisy], { seed: 6, resamples: 500 }).topShare, one.topShare);
    // Identical variants sharing resamples agree on every draw; independent draws would not.
    assert.equal(conclusionStability([noisy, noisy, noisy], { seed: 5, resamples: 500 }).topShare, one.topShare);
  });

  it("leaves missing values out of the means", () => {
    const withGaps = [Float64Array.from([0.9, Number.NaN, 0.8]), [0.5, 0.5, 0.5], [Number.NaN, Number.NaN, Number.NaN]];
    const r = conclusionStability([withGaps], { resamples: 50 });
    close(r.means[0]!, 0.85);
    assert.ok(Number.isNaN(r.means[2]!));
    assert.deepEqual(r.ranking, [0, 1, 2]);
    assert.equal(r.top, 0);
  });

  it("rejects ragged input", () => {
    assert.throws(() => conclusionStability([[[1, 2], [1]]]), /population 1 has 1 questions/);
    assert.throws(() => conclusionStability([[[1]], [[1], [2]]]), /variant 1 has 2 populations/);
  });
});

describe("varianceDecomposition", () => {
  it("matches a hand-computed 1-question 2 x 2 case", () => {
    // y[p][v] = [[1, 2], [3, 6]]; grand mean 3; population means 1.5, 4.5; variant means 2, 4.
    // SS_pop = 2 * (1.5^2 + 1.5^2) = 9; SS_var = 2 * (1 + 1) = 4;
    // residuals +-0.5 in all 4 cells: SS_int = 1. Total 14 = sum (y - 3)^2 = 4 + 1 + 0 + 9.
    const d = varianceDecomposition([[[1, 2], [3, 6]]]);
    assert.deepEqual(d.sumsOfSquares, { population: 9, variant: 4, interaction: 1, total: 14 });
    close(d.population, 9 / 14);
    close(d.variant, 4 / 14);
    close(d.interaction, 1 / 14);
    assert.equal(d.questionsUsed, 1);
  });

  it("gives share 1 to variants for a pure variant effect, centring each question", () => {
    // y = a_q + b_v with different question levels; a question with a missing cell is left out.
    const y = [
      [[0.2, 0.5], [0.2, 0.5], [0.2, 0.5]],
      [[0.6, 0.9], [0.6, 0.9], [0.6, 0.9]],
      [[0.6, Number.NaN], [0.6, 0.9], [0.1, 0.9]],
    ];
    const d = varianceDecomposition(y);
    close(d.variant, 1);
    close(d.population, 0);
    close(d.interaction, 0);
    // per question: P = 3 populations * ((.15)^2 + (.15)^2) = 0.135; two questions
    close(d.sumsOfSquares.variant, 0.27);
    assert.equal(d.questionsUsed, 2);
    assert.equal(d.questionsLeftOut, 1);
  });

  it("gives NaN shares when nothing varies, and rejects a ragged question", () => {
    const d = varianceDecomposition([[[0.5, 0.5], [0.5, 0.5]]]);
    assert.ok(Number.isNaN(d.variant));
    assert.throws(() => varianceDecomposition([[[1, 2], [3]]]), /question 0, population 1/);
  });
});
