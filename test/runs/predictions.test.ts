/**
 * Scoring outside predictions (`civitas score`) on real OpinionQA data: known answers, each
 * malformed case, and the protocols' conventions where they give different numbers.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { before, describe, it } from "node:test";
import { distance, uniform } from "../../src/metrics/index.js";
import { parsePredictions, resolveConventions, scorePredictions } from "../../src/runs/index.js";
import { loadOpinionQA, type Suite } from "../../src/surveys/index.js";
import { runCli } from "../helpers/cli.js";
import { OPINIONQA, REPO, SHARED, tempDir } from "../helpers/paths.js";

let suite: Suite;
before(async () => {
  suite = await loadOpinionQA({ data: OPINIONQA });
});

/** The first four questions of wave 26. */
const QS = ["SAFECRIME_W26", "WORLDDANGER_W26", "WORRYG_W26", "GUN_W26"];
const lines = (objs: unknown[]) => objs.map((o) => JSON.stringify(o)).join("\n");
/** A prediction equal to the population's own distribution, as {option: p} over the scored options. */
const exact = (qid: string, population: string) => {
  const q = suite.questions.find((x) => x.id === qid)!;
  const h = suite.human(qid, population)!;
  const scored = q.options.filter((_, i) => !q.refusal[i]);
  return { question: qid, population, distribution: Object.fromEntries(scored.map((o, k) => [o, h.probs[k]!])) };
};

describe("scoring predictions", () => {
  it("a prediction equal to the human distribution scores 1; a uniform one scores the uniform baseline", () => {
    const text = lines([
      ...QS.map((q) => exact(q, "SEX=Male")),
      ...QS.map((qid) => {
        const q = suite.questions.find((x) => x.id === qid)!;
        const k = q.refusal.filter((r) => !r).length;
        return { question: qid, population: "SEX=Female", distribution: [...uniform(k)] };
      }),
    ]);
    const p = parsePredictions(text, "preds.jsonl", suite);
    assert.equal(p.lines, 8);
    assert.deepEqual(p.warnings, []);
    const r = scorePredictions(suite, p, resolveConventions(suite), 0);
    assert.equal(r.metric, "wasserstein");
    const [male, female] = r.populations;
    assert.equal(male!.population, "SEX=Male");
    assert.ok(Math.abs(male!.mean - 1) < 1e-12);
    assert.deepEqual(male!.ci.map((x) => +x.toFixed(12)), [1, 1]);
    assert.ok(Math.abs(female!.mean - female!.uniform) < 1e-12);
    assert.equal(female!.n, 4);
    // By hand for one question: 1 - W1(uniform, female) / range.
    const q0 = suite.questions.find((x) => x.id === "SAFECRIME_W26")!;
    const h0 = suite.human("SAFECRIME_W26", "SEX=Female")!;
    const one = parsePredictions(lines([{ question: "SAFECRIME_W26", population: "SEX=Female", distribution: uniform(4) }]), "p", suite);
    const r0 = scorePredictions(suite, one, resolveConventions(suite), 0);
    assert.ok(Math.abs(r0.overall.mean - (1 - distance("wasserstein", uniform(4), h0.probs, q0.ordinals))) < 1e-12);
  });

  it("keeps or drops refusals as the protocol says (santurkar2023 vs meister2024)", () => {
    // SEX=Male on SAFECRIME_W26: 659, 1143, 205, 47 and 4 refusals. A prediction equal to the
    // distribution without refusals is perfect when refusals are dropped; with refusals kept as an
    // option (meister2024, TV) it misses exactly their share: TV = 4 / 2058.
    const p = parsePredictions(lines([exact("SAFECRIME_W26", "SEX=Male")]), "p", suite);
    const santurkar = scorePredictions(suite, p, resolveConventions(suite, { protocol: "santurkar2023" }), 0);
    const meister = scorePredictions(suite, p, resolveConventions(suite, { protocol: "meister2024" }), 0);
    const durmus = scorePredictions(suite, p, resolveConventions(suite, { protocol: "durmus2023" }), 0);
    assert.ok(Math.abs(santurkar.overall.mean - 1) < 1e-12);
    assert.ok(Math.abs(durmus.overall.mean - 1) < 1e-12);
    assert.ok(Math.abs(meister.overall.mean - (1 - 4 / 2058)) < 1e-12, String(meister.overall.mean));
    assert.equal(meister.metric, "tv");
    assert.equal(meister.protocol, "meister2024");
    // The metric differs too: the same imperfect prediction under wasserstein, jsd and tv.
    const off = parsePredictions(lines([{ question: "SAFECRIME_W26", population: "SEX=Male", distribution: [0.1, 0.2, 0.3, 0.4] }]), "p", suite);
    const means = ["santurkar2023", "durmus2023", "meister2024"].map((protocol) => scorePredictions(suite, off, resolveConventions(suite, { protocol }), 0).overall.mean);
    assert.equal(new Set(means).size, 3);
  });

  it("refuses an ordinal metric that would keep refusals", () => {
    assert.throws(() => resolveConventions(suite, { protocol: "meister2024", metric: "wasserstein" }), /cannot keep refusals/);
  });

  it("accepts an array over all options or over the scored ones", () => {
    const all = parsePredictions(lines([{ question: "SAFECRIME_W26", population: "SEX=Male", distribution: [0.1, 0.2, 0.3, 0.3, 0.1] }]), "p", suite);
    all.byQuestion.get("SAFECRIME_W26")!.get("SEX=Male")!.forEach((p, k) => assert.ok(Math.abs(p - [0.1, 0.2, 0.3, 0.3, 0.1][k]!) < 1e-12));
    const scored = parsePredictions(lines([{ question: "SAFECRIME_W26", population: "SEX=Male", distribution: [0.25, 0.25, 0.25, 0.25] }]), "p", suite);
    assert.deepEqual(scored.byQuestion.get("SAFECRIME_W26")!.get("SEX=Male"), [0.25, 0.25, 0.25, 0.25, 0]);
  });
});

describe("malformed predictions", () => {
  const bad = (objs: string, pattern: RegExp) => assert.throws(() => parsePredictions(objs, "preds.jsonl", suite), pattern);
  const ok = { question: "SAFECRIME_W26", population: "SEX=Male", distribution: [0.25, 0.25, 0.25, 0.25] };

  it("names the line of each error", () => {
    bad(`${JSON.stringify(ok)}\n{"question": "SAFECRIME_W26",`, /preds\.jsonl line 2: not valid JSON/);
    bad(lines([ok, { population: "SEX=Male", distribution: [1] }]), /line 2, field question/);
    bad(lines([{ ...ok, question: "NOPE_W99" }]), /line 1: unknown question "NOPE_W99"/);
    bad(lines([{ ...ok, population: "SEX=Other" }]), /line 1: unknown population "SEX=Other"/);
    bad(lines([{ ...ok, population: "SEX" }]), /line 1: .*attribute, not one population/);
    bad(lines([{ ...ok, distribution: { "Very safe": 0.5, Maybe: 0.5 } }]), /line 1: "Maybe" is not an option of SAFECRIME_W26/);
    bad(lines([{ ...ok, distribution: [0.5, 0.5] }]), /line 1: question SAFECRIME_W26 has 5 options \(4 scored\), the distribution has 2 values/);
    bad(lines([{ ...ok, distribution: [0.5, -0.1, 0.3, 0.3] }]), /line 1: probabilities must be finite and >= 0/);
    bad(lines([{ ...ok, distribution: [0, 0, 0, 0] }]), /line 1: the distribution of SAFECRIME_W26 sums to 0/);
    bad(lines([ok, ok]), /line 2: a second prediction for SAFECRIME_W26 and SEX=Male/);
    bad("\n\n", /holds no predictions/);
  });

  it("warns, with the line, about missing options and sums other than 1", () => {
    const p = parsePredictions(
      lines([
        { ...ok, distribution: { "Very safe": 0.5, "Somewhat safe": 0.5 } },
        { ...ok, population: "SEX=Female", distribution: [0.2, 0.2, 0.2, 0.3] },
      ]),
      "preds.jsonl",
      suite,
    );
    assert.equal(p.warnings.length, 2);
    assert.match(p.warnings[0]!, /preds\.jsonl line 1: no value for "Not too safe", "Not at all safe" of SAFECRIME_W26: counted as 0/);
    assert.match(p.warnings[1]!, /preds\.jsonl line 2: the distribution of SAFECRIME_W26 sums to 0\.9000: renormalised/);
    const female = p.byQuestion.get("SAFECRIME_W26")!.get("SEX=Female")!;
    assert.ok(Math.abs(female.reduce((a, b) => a + b, 0) - 1) < 1e-12);
  });
});

describe("civitas score", () => {
  it("prints the documented JSON shape, and errors with the line", async () => {
    const dir = tempDir();
    const good = path.join(dir, "good.jsonl");
    writeFileSync(good, lines(QS.map((q) => exact(q, "POLPARTY=Democrat"))));
    const r = await runCli(["score", "opinionqa", "--data", OPINIONQA, "--predictions", good, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { metric: string; overall: { mean: number; ci: number[] }; populations: { population: string; mean: number; ci: number[]; n: number }[] };
    assert.equal(j.metric, "wasserstein");
    assert.ok(Math.abs(j.overall.mean - 1) < 1e-12);
    assert.deepEqual(Object.keys(j.populations[0]!).slice(0, 4), ["population", "mean", "ci", "n"]);
    assert.equal(j.populations[0]!.n, 4);
    const broken = path.join(dir, "broken.jsonl");
    writeFileSync(broken, `${JSON.stringify(exact("SAFECRIME_W26", "SEX=Male"))}\n{"question": "SAFECRIME_W26", "population": "SEX=Male", "distribution": {"Very safe": 0.2, "Sometimes": 0.8}}\n`);
    const e = await runCli(["score", "opinionqa", "--data", OPINIONQA, "--predictions", broken]);
    assert.equal(e.code, 1);
    assert.match(e.stderr, /error: .*broken\.jsonl line 2: "Sometimes" is not an option of SAFECRIME_W26/);
  });
});

describe("a custom survey scored end to end", () => {
  it("gives the known answer for a prediction of its own numbers", async () => {
    const { loadCustom } = await import("../../src/surveys/index.js");
    const custom = await loadCustom({ data: path.join(REPO, "examples/custom/town-aggregated.csv") });
    // PARKS, region=North: More 30, About the same 12, Less 6, Refused 2 (dropped): n = 48.
    // Predicting (1/3, 1/3, 1/3) on ordinals 1, 2, 3: CDFs 30/48, 42/48 vs 1/3, 2/3;
    // W1 = |30/48 - 1/3| + |42/48 - 2/3| = 0.2916... + 0.2083... = 0.5; / range 2 = 0.25; alignment 0.75.
    const p = parsePredictions(lines([{ question: "PARKS", population: "region=North", distribution: [1 / 3, 1 / 3, 1 / 3] }]), "p", custom);
    const r = scorePredictions(custom, p, resolveConventions(custom), 0);
    assert.equal(r.metric, "wasserstein");
    assert.ok(Math.abs(r.overall.mean - 0.75) < 1e-12, String(r.overall.mean));
    assert.equal(r.populations[0]!.n, 1);
  });
});

describe("civitas suites", () => {
  it("lists the suites, and shows a suite's questions and populations by the names other commands take", async () => {
    const list = await runCli(["suites", "--json"]);
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual((JSON.parse(list.stdout) as { suite: string }[]).map((s) => s.suite), ["opinionqa", "globalopinions", "distalign", "moca", "rnr", "subpop", "mort", "pacifaist", "papi", "multicultural", "hf", "custom"]);
    const show = await runCli(["suites", "show", "opinionqa", "--data", OPINIONQA, "--json"]);
    assert.equal(show.code, 0, show.stderr);
    const j = JSON.parse(show.stdout) as { questions: { id: string; text: string; options: string[]; ordinals: number[] | null; refusal: string[] }[]; populations: { population: string }[] };
    assert.equal(j.questions.length, 684);
    const q = j.questions.find((x) => x.id === "SAFECRIME_W26")!;
    assert.deepEqual(q.options, ["Very safe", "Somewhat safe", "Not too safe", "Not at all safe", "Refused"]);
    assert.deepEqual(q.ordinals, [1, 2, 3, 4]);
    assert.deepEqual(q.refusal, ["Refused"]);
    assert.equal(j.populations.length, 36);
    assert.ok(j.populations.some((p) => p.population === "INCOME=$100,000 or more"));
    const text = await runCli(["suites", "show", "moca", "--data", path.join(SHARED, "data/moca")]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /206 questions · 1 populations/);
    assert.match(text.stdout, /moral\/0/);
  });
});
