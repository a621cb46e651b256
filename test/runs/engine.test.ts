/**
 * The run engine end to end on real parts: OpinionQA from ../shared/data, stories260K through
 * llama.cpp, a real DuckDB file, and an OpenAI-compatible server on 127.0.0.1.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { distance, uniform } from "../../src/metrics/distances.js";
import { llamaSpec } from "../../src/models/llama.js";
import { openaiSpec } from "../../src/models/openai.js";
import type { ModelSpec } from "../../src/models/types.js";
import { runEval, type EvalPlan, type EvalResult } from "../../src/runs/engine.js";
import { Store } from "../../src/store/store.js";
import { loadOpinionQA } from "../../src/surveys/opinionqa.js";
import { resolvePopulations } from "../../src/surveys/populations.js";
import type { Suite } from "../../src/surveys/types.js";
import { startLlamaOpenAIServer, type LlamaOpenAIServer } from "../helpers/llama-openai-server.js";
import { MODEL, OPINIONQA, tempDir } from "../helpers/paths.js";

/** The real llama spec, counting how often the model is loaded. */
function counting(spec: ModelSpec): ModelSpec & { opens: number } {
  const wrapped = {
    ...spec,
    opens: 0,
    open: async () => {
      wrapped.opens++;
      return spec.open();
    },
  };
  return wrapped;
}

/** The numbers of a result, without timings and bookkeeping. */
const numbers = (r: EvalResult) => ({ overall: r.overall, populations: r.populations, baselines: r.baselines, set_aside: r.set_aside, questions: r.questions });

let suite: Suite;
let dir: string;
before(async () => {
  suite = await loadOpinionQA({ data: OPINIONQA });
  dir = tempDir();
});

function plan(model: ModelSpec, overrides: Partial<EvalPlan> = {}): EvalPlan {
  return {
    suite,
    questions: suite.questions.slice(0, 24),
    populations: resolvePopulations(suite, ["POLPARTY", "SEX"]),
    model,
    metric: "wasserstein",
    minCoverage: 0,
    seed: 0,
    resamples: 500,
    command: "test",
    ...overrides,
  };
}

describe("civitas eval on OpinionQA with the llama backend", () => {
  let store: Store;
  let spec: ModelSpec & { opens: number };
  let first: EvalResult;
  before(async () => {
    store = await Store.open(path.join(dir, "llama.duckdb"));
    spec = counting(await llamaSpec(MODEL, { threads: 1 }));
    first = await runEval(store, plan(spec));
  });
  after(async () => store.close());

  it("scores every question for every population, with intervals and baselines", () => {
    assert.equal(first.metric, "wasserstein");
    assert.deepEqual(first.questions, { planned: 24, answered: 24, scored: 24, no_scale: 0, skipped: 0 });
    assert.deepEqual(
      first.populations.map((p) => p.population),
      ["POLPARTY=Republican", "POLPARTY=Democrat", "POLPARTY=Independent", "POLPARTY=Other", "SEX=Male", "SEX=Female"],
    );
    for (const p of first.populations) {
      assert.equal(p.n, 24);
      assert.ok(p.ci[0] <= p.mean && p.mean <= p.ci[1], `${p.population}: ${p.mean} not in ${p.ci}`);
      assert.ok(p.mean > 0 && p.mean < 1);
      assert.ok(p.human !== null && p.human > p.uniform, "real groups are closer to the whole sample than uniform answers are");
    }
    const mean = first.populations.reduce((s, p) => s + p.mean, 0) / first.populations.length;
    assert.ok(Math.abs(first.overall.mean - mean) < 1e-12);
    assert.equal(first.answers.model_calls, 24);
    assert.equal(first.set_aside.total, 0);
    assert.ok(first.coverage.mean > 0 && first.coverage.mean < 0.5);
    assert.equal(first.warnings.length, 1, "low coverage is warned about");
  });

  it("computes the baselines from the human data (checked by hand on SAFECRIME_W26)", async () => {
    // SEX=Male: Very safe 659, Somewhat safe 1143, Not too safe 205, Not at all safe 47 (n 2054).
    // overall (all respondents, CREGION groups summed): 1169, 2386, 494, 109 (n 4158).
    const male = [659, 1143, 205, 47].map((c) => c / 2054);
    const overall = [1169, 2386, 494, 109].map((c) => c / 4158);
    const q = suite.questions.find((x) => x.id === "SAFECRIME_W26")!;
    const onlyQ = await runEval(store, plan(spec, { questions: [q], populations: resolvePopulations(suite, ["SEX=Male"]) }));
    const p = onlyQ.populations[0]!;
    assert.ok(Math.abs(p.human! - (1 - distance("wasserstein", male, overall, [1, 2, 3, 4]))) < 1e-12);
    assert.ok(Math.abs(p.uniform - (1 - distance("wasserstein", uniform(4), male, [1, 2, 3, 4]))) < 1e-12);
    // Both against hand arithmetic: CDF differences of male vs overall.
    const cdf = (d: number[]) => d.slice(0, 3).map((_, i) => d.slice(0, i + 1).reduce((a, b) => a + b, 0));
    const w = cdf(male).reduce((s, c, i) => s + Math.abs(c - cdf(overall)[i]!), 0) / 3;
    assert.ok(Math.abs(p.human! - (1 - w)) < 1e-12);
    // The answer came from the cache: the prompt was asked in the first run.
    assert.equal(onlyQ.answers.model_calls, 0);
  });

  it("answers a rerun entirely from the store without loading the model", async () => {
    const opensBefore = spec.opens;
    const again = await runEval(store, plan(spec));
    assert.equal(again.run, first.run);
    assert.equal(again.answers.model_calls, 0);
    assert.equal(again.answers.resumed, 24);
    assert.equal(spec.opens, opensBefore, "the model was not loaded");
    assert.deepEqual(numbers(again), numbers(first));
  });

  it("reuses cached model answers in a new run with another metric", async () => {
    const tv = await runEval(store, plan(spec, { metric: "tv" }));
    assert.notEqual(tv.run, first.run);
    assert.equal(tv.answers.model_calls, 0);
    assert.equal(tv.answers.cache_hits, 24);
    assert.notDeepEqual(tv.overall, first.overall);
  });

  it("gives the same numbers for the same seed and another interval for another seed", async () => {
    const otherSeed = await runEval(store, plan(spec, { seed: 1 }));
    assert.equal(otherSeed.overall.mean, first.overall.mean);
    assert.notDeepEqual(otherSeed.overall.ci, first.overall.ci);
  });

  it("sets aside answers below --min-coverage, stores them, and says why", async () => {
    const covs = (await store.answers(first.run)).map((a) => a.coverage).sort((a, b) => a - b);
    const threshold = covs[Math.floor(covs.length / 2)]!; // the median: about half are set aside
    const r = await runEval(store, plan(spec, { minCoverage: threshold }));
    const expected = covs.filter((c) => c < threshold).length;
    assert.ok(expected > 0);
    assert.equal(r.set_aside.low_coverage, expected);
    assert.equal(r.questions.scored, 24 - expected);
    const stored = await store.answers(r.run);
    assert.equal(stored.length, 24, "set-aside answers are stored too");
    assert.equal(stored.filter((a) => a.status === "low_coverage").length, expected);
  });

  it("does not score a question without an ordinal scale under the ordinal metric", async () => {
    // ORIENTATIONMOD_W50 has ordinals [1, 1, 1, 1]: its Wasserstein distance would always be 0.
    const q = suite.questions.find((x) => x.id === "ORIENTATIONMOD_W50")!;
    assert.deepEqual(q.ordinals, [1, 1, 1, 1]);
    const w = await runEval(store, plan(spec, { questions: [q] }));
    assert.deepEqual(w.questions, { planned: 1, answered: 1, scored: 0, no_scale: 1, skipped: 0 });
    assert.ok(w.populations.every((p) => p.n === 0));
    const tv = await runEval(store, plan(spec, { questions: [q], metric: "tv" }));
    assert.deepEqual(tv.questions, { planned: 1, answered: 1, scored: 1, no_scale: 0, skipped: 0 });
  });

  it("stores answers in survey order with their options, and scores per question", async () => {
    const answers = await store.answers(first.run);
    const q = suite.questions.find((x) => x.id === answers[0]!.questionId)!;
    assert.deepEqual(answers[0]!.options, q.options);
    assert.equal(answers[0]!.distribution!.length, q.options.length);
    assert.ok(Math.abs(answers[0]!.distribution!.reduce((a, b) => a + b, 0) - 1) < 1e-12);
    assert.ok(answers.every((a) => a.status === "scored" && !a.cacheHit));
  });

  it("exports answers as CSV, JSONL and Parquet", async () => {
    for (const format of ["csv", "jsonl", "parquet"] as const) {
      const file = path.join(dir, `answers.${format}`);
      assert.equal(await store.exportAnswers(first.run, file, format), 24);
    }
    const check = await Store.open(path.join(dir, "check.duckdb"));
    try {
      const rows = await check.query(
        `SELECT run, question, variant, persona, options, distribution, coverage, status FROM '${path.join(dir, "answers.parquet")}' ORDER BY question`,
      );
      assert.equal(rows.length, 24);
      const stored = new Map((await store.answers(first.run)).map((a) => [a.questionId, a]));
      for (const row of rows) {
        const a = stored.get(String(row.question))!;
        assert.equal(row.run, first.run);
        assert.equal(row.variant, "standard");
        assert.equal(row.persona, "none");
        assert.deepEqual(row.options, a.options);
        assert.deepEqual(row.distribution, a.distribution);
        assert.equal(row.status, "scored");
      }
      const jsonl = await check.query(`SELECT * FROM read_json('${path.join(dir, "answers.jsonl")}') ORDER BY question`);
      assert.deepEqual(jsonl.map((r) => r.distribution), rows.map((r) => r.distribution));
      const csv = await check.query(`SELECT question, options, distribution FROM read_csv('${path.join(dir, "answers.csv")}') ORDER BY question`);
      assert.deepEqual(csv.map((r) => JSON.parse(String(r.distribution)) as unknown), rows.map((r) => r.distribution));
    } finally {
      await check.close();
    }
  });
});

describe("civitas eval through an OpenAI-compatible server", () => {
  let server: LlamaOpenAIServer;
  before(async () => {
    server = await startLlamaOpenAIServer();
  });
  after(async () => server.close());

  const run = async (file: string) => {
    const store = await Store.open(path.join(dir, file));
    try {
      const spec = openaiSpec("openai", "stories", { baseURL: server.url, apiKey: "sk-test-SECRET", concurrency: 3, timeoutMs: 1500, retryBaseMs: 5, retries: 4 });
      return await runEval(store, plan(spec, { questions: suite.questions.slice(0, 12) }));
    } finally {
      await store.close();
    }
  };

  it("finishes with the same numbers when the server rate-limits, fails, hangs and sends malformed JSON", async () => {
    const healthy = await run("healthy.duckdb");
    const healthyRequests = server.requests.length;
    server.inject({ kind: "429", retryAfterSeconds: 1 }, { kind: "500" }, { kind: "hang" }, { kind: "malformed" }, { kind: "500" });
    const faulty = await run("faulty.duckdb");
    assert.equal(server.pendingFaults(), 0);
    assert.equal(server.requests.length - healthyRequests, 12 + 5, "every fault was retried once");
    assert.equal(faulty.answers.model_calls, 12);
    assert.deepEqual(numbers(faulty), numbers(healthy));
  });

  it("after the last retry stops with a clear error and keeps what was answered", async () => {
    const store = await Store.open(path.join(dir, "failing.duckdb"));
    try {
      const spec = openaiSpec("openai", "stories", { baseURL: server.url, apiKey: "sk-test-SECRET", concurrency: 1, timeoutMs: 1500, retryBaseMs: 1, retries: 2 });
      // Three answers, then a server that only fails.
      server.inject(...Array.from({ length: 3 }, () => ({ kind: "ok" as const })), ...Array.from({ length: 50 }, () => ({ kind: "500" as const })));
      await assert.rejects(runEval(store, plan(spec, { questions: suite.questions.slice(40, 52) })), (e: Error & { hint?: string }) => {
        assert.match(e.message, /HTTP 500/);
        assert.ok(e.message.includes(server.url), e.message);
        assert.doesNotMatch(`${e.message} ${e.hint}`, /SECRET/);
        assert.match(e.hint ?? "", /3 of 12 answers are stored .*run the same command again to resume/);
        return true;
      });
      const run = (await store.listRuns())[0]!;
      assert.equal(await store.countAnswers(run.id), 3);
      assert.equal(run.status, "failed");
      assert.match(run.error ?? "", /HTTP 500/);
    } finally {
      server.reset();
      await store.close();
    }
  });
});
