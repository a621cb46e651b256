/**
 * The model-driven scenarios (src/sim/agents): opinion metrics on hand-made states (polarization,
 * the bimodality coefficient against values worked out by hand and scipy's skew/kurtosis), groups in
 * their real shares, the exact prompts, hybrid worlds, conformity's switch rates re-derived from the
 * model's own answers on a tiny run, and the donor game without a model (cooperation, selection,
 * seeded reproducibility).
 */
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { CivitasError } from "../../src/errors.js";
import { seededRng } from "../../src/metrics/index.js";
import { borrowClient } from "../../src/models/index.js";
import { llamaSpec } from "../../src/models/llama.js";
import {
  AGENT_SCENARIOS,
  assignGroups,
  bimodalityCoefficient,
  donorPrompt,
  opinionMetrics,
  parseShare,
  peersSentence,
  polarization,
  surveySetup,
  type ConformityDynamics,
  type ConformityState,
  type DonorState,
  type OpinionDynamics,
  type OpinionState,
} from "../../src/sim/agents/index.js";
import { pressuredPrompt, scoredDistribution } from "../../src/sim/agents/opinion.js";
import { simulate } from "../../src/sim/engine.js";
import { completeGraph, erdosRenyi, lattice2d } from "../../src/sim/graph.js";
import { createSimModel, type RecordingSimModel } from "../../src/sim/model.js";
import { Store } from "../../src/store/index.js";
import { loadOpinionQA, type Suite } from "../../src/surveys/index.js";
import { MODEL, OPINIONQA, tempDir } from "../helpers/paths.js";

const QUESTION = "SAFECRIME_W26";
let suite: Suite;
let dir: string;

before(async () => {
  dir = tempDir("civitas-agents-");
  suite = await loadOpinionQA({ data: OPINIONQA, waves: ["W26"] });
});

describe("opinion metrics", () => {
  it("polarization is the variance of the answers' positions over its maximum 1/4", () => {
    const x = [0, 1 / 3, 2 / 3, 1];
    assert.equal(polarization([2, 0, 0, 2], x), 1);
    assert.equal(polarization([0, 4, 0, 0], x), 0);
    assert.equal(polarization([3, 0, 0, 1], x), 0.75);
    // one at each position: variance 5/36
    assert.ok(Math.abs(polarization([1, 1, 1, 1], x) - 5 / 9) < 1e-15);
  });

  it("the bimodality coefficient matches hand-worked values (scipy skew/kurtosis with bias=False)", () => {
    // [0, 0, 0, 1]: G1 = 2, G2 = 4 (scipy.stats.skew/kurtosis, bias=False) -> BC = 5 / (4 + 27/2) = 2/7
    assert.ok(Math.abs(bimodalityCoefficient([3, 1], [0, 1]) - 2 / 7) < 1e-12);
    // [0, 0, 1, 1]: G1 = 0, G2 = -6 -> BC = 1 / (-6 + 27/2) = 2/15
    assert.ok(Math.abs(bimodalityCoefficient([2, 2], [0, 1]) - 2 / 15) < 1e-12);
    // 50 at each end: (n^2 - 1) / ((n - 2)(n - 3)) * b2 with b2 = 1 -> 9506/9999
    assert.ok(Math.abs(bimodalityCoefficient([50, 0, 0, 50], [0, 1 / 3, 2 / 3, 1]) - (98 * 97) / 9999) < 1e-12);
    // undefined with fewer than 4 answers or no spread
    assert.ok(Number.isNaN(bimodalityCoefficient([1, 2], [0, 1])));
    assert.ok(Number.isNaN(bimodalityCoefficient([0, 9], [0, 1])));
  });

  it("reports shares, clusters, consensus and TV from the population on hand-made states", () => {
    const setup = surveySetup("opinion", { question: QUESTION, attribute: "POLPARTY" }, suite);
    assert.deepEqual(setup.scored, [0, 1, 2, 3]);
    const split = opinionMetrics(setup, { n: 4, answer: Int32Array.from([0, 3, 0, 3]), changed: 2 });
    assert.equal(split.share_0, 0.5);
    assert.equal(split.share_3, 0.5);
    assert.equal(split.share_1, 0);
    assert.equal(split.share_4, undefined, "refusals are never held");
    assert.equal(split.polarization, 1);
    assert.ok(Math.abs(split.bimodality! - 2 / 15) < 1e-12);
    assert.equal(split.clusters, 2);
    assert.equal(split.consensus, 0);
    assert.equal(split.changed, 2);
    const pop = setup.population!;
    const tv = (Math.abs(0.5 - pop[0]!) + pop[1]! + pop[2]! + Math.abs(0.5 - pop[3]!)) / 2;
    assert.ok(Math.abs(split.tv_population! - tv) < 1e-12);
    const all = opinionMetrics(setup, { n: 3, answer: Int32Array.from([1, 1, 1]), changed: 0 });
    assert.equal(all.consensus, 1);
    assert.equal(all.clusters, 1);
    assert.equal(all.polarization, 0);
    assert.ok(Number.isNaN(all.bimodality!));
    const overall = suite.human(QUESTION, "overall")!.probs;
    assert.ok(Math.abs(all.tv_overall! - (1 - overall[1]!)) < 1e-12);
  });

  it("the population is the groups' human answers mixed in their respondent shares", () => {
    const setup = surveySetup("opinion", { question: QUESTION, attribute: "POLPARTY" }, suite);
    const groups = ["Republican", "Democrat", "Independent", "Other"].map((v) => suite.human(QUESTION, `POLPARTY=${v}`)!);
    const total = groups.reduce((a, g) => a + g.n!, 0);
    assert.deepEqual(setup.groups.map((g) => g.population!.id), groups.map((g) => g.population));
    setup.groups.forEach((g, i) => assert.equal(g.weight, groups[i]!.n! / total));
    for (let k = 0; k < 4; k++) {
      const mix = groups.reduce((a, g) => a + (g.n! / total) * g.probs[k]!, 0);
      assert.ok(Math.abs(setup.population![k]! - mix) < 1e-15);
    }
  });
});

describe("opinion world", () => {
  it("places groups in their real shares by the largest remainder", () => {
    // POLPARTY on SAFECRIME_W26: n = 1092, 1488, 1175, 376; 100 agents: quotas 26.43, 36.02, 28.44, 9.10
    const setup = surveySetup("opinion", { question: QUESTION, attribute: "POLPARTY" }, suite);
    const g = assignGroups(100, setup.groups.map((x) => x.weight), seededRng(1));
    const counts = [0, 0, 0, 0];
    for (const x of g) counts[x]!++;
    assert.deepEqual(counts, [26, 36, 29, 9]);
    assert.notDeepEqual([...g.slice(0, 20)], [...g.slice(0, 20)].sort(), "placed at random");
  });

  it("builds the prompt from the persona, the peers' answers and the standard question prompt", () => {
    const setup = surveySetup("opinion", { question: QUESTION, attribute: "POLPARTY=Democrat" }, suite);
    const sentence = peersSentence([1, 0, 0, 3], setup.options);
    assert.equal(sentence, "Of the people you talk to, 3 answered 'Not at all safe', 1 answered 'Very safe'.");
    const prompt = pressuredPrompt(setup.groups[0]!, sentence);
    assert.equal(
      prompt,
      "Answer the following question as if in politics today you considered yourself a Democrat.\n\n" +
        "Of the people you talk to, 3 answered 'Not at all safe', 1 answered 'Very safe'.\n\n" +
        "Question: How safe, if at all, would you say your local community is from crime? Would you say it is\n" +
        "A. Very safe\nB. Somewhat safe\nC. Not too safe\nD. Not at all safe\nE. Refused\nAnswer:",
    );
    assert.equal(peersSentence([0, 0, 0, 0], setup.options), "");
    assert.equal(pressuredPrompt(setup.groups[0]!, ""), setup.groups[0]!.prompt.text);
    // refusal mass is dropped and the rest renormalised
    assert.deepEqual([...scoredDistribution(setup, [0.1, 0.1, 0.1, 0.1, 0.6])!], [0.25, 0.25, 0.25, 0.25]);
    assert.equal(scoredDistribution(setup, [0, 0, 0, 0, 1]), null);
  });

  it("starts from the groups' human answers (init: human)", async () => {
    const params = { question: QUESTION, attribute: "POLPARTY", llm_share: 0, steps: 0 };
    const d = AGENT_SCENARIOS.opinion!(params, { suite }) as OpinionDynamics;
    const n = 4000;
    const r = await simulate(d, { graph: completeGraph(n), params, seed: 5 });
    const pop = d.setup.population!;
    for (let k = 0; k < 4; k++) {
      const se = Math.sqrt((pop[k]! * (1 - pop[k]!)) / n);
      assert.ok(Math.abs(r.final[`share_${k}`]! - pop[k]!) < 4 * se, `share_${k} ${r.final[`share_${k}`]} vs ${pop[k]}`);
    }
  });

  it("with llm_share 0 asks nothing: the voter model on personas, seeded", async () => {
    const store = await Store.open(path.join(dir, "hybrid0.duckdb"));
    try {
      const spec = await llamaSpec(MODEL);
      let opens = 0;
      const counted = { ...spec, open: () => (opens++, spec.open()) };
      const model = createSimModel(store, counted, { runId: "h0", point: 0, seed: 0 });
      const params = { question: QUESTION, attribute: "POLPARTY", llm_share: 0, steps: 200 };
      const graph = erdosRenyi(60, { meanDegree: 6 }, 1);
      const a = await simulate(AGENT_SCENARIOS.opinion!(params, { suite, model }), { graph, params, seed: 9, every: 10 });
      const b = await simulate(AGENT_SCENARIOS.opinion!(params, { suite }), { graph, params, seed: 9, every: 10 });
      await model.close();
      assert.equal(model.stats.calls, 0);
      assert.equal(opens, 0);
      assert.deepEqual(a.series, b.series, "the model plays no part");
      assert.ok(a.series.length > 2);
      assert.ok(a.final.changed! >= 0);
      if (a.converged) assert.equal(a.final.changed, 0);
    } finally {
      await store.close();
    }
  });

  it("refuses what it cannot run, naming the parameter", () => {
    const bad = (params: Record<string, string | number>, deps: { suite?: Suite } = { suite }) => () => AGENT_SCENARIOS.opinion!(params, deps);
    assert.throws(bad({ question: QUESTION, llm_share: 0.5 }), (e: unknown) => e instanceof CivitasError && /llm_share = 0.5 needs a model/u.test(e.message));
    assert.throws(bad({ question: "NOPE_W26", llm_share: 0 }), /suite opinionqa has no question "NOPE_W26"/u);
    assert.throws(bad({ question: QUESTION, llm_share: 0, init: "guess" }), /parameter init must be one of human, model, got guess/u);
    assert.throws(bad({ question: QUESTION, llm_share: 2 }), /parameter llm_share must be a number >= 0 and <= 1, got 2/u);
    assert.throws(bad({ question: QUESTION, llm_share: 0 }, {}), /scenario opinion needs a survey/u);
    assert.throws(bad({ question: QUESTION, attribute: "PARTY", llm_share: 0 }), /unknown population "PARTY"/u);
  });
});

describe("model-driven worlds with the tiny model", () => {
  let store: Store;
  let spec: Awaited<ReturnType<typeof llamaSpec>>;
  let shared: ReturnType<Awaited<ReturnType<typeof llamaSpec>>["open"]> | null = null;
  const open = () => (shared ??= spec.open());
  /** A SimModel on the shared tiny model (opened once for these tests; its clients do not close it). */
  const simModel = (runId: string, seed: number): RecordingSimModel =>
    createSimModel(
      store,
      {
        ...spec,
        open: async () => borrowClient(await open()),
      },
      { runId, point: 0, seed },
    );

  before(async () => {
    store = await Store.open(path.join(dir, "tiny.duckdb"));
    spec = await llamaSpec(MODEL, { parallel: 2, threads: 1 });
  });
  after(async () => {
    if (shared) await (await shared).close();
    await store.close();
  });

  it("hybrid opinion world: llm_share of the agents ask the model at every step", async () => {
    const model = simModel("hybrid", 4);
    const params = { question: QUESTION, attribute: "POLPARTY", llm_share: 0.5, steps: 2 };
    const d = AGENT_SCENARIOS.opinion!(params, { suite, model }) as OpinionDynamics;
    let state: OpinionState | undefined;
    await simulate(d, { graph: lattice2d(4, 3), params, seed: 4, onStep: (e) => void (state = e.state as OpinionState) });
    await model.close();
    assert.equal(state!.llm.reduce((a, b) => a + b, 0), 6);
    assert.equal(model.stats.calls, 12, "6 model-driven agents x 2 steps (init from human answers asks nothing)");
    const calls = await store.simCalls("hybrid", 0, 4);
    const asking = new Set(calls.map((c) => c.agent));
    assert.deepEqual([...asking].sort((a, b) => a - b), [...state!.llm.keys()].filter((i) => state!.llm[i]));
  });

  it("conformity: switch rates are the share of agents whose mode moved to the peers' answer", async () => {
    const model = simModel("conformity", 1);
    const params = { question: QUESTION, attribute: "POLPARTY", max_peers: 3, steps: 5 };
    const d = AGENT_SCENARIOS.conformity!(params, { suite, model }) as ConformityDynamics;
    let state: ConformityState | undefined;
    const r = await simulate(d, { graph: completeGraph(6), params, seed: 1, every: 1, onStep: (e) => void (state = e.state as ConformityState) });
    assert.equal(r.steps, 1, "one step");
    assert.equal(r.converged, true);
    assert.equal(model.stats.calls, 6 + 6 * 3);
    const st = state!;
    // re-derive every answer from the model (answered from this run's memory, no new model call)
    const setup = d.setup;
    const argmax = (p: Float64Array) => p.indexOf(Math.max(...p));
    const modelCalls = model.stats.modelCalls;
    let moved = [0, 0, 0];
    for (let i = 0; i < 6; i++) {
      const g = setup.groups[st.group[i]!]!;
      const own = scoredDistribution(setup, (await model.optionDistribution({ prompt: g.prompt.text, labels: setup.labels, step: 9, agent: i })).distribution)!;
      assert.equal(st.own[i], argmax(own));
      const others = [0, 1, 2, 3].filter((k) => k !== st.own[i]);
      const lowest = others.reduce((a, k) => (own[k]! < own[a]! ? k : a));
      assert.equal(st.peer[i], lowest, "the peers give the answer the model ranked lowest");
      for (let k = 1; k <= 3; k++) {
        const counts = [0, 0, 0, 0];
        counts[lowest] = k;
        const p = pressuredPrompt(g, peersSentence(counts, setup.options));
        const under = scoredDistribution(setup, (await model.optionDistribution({ prompt: p, labels: setup.labels, step: 9, agent: i })).distribution)!;
        assert.equal(st.pressured[i * 3 + k - 1], argmax(under));
        assert.equal(st.peerMass[i * 4 + k], under[lowest]);
        if (argmax(under) === lowest) moved[k - 1]!++;
      }
    }
    assert.equal(model.stats.modelCalls, modelCalls, "all answered from the run's own calls");
    await model.close();
    moved = moved.map((m) => m / 6);
    assert.deepEqual([r.final.switch_rate_1, r.final.switch_rate_2, r.final.switch_rate_3], moved);
    assert.ok(Math.abs(r.final.switch_rate! - (moved[0]! + moved[1]! + moved[2]!) / 3) < 1e-15);
    const start = r.series[0]!.metrics;
    assert.equal(r.series[0]!.step, 0);
    assert.ok(Number.isNaN(start.switch_rate_1!) && Number.isNaN(start.peer_mass_1!), "no pressure yet at step 0");
    assert.ok(start.peer_mass_0! >= 0 && start.peer_mass_0! <= 0.25, "the lowest-ranked of 4 options has at most 1/4");
  });

  it("conformity: rule-based agents conform from rule_threshold peers", async () => {
    const params = { question: QUESTION, attribute: "POLPARTY", llm_share: 0, max_peers: 5, rule_threshold: 3, steps: 1 };
    const d = AGENT_SCENARIOS.conformity!(params, { suite });
    const r = await simulate(d, { graph: completeGraph(50), params, seed: 2 });
    assert.deepEqual([1, 2, 3, 4, 5].map((k) => r.final[`switch_rate_${k}`]), [0, 0, 1, 1, 1]);
    assert.equal(r.final.switch_rate, 0.6);
    assert.ok(Number.isNaN(r.final.peer_mass_0!), "no model-driven agent");
  });

  it("donor with the model: asks once per donor and round, parses the percentage", async () => {
    const model = simModel("donor", 3);
    const params = { rounds: 2, steps: 1, temperature: 0.8 };
    const d = AGENT_SCENARIOS.donor!(params, { model });
    const r = await simulate(d, { graph: completeGraph(5), params, seed: 3, every: 1 });
    await model.close();
    assert.equal(model.stats.calls, 5 * 2);
    assert.equal(r.series.length, 2);
    const m = r.final;
    assert.ok(m.unparsed! >= 0 && m.unparsed! <= 1);
    assert.ok(m.cooperation! >= 0 && m.cooperation! <= 1);
    assert.equal(m.llm_share, 1);
    const calls = await store.simCalls("donor", 0, 3);
    const rows = await store.lookupRequests(calls.map((c) => c.requestKey));
    for (const c of calls) {
      const row = rows.get(c.requestKey)!;
      assert.equal(row.method, "sample");
      assert.match(row.prompt, /^You are playing a game with other people\..*\nYour strategy: .*\n\nYou have \d+\.\d units of resources\. The other player (gave \d+% of their resources in their last round|has not played a round yet)\.\nWhat percentage of your resources do you give to the other player\? Answer with a number from 0 to 100\.\nAnswer:$/su);
    }
  });
});

describe("donor game without a model", () => {
  const params = { rounds: 1, steps: 6, noise: 0, mutation: 0 };

  it("is seeded: the same seed gives the same run, another seed another", async () => {
    const p = { rounds: 5, steps: 8 };
    const graph = erdosRenyi(40, { meanDegree: 6 }, 2);
    const a = await simulate(AGENT_SCENARIOS.donor!(p, {}), { graph, params: p, seed: 11, every: 1 });
    const b = await simulate(AGENT_SCENARIOS.donor!(p, {}), { graph, params: p, seed: 11, every: 1 });
    const c = await simulate(AGENT_SCENARIOS.donor!(p, {}), { graph, params: p, seed: 12, every: 1 });
    assert.deepEqual(a.series, b.series);
    assert.notDeepEqual(a.series, c.series);
    assert.equal(a.steps, 8, "runs every generation");
    assert.ok(Number.isNaN(a.series[0]!.metrics.cooperation!));
    assert.equal(a.series[0]!.metrics.resources, 10);
    for (const s of a.series.slice(1)) assert.ok(s.metrics.cooperation! >= 0 && s.metrics.cooperation! <= 1);
  });

  it("one round: cooperation is the mean generosity, resources grow by (multiplier - 1) x what was given", async () => {
    const graph = completeGraph(30);
    const snapshots: Float64Array[] = [];
    const r = await simulate(AGENT_SCENARIOS.donor!(params, {}), {
      graph,
      params,
      seed: 4,
      every: 1,
      onStep: (e) => void snapshots.push(Float64Array.from((e.state as DonorState).generosity)),
    });
    for (let t = 1; t <= 6; t++) {
      const before = snapshots[t - 1]!;
      const mean = before.reduce((a, b) => a + b, 0) / before.length;
      const m = r.series[t]!.metrics;
      assert.ok(Math.abs(m.cooperation! - mean) < 1e-12, `generation ${t}: an unknown reputation counts as 1`);
      assert.ok(Math.abs(m.resources! - 10 * (1 + m.cooperation!)) < 1e-9);
      // selection with no mutation: the next generation holds only strategies of this one's survivors
      const after = snapshots[t]!;
      const kept = new Set(before);
      for (const g of after) assert.ok(kept.has(g));
      assert.ok(new Set(after).size <= 15, "the top half survive; the rest are copies");
    }
  });

  it("the prompt and the parsing of a percentage", () => {
    const p = donorPrompt(2, "Your strategy: keep your resources. Give little or nothing.", 12.345, 0.4);
    assert.equal(
      p,
      "You are playing a game with other people. In each round every player is paired with another player and decides what share of their resources to give them; " +
        "the other player receives 2 times what is given. Your goal is to have as many resources as possible at the end of the game.\n" +
        "Your strategy: keep your resources. Give little or nothing.\n\n" +
        "You have 12.3 units of resources. The other player gave 40% of their resources in their last round.\n" +
        "What percentage of your resources do you give to the other player? Answer with a number from 0 to 100.\nAnswer:",
    );
    assert.match(donorPrompt(2, "S", 10, Number.NaN), /The other player has not played a round yet\./u);
    assert.equal(parseShare(" 40%"), 0.4);
    assert.equal(parseShare("I give 250"), 1);
    assert.equal(parseShare("-3"), 0);
    assert.equal(parseShare("12.5 percent"), 0.125);
    assert.equal(parseShare(" nothing"), null);
  });
});
