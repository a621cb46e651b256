/**
 * The sampling noise floor against exact enumeration: for small n, every multinomial outcome is
 * listed with its probability, and the expected distance computed by brute force.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { distance, type MetricName } from "../../src/metrics/distances.js";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { binomialMeanAbsoluteDeviation, expectedOrdinalWasserstein, expectedTotalVariation } from "../../src/metrics/noise.js";
import { expectedSamplingDistance } from "../../src/metrics/noise-floor.js";
import { resolveConventions } from "../../src/runs/protocols.js";
import { distanceTable } from "../../src/runs/score.js";
import { loadCustom } from "../../src/surveys/custom.js";
import { resolvePopulations } from "../../src/surveys/populations.js";
import { tempDir } from "../helpers/paths.js";

const factorial = (n: number): number => (n <= 1 ? 1 : n * factorial(n - 1));
const logFactorial = (n: number): number => (n <= 1 ? 0 : Math.log(n) + logFactorial(n - 1));

/** Every count vector of n draws over k options, with its multinomial probability. */
function outcomes(p: readonly number[], n: number): { x: number[]; prob: number }[] {
  const out: { x: number[]; prob: number }[] = [];
  const rec = (i: number, left: number, x: number[]) => {
    if (i === p.length - 1) {
      const full = [...x, left];
      const prob = (factorial(n) / full.reduce((s, c) => s * factorial(c), 1)) * full.reduce((s, c, j) => s * p[j]! ** c, 1);
      out.push({ x: full, prob });
      return;
    }
    for (let c = 0; c <= left; c++) rec(i + 1, left - c, [...x, c]);
  };
  rec(0, n, []);
  return out;
}

function bruteForce(metric: MetricName, p: readonly number[], n: number, ordinals: readonly number[] | null): number {
  return outcomes(p, n).reduce((s, { x, prob }) => s + prob * distance(metric, p, x.map((c) => c / n), ordinals), 0);
}

describe("binomial mean absolute deviation", () => {
  it("matches hand computation and direct summation", () => {
    // n=1, p=.5: |0-.5| and |1-.5| each with prob .5 -> .5; n=2, p=.5: 1*.25 + 0*.5 + 1*.25 = .5
    assert.ok(Math.abs(binomialMeanAbsoluteDeviation(1, 0.5) - 0.5) < 1e-12);
    assert.ok(Math.abs(binomialMeanAbsoluteDeviation(2, 0.5) - 0.5) < 1e-12);
    for (const [n, p] of [[7, 0.3], [20, 0.05], [13, 0.77], [50, 0.5]] as const) {
      let direct = 0;
      for (let k = 0; k <= n; k++) direct += (factorial(n) / (factorial(k) * factorial(n - k))) * p ** k * (1 - p) ** (n - k) * Math.abs(k - n * p);
      assert.ok(Math.abs(binomialMeanAbsoluteDeviation(n, p) - direct) < 1e-9, `n=${n} p=${p}`);
    }
    assert.equal(binomialMeanAbsoluteDeviation(10, 0), 0);
    assert.equal(binomialMeanAbsoluteDeviation(10, 1), 0);
  });
  it("stays finite for survey-sized n", () => {
    const m = binomialMeanAbsoluteDeviation(4000, 0.37);
    // ~ sqrt(2/pi * n p (1-p)) for large n
    assert.ok(Math.abs(m - Math.sqrt((2 / Math.PI) * 4000 * 0.37 * 0.63)) < 0.1, String(m));
  });
});

describe("expected distance of an n-respondent sample from the truth", () => {
  const p = [0.5, 0.3, 0.2];
  it("total variation is exact", () => {
    for (const n of [1, 2, 5, 9]) {
      assert.ok(Math.abs(expectedTotalVariation(p, n) - bruteForce("tv", p, n, null)) < 1e-12, `n=${n}`);
    }
  });
  it("the ordinal Wasserstein distance is exact, with unsorted ordinals", () => {
    for (const ordinals of [[1, 2, 3], [1, 2, 1.5], [0, 1, 3]]) {
      for (const n of [1, 3, 8]) {
        assert.ok(Math.abs(expectedOrdinalWasserstein(p, ordinals, n) - bruteForce("wasserstein", p, n, ordinals)) < 1e-12, `${ordinals} n=${n}`);
      }
    }
  });
  it("the Jensen-Shannon distance is simulated, seeded, and close to the exact value", () => {
    const exact = bruteForce("jsd", p, 6, null);
    const a = expectedSamplingDistance("jsd", p, 6, null, { seed: 3, draws: 4000 });
    const b = expectedSamplingDistance("jsd", p, 6, null, { seed: 3, draws: 4000 });
    assert.equal(a, b);
    assert.ok(Math.abs(a - exact) < 0.01, `${a} vs ${exact}`);
  });
  it("the Jensen-Shannon distance is simulated without bias where the binomial draws use BTRD (n p >= 10)", () => {
    // n = 60: every outcome enumerated gives the exact mean and standard deviation of the distance;
    // 20,000 simulated samples must then lie within 4 standard errors of the mean. (The @stdlib
    // sampler used before gave 0.0550 here, 13 standard errors below the exact 0.0578.)
    const n = 60;
    let mean = 0;
    let square = 0;
    for (let a = 0; a <= n; a++) {
      for (let b = 0; a + b <= n; b++) {
        const c = n - a - b;
        const logProb = logFactorial(n) - logFactorial(a) - logFactorial(b) - logFactorial(c) + a * Math.log(p[0]!) + b * Math.log(p[1]!) + c * Math.log(p[2]!);
        const d = distance("jsd", p, [a / n, b / n, c / n], null);
        mean += Math.exp(logProb) * d;
        square += Math.exp(logProb) * d * d;
      }
    }
    const draws = 20_000;
    const se = Math.sqrt((square - mean * mean) / draws);
    const simulated = expectedSamplingDistance("jsd", p, n, null, { seed: 5, draws });
    assert.ok(Math.abs(simulated - mean) < 4 * se, `simulated ${simulated}, exact ${mean}, standard error ${se}`);
  });
  it("shrinks as n grows", () => {
    assert.ok(expectedSamplingDistance("tv", p, 1000, null) < expectedSamplingDistance("tv", p, 30, null));
  });
});

describe("the simulated noise floor's random streams", () => {
  const p = [0.5, 0.3, 0.2];
  const jsd = (seed: number, stream?: string | number) => expectedSamplingDistance("jsd", p, 6, null, { seed, draws: 50, ...(stream === undefined ? {} : { stream }) });

  it("gives every question its own stream under every seed, seed 0 included, and the same numbers twice", () => {
    // Before: the generator was seeded with `seed >>> 0 || 1` and a question's seed was seed + index,
    // so under --seed 0 questions 0 and 1 both drew from seed 1 (and seeds 0 and 1 were the same run).
    assert.notEqual(jsd(0, 0), jsd(0, 1));
    assert.notEqual(jsd(0), jsd(1));
    assert.notEqual(jsd(0, 1), jsd(1, 0));
    assert.equal(jsd(0, 0), jsd(0, 0));
    assert.equal(jsd(0, "Q1"), jsd(0, "Q1"));
  });

  it("a run's two questions with the same human answers get different simulated floors under --seed 0", async () => {
    // A real survey file through the custom loader: two questions, the same 7 answers.
    const file = path.join(tempDir(), "twins.csv");
    const rows = ["question_id,question,options,population,option,count"];
    for (const q of ["Q0", "Q1"]) {
      rows.push(`${q},Which?,A | B | C,overall,A,3`, `${q},,,overall,B,2`, `${q},,,overall,C,2`);
    }
    writeFileSync(file, `${rows.join("\n")}\n`);
    const suite = await loadCustom({ data: file });
    assert.deepEqual(suite.questions.map((q) => q.id), ["Q0", "Q1"]);
    const table = (seed: number) =>
      distanceTable(suite, suite.questions, resolvePopulations(suite, ["overall"]), () => [[1 / 3, 1 / 3, 1 / 3]], {
        conventions: resolveConventions(suite, { metric: "jsd" }),
        seed,
      });
    const a = table(0).noise[0]!;
    assert.ok(Number.isFinite(a[0]!) && Number.isFinite(a[1]!));
    assert.notEqual(a[0], a[1]);
    assert.deepEqual(Array.from(table(0).noise[0]!), Array.from(a));
    // Question 1 under seed 0 is not question 0 under seed 1.
    assert.notEqual(table(1).noise[0]![0], a[1]);
  });
});
