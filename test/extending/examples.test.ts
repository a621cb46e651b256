/**
 * docs/extending.md's examples (examples/extending/) load, register and run, each against values
 * derived here independently: the Hellinger metric, the argmax method, the MoRT suite and the
 * temperature-scaling js: provider. (The protocol file: test/runs/protocols.test.ts.)
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { argmax } from "../../examples/extending/argmax.js";
import { hellinger } from "../../examples/extending/hellinger.js";
import { mort } from "../../examples/extending/mort.js";
import { expectedSamplingDistance, metrics, uniform } from "../../src/metrics/index.js";
import { llamaSpec } from "../../src/models/index.js";
import { methods, parsePredictions, parseMethods, resolveConventions, runConfig, runEval, runId, scorePredictions, type EvalPlan } from "../../src/runs/index.js";
import { Store } from "../../src/store/index.js";
import { findSuite, loadOpinionQA, resolvePopulations, suites, type Suite } from "../../src/surveys/index.js";
import { runCli } from "../helpers/cli.js";
import { MODEL, OPINIONQA, REPO, SHARED, tempDir } from "../helpers/paths.js";

/** Hellinger distance by the other textbook form, sqrt(1 - sum sqrt(p q)), for checking the example. */
const hellingerByBc = (p: readonly number[], q: readonly number[]) => Math.sqrt(Math.max(0, 1 - p.reduce((s, pi, i) => s + Math.sqrt(pi * q[i]!), 0)));

let opinionqa: Suite;
let dir: string;
let store: Store;
before(async () => {
  // The registration lines docs/extending.md shows.
  metrics.register(hellinger);
  methods.register(argmax);
  suites.register(mort);
  opinionqa = await loadOpinionQA({ data: OPINIONQA });
  dir = tempDir();
  store = await Store.open(path.join(dir, "x.duckdb"));
});
after(async () => store.close());

describe("a metric: Hellinger (examples/extending/hellinger.ts)", () => {
  it("gives the hand-computed distances", () => {
    const h = metrics.get("hellinger");
    assert.equal(h.distance([1, 0], [0, 1], null), 1);
    // sqrt(1/2 ((sqrt .5 - 1)^2 + (sqrt .5)^2)) = sqrt(1 - sqrt .5)
    assert.ok(Math.abs(h.distance([0.5, 0.5], [1, 0], null) - Math.sqrt(1 - Math.SQRT1_2)) < 1e-15);
    assert.equal(h.distance([0.2, 0.3, 0.5], [0.2, 0.3, 0.5], null), 0);
    // Unnormalised inputs are normalised: counts [2, 2] are [0.5, 0.5].
    assert.ok(Math.abs(h.distance([2, 2], [1, 0], null) - Math.sqrt(1 - Math.SQRT1_2)) < 1e-15);
  });

  it("scores predictions as any built-in metric: 1 - mean Hellinger distance to the population", () => {
    const qs = opinionqa.questions.slice(0, 5);
    const lines = qs.map((q) => JSON.stringify({ question: q.id, population: "SEX=Female", distribution: uniform(q.refusal.filter((r) => !r).length) }));
    const r = scorePredictions(opinionqa, parsePredictions(lines.join("\n"), "p.jsonl", opinionqa), resolveConventions(opinionqa, { metric: "hellinger" }), 0);
    assert.equal(r.metric_label, "1 - Hellinger distance");
    const expected = 1 - qs.reduce((s, q) => s + hellingerByBc(uniform(q.refusal.filter((x) => !x).length), opinionqa.human(q.id, "SEX=Female")!.probs), 0) / qs.length;
    assert.ok(Math.abs(r.overall.mean - expected) < 1e-12, `${r.overall.mean} vs ${expected}`);
  });

  it("its noise floor is simulated, as it declares: the enumerated expectation within the simulation's error", () => {
    // E[H(p, X/n)] over every outcome of n = 5 draws from p, with its multinomial probability.
    const p = [0.5, 0.3, 0.2];
    const n = 5;
    const fact = (k: number): number => (k <= 1 ? 1 : k * fact(k - 1));
    let exact = 0;
    for (let a = 0; a <= n; a++) {
      for (let b = 0; a + b <= n; b++) {
        const c = n - a - b;
        const prob = (fact(n) / (fact(a) * fact(b) * fact(c))) * p[0]! ** a * p[1]! ** b * p[2]! ** c;
        exact += prob * hellingerByBc(p, [a / n, b / n, c / n]);
      }
    }
    const est = expectedSamplingDistance("hellinger", p, n, null, { seed: 1, draws: 4000 });
    // H is in [0, 1]: the standard error of 4000 draws is at most 0.5 / sqrt(4000) < 0.008.
    assert.ok(Math.abs(est - exact) < 0.03, `${est} vs ${exact}`);
  });
});

describe("a method: argmax (examples/extending/argmax.ts), with the Hellinger metric, in a real run", () => {
  it("puts all the mass on the option logprobs finds most likely, and scores 1 - sqrt(1 - sqrt(share of that option))", async () => {
    const populations = resolvePopulations(opinionqa, ["POLPARTY=Democrat", "POLPARTY=Republican"]);
    const plan: EvalPlan = {
      suite: opinionqa,
      questions: opinionqa.questions.slice(0, 6),
      populations,
      model: await llamaSpec(MODEL, { threads: 1, parallel: 1 }),
      methods: parseMethods(["logprobs", "argmax"]),
      metric: "hellinger",
      minCoverage: 0,
      seed: 0,
      resamples: 100,
      command: "test",
    };
    const r = await runEval(store, plan);
    assert.deepEqual(r.by_method?.map((m) => m.method), ["logprobs", "argmax"]);
    const answers = await store.answers(r.run);
    const logprobs = new Map(answers.filter((a) => a.method === "logprobs").map((a) => [a.questionId, a.distribution!]));
    const chosen = new Map<string, number>();
    // (String(): the store's Method type names the built-in methods only.)
    for (const a of answers.filter((x) => String(x.method) === "argmax")) {
      const lp = logprobs.get(a.questionId)!;
      const best = lp.indexOf(Math.max(...lp));
      chosen.set(a.questionId, best);
      assert.deepEqual(a.distribution, lp.map((_, i) => (i === best ? 1 : 0)), a.questionId);
    }
    assert.equal(chosen.size, 6);
    // The distance of a one-hot answer on scored option j to the population's shares h is
    // sqrt(1 - sqrt(h_j)); an answer on a refusal option is not scored.
    const byMethod = r.by_method!.find((m) => String(m.method) === "argmax")!;
    for (const pop of populations) {
      const d: number[] = [];
      for (const q of plan.questions) {
        const j = chosen.get(q.id)!;
        if (q.refusal[j]) continue;
        const h = opinionqa.human(q.id, pop.id)!.probs;
        const scoredIndex = q.refusal.slice(0, j).filter((x) => !x).length;
        d.push(hellingerByBc(h.map((_, k) => (k === scoredIndex ? 1 : 0)), h));
      }
      const got = byMethod.populations.find((p) => p.population === pop.id)!;
      assert.ok(d.length > 0 && Math.abs(got.mean - (1 - d.reduce((a, b) => a + b, 0) / d.length)) < 1e-9, `${pop.id}: ${got.mean}`);
    }
    // The run records its components beside its identity; the identity is unchanged by them.
    const run = await store.getRun(r.run);
    const config = run!.config as Record<string, unknown> & { components: { methods: unknown; metric: unknown } };
    assert.deepEqual(config.components.methods, [
      { name: "logprobs", args: {} },
      { name: "argmax", args: {} },
    ]);
    assert.deepEqual(config.components.metric, { name: "hellinger", args: {} });
    const { components: _components, ...identity } = config;
    assert.deepEqual(identity, runConfig(plan));
    assert.equal(runId(runConfig(plan)), r.run);
  });
});

describe("a suite: MoRT (examples/extending/mort.ts)", () => {
  const DATA = path.join(SHARED, "data/mort");
  /** Yes shares per action, read here from the CSV by hand. */
  const yesShares = (file: string) =>
    new Map(
      readFileSync(path.join(DATA, file), "utf8")
        .trim()
        .split("\n")
        .slice(1)
        .map((l) => l.split(","))
        .map(([action, yes, no]) => [action!.trim(), Number(yes) / (Number(yes) + Number(no))]),
    );

  it("loads the study's questions and both populations' answers", async () => {
    const suite = await findSuite("my-mort").load({ data: DATA });
    assert.equal(suite.questions.length, 116);
    assert.deepEqual(suite.populations.map((p) => p.id), ["study=global", "study=regional"]);
    const q = suite.questions.find((x) => x.id === "be_a_good_person")!;
    assert.equal(q.text, "Is it exemplary to be a good person?");
    assert.deepEqual(q.options, ["Yes", "No"]);
    assert.deepEqual(suite.human(q.id, "study=global"), { questionId: q.id, population: "study=global", probs: [228 / 234, 6 / 234], allProbs: [228 / 234, 6 / 234], n: 234 });
    assert.deepEqual(suite.human(q.id, "study=regional")?.probs, [28 / 29, 1 / 29]);
    // Three actions the regional study did not ask.
    assert.equal(suite.questions.filter((x) => suite.human(x.id, "study=regional") === undefined).length, 3);
  });

  it("runs with the real model: the uniform baseline and the human baseline are the hand-computed ones", async () => {
    const suite = await findSuite("my-mort").load({ data: DATA });
    const questions = suite.questions.slice(0, 8);
    const r = await runEval(store, {
      suite,
      questions,
      populations: [...suite.populations],
      model: await llamaSpec(MODEL, { threads: 1, parallel: 1 }),
      minCoverage: 0,
      seed: 0,
      resamples: 100,
      command: "test",
    });
    assert.equal(r.metric, "tv");
    const global = yesShares("userStudy_yes_no_globalAMT.csv");
    const regional = yesShares("userStudy_yes_no_regional.csv");
    const actions = questions.map((q) => q.id.replace(/_/gu, " "));
    for (const [id, shares, other] of [
      ["study=global", global, regional],
      ["study=regional", regional, global],
    ] as const) {
      const p = r.populations.find((x) => x.population === id)!;
      // TV([1/2, 1/2], [y, 1 - y]) = |y - 1/2|; TV between the studies = |y - y'|.
      const asked = actions.filter((a) => shares.has(a));
      const uniformTv = asked.reduce((s, a) => s + Math.abs(shares.get(a)! - 0.5), 0) / asked.length;
      assert.ok(Math.abs(p.uniform - (1 - uniformTv)) < 1e-12, `${id} uniform ${p.uniform}`);
      const both = asked.filter((a) => other.has(a));
      const humanTv = both.reduce((s, a) => s + Math.abs(shares.get(a)! - other.get(a)!), 0) / both.length;
      assert.ok(Math.abs(p.human! - (1 - humanTv)) < 1e-12, `${id} human ${p.human}`);
    }
  });

  it("without --data it says what to give", async () => {
    await assert.rejects(findSuite("my-mort").load({}), /the my-mort suite has no download: give --data/);
  });
});

describe("a backend: the temperature-scaling js: provider (examples/extending/temperature-provider.mjs)", () => {
  it("answers llama's label probabilities raised to 1/T = 1/2 and renormalised", async () => {
    // It imports civitas by its package name, which inside this repository is the build (dist/).
    const file = path.join(dir, "cli.duckdb");
    const common = ["--data", OPINIONQA, "--limit", "6", "--populations", "POLPARTY", "--store", file, "--json", "--threads", "1", "--parallel", "1"];
    const llama = await runCli(["eval", "opinionqa", "--model", `llama:${MODEL}`, ...common]);
    assert.equal(llama.code, 0, llama.stderr);
    const scaled = await runCli(["eval", "opinionqa", "--model", `js:${path.join(REPO, "examples/extending/temperature-provider.mjs")}#${MODEL}`, ...common]);
    assert.equal(scaled.code, 0, scaled.stderr);
    const db = await Store.open(file);
    try {
      const base = new Map((await db.answers(JSON.parse(llama.stdout).run)).map((a) => [a.questionId, a.distribution!]));
      const answers = await db.answers(JSON.parse(scaled.stdout).run);
      assert.equal(answers.length, 6);
      for (const a of answers) {
        const p = base.get(a.questionId)!;
        const root = p.map((x) => Math.sqrt(x));
        const sum = root.reduce((s, x) => s + x, 0);
        // The same llama numbers (same model and settings on one machine), then a square root
        // and two renormalisations: equal to within rounding.
        a.distribution!.forEach((x, i) => assert.ok(Math.abs(x - root[i]! / sum) < 1e-12, `${a.questionId}[${i}]: ${x} vs ${root[i]! / sum}`));
      }
    } finally {
      await db.close();
    }
  });
});
