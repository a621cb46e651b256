/**
 * Persona fidelity and drift (src/sim/measure.ts): group means and eval's scoring on a hand-made
 * survey (values worked out by hand), the measured prompt (empty memory: exactly eval's persona
 * prompt), the stored rows read back, and a real run with the tiny model: the step-0 measurement
 * answered from the cache `civitas eval --persona` filled (no model call) with eval's alignments,
 * the same seed giving the same numbers, measuring leaving the dynamics' run unchanged, and a
 * budget that stops mid-measurement storing nothing of it. Errors name the field.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { CivitasError } from "../../src/errors.js";
import { parseModelSpec } from "../../src/models/index.js";
import { runEval } from "../../src/runs/index.js";
import { AGENT_SCENARIOS, peersSentence, type OpinionDynamics, type OpinionState } from "../../src/sim/agents/index.js";
import { simulate } from "../../src/sim/engine.js";
import { completeGraph } from "../../src/sim/graph.js";
import { createSimModel } from "../../src/sim/model.js";
import { drawPopulation, planPopulation } from "../../src/sim/population.js";
import { groupMeans, measureAgents, measurementRows, measurementsFromRows, measurePrompt, planMeasure, scoreGroups } from "../../src/sim/measure.js";
import { runScenario, type SimulationReport } from "../../src/sim/run.js";
import { parseScenario } from "../../src/sim/scenario.js";
import { Store } from "../../src/store/index.js";
import { loadOpinionQA, personasFor, renderPrompt, resolvePopulations, type HumanDistribution, type Question, type Suite } from "../../src/surveys/index.js";
import { MODEL, OPINIONQA, tempDir } from "../helpers/paths.js";

let suite: Suite;
let dir: string;

before(async () => {
  dir = tempDir("civitas-measure-");
  suite = await loadOpinionQA({ data: OPINIONQA, waves: ["W26"] });
});

const civitasError = (pattern: RegExp) => (e: unknown) => {
  assert.ok(e instanceof CivitasError, `expected a CivitasError, got ${String(e)}`);
  assert.match(e.message, pattern);
  return true;
};

/** A hand-made survey: one ordinal question (Low, Mid, High; Refused), groups G=a and G=b, metric tv. */
function handSuite(): Suite {
  const q: Question = { id: "Q", text: "How much?", options: ["Low", "Mid", "High", "Refused"], refusal: [false, false, false, true], ordinals: [1, 2, 3] };
  const h = (population: string, probs: number[], n: number): HumanDistribution => ({ questionId: "Q", population, probs, n });
  const humans = new Map([
    ["G=a", h("G=a", [0.5, 0.25, 0.25], 100)],
    ["G=b", h("G=b", [0, 0, 1], 50)],
  ]);
  return {
    name: "hand",
    title: "hand-made",
    location: "",
    fingerprint: "hand",
    questions: [q],
    populations: [
      { id: "G=a", attribute: "G", value: "a" },
      { id: "G=b", attribute: "G", value: "b" },
    ],
    reference: null,
    defaultMetric: "tv",
    human: (qid, p) => (qid === "Q" ? humans.get(p) : undefined),
  };
}

describe("aggregating and scoring a measurement", () => {
  it("a group answers with its agents' mean distribution, scored as eval scores a population (worked by hand)", () => {
    const hand = handSuite();
    const plan = planMeasure({ every: 1, questions: ["Q"], by: "G" }, hand, "h.yaml");
    // agents (survey order, Refused last): a: Low; a: Mid; a: no mass anywhere (left out); b: High
    const values = ["a", "a", "a", "b"];
    const answers = [[[1, 0, 0, 0]], [[0, 1, 0, 0]], [[0, 0, 0, 0]], [[0, 0, 1, 0]]];
    const means = groupMeans(values, answers, ["a", "b"]);
    assert.deepEqual(means.get("a"), [[0.5, 0.5, 0, 0]]);
    assert.deepEqual(means.get("b"), [[0, 0, 1, 0]]);
    const m = scoreGroups(plan, means, new Map([["a", 3], ["b", 1]]), 4);
    const by = new Map(m.groups.map((g) => [g.population, g]));
    const close = (x: number | null | undefined, y: number, what: string) => assert.ok(x !== null && x !== undefined && Math.abs(x - y) < 1e-12, `${what}: ${x} vs ${y}`);
    // a: TV([.5, .5, 0], [.5, .25, .25]) = (0 + .25 + .25) / 2 = .25 -> alignment .75
    close(by.get("G=a")!.alignment, 0.75, "a");
    // b: TV([0, 0, 1], [0, 0, 1]) = 0 -> 1
    close(by.get("G=b")!.alignment, 1, "b");
    // one question: the bootstrap interval is the point
    assert.deepEqual(by.get("G=a")!.ci, [0.75, 0.75]);
    // overall: the mean over the groups
    close(by.get("*")!.alignment, 0.875, "overall");
    // uniform: a: TV(1/3 each, [.5, .25, .25]) = (1/6 + 1/12 + 1/12) / 2 = 1/6; b: (1/3 + 1/3 + 2/3) / 2 = 2/3
    close(by.get("G=a")!.uniform, 5 / 6, "uniform a");
    close(by.get("G=b")!.uniform, 1 / 3, "uniform b");
    // human (no reference population): the other group, TV([.5, .25, .25], [0, 0, 1]) = .75
    close(by.get("G=a")!.human, 0.25, "human a");
    assert.equal(by.get("G=a")!.agents, 3);
    assert.equal(by.get("*")!.agents, 4);

    // the stored rows read back to the same measurement
    const rows = Object.entries(measurementRows(m)).map(([metric, value]) => ({ step: 4, metric, value: Number.isNaN(value) ? null : value }));
    assert.ok(rows.every((r) => r.metric.startsWith("fidelity.v1|")));
    const back = measurementsFromRows(rows);
    assert.equal(back.length, 1);
    assert.equal(back[0]!.step, 4);
    for (const g of m.groups) assert.deepEqual(back[0]!.groups.find((x) => x.population === g.population), { ...g, ci: [g.ci[0], g.ci[1]] });
  });

  it("with an empty memory, the prompt is civitas eval --persona's; the memory goes between persona and question", () => {
    const plan = planMeasure({ every: 1, questions: ["SAFECRIME_W26"], by: "POLPARTY" }, suite, "m.yaml");
    const pop = resolvePopulations(suite, ["POLPARTY=Democrat"])[0]!;
    const persona = personasFor(suite, [pop]).get(pop.id)!;
    const q = plan.questions[0]!;
    const evalPrompt = renderPrompt(q, undefined, persona).text;
    assert.equal(measurePrompt({ persona: persona.text, memory: "" }, plan.prompts[0]!.text).prompt, evalPrompt);
    const heard = "Of the people you talk to, 2 answered 'Very safe'.";
    const p = measurePrompt({ persona: persona.text, memory: heard }, plan.prompts[0]!.text);
    assert.equal(p.prompt, `${persona.text}\n\n${heard}\n\n${renderPrompt(q).text}`);
    assert.equal(p.plain, `${heard}\n\n${renderPrompt(q).text}`);
  });

  it("a count of questions is drawn deterministically among those the groups answered; unknown questions and attributes name the field", async () => {
    const a = planMeasure({ every: 1, questions: 3, by: "POLPARTY" }, suite, "m.yaml");
    const b = planMeasure({ every: 2, questions: 3, by: "POLPARTY" }, suite, "m.yaml");
    assert.equal(a.questions.length, 3);
    assert.deepEqual(a.questions.map((q) => q.id), b.questions.map((q) => q.id));
    assert.throws(() => planMeasure({ every: 1, questions: ["SAFECRIME_W26", "NOPE_W26"], by: "POLPARTY" }, suite, "m.yaml"), civitasError(/^m\.yaml: measure\.questions\[1\]: suite opinionqa has no question "NOPE_W26"/u));
    assert.throws(() => planMeasure({ every: 1, questions: ["SAFECRIME_W26"], by: "PARTY" }, suite, "m.yaml"), civitasError(/^m\.yaml: measure\.by: suite opinionqa has no attribute "PARTY" \(its attributes: CREGION, POLPARTY/u));
    assert.throws(() => parseScenario("name: x\ndynamics: opinion\nparams: { agents: 2, steps: 1 }\nmeasure: { every: 0, questions: 2, by: SEX }\n", "s.yaml"), civitasError(/s\.yaml: measure\.every: expected an integer >= 1/u));
    // agents without the measured attribute: said before any question is asked (the model is never reached)
    const agents = [{ attributes: { POLPARTY: "Democrat" }, persona: "", llm: true, memory: "" }];
    const bySex = planMeasure({ every: 1, questions: ["SAFECRIME_W26"], by: "SEX" }, suite, "m.yaml");
    await assert.rejects(measureAgents(bySex, agents, undefined as never, 0), civitasError(/^measure\.by: agent 0 has no attribute SEX \(its attributes: POLPARTY\)/u));
    assert.throws(() => parseScenario("name: x\ndynamics: opinion\nparams: { agents: 2, steps: 1 }\nmeasure: { every: 1, questions: 2, by: SEX }\n", "s.yaml"), civitasError(/measure\.suite: required when the scenario has no survey/u));
  });
});

describe("measuring a real run (tiny model)", () => {
  const Q = ["SAFECRIME_W26", "WORRYG_W26"];
  const stores: Store[] = [];
  const open = async (name: string) => {
    const s = await Store.open(path.join(dir, `${name}.duckdb`));
    stores.push(s);
    return s;
  };
  after(async () => {
    for (const s of stores) await s.close();
  });
  /** The scenario: 3 agents drawn by party, talking about SAFECRIME_W26 and measured on two W26 questions. */
  const scenario = (o: { steps?: number; measure?: boolean; budget?: number } = {}) =>
    parseScenario(
      [
        "name: fid",
        "dynamics: opinion",
        `params: { agents: 3, graph: complete, steps: ${o.steps ?? 2}, init: human }`,
        // one sequence at a time, so that two runs evaluate their prompts in the same batches
        `model: { spec: ${JSON.stringify(`llama:${MODEL}`)}, threads: 1, parallel: 1 }`,
        `survey: { suite: opinionqa, data: ${JSON.stringify(OPINIONQA)}, question: SAFECRIME_W26, attribute: POLPARTY }`,
        "population: { attributes: [POLPARTY], wave: W26 }",
        ...(o.measure === false ? [] : [`measure: { every: 1, questions: [${Q.join(", ")}], by: POLPARTY }`]),
        ...(o.budget === undefined ? [] : [`budget: { max_calls: ${o.budget} }`]),
        "seeds: 3",
        "every: 1",
      ].join("\n"),
      path.join(dir, "fid.yaml"),
    );

  it("the step-0 measurement is answered from the cache civitas eval --persona filled, with eval's alignments", async () => {
    const store = await open("shared");
    const questions = Q.map((id) => suite.questions.find((q) => q.id === id)!);
    const populations = resolvePopulations(suite, ["POLPARTY"]);
    const spec = await parseModelSpec(`llama:${MODEL}`, { threads: 1, parallel: 1 });
    const ev = await runEval(store, { suite, questions, populations, model: spec, minCoverage: 0, persona: true, seed: 0, command: "test" });
    const r = await runScenario(scenario({ steps: 0 }), { store });
    assert.equal(r.model_calls, 0, "the measurement asked the model");
    assert.ok(r.cache_hits > 0);
    const step0 = r.fidelity!.points[0]!.steps;
    assert.equal(step0.length, 1);
    assert.equal(step0[0]!.step, 0);
    const groups = step0[0]!.groups.filter((g) => g.population !== "*");
    assert.ok(groups.length >= 2, "3 agents drawn from four parties fill at least two");
    for (const g of groups) {
      const e = ev.populations.find((p) => p.population === g.population)!;
      // a group's agents all ask eval's prompt: their mean is eval's distribution up to rounding of
      // the mean of identical numbers (a few ulps), so the alignments agree far below 1e-9
      assert.ok(Math.abs(g.alignment - e.mean) < 1e-9, `${g.population}: ${g.alignment} vs eval ${e.mean}`);
      assert.ok(Math.abs(g.ci[0] - e.ci[0]) < 1e-9 && Math.abs(g.ci[1] - e.ci[1]) < 1e-9);
      // the baselines are eval's too (the noise floor is simulated with eval's seed)
      assert.ok(Math.abs(g.uniform - e.uniform) < 1e-12 && g.noise !== null && e.noise !== null && Math.abs(g.noise - e.noise) < 1e-12, `${g.population} baselines`);
    }
  });

  let measured: SimulationReport;
  let measuredStore: Store;
  it("the same seed gives the same numbers", async () => {
    measuredStore = await open("a");
    measured = await runScenario(scenario(), { store: measuredStore });
    const again = await runScenario(scenario(), { store: await open("b") });
    assert.ok(measured.model_calls > 0 && again.model_calls > 0, "each store starts with an empty cache");
    assert.deepEqual(again.fidelity, measured.fidelity);
    assert.deepEqual(again.points, measured.points);
    const steps = measured.fidelity!.points[0]!.steps.map((s) => s.step);
    assert.deepEqual(steps, [0, 1, 2]);
    for (const s of measured.fidelity!.points[0]!.steps) {
      for (const g of s.groups) assert.ok(g.drift !== null && Math.abs(g.drift - (g.alignment - measured.fidelity!.points[0]!.steps[0]!.groups.find((x) => x.population === g.population)!.alignment)) < 1e-12);
    }
  });

  it("measuring does not change the dynamics' run", async () => {
    const plain = await runScenario(scenario({ measure: false }), { store: measuredStore });
    assert.notEqual(plain.run, measured.run);
    assert.equal(plain.fidelity, undefined);
    assert.deepEqual(plain.points, measured.points);
    const series = async (run: string) => (await measuredStore.simMetrics(run)).filter((x) => !x.metric.startsWith("fidelity."));
    assert.deepEqual(await series(plain.run), await series(measured.run));
    assert.ok((await measuredStore.simMetrics(measured.run)).some((x) => x.metric === "fidelity.v1|*|alignment"));
  });

  it("an opinion agent's memory is the sentence about its peers it read at its last step", async () => {
    const plan = await planPopulation({ attributes: ["POLPARTY"], wave: "W26" }, { suite, where: "t.yaml" });
    const population = drawPopulation(plan, 3, 3);
    const spec = await parseModelSpec(`llama:${MODEL}`, { threads: 1, parallel: 1 });
    const model = createSimModel(measuredStore, spec, { runId: "memory", point: 0, seed: 3 });
    const params = { question: "SAFECRIME_W26", attribute: "POLPARTY", steps: 1 };
    const d = AGENT_SCENARIOS.opinion!(params, { suite, model, population }) as OpinionDynamics;
    const seen: { step: number; answers: Int32Array; agents: ReturnType<NonNullable<OpinionDynamics["agents"]>> }[] = [];
    await simulate(d, { graph: completeGraph(3), params, seed: 3, onStep: (e) => void seen.push({ step: e.step, answers: Int32Array.from((e.state as OpinionState).answer), agents: d.agents!(e.state as OpinionState) }) });
    await model.close();
    assert.deepEqual(seen[0]!.agents.map((a) => a.memory), ["", "", ""], "nothing read before the first step");
    seen[1]!.agents.forEach((a, i) => {
      const counts = new Int32Array(d.setup.scored.length);
      seen[0]!.answers.forEach((x, j) => void (j !== i && counts[x]!++));
      assert.equal(a.memory, peersSentence(counts, d.setup.options), `agent ${i}`);
      assert.equal(a.persona, population.agents[i]!.persona);
      assert.equal(a.llm, true);
    });
  });

  it("a budget that runs out mid-measurement stores nothing of it; the same command goes on", async () => {
    const store = await open("budget");
    const cut = await runScenario(scenario({ budget: 1 }), { store });
    assert.equal(cut.stop, "budget");
    assert.deepEqual(cut.simulations.stopped, [{ point: 0, seed: 3, steps: 0 }]);
    assert.equal(cut.model_calls, 1);
    const rows = await store.simMetrics(cut.run);
    assert.ok(rows.length > 0, "the metrics of step 0 are kept");
    assert.ok(!rows.some((x) => x.metric.startsWith("fidelity.")), "a half measurement was stored");
    assert.deepEqual(cut.fidelity!.points[0]!.steps, []);
    const done = await runScenario(scenario(), { store });
    assert.equal(done.run, cut.run);
    assert.equal(done.stop, "done");
    assert.deepEqual(done.fidelity!.points[0]!.steps.map((s) => s.step), [0, 1, 2]);
  });
});
