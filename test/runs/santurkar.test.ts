/**
 * The santurkar2023 protocol made exact: label probabilities read as OpinionQA's code reads them
 * (tatsu-lab/opinions_qa, helpers.py, get_probabilities, lines 39-63) from the top-100 next
 * tokens; the printed note that the released human files are unweighted; and weighted individual
 * responses (a user with Pew's files) scored under the protocol as the paper's
 * extract_human_opinions weights them (lines 110-157).
 *
 * No number printed in the paper can be rebuilt from data on this machine: the paper's model
 * numbers need its models' top-100 log-probabilities (the `runs` of its CodaLab bundle), and its
 * human baselines need the survey weights, which the released files (../shared/data/opinionqa)
 * do not hold. Each step of the computation is therefore checked on cases computed by hand.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { labelMassFromTokens, topKLabelMass } from "../../src/models/extract.js";
import { llamaSpec } from "../../src/models/llama.js";
import { openaiSpec } from "../../src/models/openai.js";
import type { ModelSpec } from "../../src/models/types.js";
import { runEval, type EvalPlan } from "../../src/runs/engine.js";
import { parsePredictions, scorePredictions } from "../../src/runs/predictions.js";
import { findProtocol, parseProtocol, resolveConventions } from "../../src/runs/protocols.js";
import { Store } from "../../src/store/store.js";
import { loadCustom } from "../../src/surveys/custom.js";
import { loadOpinionQA } from "../../src/surveys/opinionqa.js";
import { resolvePopulations } from "../../src/surveys/populations.js";
import type { Suite } from "../../src/surveys/types.js";
import { runCli } from "../helpers/cli.js";
import { startLlamaOpenAIServer, type LlamaOpenAIServer } from "../helpers/llama-openai-server.js";
import { MODEL, OPINIONQA, tempDir } from "../helpers/paths.js";

/** Sums of a few probabilities: exact to a few ulps. */
const EPS = 1e-12;
const close = (a: readonly number[], b: readonly number[], what: string) => {
  assert.equal(a.length, b.length, what);
  a.forEach((x, i) => assert.ok(Math.abs(x - b[i]!) <= EPS, `${what}[${i}]: ${x} vs ${b[i]}`));
};

describe("get_probabilities (helpers.py lines 39-63), by hand", () => {
  it("counts \" X\" and \"X\" only, takes the larger, and gives a miss min(min_prob, remaining / Nmisses)", () => {
    const top = [
      { token: " A", prob: 0.5 },
      { token: "B", prob: 0.2 },
      { token: "x", prob: 0.1 },
      { token: " B", prob: 0.05 },
      { token: "a", prob: 0.03 },
    ];
    // Listed: 0.88, remaining 0.12; min_prob 0.03; C missing alone: min(0.03, 0.12 / 1) = 0.03.
    // "a" (lower case) is not A; B is max(0.2, 0.05), not the sum.
    const r = topKLabelMass(top, ["A", "B", "C"]);
    close(r.labelMass, [0.5, 0.2, 0.03], "labelMass");
    assert.deepEqual(r.misses, [false, false, true]);
    assert.ok(Math.abs(r.coverage - 0.7) <= EPS);
    // civitas's default reading of the same tokens adds up every form: A 0.53, B 0.25.
    close(labelMassFromTokens(top, ["A", "B", "C"]).labelMass, [0.53, 0.25, 0], "default reading");
  });

  it("shares the remaining mass among several misses when it is below min_prob", () => {
    // Listed 0.95, remaining 0.05, two misses: min(0.35, 0.025) = 0.025 each.
    const r = topKLabelMass([{ token: " A", prob: 0.6 }, { token: "x", prob: 0.35 }], ["A", "B", "C"]);
    close(r.labelMass, [0.6, 0.025, 0.025], "labelMass");
    // No mass left: a miss is log(0), probability 0.
    close(topKLabelMass([{ token: "A", prob: 0.7 }, { token: "y", prob: 0.3 }], ["A", "B"]).labelMass, [0.7, 0], "no remaining mass");
    // Only the top k count: what a backend returns past them is not read.
    const longer = [{ token: " A", prob: 0.4 }, { token: "z", prob: 0.3 }, { token: " B", prob: 0.2 }];
    close(topKLabelMass(longer.slice(0, 2), ["A", "B"]).labelMass, [0.4, 0.3], "B outside the top 2: min(0.3, 0.3 / 1)");
  });

  it("D_M renormalises probs_unnorm over the ordinal options (line 99), not over all", () => {
    // A, B ordinal, C a refusal: D_M = [0.5, 0.2] / 0.7, whatever C got.
    const { labelMass } = topKLabelMass([{ token: " A", prob: 0.5 }, { token: " B", prob: 0.2 }, { token: " C", prob: 0.25 }], ["A", "B", "C"]);
    const ordinal = labelMass.slice(0, 2);
    const s = ordinal[0]! + ordinal[1]!;
    close(ordinal.map((m) => m / s), [5 / 7, 2 / 7], "D_M");
  });

  it("is the protocol's convention, k = 100 as HELM's num_logprobs for the paper's OpenAI models, and a protocol file can ask for it", () => {
    assert.deepEqual(findProtocol("santurkar2023").conventions.labelReading, { kind: "top-k", k: 100 });
    assert.equal(findProtocol("durmus2023").conventions.labelReading, undefined);
    const p = parseProtocol("name: opinionqa-ai21\ntitle: t\nconventions:\n  metric: wasserstein\n  label_reading: top-k\n  top_k: 10\n", "p.yaml");
    assert.deepEqual(p.conventions.labelReading, { kind: "top-k", k: 10 });
    assert.throws(() => parseProtocol("name: x\ntitle: t\nconventions:\n  metric: tv\n  top_k: 10\n", "p.yaml"), /p\.yaml: line 5, conventions\.top_k: only with label_reading: top-k/);
  });
});

describe("santurkar2023 on the real model", () => {
  let dir: string;
  let suite: Suite;
  let store: Store;
  let spec: ModelSpec;
  let server: LlamaOpenAIServer;
  const plan = (model: ModelSpec, protocol?: string): EvalPlan => ({
    suite,
    questions: suite.questions.slice(0, 4),
    populations: resolvePopulations(suite, ["POLPARTY=Democrat"]),
    model,
    ...(protocol ? { protocol } : {}),
    minCoverage: 0,
    seed: 0,
    resamples: 100,
    command: "test",
  });
  before(async () => {
    dir = tempDir();
    suite = await loadOpinionQA({ data: OPINIONQA });
    store = await Store.open(path.join(dir, "s.duckdb"));
    spec = await llamaSpec(MODEL, { threads: 1, parallel: 1 });
    server = await startLlamaOpenAIServer();
  });
  after(async () => {
    await store.close();
    await server.close();
  });

  it("stores the top 100 next tokens with each answer and reads the labels from them as the paper does", async () => {
    const result = await runEval(store, plan(spec, "santurkar2023"));
    assert.equal(result.protocol, "santurkar2023");
    assert.ok(result.warnings.some((w) => /unweighted respondent counts.*WEIGHT_W\{wave\}/u.test(w)), result.warnings.join("\n"));
    const answers = await store.answers(result.run);
    assert.equal(answers.length, 4);
    const requests = await store.lookupRequests(answers.map((a) => a.requestKey));
    for (const a of answers) {
      const req = requests.get(a.requestKey)!;
      const raw = req.raw as { top: { token: string; prob: number }[]; top_k: number };
      assert.equal(raw.top_k, 100);
      assert.equal(raw.top.length, 100, "stories260K has 512 tokens: llama.cpp gives the top 100");
      for (let i = 1; i < raw.top.length; i++) assert.ok(raw.top[i - 1]!.prob >= raw.top[i]!.prob, "most likely first");
      // The paper's arithmetic, written out again here from helpers.py: labels in the order shown.
      const probs = raw.top.map((t) => t.prob);
      const minProb = Math.min(...probs);
      const remaining = Math.max(0, 1 - probs.reduce((x, y) => x + y, 0));
      const found = req.labels.map((l) => {
        const v = raw.top.filter((t) => t.token === l || t.token === ` ${l}`).map((t) => t.prob);
        return v.length > 0 ? Math.max(...v) : null;
      });
      const nMiss = found.filter((v) => v === null).length;
      const unnorm = found.map((v) => v ?? Math.min(minProb, remaining / nMiss));
      close(req.labelMass, unnorm, `${a.questionId} probs_unnorm`);
      const q = suite.questions.find((x) => x.id === a.questionId)!;
      const total = unnorm.reduce((x, y) => x + y, 0);
      // Standard variant: labels in survey order, so the stored distribution is probs_norm.
      close(a.distribution!, unnorm.map((m) => m / total), `${a.questionId} probs_norm`);
      assert.equal(q.options.length, req.labels.length);
    }
    // A run without the protocol asks other requests (the default reading), with its own keys.
    const plain = await runEval(store, plan(spec));
    const plainAnswers = await store.answers(plain.run);
    assert.notEqual(plain.run, result.run);
    assert.equal(new Set([...plainAnswers, ...answers].map((a) => a.requestKey)).size, 8);
    assert.ok(!plain.warnings.some((w) => /unweighted/u.test(w)));
  });

  it("over an OpenAI-compatible server (top_logprobs <= 20) reads what came and says so", async () => {
    const http = openaiSpec("openai", "stories", { baseURL: server.url, apiKey: "sk-test", concurrency: 1 });
    const result = await runEval(store, plan(http, "santurkar2023"));
    const w = result.warnings.find((x) => /fewer than the top 100 next tokens/u.test(x));
    assert.ok(w, result.warnings.join("\n"));
    assert.match(w, /^4 of 4 answers .* \(as few as 20;/u);
  });

  it("prints the unweighted-counts note in the terminal and with --json", async () => {
    const args = ["eval", "opinionqa", "--model", `llama:${MODEL}`, "--data", OPINIONQA, "--populations", "POLPARTY=Democrat", "--limit", "2", "--protocol", "santurkar2023", "--threads", "1", "--store", path.join(dir, "cli.duckdb")];
    const text = await runCli(args);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /warning: santurkar2023: the released OpinionQA human files are unweighted respondent counts/u);
    const json = await runCli([...args, "--json"]);
    assert.equal(json.code, 0, json.stderr);
    const r = JSON.parse(json.stdout) as { run: string; warnings: string[] };
    assert.ok(r.warnings.some((x) => x.startsWith("santurkar2023: the released OpinionQA human files are unweighted")));
    // And in the run's HTML report.
    const out = path.join(dir, "r.html");
    const rep = await runCli(["report", r.run, "-o", out, "--store", path.join(dir, "cli.duckdb")]);
    assert.equal(rep.code, 0, rep.stderr);
    const page = readFileSync(out, "utf8");
    assert.match(page, /santurkar2023: the released OpinionQA human files are unweighted respondent counts/u);
    assert.match(page, /95% bootstrap interval over questions/u);
  });
});

describe("weighted individual responses under santurkar2023 (extract_human_opinions, helpers.py lines 110-157)", () => {
  it("weighs each respondent as the paper's WEIGHT_W{wave} does, and scores 1 - WD / (max - min ordinal)", async () => {
    const dir = tempDir();
    // Five respondents of a Pew-like wave: their answers, party and survey weight (WEIGHT_W26).
    const file = path.join(dir, "atp.csv");
    writeFileSync(
      file,
      [
        "respondent_id,POLPARTY,weight,question_id,question,options,ordinals,answer",
        'r1,Democrat,2.0,SAFE,How safe?,"Very safe|Somewhat safe|Not safe|Refused",1|2|3,Very safe',
        'r2,Democrat,0.5,SAFE,How safe?,"Very safe|Somewhat safe|Not safe|Refused",1|2|3,Not safe',
        'r3,Democrat,1.5,SAFE,How safe?,"Very safe|Somewhat safe|Not safe|Refused",1|2|3,Somewhat safe',
        'r4,Democrat,3.0,SAFE,How safe?,"Very safe|Somewhat safe|Not safe|Refused",1|2|3,Refused',
        'r5,Republican,1.0,SAFE,How safe?,"Very safe|Somewhat safe|Not safe|Refused",1|2|3,Not safe',
      ].join("\n") + "\n",
    );
    const suite = await loadCustom({ data: file });
    // D_H of Democrats: weights over the ordinal options 2.0, 1.5, 0.5 (r4's refusal dropped), / 4:
    // [0.5, 0.375, 0.125]. Unweighted it would be [1/3, 1/3, 1/3].
    const h = suite.human("SAFE", "POLPARTY=Democrat")!;
    close(h.probs, [0.5, 0.375, 0.125], "D_H");
    // The model: D_M = [0.2, 0.3, 0.5] (a refusal share given is dropped and the rest renormalised).
    const preds = parsePredictions(
      JSON.stringify({ question: "SAFE", population: "POLPARTY=Democrat", distribution: { "Very safe": 0.1, "Somewhat safe": 0.15, "Not safe": 0.25, Refused: 0.5 } }) + "\n",
      "p.jsonl",
      suite,
    );
    const r = scorePredictions(suite, preds, resolveConventions(suite, { protocol: "santurkar2023" }), 0);
    // scipy.stats.wasserstein_distance on ordinals 1, 2, 3: sum |CDF_M - CDF_H| over the two gaps:
    // CDF_M = 0.2, 0.5; CDF_H = 0.5, 0.875 -> 0.3 + 0.375 = 0.675; get_max_wd = 3 - 1 = 2.
    // Representativeness = 1 - 0.675 / 2 = 0.6625.
    assert.ok(Math.abs(r.populations[0]!.mean - 0.6625) <= EPS, String(r.populations[0]!.mean));
    assert.equal(r.protocol, "santurkar2023");
    // Not the released-files note: this survey carries its weights.
    assert.ok(!r.warnings.some((w) => /unweighted/u.test(w)));
  });
});
