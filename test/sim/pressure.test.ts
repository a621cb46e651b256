/**
 * `pressure` (src/sim/agents/pressure.ts): the peers' composition and texts by mode, the switch
 * shares on constructed answers, rule-based agents against switch rates worked out by hand, the
 * prompts built as conformity's, and the tiny model through `civitas simulate
 * examples/pressure.yaml`: its switch rates re-derived from the stored answers, the same numbers
 * for the same seed, and again under --replay with no model.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { before, describe, it } from "node:test";
import {
  AGENT_SCENARIOS,
  peerComposition,
  peerText,
  surveySetup,
  switchShares,
  type PressureDynamics,
  type PressureState,
} from "../../src/sim/agents/index.js";
import { pressuredPrompt } from "../../src/sim/agents/opinion.js";
import { simulate } from "../../src/sim/engine.js";
import { completeGraph } from "../../src/sim/graph.js";
import { Store } from "../../src/store/index.js";
import { loadOpinionQA, type Suite } from "../../src/surveys/index.js";
import { runCli } from "../helpers/cli.js";
import { OPINIONQA, REPO, tempDir } from "../helpers/paths.js";

const QUESTION = "SAFECRIME_W26";
const dir = tempDir("civitas-pressure-");
let suite: Suite;
before(async () => {
  suite = await loadOpinionQA({ data: OPINIONQA, waves: ["W26"] });
});

describe("pressure: the peers by hand", () => {
  it("split peers: ceil(k/2) give the target, floor(k/2) the agent's own answer; unanimous and adversarial: all k the target", () => {
    assert.deepEqual([1, 2, 3, 4, 5].map((k) => peerComposition("split", k)), [
      { target: 1, own: 0 },
      { target: 1, own: 1 },
      { target: 2, own: 1 },
      { target: 2, own: 2 },
      { target: 3, own: 2 },
    ]);
    for (const mode of ["unanimous", "adversarial"] as const) assert.deepEqual(peerComposition(mode, 4), { target: 4, own: 0 });
  });

  it("the texts: conformity's sentence, the split counts, one reason per adversarial peer", () => {
    const options = ["Very safe", "Somewhat safe", "Not too safe", "Not at all safe"];
    assert.equal(peerText("unanimous", 3, 3, 0, options), "Of the people you talk to, 3 answered 'Not at all safe'.");
    assert.equal(peerText("split", 3, 3, 0, options), "Of the people you talk to, 2 answered 'Not at all safe', 1 answered 'Very safe'.");
    assert.equal(peerText("split", 2, 3, 0, options), "Of the people you talk to, 1 answered 'Very safe', 1 answered 'Not at all safe'.", "a tie lists survey order");
    assert.equal(
      peerText("adversarial", 2, 1, 0, options),
      "Of the people you talk to, 2 answered 'Somewhat safe'.\n" +
        "- \"I am sure it is 'Somewhat safe'. I have looked into this carefully.\"\n" +
        "- \"It has to be 'Somewhat safe'. Everything I have seen points that way.\"",
    );
    const seven = peerText("adversarial", 7, 1, 0, options).split("\n");
    assert.equal(seven.length, 8);
    assert.equal(seven[7], seven[1], "peer 7 uses the first template again");
  });

  it("switch shares by k (and by group) on constructed answers", () => {
    // 3 agents, K = 2; targets 1, 2, 0; answers under k = 1, 2:
    //   agent 0: 0, 1 (switches at k = 2); agent 1: 2, 2 (both); agent 2: 1, 0 (at k = 2)
    const answers = [0, 1, 2, 2, 1, 0];
    const target = [1, 2, 0];
    assert.deepEqual(switchShares(answers, target, 3, 2), [1 / 3, 1]);
    assert.deepEqual(switchShares(answers, target, 3, 2, (i) => i !== 1), [0, 1]);
    assert.ok(switchShares(answers, target, 3, 2, () => false).every(Number.isNaN));
  });

  it("rule-based agents switch once rule_threshold peers give the target: later under split peers", async () => {
    const expect = { unanimous: [0, 0, 1, 1, 1, 1], split: [0, 0, 0, 0, 1, 1], adversarial: [0, 0, 1, 1, 1, 1] } as const;
    for (const mode of ["unanimous", "split", "adversarial"] as const) {
      const params = { question: QUESTION, attribute: "POLPARTY", llm_share: 0, max_peers: 6, rule_threshold: 3, mode, steps: 1 };
      const d = AGENT_SCENARIOS.pressure!(params, { suite }) as PressureDynamics;
      const r = await simulate(d, { graph: completeGraph(40), params, seed: 2 });
      assert.deepEqual([1, 2, 3, 4, 5, 6].map((k) => r.final[`switch_rate_${k}`]), [...expect[mode]], mode);
      const mean = expect[mode].reduce<number>((a, b) => a + b, 0) / 6;
      assert.ok(Math.abs(r.final.switch_rate! - mean) < 1e-15);
      for (let g = 0; g < d.groupNames.length; g++) assert.ok(Math.abs(r.final[`switch_group_${g}`]! - mean) < 1e-15, `group ${d.groupNames[g]}`);
    }
  });

  it("a population's agents keep their own personas, grouped by its first attribute", async () => {
    const agents = [
      { attributes: { POLPARTY: "Democrat" }, persona: "I am a Democrat from Ohio." },
      { attributes: { POLPARTY: "Republican" }, persona: "I am a Republican from Texas." },
      { attributes: { POLPARTY: "Democrat" }, persona: "I am a Democrat from Maine." },
    ];
    const population = { source: "hand-made", attributes: ["POLPARTY"], agents };
    const params = { question: QUESTION, llm_share: 0, max_peers: 2, steps: 1 };
    const d = AGENT_SCENARIOS.pressure!(params, { suite, population }) as PressureDynamics;
    assert.deepEqual(d.groupNames, ["POLPARTY=Democrat", "POLPARTY=Republican"]);
    let st: PressureState | undefined;
    await simulate(d, { graph: completeGraph(3), params, seed: 1, onStep: (e) => void (st = e.state as PressureState) });
    assert.deepEqual([...st!.group], [0, 1, 0]);
    const measured = d.agents!(st!);
    assert.deepEqual(measured.map((a) => a.persona), agents.map((a) => a.persona));
    assert.deepEqual(measured[1]!.attributes, { POLPARTY: "Republican" });
    assert.match(measured[0]!.memory, /^Of the people you talk to, 2 answered '/u);
  });
});

describe("civitas simulate examples/pressure.yaml with the tiny model", () => {
  interface Out {
    run: string;
    model: string;
    points: { metrics: Record<string, { per_seed: (number | null)[] }> }[];
  }
  const run = async (store: string, args: string[] = []): Promise<Out> => {
    const r = await runCli(["simulate", path.join(REPO, "examples", "pressure.yaml"), "--json", "--store", path.join(dir, store), "--seeds", "1", ...args], { cwd: REPO });
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as Out;
  };
  const per = (o: Out) => Object.fromEntries(Object.entries(o.points[0]!.metrics).map(([k, v]) => [k, v.per_seed]));

  it("switch rates (the model's most likely answers) re-derived from the stored answers", async () => {
    const a = await run("a.duckdb");
    const setup = surveySetup("pressure", { question: QUESTION, attribute: "POLPARTY" }, suite);
    const s = await Store.open(path.join(dir, "a.duckdb"));
    const byAgent = new Map<number, { prompt: string; mass: readonly number[] }[]>();
    try {
      const calls = await s.simCalls(a.run, 0, 1);
      const rows = await s.lookupRequests(calls.map((c) => c.requestKey));
      for (const c of calls) {
        const row = rows.get(c.requestKey)!;
        byAgent.set(c.agent, [...(byAgent.get(c.agent) ?? []), { prompt: row.prompt, mass: row.labelMass }]);
      }
    } finally {
      await s.close();
    }
    assert.equal(byAgent.size, 4);
    // scored options' mass (survey order) of a stored answer; the argmax; the lowest-ranked other option
    const scored = (mass: readonly number[]) => {
      const out = [0, 0, 0, 0];
      mass.forEach((p, k) => {
        const j = setup.shownToScored[k]!;
        if (j >= 0) out[j]! += p;
      });
      return out;
    };
    const argmax = (d: number[]) => d.indexOf(Math.max(...d));
    const moved = [0, 0, 0];
    for (const asked of byAgent.values()) {
      assert.equal(asked.length, 4, "alone, then under 1, 2, 3 peers");
      const own = scored(asked[0]!.mass);
      const mine = argmax(own);
      const target = [0, 1, 2, 3].filter((k) => k !== mine).reduce((x, k) => (own[k]! < own[x]! ? k : x));
      for (let k = 1; k <= 3; k++) {
        const p = asked[k]!.prompt;
        assert.ok(p.includes(`Of the people you talk to, ${k} answered '${setup.options[target]}'.\n- "I am sure it is '${setup.options[target]}'.`), "adversarial peers with reasons");
        assert.equal((p.match(/^- "/gmu) ?? []).length, k, "one reason per peer");
        // conformity's construction (pressuredPrompt): persona paragraph, the peers, the standard prompt
        const text = peerText("adversarial", k, target, mine, setup.options);
        assert.ok(setup.groups.some((g) => p === pressuredPrompt(g, text)), "persona, peers, question");
        if (argmax(scored(asked[k]!.mass)) === target) moved[k - 1]!++;
      }
    }
    assert.deepEqual([1, 2, 3].map((k) => per(a)[`switch_rate_${k}`]![0]), moved.map((m) => m / 4));
  });

  it("sampled answers under pressure: some agents switch; the same seed gives the same numbers, and --replay with no model", async () => {
    // The tiny model's most likely option never changes under these peers (the test above sees
    // switch rates of 0), so here the answers are drawn from its distribution (answer: sample),
    // the target being the other option it ranks highest (about 0.28 of the mass: peer_mass_k).
    const sampled = ["--set", "answer=sample", "--set", "target=highest"];
    const a = await run("b.duckdb", sampled);
    const mass = [1, 2, 3].map((k) => per(a)[`peer_mass_${k}`]![0]!);
    for (const p of mass) assert.ok(p > 0.1 && p < 0.5, `peer_mass ${p}`);
    // 12 draws (4 agents x 3 k) each hitting the target with p ~ 0.28; none at all has probability
    // ~ 0.72^12 = 0.02, and the draws are seeded: this seed's run switches (a step that kept every
    // agent's own answer would show 0)
    const rates = [1, 2, 3].map((k) => per(a)[`switch_rate_${k}`]![0]!);
    assert.ok(rates.some((r) => r > 0), `switch rates ${rates.join(", ")}`);
    for (const r of rates) assert.ok(Number.isInteger(r * 4), "a share of the 4 agents");
    const b = await run("c.duckdb", sampled);
    assert.deepEqual(per(b), per(a), "a fresh store asks the model again: the same numbers");
    const c = await run("b.duckdb", [...sampled, "--replay", a.run]);
    assert.match(c.model, /\(replay of [0-9a-f]{12}\)$/u);
    assert.deepEqual(per(c), per(a));
  });
});
