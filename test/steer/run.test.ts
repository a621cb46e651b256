/**
 * A steering run end to end in the library, on the real model (stories260K, one thread) and a
 * handful of real OpinionQA questions: what it stores, that post-processing methods ask the model
 * nothing, that few-shot asks only dev and test questions, and that test answers move no knob.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { parseModelSpec, type ModelSpec } from "../../src/models/index.js";
import { checkResult, type SteerResult } from "../../src/results/index.js";
import { parseSteerMethods, runSteer, steerMethods, type SteerContext, type SteerMethod, type SteerPlan } from "../../src/steer/index.js";
import { z } from "zod";
import { Store } from "../../src/store/index.js";
import { loadOpinionQA, resolvePopulations, type Suite } from "../../src/surveys/index.js";
import { MODEL, OPINIONQA, tempDir } from "../helpers/paths.js";

describe("runSteer on stories260K and 10 OpinionQA questions", () => {
  let store: Store;
  let suite: Suite;
  let model: ModelSpec;
  let plan: SteerPlan;
  let first: SteerResult;
  before(async () => {
    store = await Store.open(path.join(tempDir(), "steer.duckdb"));
    suite = await loadOpinionQA({ data: OPINIONQA });
    model = await parseModelSpec(`llama:${MODEL}`, { threads: 1, parallel: 1 });
    plan = {
      suite,
      model,
      populations: resolvePopulations(suite, ["POLPARTY=Democrat", "POLPARTY=Republican"]),
      methods: parseSteerMethods(["persona,fewshot,linear,calibrate"]),
      split: "stratified",
      seed: 0,
      limit: 10,
      minCoverage: 0,
      resamples: 50,
      grids: { fewshot: [1, 2] },
      command: "steer test",
    };
    first = await runSteer(store, plan);
  });
  after(async () => {
    await store?.close();
  });

  it("stores a steer result that matches its schema, with the split's three parts apart", async () => {
    checkResult("steer", first);
    const { train, dev, test } = first.split;
    assert.deepEqual([train.length, dev.length, test.length], [6, 2, 2]);
    assert.equal(new Set([...train, ...dev, ...test]).size, 10);
    const run = await store.findRun(first.run);
    assert.equal(run.kind, "steer");
    assert.equal(run.status, "done");
    assert.deepEqual(run.summary && run.summary.split, first.split);
    assert.deepEqual(first.targets.map((t) => t.population), ["POLPARTY=Democrat", "POLPARTY=Republican"]);
    for (const t of first.targets) assert.equal(t.n, 2);
  });

  it("few-shot asks dev questions for each k and test questions for the chosen k only, never train", async () => {
    const fewshot = first.eval_runs.slice(1);
    // 2 targets x (k = 1, 2 on dev + the chosen k on test).
    assert.equal(fewshot.length, 6);
    const dev = new Set(first.split.dev);
    const test = new Set(first.split.test);
    let devRuns = 0;
    for (const id of fewshot) {
      const questions = ((await store.findRun(id)).config as { questions: string[] }).questions;
      assert.ok(questions.every((q) => dev.has(q)) || questions.every((q) => test.has(q)), `run ${id} asked ${questions.join(", ")}`);
      if (questions.every((q) => dev.has(q))) devRuns++;
    }
    assert.equal(devRuns, 4);
    // The main run asked every question once unsteered and once per persona: 10 x 3 prompts.
    assert.equal((await store.answers(first.eval_runs[0]!)).length, 30);
  });

  it("persona, linear and calibrate post-process stored answers: no model call", async () => {
    const again = await runSteer(store, { ...plan, methods: parseSteerMethods(["persona,linear,calibrate"]) });
    assert.equal(again.answers.model_calls, 0);
    assert.equal(again.eval_runs.length, 1);
    assert.deepEqual(again.split, first.split);
    // The same answers and split: the same numbers for the methods both runs have.
    const gain = (r: SteerResult, m: string) => r.overall.methods.find((x) => x.method === m)!.gain_unsteered.mean;
    for (const m of ["persona", "linear", "calibrate"]) assert.equal(gain(again, m), gain(first, m));
  });

  it("test answers turned around change the test numbers, never a tuned knob", async () => {
    const test = new Set(first.split.test);
    // The same survey, but every population's shares on the test questions reversed.
    const poisoned: Suite = Object.assign(Object.create(suite) as Suite, {
      human: (q: string, p: string) => {
        const h = suite.human(q, p);
        return h && test.has(q) ? { ...h, probs: [...h.probs].reverse() } : h;
      },
    });
    const r = await runSteer(store, { ...plan, suite: poisoned });
    assert.deepEqual(
      r.methods.map((m) => m.knob),
      first.methods.map((m) => m.knob),
    );
    assert.notEqual(r.overall.unsteered.mean, first.overall.unsteered.mean);
  });

  it("--config texts replace a population's persona (CoSA-style), the others keep their template", async () => {
    const text = "You are a lifelong member of the Democratic Party.";
    const r = await runSteer(store, { ...plan, methods: parseSteerMethods(["persona"]), configs: { "POLPARTY=Democrat": text } });
    const personas = ((await store.findRun(r.eval_runs[0]!)).config as { personas: { id: string; text: string }[] }).personas;
    assert.deepEqual(personas.find((p) => p.id === "POLPARTY=Democrat")?.text, text);
    assert.match(personas.find((p) => p.id === "POLPARTY=Republican")!.text, /Republican/u);
    // Only the Democrat's prompts are new: 10 questions.
    assert.equal(r.answers.model_calls, 10);
    await assert.rejects(runSteer(store, { ...plan, configs: { "SEX=Female": text } }), /--config names population SEX=Female, which is not among --populations/u);
  });

  it("a registered method gets the model and each question's prompt as the run asked it, and is closed", async () => {
    let seen: SteerContext | undefined;
    let closed = 0;
    const probe: SteerMethod = {
      name: "probe-test",
      description: "captures what a method is given",
      args: z.object({}),
      paper: "none (a test)",
      asks: false,
      usesPersona: true,
      async fit(ctx) {
        seen = ctx;
        return {
          grid: [],
          steer: async (_k, t) => (q) => ctx.variants.map((_, v) => ctx.answers.persona(t, q, v)),
          close: async () => void closed++,
        };
      },
    };
    steerMethods.register(probe);
    const r = await runSteer(store, { ...plan, methods: [probe] });
    assert.equal(r.answers.model_calls, 0);
    assert.equal(closed, 1);
    assert.equal(seen!.model, model);
    const answers = await store.answers(first.eval_runs[0]!);
    const requests = await store.lookupRequests(answers.map((a) => a.requestKey));
    // Three unsteered answers and three with a persona.
    const some = [...answers.filter((a) => a.persona === "none").slice(0, 3), ...answers.filter((a) => a.persona !== "none").slice(0, 3)];
    assert.equal(some.length, 6);
    for (const a of some) {
      const q = suite.questions.find((x) => x.id === a.questionId)!;
      const asked = seen!.prompt!(q, 0, a.persona === "none" ? null : plan.populations.find((p) => p.id === a.persona)!);
      const stored = requests.get(a.requestKey)!;
      assert.equal(asked.text, stored.prompt);
      assert.deepEqual(asked.labels, stored.labels);
      assert.deepEqual(asked.order, q.options.map((_, i) => i));
    }
  });
});
