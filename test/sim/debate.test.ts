/**
 * The `debate` scenario's rule-based parts (src/sim/agents/debate.ts), against values worked out by
 * hand: a group's real range, rooms drawn across groups, the bounded-confidence move, the metrics
 * (attitude change, TV before and now, range adherence) on a constructed state; then the world on
 * real OpinionQA data without a model: the step-0 prompt is `civitas eval --persona`'s, rule-based
 * agents move as the rule says from their room-mates' attitudes, the same seed gives the same run,
 * and agents drawn by `population:` keep their personas and attributes. The tiny model's runs are
 * in debate-cli.test.ts.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { seededRng } from "../../src/metrics/index.js";
import {
  assignRooms,
  boundedConfidence,
  createDebate,
  debateMetrics,
  debatePrompt,
  discussTail,
  realRange,
  type DebateGroup,
  type DebateState,
} from "../../src/sim/agents/index.js";
import { simulate } from "../../src/sim/engine.js";
import { completeGraph, lattice2d, neighborsOf } from "../../src/sim/graph.js";
import type { AgentPopulation, StepContext } from "../../src/sim/types.js";
import { loadOpinionQA, type Suite } from "../../src/surveys/index.js";
import { OPINIONQA } from "../helpers/paths.js";

const QUESTION = "GUNCONTRIBA_W26";
const X = [0, 1 / 3, 2 / 3, 1];
let suite: Suite;

before(async () => {
  suite = await loadOpinionQA({ data: OPINIONQA, waves: ["W26"] });
});

const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-12, `${what}: ${a} vs ${b}`);

describe("rule-based parts", () => {
  it("a group's real range runs from its q- to its (1 - q)-quantile position", () => {
    const h = [0.05, 0.1, 0.7, 0.15];
    // cumulative 0.05, 0.15, 0.85, 1: the 0.1-quantile is option 1, the 0.9-quantile option 3
    assert.deepEqual(realRange(h, X, 0.8), [1 / 3, 1]);
    // the interquartile range: 0.25 -> option 2, 0.75 -> option 2
    assert.deepEqual(realRange(h, X, 0.5), [2 / 3, 2 / 3]);
    // everything: from the first option with any share to the last
    assert.deepEqual(realRange([0, 0.5, 0.5, 0], X, 1), [1 / 3, 2 / 3]);
    // positions in reverse survey order: sorted by position, cumulative 0.15, 0.85, 0.95, 1
    assert.deepEqual(realRange(h, [1, 2 / 3, 1 / 3, 0], 0.8), [0, 2 / 3]);
  });

  it("the real ranges of Republicans and Democrats on GUNCONTRIBA_W26", () => {
    const rep = suite.human(QUESTION, "POLPARTY=Republican")!.probs;
    const dem = suite.human(QUESTION, "POLPARTY=Democrat")!.probs;
    // Republicans 0.128, 0.224, 0.404, 0.244: cumulative 0.128, 0.352, 0.756 -> [1/3, 2/3]
    assert.deepEqual(realRange(rep, X, 0.5), [1 / 3, 2 / 3]);
    // Democrats 0.525, 0.328, 0.117, 0.030: cumulative 0.525, 0.853 -> [0, 1/3]
    assert.deepEqual(realRange(dem, X, 0.5), [0, 1 / 3]);
  });

  it("deals agents into rooms spread evenly across groups", () => {
    // group 0: 2 agents at 0.25, 0.75; group 1: 4 at 0.125, 0.375, 0.625, 0.875 ->
    // 1 0 1 1 0 1, cut into min(ceil(6 / 3), floor(6 / 2)) = 2 rooms of 3: each one of group 0, two of group 1
    const group = Int32Array.from([1, 0, 1, 1, 0, 1]);
    const rooms = assignRooms(group, 2, 3, seededRng(3));
    assert.equal(rooms.length, 2);
    for (const r of rooms) assert.deepEqual([...r].map((i) => group[i]), [1, 0, 1]);
    assert.deepEqual([...rooms.flatMap((r) => [...r])].sort(), [0, 1, 2, 3, 4, 5]);
    // 7 agents in rooms of 4: 2 rooms, of 4 and 3; 3 agents in rooms of 2: one room of 3 (never one alone)
    assert.deepEqual(assignRooms(new Int32Array(7), 1, 4, seededRng(1)).map((r) => r.length), [4, 3]);
    assert.deepEqual(assignRooms(new Int32Array(3), 1, 2, seededRng(1)).map((r) => r.length), [3]);
    // 10 agents, two equal groups, rooms of 2: every room one of each
    const half = Int32Array.from({ length: 10 }, (_, i) => i % 2);
    for (const r of assignRooms(half, 2, 2, seededRng(9))) assert.deepEqual([...r].map((i) => half[i]).sort(), [0, 1]);
    // who meets whom depends on the seed
    const a = assignRooms(half, 2, 2, seededRng(1)).map((r) => [...r].sort().join(","));
    const b = assignRooms(half, 2, 2, seededRng(2)).map((r) => [...r].sort().join(","));
    assert.notDeepEqual(a, b);
  });

  it("moves a rule-based agent towards the mean of partners within epsilon", () => {
    // 0.6 and 0.7 are within 0.3 of 0.5, 1 is not: 0.5 + 0.5 * (0.1 + 0.2) / 2 = 0.575
    close(boundedConfidence(0.5, [0.6, 0.7, 1], 0.3, 0.5), 0.575, "move");
    assert.equal(boundedConfidence(0.5, [1, 0], 0.3, 0.5), 0.5);
    assert.equal(boundedConfidence(0.5, [], 0.3, 0.5), 0.5);
    close(boundedConfidence(0, [1 / 3], 1, 1), 1 / 3, "mu 1 joins the partner");
  });
});

describe("debate metrics", () => {
  it("attitude change, TV before and now, and range adherence on a constructed state", () => {
    const groups: DebateGroup[] = [
      { population: null, human: [0.5, 0.5, 0, 0], range: [0, 1 / 3] },
      { population: null, human: [0, 0, 0.5, 0.5], range: [2 / 3, 1] },
    ];
    const st = {
      n: 4,
      m: 4,
      group: Int32Array.from([0, 0, 1, 1]),
      llm: new Uint8Array(4),
      personaPart: ["", "", "", ""],
      attributes: [{}, {}, {}, {}],
      dist: Float64Array.from([1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0.5, 0.5, 0, 0]),
      position: Float64Array.from([0, 2 / 3, 1, 1 / 6]),
      start: Float64Array.from([0, 1 / 3, 1, 2 / 3]),
      tvStart: Float64Array.from([0.1, 0.2]),
      answers: 3,
      inRange: Int32Array.from([3, 1, 2, 0]),
      memory: [null, null, null, null],
      rooms: [],
      messages: ["", "", "", ""],
    } satisfies DebateState;
    const m = debateMetrics(groups, st);
    close(m.position!, 11 / 24, "position");
    close(m.change!, 5 / 24, "change: (0 + 1/3 + 0 + 1/2) / 4");
    close(m.shift_0!, 1 / 6, "shift_0");
    close(m.shift_1!, -1 / 4, "shift_1: (0 + (1/6 - 2/3)) / 2");
    assert.deepEqual([m.tv_start_0, m.tv_start_1], [0.1, 0.2]);
    // group 0's mean answer (0.5, 0, 0.5, 0) against (0.5, 0.5, 0, 0); group 1's (0.25, 0.25, 0, 0.5) against (0, 0, 0.5, 0.5)
    close(m.tv_0!, 0.5, "tv_0");
    close(m.tv_1!, 0.5, "tv_1");
    // all: (0.375, 0.125, 0.25, 0.25) against the groups mixed half and half (0.25 each)
    close(m.tv_population!, 0.125, "tv_population");
    // in range now: agent 0 (0 in [0, 1/3]) and agent 2 (1 in [2/3, 1])
    assert.deepEqual([m.in_range, m.in_range_0, m.in_range_1], [0.5, 0.5, 0.5]);
    // (3/3 + 1/3 + 2/3 + 0/3) / 4
    close(m.adherence!, 0.5, "adherence");
    assert.equal(m.memory_tokens, 0);
  });

  it("leaves out groups without real answers", () => {
    const groups: DebateGroup[] = [
      { population: null, human: null, range: null },
      { population: null, human: [0, 0, 0.5, 0.5], range: [2 / 3, 1] },
    ];
    const st = {
      n: 2, m: 4, group: Int32Array.from([0, 1]), llm: new Uint8Array(2), personaPart: ["", ""], attributes: [{}, {}],
      dist: Float64Array.from([1, 0, 0, 0, 0, 0, 0, 1]), position: Float64Array.from([0, 1]), start: Float64Array.from([0, 1]),
      tvStart: Float64Array.from([Number.NaN, 0.5]), answers: 1, inRange: Int32Array.from([0, 1]), memory: [null, null], rooms: [], messages: ["", ""],
    } satisfies DebateState;
    const m = debateMetrics(groups, st);
    assert.ok(Number.isNaN(m.tv_0!) && Number.isNaN(m.in_range_0!) && Number.isNaN(m.tv_population!));
    assert.equal(m.in_range, 1);
    assert.equal(m.adherence, 1);
    close(m.tv_1!, 0.5, "tv_1");
  });
});

describe("debate world (no model)", () => {
  const params = { question: QUESTION, populations: "POLPARTY=Republican,POLPARTY=Democrat", llm_share: 0, room_size: 3, steps: 3 };

  it("asks, with an empty memory, exactly the prompt of civitas eval --persona", () => {
    const d = createDebate(params, { suite });
    assert.equal(d.setup.groups.length, 2);
    for (const g of d.setup.groups) {
      assert.ok(g.personaPart !== "");
      assert.equal(debatePrompt(g.personaPart, "", g.plain).prompt, g.prompt.text);
      assert.equal(debatePrompt(g.personaPart, "", g.plain).plain, g.plain);
    }
    const g = d.setup.groups[0]!;
    const p = debatePrompt(g.personaPart, "What was said so far (oldest first):\nYou: Yes.", g.plain);
    assert.equal(p.prompt, `${g.personaPart}What was said so far (oldest first):\nYou: Yes.\n\n${g.plain}`);
    assert.equal(discussTail("How much\n  do you?"), "You are taking part in a discussion of this question: How much do you?\nSay what you think and why, in one or two sentences.\nYou:");
  });

  it("rule-based agents move by bounded confidence from their room-mates' attitudes; the same seed gives the same run", async () => {
    const graph = completeGraph(12);
    const run = async (seed: number) => {
      const d = createDebate({ ...params, agents: 12, epsilon: 0.5, mu: 0.5 }, { suite });
      const trace: { rooms: number[][]; before: number[]; after: number[] }[] = [];
      let prev: number[] = [];
      const r = await simulate(d, {
        graph,
        params: { ...params, agents: 12 },
        seed,
        every: 1,
        onStep: ({ step, state }) => {
          const st = state as DebateState;
          if (step > 0) trace.push({ rooms: st.rooms.map((x) => [...x]), before: prev, after: [...st.position] });
          prev = [...st.position];
        },
      });
      return { r, trace, d };
    };
    const { r, trace, d } = await run(5);
    assert.equal(r.steps, 3);
    for (const { rooms, before, after } of trace) {
      assert.equal(rooms.flat().length, 12);
      for (const room of rooms) {
        assert.ok(room.length >= 2 && room.length <= 3);
        for (const i of room) {
          // recomputed from the rule: the room-mates within 0.5, half way to their mean
          const near = room.filter((j) => j !== i && Math.abs(before[j]! - before[i]!) <= 0.5).map((j) => before[j]! - before[i]!);
          const want = near.length === 0 ? before[i]! : before[i]! + (0.5 * near.reduce((a, b) => a + b, 0)) / near.length;
          close(after[i]!, want, `agent ${i}`);
        }
      }
    }
    // step 0: every agent holds an option drawn from its group's real answers, so tv_start is the TV of those draws
    const first = r.series[0]!.metrics;
    assert.equal(first.change, 0);
    assert.equal(first.adherence, first.in_range);
    assert.ok(r.series.some((s) => s.metrics.change! > 0), "someone moved");
    // rule-based agents keep no memory
    assert.ok(r.series.every((s) => s.metrics.memory_tokens === 0));
    const again = await run(5);
    assert.deepEqual(again.r.series, r.series);
    const other = await run(6);
    assert.notDeepEqual(other.r.series, r.series);
    assert.ok(d.agents !== undefined);
  });

  it("with partners: graph, rule-based agents move from their graph neighbours' attitudes", async () => {
    const graph = lattice2d(4, 4, { torus: true });
    const d = createDebate({ ...params, partners: "graph", agents: 16 }, { suite });
    const ctx = { graph, params: { ...params, agents: 16 }, rng: seededRng(4), seed: 4 };
    const st = await d.init(ctx);
    let moved = 0;
    for (let step = 0; step < 3; step++) {
      const before = [...st.position];
      await d.step(st, { ...ctx, step });
      assert.deepEqual(st.rooms, []);
      for (let i = 0; i < 16; i++) {
        const want = boundedConfidence(before[i]!, [...neighborsOf(graph, i)].map((j) => before[j]!), 0.4, 0.5);
        close(st.position[i]!, want, `step ${step}, agent ${i}`);
        if (st.position[i] !== before[i]) moved++;
      }
    }
    assert.ok(moved > 0, "the default epsilon lets neighbouring options meet");
  });

  it("takes its agents from population: when given, grouped by the attribute, with their personas", async () => {
    const agents = [
      { attributes: { POLPARTY: "Democrat", SEX: "Female" }, persona: "I am a Democrat and a woman." },
      { attributes: { POLPARTY: "Republican", SEX: "Male" }, persona: "I am a Republican and a man." },
      { attributes: { POLPARTY: "Democrat", SEX: "Male" }, persona: "I am a Democrat and a man." },
      { attributes: { POLPARTY: "Republican", SEX: "Female" }, persona: "" },
    ];
    const population: AgentPopulation = { source: "hand-made", attributes: ["POLPARTY", "SEX"], agents };
    const d = createDebate({ question: QUESTION, llm_share: 0 }, { suite, population });
    // groups in the suite's order of POLPARTY values: Republican, Democrat
    assert.deepEqual(d.groups.map((g) => g.population?.id), ["POLPARTY=Republican", "POLPARTY=Democrat"]);
    assert.deepEqual(d.groups[1]!.range, realRange(suite.human(QUESTION, "POLPARTY=Democrat")!.probs, X, 0.5));
    const graph = completeGraph(4);
    const ctx: Omit<StepContext, "step"> = { graph, params: { question: QUESTION, agents: 4, steps: 1 }, rng: seededRng(1), seed: 1 };
    const st = await d.init(ctx);
    assert.deepEqual([...st.group], [1, 0, 1, 0]);
    const shown = d.agents!(st);
    assert.deepEqual(shown.map((a) => a.persona), agents.map((a) => a.persona));
    assert.deepEqual(shown.map((a) => a.attributes), agents.map((a) => a.attributes));
    assert.ok(shown.every((a) => !a.llm && a.memory === ""));
    assert.equal(st.personaPart[0], "I am a Democrat and a woman.\n\n");
    assert.equal(st.personaPart[3], "");
    // grouped by SEX when survey.attribute names it
    const bySex = createDebate({ question: QUESTION, attribute: "SEX", llm_share: 0 }, { suite, population });
    assert.deepEqual(bySex.groups.map((g) => g.population?.id), ["SEX=Male", "SEX=Female"]);
    await assert.rejects(async () => d.init({ ...ctx, graph: completeGraph(5) }), /population has 4 agents but the graph has 5 nodes/u);
  });

  it("refuses a positive llm_share without a model, and rooms of one", () => {
    assert.throws(() => createDebate({ ...params, llm_share: 0.5 }, { suite }), /llm_share = 0.5 needs a model/u);
    assert.throws(() => createDebate({ ...params, room_size: 1 }, { suite }), /room_size must be an integer >= 2/u);
  });
});
