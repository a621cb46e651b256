/**
 * `cooperation` (src/sim/agents/cooperation.ts): the paper's pairing schedule, the accounting of
 * donations and costly punishment, selection and inheritance, all against values worked out by
 * hand; a whole rule-based generation computed by hand; the tiny model writing strategies that the
 * next generation reads; and `civitas simulate examples/cooperation.yaml` giving the same numbers
 * for the same seed and under --replay with no model.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { describe, it } from "node:test";
import { CivitasError } from "../../src/errors.js";


import {
  AGENT_SCENARIOS,
  applyAction,
  parseDecision,
  parseStrategy,
  rankAgents,
  roundPairs,
  ruleAction,
  type CooperationState,
} from "../../src/sim/agents/index.js";
import { ruleStrategyText, traceText } from "../../src/sim/agents/cooperation.js";
import { simulate } from "../../src/sim/engine.js";
import { completeGraph } from "../../src/sim/graph.js";

import { Store } from "../../src/store/index.js";
import { runCli } from "../helpers/cli.js";
import { REPO, tempDir } from "../helpers/paths.js";

const dir = tempDir("civitas-coop-");

describe("cooperation: the rules by hand", () => {
  it("pairs by the paper's bipartite round robin and its reversal; game 2 swaps the roles", () => {
    // bipartiteRoundRobin([0,1,2,3]) then extendRounds, worked out from the notebook's code:
    // A = [0,1], B = [2,3]; round 1 zip(A, B) -> (0,2),(1,3); round 2 B rotated by one, roles
    // toggled -> (3,0),(2,1); rounds 3-4 the same pairs reversed.
    const order = [0, 1, 2, 3];
    assert.deepEqual(roundPairs(order, 0, false), [[0, 2], [1, 3]]);
    assert.deepEqual(roundPairs(order, 1, false), [[3, 0], [2, 1]]);
    assert.deepEqual(roundPairs(order, 2, false), [[2, 0], [3, 1]]);
    assert.deepEqual(roundPairs(order, 3, false), [[0, 3], [1, 2]]);
    assert.deepEqual(roundPairs(order, 4, false), roundPairs(order, 0, false), "cycles after n rounds");
    assert.deepEqual(roundPairs(order, 0, true), [[2, 0], [3, 1]]);
    assert.deepEqual(roundPairs([3, 1, 0, 2], 0, false), [[3, 0], [1, 2]], "pairs the shuffled order");
    // n = 6: over the n rounds every agent meets every agent of the other half once as donor and once as recipient
    const six = [0, 1, 2, 3, 4, 5];
    const seen = new Set<string>();
    for (let r = 0; r < 6; r++) {
      const pairs = roundPairs(six, r, false);
      assert.equal(new Set(pairs.flat()).size, 6, "everyone plays once a round");
      for (const [d, c] of pairs) seen.add(`${d}>${c}`);
    }
    assert.equal(seen.size, 18);
    for (const a of [0, 1, 2]) for (const b of [3, 4, 5]) assert.ok(seen.has(`${a}>${b}`) && seen.has(`${b}>${a}`));
  });

  it("donating gives multiplier x, punishing costs x and takes loss x (floored at 0); what the donor cannot afford changes nothing", () => {
    const r = Float64Array.from([10, 10, 4]);
    assert.equal(applyAction(r, 0, 1, { kind: "donate", units: 4 }, 2, 2), true);
    assert.deepEqual([...r], [6, 18, 4]);
    assert.equal(applyAction(r, 0, 1, { kind: "punish", units: 3 }, 2, 2), true);
    assert.deepEqual([...r], [3, 12, 4]);
    assert.equal(applyAction(r, 1, 2, { kind: "punish", units: 5 }, 2, 2), true);
    assert.deepEqual([...r], [3, 7, 0], "4 - 10 floors at 0");
    assert.equal(applyAction(r, 0, 1, { kind: "donate", units: 3.5 }, 2, 2), false);
    assert.equal(applyAction(r, 0, 1, { kind: "punish", units: -1 }, 2, 2), false);
    assert.equal(applyAction(r, 0, 1, { kind: "none", units: 0 }, 2, 2), false);
    assert.deepEqual([...r], [3, 7, 0]);
    assert.equal(applyAction(r, 0, 1, { kind: "punish", units: 1 }, 2, 3), true, "punishment_loss 3");
    assert.deepEqual([...r], [2, 4, 0]);
  });

  it("ranks by score with ties in the shuffled order; the top half survive", () => {
    const { survivors, dropped } = rankAgents([3, 5, 5, 1, 0, 2], [5, 4, 3, 2, 1, 0]);
    assert.deepEqual(survivors, [2, 1, 0], "the tie 5 = 5 keeps the order 2 before 1");
    assert.deepEqual(dropped, [5, 3, 4]);
  });

  it("rule-based decisions, strategy texts, traces and the parsing of the model's answers", () => {
    const start = { kind: "start" as const, share: Number.NaN };
    assert.deepEqual(ruleAction(0.5, 0.6, 0.1, 10, start, true), { kind: "donate", units: 5 });
    assert.deepEqual(ruleAction(0.5, 0.6, 0.1, 10, { kind: "donate", share: 0.6 }, true), { kind: "donate", units: 5 });
    assert.deepEqual(ruleAction(0.5, 0.6, 0.1, 10, { kind: "donate", share: 0.59 }, true), { kind: "punish", units: 1 });
    assert.deepEqual(ruleAction(0.5, 0.6, 0.1, 10, { kind: "punish", share: 0 }, false), { kind: "donate", units: 0 });
    assert.equal(
      ruleStrategyText(0.5, 0.6, 0.1, true),
      "My strategy will be to give 50% of my resources to a recipient who has not played yet or who gave at least 60% of their resources in their last round, and to punish anyone else by spending 10% of my resources.",
    );
    assert.match(ruleStrategyText(0.5, 0.6, 0.1, false), /and to give nothing to anyone else\.$/u);
    assert.equal(traceText(["a", "b", "c", "d"]), "d c b", "the last three, most recent first");
    assert.deepEqual(parseStrategy("Think first. My strategy will be to give half."), ["Think first.", "My strategy will be to give half."]);
    assert.deepEqual(parseStrategy("  just words "), ["", "just words"]);
    assert.deepEqual(parseDecision("I trust them. Answer: 4.5 units", false), { kind: "donate", units: 4.5 });
    assert.equal(parseDecision("I give 4", false), null, "no Answer:");
    assert.equal(parseDecision("Answer: about 4", false), null, "the number must lead");
    assert.deepEqual(parseDecision("mean. Answer: Punish, 2,5", true), { kind: "punish", units: 2.5 });
    assert.deepEqual(parseDecision("Answer: donate 3", true), { kind: "donate", units: 3 });
    assert.equal(parseDecision("Answer: 3", true), null, "with punishment the answer names its action");
  });

  it("a rule-based generation worked out by hand: donations, punishment, scores, selection and inheritance", async () => {
    // Two agents: 0 gives 50% to the good (gave >= 60% last, or new), punishes others with 10%;
    // 1 gives 20% to the good (>= 30%), punishes others with 25%. Rounds 2, games 2 (the second
    // swaps the roles, so the order the shuffle picks does not matter for the sums):
    //   one game:   0 gives 5 -> (5, 20); 1 sees 0 gave 50% >= 30%, gives 0.2 x 20 = 4 -> (13, 16)
    //   the other:  1 gives 2 -> (14, 8); 0 sees 1 gave 20% < 60%, punishes with 0.1 x 14 = 1.4
    //               -> (12.6, 8 - 2.8 = 5.2)
    // scores 25.6 and 21.2; shares given 0.5, 0.2, 0.2, 0 (punishing) -> donation 0.225,
    // punish_rate 1/4, resources ((13 + 16) / 2 + (12.6 + 5.2) / 2) / 2 = 11.7.
    // Without punishment 0 gives 0 instead: (14, 8); scores 27 and 24; resources (14.5 + 11) / 2.
    for (const punishment of [true, false]) {
      const params = { llm_share: 0, steps: 1, rounds: 2, games: 2, mutation: 0, punishment };
      let st: CooperationState | undefined;
      const r = await simulate(AGENT_SCENARIOS.cooperation!(params, {}), {
        graph: completeGraph(2),
        params,
        seed: 7,
        every: 1,
        onStep: (e) => {
          st = e.state as CooperationState;
          if (e.step !== 0) return;
          [st.give[0], st.threshold[0], st.punish[0]] = [0.5, 0.6, 0.1];
          [st.give[1], st.threshold[1], st.punish[1]] = [0.2, 0.3, 0.25];
          st.strategy[0] = ruleStrategyText(0.5, 0.6, 0.1, punishment);
        },
      });
      const m = r.series[1]!.metrics;
      const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-12, `${what}: ${a} vs ${b}`); // sums of a few products
      close(m.donation!, 0.225, "donation");
      close(m.punish_rate!, punishment ? 0.25 : 0, "punish_rate");
      close(m.resources!, punishment ? 11.7 : 12.75, "resources");
      assert.ok(Number.isNaN(m.unparsed!), "no model decision");
      close(st!.score[0]!, punishment ? 25.6 : 27, "score of 0");
      close(st!.score[1]!, punishment ? 21.2 : 24, "score of 1");
      // agent 0 survives; agent 1 is replaced by a generation-2 copy of it (mutation 0)
      assert.deepEqual([...st!.born], [1, 2]);
      assert.deepEqual([st!.give[1], st!.threshold[1], st!.punish[1]], [0.5, 0.6, 0.1]);
      assert.equal(st!.strategy[1], ruleStrategyText(0.5, 0.6, 0.1, punishment));
      assert.deepEqual(st!.inherited, [ruleStrategyText(0.5, 0.6, 0.1, punishment)]);
      assert.equal(r.series[0]!.metrics.resources, 10);
      assert.ok(Number.isNaN(r.series[0]!.metrics.donation!));
    }
  });

  it("new rule-based agents copy the survivors, best first, round robin; seeded", async () => {
    const params = { llm_share: 0, steps: 1, mutation: 0, punishment: false };
    const snap: { give: number[]; score: number[]; born: number[] }[] = [];
    const run = () =>
      simulate(AGENT_SCENARIOS.cooperation!(params, {}), {
        graph: completeGraph(8),
        params,
        seed: 3,
        every: 1,
        onStep: (e) => {
          const s = e.state as CooperationState;
          snap.push({ give: [...s.give], score: [...s.score], born: [...s.born] });
        },
      });
    const a = await run();
    const [before, after_] = [snap[0]!, snap[1]!];
    const ranked = [...before.give.keys()].sort((x, y) => after_.score[y]! - after_.score[x]!);
    assert.equal(new Set(after_.score).size, 8, "no ties in this run (else the order would need the shuffle)");
    const survivors = ranked.slice(0, 4);
    ranked.slice(4).forEach((i, k) => {
      assert.equal(after_.born[i], 2);
      assert.equal(after_.give[i], before.give[survivors[k % 4]!], `dropped agent ${i} copies survivor ${survivors[k % 4]}`);
    });
    for (const i of survivors) assert.equal(after_.give[i], before.give[i]);
    snap.length = 0;
    const b = await run();
    assert.deepEqual(a.series, b.series, "same seed, same numbers");
  });

  it("agents(): a population's personas and attributes, the strategy as memory", async () => {
    const agents = [
      { attributes: { POLPARTY: "Democrat" }, persona: "I am a Democrat." },
      { attributes: { POLPARTY: "Republican" }, persona: "I am a Republican." },
    ];
    const population = { source: "hand-made", attributes: ["POLPARTY"], agents };
    const params = { llm_share: 0, steps: 1, punishment: false };
    const d = AGENT_SCENARIOS.cooperation!(params, { population });
    let st: CooperationState | undefined;
    await simulate(d, { graph: completeGraph(2), params, seed: 1, onStep: (e) => void (st = e.state as CooperationState) });
    const measured = d.agents!(st!);
    assert.deepEqual(measured.map((a) => [a.persona, a.attributes, a.llm]), agents.map((a) => [a.persona, a.attributes, false]));
    measured.forEach((a, i) => assert.equal(a.memory, `As you will recall, here is the strategy you decided to follow: ${st!.strategy[i]}`));
    assert.match(measured[0]!.memory, /My strategy will be to give \d+% of my resources/u);
    assert.throws(
      () => AGENT_SCENARIOS.cooperation!(params, { population }).init({ graph: completeGraph(4), params: {}, rng: { int: () => 0, float: () => 0 }, seed: 1 }),
      (e: unknown) => e instanceof CivitasError && /population has 2 agents, the graph 4/u.test(e.message),
    );
  });

  it("needs an even number of agents", () => {
    const d = AGENT_SCENARIOS.cooperation!({ llm_share: 0 }, {});
    assert.throws(
      () => d.init({ graph: completeGraph(5), params: {}, rng: { int: () => 0, float: () => 0 }, seed: 1 }),
      (e: unknown) => e instanceof CivitasError && /agents must be even/u.test(e.message),
    );
  });
});

describe("civitas simulate examples/cooperation.yaml with the tiny model", () => {
  interface Out {
    run: string;
    model: string;
    points: { metrics: Record<string, { per_seed: (number | null)[] }> }[];
  }
  const store = path.join(dir, "cli.duckdb");
  // 2 agents, 1 round a game: generation 1 asks 2 strategies and 1 decision, generation 2 one
  // new strategy (the loser's successor) and 1 decision; 5 calls of ~1,500-token prompts
  const small = ["--set", "agents=2", "--set", "rounds=1", "--seeds", "1"];
  const run = async (args: string[]): Promise<Out> => {
    const r = await runCli(["simulate", path.join(REPO, "examples", "cooperation.yaml"), "--json", "--store", store, ...small, ...args], { cwd: REPO });
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as Out;
  };
  const per = (o: Out) => Object.fromEntries(Object.entries(o.points[0]!.metrics).map(([k, v]) => [k, v.per_seed]));

  it("the new agent of generation 2 is shown the survivor's strategy; --replay gives the same numbers with no model", async () => {
    const a = await run([]);
    assert.deepEqual(per(a).llm_share, [1]);
    const d = per(a).donation![0]!;
    assert.ok(d >= 0 && d <= 1);
    // the prompts and completions as stored
    const s = await Store.open(store);
    let prompts: { step: number; agent: number; prompt: string; text: string }[];
    try {
      const calls = await s.simCalls(a.run, 0, 1);
      const rows = await s.lookupRequests(calls.map((c) => c.requestKey));
      prompts = calls.map((c) => {
        const row = rows.get(c.requestKey)!;
        return { step: c.step, agent: c.agent, prompt: row.prompt, text: String((row.raw as { texts: string[] }).texts[0]) };
      });
    } finally {
      await s.close();
    }
    assert.equal(prompts.length, 5);
    const asks = prompts.filter((p) => /create a strategy|Modify this advice/u.test(p.prompt));
    assert.deepEqual(asks.map((p) => p.step), [1, 1, 2]);
    // generation 2's writer replaces the loser; it reads the survivor's strategy (the other agent's, parsed from its completion)
    const writer = asks[2]!.agent;
    const survivor = asks.find((p) => p.step === 1 && p.agent !== writer)!;
    assert.match(asks[2]!.prompt, /^You are a game-playing agent\.[^]*Your name is 2_\d\. How would you approach the game\? Here is the advice of the best-performing 50%/u);
    assert.ok(asks[2]!.prompt.includes(`\n1. ${parseStrategy(survivor.text)[1]}\n`), "the survivor's strategy as it wrote it");
    const decisions = prompts.filter((p) => p.prompt.includes("You will take the role of donor."));
    assert.equal(decisions.length, 2);
    for (const p of decisions) {
      assert.match(p.prompt, /You may also choose to punish the recipient by spending x units to take away 2x units from them\./u);
      assert.match(p.prompt, /It is now round 1\. In this round, you have been paired with \d_\d\. They currently have 10 units of the valuable resource\.\d_\d did not have any previous interactions\.You will take the role of donor\./u);
      assert.match(p.prompt, /State your answer as EITHER Donate, x OR Punish, x/u);
      assert.match(p.prompt, /\n\nJustification:$/u);
    }
    const c = await run(["--replay", a.run]);
    assert.notEqual(c.run, a.run);
    assert.match(c.model, /\(replay of [0-9a-f]{12}\)$/u);
    assert.deepEqual(per(c), per(a), "the same numbers from the record");
  });
});
