/**
 * The SimModel (src/sim/model.ts) with the real tiny model and a real DuckDB store: sharing the
 * request cache with `civitas eval`, recording and replaying a model-driven run bit for bit with no
 * model opened, clear errors when a replay does not match its record, a budget that stops a run
 * cleanly with its metrics so far, and the calls of one step in flight together.
 *
 * One llama.cpp model (2 parallel sequences) is opened once for the file; each test wraps it in a
 * spec that counts how often it is opened.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { llamaSpec } from "../../src/models/llama.js";
import { borrowClient, type ModelClient, type ModelSpec } from "../../src/models/index.js";
import { requestKey, runEval } from "../../src/runs/index.js";
import { AGENT_SCENARIOS, type OpinionDynamics } from "../../src/sim/agents/index.js";
import { simulate, type SimulationResult } from "../../src/sim/engine.js";
import { lattice2d } from "../../src/sim/graph.js";
import { createSimModel, isBudgetExhausted, type RecordingSimModel } from "../../src/sim/model.js";
import type { Graph, Params } from "../../src/sim/types.js";
import { Store } from "../../src/store/index.js";
import { loadOpinionQA, renderPrompt, resolvePopulations, personasFor, type Suite } from "../../src/surveys/index.js";
import { MODEL, OPINIONQA, tempDir } from "../helpers/paths.js";

const QUESTION = "SAFECRIME_W26";

let suite: Suite;
let real: Promise<ModelClient> | null = null;
let base: ModelSpec;
let dir: string;

/** The shared tiny model behind a spec that counts its opens (and whose clients do not close it). */
function counting(): { spec: ModelSpec; opens: { count: number } } {
  const opens = { count: 0 };
  const spec: ModelSpec = {
    backend: base.backend,
    identity: base.identity,
    display: base.display,
    params: base.params,
    open: async () => {
      opens.count++;
      real ??= base.open();
      return borrowClient(await real);
    },
  };
  return { spec, opens };
}

/** A spec with the model's identity that must never be opened (replays). */
function unopenable(): { spec: ModelSpec; opens: { count: number } } {
  const opens = { count: 0 };
  return {
    spec: {
      backend: base.backend,
      identity: base.identity,
      display: base.display,
      params: base.params,
      open: () => {
        opens.count++;
        return Promise.reject(new Error("a replay opened the model"));
      },
    },
    opens,
  };
}

async function run(
  model: RecordingSimModel | undefined,
  params: Params,
  graph: Graph,
  seed: number,
): Promise<{ result: SimulationResult; dynamics: OpinionDynamics }> {
  const dynamics = AGENT_SCENARIOS.opinion!(params, { suite, ...(model ? { model } : {}) }) as OpinionDynamics;
  const result = await simulate(dynamics, { graph, params, seed, every: 1 });
  return { result, dynamics };
}

before(async () => {
  dir = tempDir("civitas-simmodel-");
  suite = await loadOpinionQA({ data: OPINIONQA, waves: ["W26"] });
  base = await llamaSpec(MODEL, { parallel: 2, threads: 1 });
});

after(async () => {
  if (real) await (await real).close();
});

describe("createSimModel", () => {
  it("answers prompts that civitas eval asked from the request cache, without opening the model", async () => {
    const store = await Store.open(path.join(dir, "shared.duckdb"));
    try {
      const q = suite.questions.find((x) => x.id === QUESTION)!;
      const populations = resolvePopulations(suite, ["POLPARTY"]);
      const { spec: evalSpec } = counting();
      await runEval(store, { suite, questions: [q], populations, model: evalSpec, minCoverage: 0, persona: true, seed: 0, command: "test" });

      const { spec, opens } = counting();
      const model = createSimModel(store, spec, { runId: "sim-shared", point: 0, seed: 3 });
      const params = { question: QUESTION, attribute: "POLPARTY", init: "model", steps: 0 };
      await run(model, params, lattice2d(4, 3), 3);
      await model.close();
      assert.equal(opens.count, 0, "the model was opened");
      assert.deepEqual({ calls: model.stats.calls, cacheHits: model.stats.cacheHits, modelCalls: model.stats.modelCalls }, { calls: 12, cacheHits: 12, modelCalls: 0 });

      // the recorded calls are eval's requests: same keys
      const personas = personasFor(suite, populations);
      const evalKeys = new Set(
        populations.map((p) => {
          const r = renderPrompt(q, undefined, personas.get(p.id)!);
          return requestKey(spec, "logprobs", {}, r.text, r.labels);
        }),
      );
      const calls = await store.simCalls("sim-shared", 0, 3);
      assert.equal(calls.length, 12);
      assert.deepEqual(calls.map((c) => c.call), [...Array(12).keys()]);
      for (const c of calls) {
        assert.ok(evalKeys.has(c.requestKey), `call ${c.call} is not one of eval's requests`);
        assert.equal(c.step, 0);
      }
      const stored = await store.query("SELECT count(*) AS n FROM sim_calls WHERE run_id = 'sim-shared' AND request_key IN (SELECT request_key FROM answers)");
      assert.equal(Number(stored[0]!.n), 12, "every call's request is one of eval's answers");
    } finally {
      await store.close();
    }
  });

  it("replays a recorded run bit for bit from its record, with no model opened", async () => {
    const store = await Store.open(path.join(dir, "replay.duckdb"));
    try {
      const graph = lattice2d(4, 4, { torus: true });
      const params = { question: QUESTION, attribute: "POLPARTY", init: "model", steps: 4 };
      const { spec, opens } = counting();
      const rec = createSimModel(store, spec, { runId: "rec", point: 1, seed: 7 });
      const recorded = await run(rec, params, graph, 7);
      await rec.close();
      assert.equal(opens.count, 1);
      assert.equal(recorded.result.stop, "steps", "the recorded run must use every step for this test");
      assert.ok(rec.stats.modelCalls > 0);
      assert.equal(rec.stats.calls, 16 * 5, "one call per agent at init and at each of 4 steps");
      assert.equal(rec.stats.agentSteps, 16 * 5, "every agent asks at init and at each step: one agent-step each");
      const calls = await store.simCalls("rec", 1, 7);
      assert.equal(calls.length, rec.stats.calls);
      assert.deepEqual(
        calls.map((c) => c.step),
        [0, 1, 2, 3, 4].flatMap((s) => Array<number>(16).fill(s)),
      );
      assert.deepEqual(calls.slice(0, 16).map((c) => c.agent), [...Array(16).keys()]);

      const never = unopenable();
      const rep = createSimModel(store, never.spec, { runId: "rep", point: 1, seed: 7, replay: { runId: "rec" } });
      const replayed = await run(rep, params, graph, 7);
      await rep.close();
      assert.equal(never.opens.count, 0);
      assert.deepEqual(replayed.result.series, recorded.result.series);
      assert.deepEqual(replayed.result.final, recorded.result.final);
      assert.deepEqual({ calls: rep.stats.calls, replayed: rep.stats.replayed, modelCalls: rep.stats.modelCalls }, { calls: rec.stats.calls, replayed: rec.stats.calls, modelCalls: 0 });
      // the prompts' size is the same whoever answers them
      assert.deepEqual([rep.stats.agentSteps, rep.stats.askedTokens], [rec.stats.agentSteps, rec.stats.askedTokens]);
      assert.ok(rec.stats.askedTokens > 0);
      assert.deepEqual(await store.simCalls("rep", 1, 7), [], "a replay writes no calls of its own");

      // a changed scenario (another seed: other neighbours, other prompts) is refused
      const other = createSimModel(store, unopenable().spec, { runId: "rep2", point: 1, seed: 7, replay: { runId: "rec" } });
      await assert.rejects(run(other, params, graph, 8), /the scenario changed since run rec: call \d+ \(point 1, seed 7, step \d, agent \d+\)/u);
      await other.close();
      // more steps than were recorded
      const longer = createSimModel(store, unopenable().spec, { runId: "rep3", point: 1, seed: 7, replay: { runId: "rec" } });
      await assert.rejects(run(longer, { ...params, steps: 6 }, graph, 7), /run rec recorded only 80 calls \(point 1, seed 7\); this simulation asked for call 81 \(step 5, agent 0\)/u);
      await longer.close();
      // a simulation the run never recorded
      const none = createSimModel(store, unopenable().spec, { runId: "rep4", point: 0, seed: 7, replay: { runId: "rec" } });
      await assert.rejects(run(none, params, graph, 7), /run rec recorded only 0 calls \(point 0, seed 7\)/u);
      await none.close();
    } finally {
      await store.close();
    }
  });

  it("stops at its budget with a clear error, keeping the metrics of the complete steps", async () => {
    const store = await Store.open(path.join(dir, "budget.duckdb"));
    try {
      const graph = lattice2d(4, 4, { torus: true });
      const params = { question: QUESTION, attribute: "POLPARTY", steps: 10 };
      const { spec } = counting();
      const model = createSimModel(store, spec, { runId: "budget", point: 0, seed: 1, budget: { maxCalls: 20 } });
      const dynamics = AGENT_SCENARIOS.opinion!(params, { suite, model });
      const series: { step: number; metrics: Readonly<Record<string, number>> }[] = [];
      let error: unknown;
      try {
        await simulate(dynamics, {
          graph,
          params,
          seed: 1,
          every: 1,
          onStep: (e) => {
            if (e.metrics) series.push({ step: e.step, metrics: e.metrics });
          },
        });
      } catch (e) {
        error = e;
      }
      // every later call is refused, even one the cache could answer
      await assert.rejects(model.optionDistribution({ prompt: "x", labels: ["A"], step: 99, agent: 0 }), (e: unknown) => isBudgetExhausted(e));
      await model.close();
      assert.ok(isBudgetExhausted(error), `expected a BudgetExhaustedError, got ${String(error)}`);
      assert.match((error as Error).message, /the simulation's budget is spent: 20 model calls \(budget maxCalls 20\)/u);
      assert.equal(model.exhausted, true);
      assert.equal(model.stats.modelCalls, 20);
      // init from human answers asks nothing; each step asks 16 agents, some prompts repeat
      assert.ok(series.length >= 2, "at least init and one complete step");
      assert.deepEqual(series.map((s) => s.step), [...Array(series.length).keys()]);
      for (const s of series) assert.equal(typeof s.metrics.polarization, "number");
      const last = series.length - 1;
      // the calls of the complete steps are recorded, and nothing of a step after the one that ran out
      const calls = await store.simCalls("budget", 0, 1);
      assert.equal(calls.filter((c) => c.step <= last).length, 16 * last);
      assert.ok(calls.every((c) => c.step <= last + 1));
    } finally {
      await store.close();
    }
  });

  it("keeps the calls of one step in flight together, up to the model's concurrency", async () => {
    const store = await Store.open(path.join(dir, "inflight.duckdb"));
    try {
      const graph = lattice2d(3, 3, { torus: true });
      const params = { question: QUESTION, attribute: "POLPARTY", steps: 1 };
      const { spec } = counting();
      const model = createSimModel(store, spec, { runId: "inflight", point: 0, seed: 2 });
      await run(model, params, graph, 2);
      await model.close();
      assert.equal(model.stats.concurrency, 2, "the client's concurrency (parallel 2)");
      assert.ok(model.stats.modelCalls >= 2);
      assert.equal(model.stats.maxInFlight, Math.min(model.stats.modelCalls, 2));
      assert.ok(model.stats.meanInFlight >= 1 && model.stats.meanInFlight <= 2);

      const one = createSimModel(store, counting().spec, { runId: "inflight1", point: 0, seed: 3, concurrency: 1 });
      await run(one, params, graph, 3);
      await one.close();
      assert.ok(one.stats.modelCalls >= 2);
      assert.equal(one.stats.maxInFlight, 1);
      assert.equal(one.stats.concurrency, 1);
    } finally {
      await store.close();
    }
  });

  it("asks the model once for a prompt repeated within a simulation, and records every call", async () => {
    const store = await Store.open(path.join(dir, "dedupe.duckdb"));
    try {
      const { spec } = counting();
      const model = createSimModel(store, spec, { runId: "dedupe", point: 0, seed: 0 });
      const q = { prompt: "Question: Is it safe?\nA. Yes\nB. No\nAnswer:", labels: ["A", "B"] };
      const answers = await Promise.all([0, 1, 2, 3].map((agent) => model.optionDistribution({ ...q, step: 1, agent })));
      const text = await model.complete({ prompt: "Once upon a time", maxTokens: 4, temperature: 1, seed: 5, step: 2, agent: 0 });
      const again = await model.complete({ prompt: "Once upon a time", maxTokens: 4, temperature: 1, seed: 5, step: 2, agent: 1 });
      await model.close();
      assert.equal(model.stats.calls, 6);
      assert.equal(model.stats.modelCalls, 2);
      assert.equal(model.stats.cacheHits, 4);
      for (const a of answers) assert.deepEqual(a, answers[0]);
      assert.ok(Math.abs(answers[0]!.distribution[0]! + answers[0]!.distribution[1]! - 1) < 1e-12);
      assert.ok(answers[0]!.coverage > 0 && answers[0]!.coverage < 1);
      assert.equal(again, text);
      assert.ok(text.length > 0);
      const calls = await store.simCalls("dedupe", 0, 0);
      assert.deepEqual(calls.map((c) => [c.call, c.step, c.agent]), [[0, 1, 0], [1, 1, 1], [2, 1, 2], [3, 1, 3], [4, 2, 0], [5, 2, 1]]);
      const rows = await store.lookupRequests([calls[0]!.requestKey, calls[4]!.requestKey]);
      assert.equal(rows.get(calls[0]!.requestKey)!.method, "logprobs");
      assert.equal(rows.get(calls[4]!.requestKey)!.method, "sample");
      assert.deepEqual(rows.get(calls[4]!.requestKey)!.raw, { texts: [text] });
    } finally {
      await store.close();
    }
  });
});
