/**
 * Steering toward one person on PAPI (the Personality Alignment task, Zhu et al. 2024), end to
 * end on the real model (stories260K, one thread) and the real PAPI files: two people as targets,
 * a few of their held-out items. A person's persona is their 120 profile answers, some 4,800
 * tokens, so the context is 8,192 tokens; the persona is evaluated once per person as a shared
 * prefix (runs/stages/plan.ts, longPersonaPrefixes), which keeps this test short.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { before, describe, it } from "node:test";
import { parseModelSpec } from "../../src/models/index.js";
import { checkResult, type SteerResult } from "../../src/results/index.js";
import { parseSteerMethods, runSteer, type SteerPlan } from "../../src/steer/index.js";
import { Store } from "../../src/store/index.js";
import { loadPapi, papiDataOf, resolvePopulations } from "../../src/surveys/index.js";
import { itemId, type PapiSuite } from "../../src/surveys/papi.js";
import { planEval } from "../../src/runs/stages/plan.js";
import { MODEL, SHARED, tempDir } from "../helpers/paths.js";

const PEOPLE = ["person=172481", "person=205752"];

describe("civitas steer on papi: two people as targets", () => {
  let suite: PapiSuite;
  let plan: SteerPlan;
  let first: SteerResult;
  let second: SteerResult;
  before(async () => {
    suite = await loadPapi({ data: path.join(SHARED, "data/papi") });
    const model = await parseModelSpec(`llama:${MODEL}`, { threads: 1, parallel: 1, contextSize: 8192 });
    plan = {
      suite,
      model,
      populations: resolvePopulations(suite, PEOPLE),
      methods: parseSteerMethods(["persona,linear,calibrate"]),
      split: "stratified",
      seed: 3,
      limit: 5,
      minCoverage: 0,
      resamples: 50,
      command: "steer papi test",
    };
    const dir = tempDir();
    const a = await Store.open(path.join(dir, "a.duckdb"));
    try {
      first = await runSteer(a, plan);
    } finally {
      await a.close();
    }
    // The same seed on a fresh store (nothing cached): the model is asked again.
    const b = await Store.open(path.join(dir, "b.duckdb"));
    try {
      second = await runSteer(b, plan);
    } finally {
      await b.close();
    }
  });

  it("reports a gain per person: one target row each, and the distribution over the two", () => {
    checkResult("steer", first);
    assert.deepEqual(first.targets.map((t) => t.population).sort(), [...PEOPLE].sort());
    for (const t of first.targets) {
      assert.deepEqual(t.methods.map((m) => m.method).sort(), ["calibrate", "linear", "persona"]);
      assert.ok(t.n >= 1, `${t.population} has test items`);
    }
    assert.deepEqual(first.individuals.map((r) => r.method).sort(), ["calibrate", "linear", "persona"]);
    for (const r of first.individuals) {
      assert.equal(r.n, 2, `${r.method}: one gain per person`);
      assert.ok(r.min <= r.median && r.median <= r.max);
    }
  });

  it("splits only the people's held-out items, and their personas hold none of the test items", () => {
    const data = papiDataOf(suite)!;
    const heldOut = new Set(data.test.map(itemId));
    const { train, dev, test } = first.split;
    for (const id of [...train, ...dev, ...test]) assert.ok(heldOut.has(id), `${id} is one of the 180 held-out items`);
    assert.equal(new Set([...train, ...dev, ...test]).size, train.length + dev.length + test.length);
    const text = new Map(data.items.map((i) => [itemId(i.number), i.text]));
    for (const pop of plan.populations) {
      const persona = suite.personaFor!(pop)!;
      // The persona is the person's profile: every one of the 120 profile items, and no test item.
      for (const n of data.train) assert.ok(persona.includes(`${text.get(itemId(n))}:`), `profile item i${n} in ${pop.id}'s persona`);
      for (const id of test) assert.ok(!persona.includes(text.get(id)!), `test item ${id} ("${text.get(id)}") leaked into ${pop.id}'s persona`);
    }
  });

  it("gives the same result for the same seed", () => {
    const strip = (r: SteerResult) => ({ ...r, seconds: 0, store: "", answers: { model_calls: 0, cache_hits: 0 } });
    assert.ok(second.answers.model_calls > 0, "the second run asked the model");
    assert.deepEqual(strip(second), strip(first));
  });
});

describe("the plan of a steering run on papi", () => {
  it("asks each person's persona as one prefix shared by all their questions (evaluated once, not per item)", async () => {
    // No model is asked: the plan only.
    const suite = await loadPapi({ data: path.join(SHARED, "data/papi") });
    const model = await parseModelSpec(`llama:${MODEL}`, { threads: 1, parallel: 1, contextSize: 8192 });
    const populations = resolvePopulations(suite, PEOPLE);
    const held = new Set(papiDataOf(suite)!.test.map(itemId));
    const questions = suite.questions.filter((q) => held.has(q.id)).slice(0, 4);
    const run = planEval({ suite, model, questions, populations, persona: true, minCoverage: 0, seed: 3, command: "plan" });
    for (const pop of populations) {
      const persona = suite.personaFor!(pop)!;
      const items = run.items.filter((i) => i.persona.text === persona);
      assert.ok(items.length >= 2, `${pop.id} is asked several items`);
      for (const i of items) {
        assert.ok(i.prompt.prefix.endsWith(persona), `${pop.id} ${i.question.id}: the prefix ends with the persona`);
        assert.equal(i.params.prefix_chars, i.prompt.prefix.length);
      }
      assert.equal(new Set(items.map((i) => i.prompt.prefix)).size, 1, `${pop.id}: one prefix for all items`);
    }
    // The unsteered prompts are asked whole.
    for (const i of run.items.filter((x) => x.persona.text === "")) assert.equal(i.prompt.prefix, "");
  });
});
