/**
 * The stability report end to end (stories260K, real suites, a real store), extending a run with
 * more variants, and the "Randomness, Not Representation" human baseline from its data.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { llamaSpec, type ModelSpec } from "../../src/models/index.js";
import { resolveConventions, runEval, stabilityReport, type EvalPlan } from "../../src/runs/index.js";
import { Store, type AnswerRow } from "../../src/store/index.js";
import { loadGlobalOpinions, loadOpinionQA, loadRnR, parseVariants, resolvePopulations, type Suite } from "../../src/surveys/index.js";
import { formatEvalResult, formatStability } from "../../src/report/table.js";
import { runCli } from "../helpers/cli.js";
import { MODEL, OPINIONQA, SHARED, tempDir } from "../helpers/paths.js";

let dir: string;
let spec: ModelSpec;
let store: Store;
let opinionqa: Suite;
before(async () => {
  dir = tempDir();
  spec = await llamaSpec(MODEL, { threads: 1, parallel: 1 });
  store = await Store.open(path.join(dir, "s.duckdb"));
  opinionqa = await loadOpinionQA({ data: OPINIONQA });
});
after(async () => store.close());

const plan = (suite: Suite, o: Partial<EvalPlan>): EvalPlan => ({
  suite,
  questions: suite.questions.slice(0, 12),
  populations: o.populations ?? resolvePopulations(suite, ["POLPARTY"]),
  model: spec,
  minCoverage: 0,
  seed: 0,
  resamples: 200,
  command: "test",
  ...o,
});

describe("stability report", () => {
  it("comes with every run of several variants, and shows the tiny model's position bias", async () => {
    const r = await runEval(store, plan(opinionqa, { variants: parseVariants("rnr8") }));
    const s = r.stability!;
    assert.equal(s.variants.length, 8);
    // The interval resamples questions, each with all 8 of its variants (not 8 items per question).
    assert.deepEqual(r.bootstrap, { unit: "question", units: r.questions.planned, items: r.questions.planned, resamples: r.bootstrap!.resamples, stratified: false, variants: 8 });
    assert.match(formatEvalResult(r), /95% bootstrap interval over questions, each with its 8 variants/u);
    assert.equal(s.spread.questions, 12);
    assert.ok(s.spread.mean > 0 && s.spread.ci[0] <= s.spread.mean && s.spread.mean <= s.spread.ci[1]);
    assert.ok(s.human_spread !== null && s.human_spread > 0);
    assert.ok(s.score_spread && s.score_spread.questions === 12);
    assert.ok(s.conclusion && s.conclusion.per_variant_top.length === 8);
    assert.equal(s.conclusion.stable, s.conclusion.top_share >= 0.95);
    if (!s.conclusion.stable) assert.ok(r.warnings.some((w) => w.startsWith("UNSTABLE")));
    const shares = s.variance!;
    assert.ok(Math.abs(shares.population + shares.variant + shares.interaction - 1) < 1e-9);
    // The tiny model knows nothing of surveys: where it puts its mass depends on the position shown.
    const maxDev = Math.max(...s.bias.byPosition.filter((b) => b.n >= 12).map((b) => Math.abs(b.mean - b.expected)));
    assert.ok(maxDev > 0.05, `position bias ${maxDev}`);
    // The text output names every label the model was scored on, or says how many it leaves out.
    const labels = s.bias.byLabel.filter((b) => b.n > 0);
    assert.ok(labels.length > 8, `rnr8 shows letters and numbers: ${labels.length} labels`);
    const line = formatStability(s).split("\n").find((l) => l.startsWith("  label bias: "))!;
    const listed = line.slice("  label bias: ".length).split(", ").filter((x) => /^\S+: /u.test(x));
    assert.deepEqual(listed.map((x) => x.split(":")[0]), labels.slice(0, listed.length).map((b) => b.label));
    if (listed.length < labels.length) assert.match(line, new RegExp(`\\.\\.\\. \\+${labels.length - listed.length} more \\(--json lists all\\)$`, "u"));
    // Stored with the run.
    const again = await runEval(store, plan(opinionqa, { variants: parseVariants("rnr8") }));
    assert.equal(again.answers.model_calls, 0);
    assert.deepEqual(again.stability, s);
  });

  it("is absent with one variant", async () => {
    const r = await runEval(store, plan(opinionqa, {}));
    assert.equal(r.stability, undefined);
  });

  it("extends a run with more variants without asking again what it has", async () => {
    const two = await runEval(store, plan(opinionqa, { questions: opinionqa.questions.slice(20, 26), variants: parseVariants("standard;order=reversed") }));
    assert.equal(two.answers.model_calls, 12);
    const eight = await runEval(store, plan(opinionqa, { questions: opinionqa.questions.slice(20, 26), variants: parseVariants("rnr8") }));
    assert.equal(eight.answers.cache_hits, 12, "the two variants it had come from the cache");
    assert.equal(eight.answers.model_calls, 36);
  });

  it("works end to end on GlobalOpinionQA with rnr8", async () => {
    const go = await loadGlobalOpinions({ data: path.join(SHARED, "data/distalign/globalvalues") });
    // In this 100-question subset each question was asked in a few countries; Egypt and Jordan share 14.
    const pops = resolvePopulations(go, ["country=Egypt", "country=Jordan"]);
    const qs = go.questions.filter((q) => pops.every((p) => go.human(q.id, p.id))).slice(0, 6);
    assert.equal(qs.length, 6);
    const r = await runEval(store, plan(go, { questions: qs, populations: pops, variants: parseVariants("rnr8") }));
    assert.equal(r.metric, "jsd");
    assert.ok(r.stability?.conclusion);
    assert.equal(r.stability.spread.questions, qs.length);
  });
});

describe("the Randomness, Not Representation human baseline", () => {
  it("is 0.114, computed by the report from the loaded data", async () => {
    const rnr = await loadRnR({ data: path.join(SHARED, "data/cultural-stability") });
    const variants = parseVariants("rnr8", "rnr");
    // Answers of two variants on every question (any distribution: the human side does not depend on them).
    const answers: AnswerRow[] = rnr.questions.flatMap((q) =>
      variants.slice(0, 2).map((v) => ({
        runId: "r",
        questionId: q.id,
        variant: v.id,
        persona: "none",
        method: "logprobs" as const,
        requestKey: "k",
        options: q.options,
        distribution: q.options.map(() => 1 / q.options.length),
        coverage: 1,
        status: "scored" as const,
        mode: "none" as const,
        cacheHit: false,
      })),
    );
    const s = stabilityReport(rnr, rnr.questions, rnr.populations, answers, {
      method: "logprobs",
      variants: variants.slice(0, 2),
      conventions: resolveConventions(rnr),
      seed: 0,
    })!;
    assert.equal(rnr.populations.length, 15);
    assert.equal(s.score_spread!.questions, 77);
    assert.equal(s.score_spread!.human.toFixed(3), "0.114");
    assert.ok(Math.abs(s.score_spread!.human - 0.1143053163309197) < 1e-12);
    // The same model answer under both variants: no spread.
    assert.equal(s.spread.mean, 0);
  });

  it("`civitas suites show rnr` lists the paper's 77 questions and 15 countries", async () => {
    const r = await runCli(["suites", "show", "rnr", "--data", path.join(SHARED, "data/cultural-stability"), "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { questions: unknown[]; populations: unknown[]; default_metric: string };
    assert.equal(j.questions.length, 77);
    assert.equal(j.populations.length, 15);
    assert.equal(j.default_metric, "mean");
  });
});

describe("stabilityVerdict", () => {
  const base = { top: "A", top_share: 0.86, stable: false, threshold: 0.95, per_variant_top: [{ variant: "standard", top: "A" }, { variant: "order=reversed", top: "A" }] };
  it("names the cause, with the shares", async () => {
    const { stabilityVerdict } = await import("../../src/runs/index.js");
    const v = stabilityVerdict({ ...base, rewording_share: 1, resampling_share: 0.86, cause: "resampling", questions: 20 });
    assert.equal(v.headline, "too few questions to tell: unstable under resampling");
    assert.match(v.text, /86% of bootstrap draws of 20 questions/u);
    assert.match(v.text, /A is closest under 2 of 2 variants/u);
    const w = stabilityVerdict({ ...base, per_variant_top: [{ variant: "standard", top: "A" }, { variant: "order=reversed", top: "B" }], rewording_share: 0.5, resampling_share: 1, cause: "rewording", questions: 20 });
    assert.equal(w.headline, "unstable under rewording");
    assert.match(w.text, /A is closest under 1 of 2 variants/u);
  });
  it("reads a conclusion stored before the causes were reported, and says so", async () => {
    const { stabilityVerdict } = await import("../../src/runs/index.js");
    const v = stabilityVerdict(base);
    assert.equal(v.headline, "unstable");
    assert.match(v.text, /stored before civitas told rewording and resampling apart/u);
  });
});
