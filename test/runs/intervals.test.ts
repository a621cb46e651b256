/**
 * The intervals civitas reports, from the statistics production hands `bootstrapStatistic`
 * (src/runs/score.ts): alignment per population and over populations, the baselines, per-dataset
 * results and the equal-weight mean of datasets (resampled within datasets), steerability (paired
 * differences), the knowledge gap (each format's mean TV, their paired difference) and knowledge scores. Each is checked against an
 * independent computation (test/helpers/bootstrap.ts): exact intervals on tables small enough to
 * list every resample, and a re-computation from the definitions (docs/metrics.md,
 * docs/protocols.md) over the same seeded resamples on larger tables with missing values.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { MetricName } from "../../src/metrics/index.js";
import { knowledgeGap, knowledgeScores, steerability, summarize, type DistanceTable } from "../../src/runs/index.js";
import type { Conventions } from "../../src/runs/protocols.js";
import type { Population, Question, Suite } from "../../src/surveys/index.js";
import { assertClose, exactInterval, replayedInterval, strataGroups } from "../helpers/bootstrap.js";

/**
 * Reimplementations over a sample of question indices give the same means as civitas up to
 * rounding (sums of at most 24 numbers in [0, 1] in another order): 1e-12 is far above that and
 * far below any difference a wrong statistic makes.
 */
const TOL = 1e-12;
const B = 4000;

const pops = (n: number): Population[] => Array.from({ length: n }, (_, p) => ({ id: `G=${p}`, attribute: "G", value: String(p) }));

/** A distance table from per-population rows (question order), with one dataset name per question (or none). */
function table(rows: { model: number[][]; uniform?: number[][]; human?: number[][]; noise?: number[][] }, datasets?: string[]): DistanceTable {
  const P = rows.model.length;
  const Q = rows.model[0]!.length;
  const questions = Array.from({ length: Q }, (_, i) => ({ id: `q${i}`, ...(datasets ? { dataset: datasets[i] } : {}) }) as unknown as Question);
  const cols = (r: number[][] | undefined, fill: number) => (r ?? rows.model.map((row) => row.map(() => fill))).map((row) => Float64Array.from(row));
  return {
    metric: "tv" as MetricName,
    questions,
    populations: pops(P),
    model: cols(rows.model, 0),
    uniform: cols(rows.uniform, 0.5),
    human: cols(rows.human, Number.NaN),
    noise: cols(rows.noise, Number.NaN),
    humanN: rows.model.map((row) => row.map(() => null)),
    noScale: 0,
    reference: null,
  };
}

const suiteOf = (datasets?: string[]) => ({ datasets }) as unknown as Suite;
const conventions = (datasets: "pooled" | "equal", resamples = B) => ({ metric: "tv", refusals: "drop", datasets, resamples, optionOrder: "survey" }) as Conventions;

/** Mean of the values that are not NaN; NaN when there are none. */
function meanOf(values: readonly number[]): number {
  const v = values.filter((x) => !Number.isNaN(x));
  return v.length === 0 ? Number.NaN : v.reduce((a, b) => a + b, 0) / v.length;
}

describe("alignment (summarize): per population, over populations, baselines, datasets", () => {
  it("one population on 4 questions: the exact interval of 1 - mean distance", () => {
    // Distances 0.2, 0.2, 0.2, 0.6: a resample with k copies of the last has mean 0.2 + 0.1 k,
    // k ~ Binomial(4, 1/4): alignment 0.8 - 0.1 k; the 2.5th percentile is at k = 3, the 97.5th at k = 0.
    const d = [0.2, 0.2, 0.2, 0.6];
    const t = table({ model: [d] });
    const exact = exactInterval(strataGroups(4), (s) => 1 - meanOf(s.map((i) => d[i]!)), B);
    assertClose(exact, [0.5, 0.8], TOL, "exact");
    for (const seed of [0, 1, 2]) {
      const r = summarize(t, suiteOf(), conventions("pooled"), seed);
      assertClose(r.populations[0]!.mean, 0.7, TOL, "point");
      assertClose(r.populations[0]!.ci, exact, TOL, `population, seed ${seed}`);
      // one population: the mean over populations is the same
      assertClose(r.overall.ci, exact, TOL, `overall, seed ${seed}`);
      // the uniform baseline is 0.5 on every question: no spread
      assertClose([r.baselines.uniform.mean, ...r.baselines.uniform.ci], [0.5, 0.5, 0.5], TOL, "uniform");
    }
  });

  it("two datasets weighted equally: the exact interval, resampling within each dataset", () => {
    // Dataset a: distances 0, 1; dataset b: 0, 0, 0, 1. Overall = mean over datasets of the
    // dataset's alignment = 1 - (mean_a + mean_b) / 2; mean_a in {0, 1/2, 1}, mean_b = k/4.
    const d = [0, 0, 1, 0, 1, 0];
    const ds = ["a", "b", "a", "b", "b", "b"];
    const t = table({ model: [d] }, ds);
    const groups = strataGroups(6, ds.map((x) => (x === "a" ? 0 : 1)));
    const inSet = (s: number[], name: string) => s.filter((i) => ds[i] === name).map((i) => d[i]!);
    const overall = exactInterval(groups, (s) => 1 - (meanOf(inSet(s, "a")) + meanOf(inSet(s, "b"))) / 2, B);
    assertClose(overall, [0.25, 1], TOL, "exact overall");
    const perA = exactInterval(groups, (s) => 1 - meanOf(inSet(s, "a")), B);
    const perB = exactInterval(groups, (s) => 1 - meanOf(inSet(s, "b")), B);
    const r = summarize(t, suiteOf(["a", "b"]), conventions("equal"), 0);
    assertClose(r.overall.mean, 1 - (0.5 + 0.25) / 2, TOL, "point");
    assertClose(r.overall.ci, overall, TOL, "overall interval");
    const byName = new Map(r.datasets!.map((x) => [x.dataset, x]));
    assert.deepEqual([...byName.keys()], ["a", "b"]);
    assertClose([byName.get("a")!.overall.mean, ...byName.get("a")!.overall.ci], [0.5, ...perA], TOL, "dataset a");
    assertClose([byName.get("b")!.overall.mean, ...byName.get("b")!.overall.ci], [0.75, ...perB], TOL, "dataset b");
    assert.deepEqual(
      r.datasets!.map((x) => x.n),
      [2, 4],
    );
    // Pooled: every question counts once, the population's own mean over all six questions.
    // (8,000 resamples: with 4,000 its 2.5th percentile could fall on either of two values.)
    const pooled = summarize(t, suiteOf(["a", "b"]), conventions("pooled", 2 * B), 0);
    assertClose(pooled.overall.mean, 1 - 2 / 6, TOL, "pooled point");
    assertClose(pooled.overall.ci, exactInterval(groups, (s) => 1 - meanOf(s.map((i) => d[i]!)), 2 * B), TOL, "pooled interval");
  });

  it("a dataset is in every resample, however few its questions", () => {
    // Dataset a: one question, distance 1; dataset b: four questions, distance 0. Resampled within
    // datasets, every resample has a at alignment 0 and b at 1: the equal-weight mean is 0.5 with
    // no spread. Resampling the five questions together would leave a out of a third of the
    // resamples (0.8^5), and the interval would reach 1.
    const t = table({ model: [[1, 0, 0, 0, 0]] }, ["a", "b", "b", "b", "b"]);
    for (const seed of [0, 1]) {
      const r = summarize(t, suiteOf(["a", "b"]), conventions("equal"), seed);
      assertClose([r.overall.mean, ...r.overall.ci], [0.5, 0.5, 0.5], TOL, `seed ${seed}`);
    }
  });

  /** civitas's alignment summary recomputed from the definitions over the same seeded resamples. */
  function expectedSummary(t: DistanceTable, datasets: string[] | undefined, equal: boolean, seed: number, resamples: number) {
    const Q = t.questions.length;
    const names = datasets ? [...new Set(datasets)] : [];
    const multi = names.length > 1;
    const groups = strataGroups(Q, datasets?.map((x) => names.indexOf(x)));
    const series = [t.model, t.uniform, t.human, t.noise];
    /** 1 - the mean distance of each population over the sampled questions (of one dataset). */
    const alignments = (cols: Float64Array[], s: number[], dataset?: string) =>
      cols.map((col) => 1 - meanOf(s.filter((i) => dataset === undefined || datasets![i] === dataset).map((i) => col[i]!)));
    const statistic = (s: number[]): number[] => {
      const out: number[] = [];
      for (const cols of series) {
        out.push(...alignments(cols, s));
        out.push(multi && equal ? meanOf(names.map((n) => meanOf(alignments(cols, s, n)))) : meanOf(alignments(cols, s)));
      }
      if (multi) for (const n of names) out.push(meanOf(alignments(t.model, s, n)));
      return out;
    };
    return replayedInterval(groups, statistic, resamples, seed);
  }

  it("three populations with missing values, three datasets, both conventions: the same numbers as a re-computation", () => {
    // Distances in [0, 1] from a fixed formula; NaN where a population was not asked (G=2 misses
    // every third question, G=1 two of dataset c); human and noise baselines for some populations.
    const Q = 12;
    const ds = ["a", "a", "b", "c", "b", "a", "c", "b", "a", "c", "b", "c"];
    const d = (p: number, i: number, k: number) => ((p * 7 + i * 5 + k * 3) % 11) / 10;
    const model = [0, 1, 2].map((p) => Array.from({ length: Q }, (_, i) => (p === 2 && i % 3 === 0) || (p === 1 && (i === 6 || i === 9)) ? Number.NaN : d(p, i, 0)));
    const uniform = [0, 1, 2].map((p) => Array.from({ length: Q }, (_, i) => (Number.isNaN(model[p]![i]!) ? Number.NaN : d(p, i, 1))));
    const human = [0, 1, 2].map((p) => Array.from({ length: Q }, (_, i) => (p === 0 ? Number.NaN : d(p, i, 2))));
    const noise = [0, 1, 2].map((p) => Array.from({ length: Q }, (_, i) => (i % 2 === 0 ? d(p, i, 3) / 3 : Number.NaN)));
    const t = table({ model, uniform, human, noise }, ds);
    for (const [conv, equal] of [
      ["equal", true],
      ["pooled", false],
    ] as const) {
      for (const seed of [0, 7]) {
        const r = summarize(t, suiteOf(["a", "b", "c"]), conventions(conv, 500), seed);
        const want = expectedSummary(t, ds, equal, seed, 500);
        const at = (s: number, k: number) => want[s * 4 + k]!;
        const what = `${conv}, seed ${seed}`;
        r.populations.forEach((p, k) => {
          assertClose([p.mean, ...p.ci], [at(0, k).mean, ...at(0, k).ci], TOL, `${what}: ${p.population}`);
          assertClose(p.uniform, at(1, k).mean, TOL, `${what}: ${p.population} uniform`);
          assertClose(p.human ?? Number.NaN, at(2, k).mean, TOL, `${what}: ${p.population} human`);
          assertClose(p.noise!, at(3, k).mean, TOL, `${what}: ${p.population} noise`);
        });
        assert.equal(r.populations[0]!.human, null, "no human values for G=0");
        assert.deepEqual(
          r.populations.map((p) => p.n),
          [12, 10, 8],
        );
        assertClose([r.overall.mean, ...r.overall.ci], [at(0, 3).mean, ...at(0, 3).ci], TOL, `${what}: overall`);
        assertClose([r.baselines.uniform.mean, ...r.baselines.uniform.ci], [at(1, 3).mean, ...at(1, 3).ci], TOL, `${what}: uniform`);
        assertClose([r.baselines.human!.mean, ...r.baselines.human!.ci], [at(2, 3).mean, ...at(2, 3).ci], TOL, `${what}: human`);
        assertClose([r.baselines.noise!.mean, ...r.baselines.noise!.ci], [at(3, 3).mean, ...at(3, 3).ci], TOL, `${what}: noise`);
        assert.deepEqual(r.datasets!.map((x) => x.dataset).sort(), ["a", "b", "c"]);
        for (const x of r.datasets!) {
          const k = ["a", "b", "c"].indexOf(x.dataset); // the order their first questions come in
          assertClose([x.overall.mean, ...x.overall.ci], [want[16 + k]!.mean, ...want[16 + k]!.ci], TOL, `${what}: dataset ${x.dataset}`);
        }
      }
    }
    // The conventions differ here: the datasets have different numbers of questions.
    assert.notEqual(summarize(t, suiteOf(["a", "b", "c"]), conventions("equal", 50), 0).overall.mean, summarize(t, suiteOf(["a", "b", "c"]), conventions("pooled", 50), 0).overall.mean);
  });

  it("questions listed out of dataset order: each dataset is still resampled within itself", () => {
    // The first question of dataset b comes before dataset a's: civitas lays the resample out by
    // dataset; the numbers must not depend on that.
    const ds = ["b", "a", "a", "b", "a"];
    const model = [[0.1, 0.9, 0.4, 0.3, 0.6]];
    const t = table({ model }, ds);
    const r = summarize(t, suiteOf(["a", "b"]), conventions("equal", 300), 3);
    const want = expectedSummary(t, ds, true, 3, 300);
    assertClose([r.overall.mean, ...r.overall.ci], [want[1]!.mean, ...want[1]!.ci], TOL, "overall");
    // the re-computation lists the datasets in the order their first question comes: b, a
    const byName = new Map(r.datasets!.map((x) => [x.dataset, x.overall]));
    assert.deepEqual([...byName.keys()].sort(), ["a", "b"]);
    assertClose([byName.get("b")!.mean, ...byName.get("b")!.ci], [want[8]!.mean, ...want[8]!.ci], TOL, "dataset b");
    assertClose([byName.get("a")!.mean, ...byName.get("a")!.ci], [want[9]!.mean, ...want[9]!.ci], TOL, "dataset a");
  });
});

describe("steerability: a paired bootstrap of steered minus unsteered alignment", () => {
  it("the exact interval on 4 questions, where an unpaired resampling would differ", () => {
    // Distances without the persona 0.1, 0.2, 0.3, 0.8; with it 0.1, 0.2, 0.3, 0.4: the paired
    // differences are 0, 0, 0, 0.4 (steering helped on one question), k/4 of 0.4 in a resample.
    // Resampling the two sides apart would give negative values too.
    const unsteered = table({ model: [[0.1, 0.2, 0.3, 0.8]] });
    const steered = table({ model: [[0.1, 0.2, 0.3, 0.4]] });
    const diff = [0, 0, 0, 0.4];
    const exact = exactInterval(strataGroups(4), (s) => meanOf(s.map((i) => diff[i]!)), B);
    assertClose(exact, [0, 0.3], TOL, "exact");
    const r = steerability(steered, unsteered, 0, B);
    assertClose([r.populations[0]!.mean, ...r.populations[0]!.ci], [0.1, ...exact], TOL, "population");
    assertClose([r.overall.mean, ...r.overall.ci], [0.1, ...exact], TOL, "overall");
    assert.equal(r.populations[0]!.n, 4);
  });

  it("two populations with missing values: the same numbers as a re-computation", () => {
    const un = [
      [0.5, 0.2, Number.NaN, 0.7, 0.4, 0.9, 0.3],
      [0.6, 0.1, 0.8, 0.2, Number.NaN, 0.5, 0.4],
    ];
    const st = [
      [0.3, 0.3, 0.2, Number.NaN, 0.1, 0.5, 0.3],
      [0.2, 0.4, 0.5, 0.3, 0.6, Number.NaN, 0.1],
    ];
    const r = steerability(table({ model: st }), table({ model: un }), 4, 600);
    // Alignment is 1 - distance: steered minus unsteered alignment = unsteered - steered distance,
    // on the questions both have.
    const diff = un.map((row, p) => row.map((v, i) => v - st[p]![i]!));
    const want = replayedInterval(strataGroups(7), (s) => {
      const per = diff.map((row) => meanOf(s.map((i) => row[i]!)));
      return [...per, meanOf(per)];
    }, 600, 4);
    r.populations.forEach((p, k) => assertClose([p.mean, ...p.ci], [want[k]!.mean, ...want[k]!.ci], TOL, p.population));
    assertClose([r.overall.mean, ...r.overall.ci], [want[2]!.mean, ...want[2]!.ci], TOL, "overall");
    assert.deepEqual(
      r.populations.map((p) => p.n),
      [5, 5],
    );
  });
});

describe("the knowledge gap: each format's mean TV and the paired difference", () => {
  const gap = (seq: DistanceTable, verb: DistanceTable, seed: number, resamples: number, more: [string, DistanceTable][] = [], datasets?: string[]) =>
    knowledgeGap(new Map([["sequence", seq], ["verbalize", verb], ...more]), "sequence", "verbalize", {
      seed,
      resamples,
      ...(datasets ? { datasets } : {}),
      datasetsEqual: datasets !== undefined,
    });

  it("the exact interval of the difference on 4 questions, and the relative gap", () => {
    // TV of the sequence 0.2, 0.2, 0.2, 0.6, of the stated distribution 0.4 each: the difference
    // on a resample with k copies of the last question is 0.2 + 0.1 k - 0.4 = -0.2 + 0.1 k,
    // k ~ Binomial(4, 1/4): percentiles at k = 0 and k = 3, [-0.2, 0.1]. Point: 0.3 - 0.4 = -0.1;
    // relative 0.3 / 0.4 - 1 = -0.25.
    const seq = [0.2, 0.2, 0.2, 0.6];
    const exact = exactInterval(strataGroups(4), (s) => meanOf(s.map((i) => seq[i]!)) - 0.4, B);
    assertClose(exact, [-0.2, 0.1], TOL, "exact");
    const r = gap(table({ model: [seq] }), table({ model: [[0.4, 0.4, 0.4, 0.4]] }), 1, B);
    assertClose([r.difference.mean, ...r.difference.ci], [-0.1, ...exact], TOL, "difference");
    assertClose(r.relative, -0.25, TOL, "relative");
    assert.deepEqual(r.formats.map((f) => f.method), ["sequence", "verbalize"]);
    assertClose([r.formats[0]!.tv.mean, r.formats[1]!.tv.mean], [0.3, 0.4], TOL, "means");
    // The stated TV never varies: its interval is the point.
    assertClose(r.formats[1]!.tv.ci, [0.4, 0.4], TOL, "verbalize interval");
    assert.equal(r.pairs, 4);
  });

  it("paired: questions on which both formats move together leave the difference fixed", () => {
    // Sequence TV = stated TV + 0.1 on every question: the difference is 0.1 on every resample
    // (an unpaired bootstrap, drawing the questions of each format apart, would spread it).
    const verb = [0.1, 0.5, 0.3, 0.7, 0.2];
    const seq = verb.map((v) => v + 0.1);
    const r = gap(table({ model: [seq] }), table({ model: [verb] }), 3, 500);
    assertClose([r.difference.mean, ...r.difference.ci], [0.1, 0.1, 0.1], 1e-12, "difference");
    assert.ok(r.formats[0]!.tv.ci[1] - r.formats[0]!.tv.ci[0] > 0.1, "each format's own interval is wide");
  });

  it("two populations, pairs only where both formats answered; a third format beside them on its own pairs", () => {
    const seq = [
      [0.2, 0.5, Number.NaN, 0.4, 0.3, 0.6],
      [0.1, 0.7, 0.3, 0.2, Number.NaN, 0.5],
    ];
    const verb = [
      [0.3, 0.4, 0.2, Number.NaN, 0.5, 0.2],
      [0.4, 0.3, 0.6, 0.2, 0.1, Number.NaN],
    ];
    const logp = [
      [0.9, 0.8, 0.7, 0.6, 0.5, 0.4],
      [0.3, Number.NaN, 0.3, 0.3, 0.3, 0.3],
    ];
    const r = gap(table({ model: seq }), table({ model: verb }), 2, 500, [["logprobs", table({ model: logp })]]);
    const both = (p: number, i: number) => !Number.isNaN(seq[p]![i]!) && !Number.isNaN(verb[p]![i]!);
    const pooled = (m: number[][], s: number[]) => meanOf(s.flatMap((i) => [0, 1].filter((p) => both(p, i)).map((p) => m[p]![i]!)));
    const own = (m: number[][], s: number[]) => meanOf(s.flatMap((i) => [0, 1].map((p) => m[p]![i]!)));
    const want = replayedInterval(strataGroups(6), (s) => [pooled(seq, s) - pooled(verb, s), own(seq, s), own(verb, s), own(logp, s)], 500, 2);
    assertClose([r.difference.mean, ...r.difference.ci], [want[0]!.mean, ...want[0]!.ci], TOL, "difference");
    // Hand-computed: the 8 pairs both have, sequence .2 .5 .3 .6 / .1 .7 .3 .2 = 2.9/8, stated .3 .4 .5 .2 / .4 .3 .6 .2 = 2.9/8.
    assertClose(r.difference.mean, 0, TOL, "point");
    assertClose(r.relative, 0, TOL, "relative");
    assert.deepEqual(r.formats.map((f) => [f.method, f.pairs]), [["sequence", 10], ["verbalize", 10], ["logprobs", 11]]);
    for (const [k, f] of r.formats.entries()) assertClose([f.tv.mean, ...f.tv.ci], [want[k + 1]!.mean, ...want[k + 1]!.ci], TOL, f.method);
    // (.9 + .8 + .7 + .6 + .5 + .4 + 5 x .3) / 11
    assertClose(r.formats[2]!.tv.mean, 5.4 / 11, TOL, "logprobs, hand-computed");
    assert.equal(r.pairs, 8);
  });

  it("with datasets weighted equally: each dataset's mean over its pairs, then their mean", () => {
    // Dataset a: questions 0-1, b: questions 2-4; one population. Sequence .2 .4 | .1 .1 .4,
    // stated .1 .1 | .1 .1 .1: TV(seq) = (.3 + .2) / 2 = .25, TV(verb) = .1, difference .15
    // (pooled over the 5 questions it would be 1.2/5 - .5/5 = .14).
    const ds = ["a", "a", "b", "b", "b"];
    const r = gap(table({ model: [[0.2, 0.4, 0.1, 0.1, 0.4]] }, ds), table({ model: [[0.1, 0.1, 0.1, 0.1, 0.1]] }, ds), 0, 200, [], ["a", "b"]);
    assertClose(r.difference.mean, 0.15, TOL, "difference");
    assertClose([r.formats[0]!.tv.mean, r.formats[1]!.tv.mean], [0.25, 0.1], TOL, "means");
    assertClose(r.relative, 1.5, TOL, "relative");
  });
});

describe("knowledge scores: accuracy and the probability of the correct option", () => {
  it("the exact intervals on 4 questions", () => {
    // Correct option 0 everywhere; the model's most likely option is right on 3 of 4. The
    // probability of the correct option is 0.8 - 0.1 k with k copies of the last question.
    const dists = [
      [0.8, 0.2],
      [0.8, 0.2],
      [0.8, 0.2],
      [0.4, 0.6],
    ];
    const items = dists.map((distribution, i) => ({ question: { id: `k${i}`, correct: 0 } as unknown as Question, distribution }));
    const right = [1, 1, 1, 0];
    const p = dists.map((d) => d[0]!);
    const accuracy = exactInterval(strataGroups(4), (s) => meanOf(s.map((i) => right[i]!)), B);
    assertClose(accuracy, [0.25, 1], TOL, "exact accuracy");
    const pCorrect = exactInterval(strataGroups(4), (s) => meanOf(s.map((i) => p[i]!)), B);
    assertClose(pCorrect, [0.5, 0.8], TOL, "exact p_correct");
    const r = knowledgeScores(items, 5, B);
    assert.equal(r.n, 4);
    assertClose([r.accuracy.mean, ...r.accuracy.ci], [0.75, ...accuracy], TOL, "accuracy");
    assertClose([r.p_correct.mean, ...r.p_correct.ci], [0.7, ...pCorrect], TOL, "p_correct");
  });
});

describe("the average over (question, population) pairs (meister2024) against the average over populations", () => {
  // GlobalOpinionQA's shape: each question has its own countries, so populations have different
  // numbers of questions. Country 0 answers q0-q3 (TV .1 each), country 1 only q0 (TV .5).
  // Over populations: 1 - mean(.1, .5) = .7. Over pairs (Meister et al.'s compute_three): the five
  // pairs' mean TV is .9 / 5 = .18, alignment .82.
  const rows = [
    [0.1, 0.1, 0.1, 0.1],
    [0.5, Number.NaN, Number.NaN, Number.NaN],
  ];
  const pairs = { ...conventions("pooled"), average: "pairs" } as Conventions;

  it("give different numbers on the same distances, each as computed by hand", () => {
    assertClose(summarize(table({ model: rows }), suiteOf(), conventions("pooled"), 0).overall.mean, 0.7, TOL, "populations");
    const r = summarize(table({ model: rows }), suiteOf(), pairs, 0);
    assertClose(r.overall.mean, 0.82, TOL, "pairs");
    // Per population nothing changes.
    assertClose(r.populations.map((p) => p.mean), [0.9, 0.5], TOL, "per population");
  });

  it("pairs, datasets weighted equally: each dataset's pair mean, then the mean of datasets", () => {
    // Dataset a: q0-q3 as above (pair mean .18); dataset b: q4-q5, country 0 only, TV .3 and .5 (.4).
    // Alignment (1 - .18 + 1 - .4) / 2 = .71; the interval re-computed over the same resamples.
    const ds = ["a", "a", "a", "a", "b", "b"];
    const model = [
      [...rows[0]!, 0.3, 0.5],
      [...rows[1]!, Number.NaN, Number.NaN],
    ];
    const c = { ...conventions("equal", 500), average: "pairs" } as Conventions;
    const r = summarize(table({ model }, ds), suiteOf(["a", "b"]), c, 4);
    assertClose(r.overall.mean, 0.71, TOL, "point");
    const pairMean = (s: number[], d: string) => meanOf(s.filter((i) => ds[i] === d).flatMap((i) => [model[0]![i]!, model[1]![i]!]));
    const want = replayedInterval(strataGroups(6, ds.map((d) => (d === "a" ? 0 : 1))), (s) => [1 - (pairMean(s, "a") + pairMean(s, "b")) / 2], 500, 4);
    assertClose(r.overall.ci, want[0]!.ci, TOL, "interval");
  });
});
