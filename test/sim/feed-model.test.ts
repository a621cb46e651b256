/**
 * The `feed` scenario's model-driven agents with the real tiny model (stories260K, in-process
 * llama.cpp, one thread): the calls a step makes, the prompts (persona, bounded memory, the post
 * shown, the four actions), the memory `agents()` reports, and replay. The tiny model proves the
 * machinery only; nothing here depends on what it answers.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { borrowClient } from "../../src/models/index.js";
import { llamaSpec } from "../../src/models/llama.js";
import { createFeed, type FeedState } from "../../src/sim/agents/feed.js";
import { simulate } from "../../src/sim/engine.js";
import { completeGraph } from "../../src/sim/graph.js";
import { createSimModel } from "../../src/sim/model.js";
import type { SimModel, SimQuery } from "../../src/sim/types.js";
import { Store } from "../../src/store/index.js";
import { loadOpinionQA, type Suite } from "../../src/surveys/index.js";
import { MODEL, OPINIONQA, tempDir } from "../helpers/paths.js";

describe("feed with the tiny model", () => {
  let suite: Suite;
  let store: Store;
  let spec: Awaited<ReturnType<typeof llamaSpec>>;
  let shared: ReturnType<Awaited<ReturnType<typeof llamaSpec>>["open"]> | null = null;
  const open = () => (shared ??= spec.open());
  before(async () => {
    suite = await loadOpinionQA({ data: OPINIONQA, waves: ["W26"] });
    store = await Store.open(path.join(tempDir(), "feed.duckdb"));
    spec = await llamaSpec(MODEL, { parallel: 2, threads: 1 });
  });
  after(async () => {
    if (shared) await (await shared).close();
    await store.close();
  });

  // 8 agents, half of them model-driven, all active, each shown 2 posts and writing a post every step.
  const params = { question: "SAFECRIME_W26", attribute: "POLPARTY", llm_share: 0.5, active_share: 1, feed_size: 2, post_prob: 1, post_tokens: 8, memory: 3, steps: 2 };
  const graph = completeGraph(8);

  /** The real SimModel, with every query it is asked kept (in the order asked). */
  function recording(sim: SimModel, seen: (SimQuery & { labels?: readonly string[] })[]): SimModel {
    return {
      stats: sim.stats,
      optionDistribution: (q) => (seen.push(q), sim.optionDistribution(q)),
      complete: (q) => (seen.push(q), sim.complete(q)),
    };
  }

  it("asks what the module comment says, with persona and memory, and replays bit-identically without a model", async () => {
    const seen: (SimQuery & { labels?: readonly string[] })[] = [];
    const rec = createSimModel(store, { ...spec, open: async () => borrowClient(await open()) }, { runId: "feed-rec", point: 0, seed: 5 });
    const d = createFeed(params, { suite, model: recording(rec, seen) });
    let state: FeedState | undefined;
    const recorded = await simulate(d, { graph, params, seed: 5, every: 1, onStep: (e) => void (state = e.state) });
    await rec.close();
    const st = state!;
    const llm = [...st.llm.keys()].filter((i) => st.llm[i]);
    assert.equal(llm.length, 4);
    // step 1: 4 measurements + 4 posts written (no post is readable yet); step 2: 4 measurements,
    // 4 x 2 posts shown, 4 posts written
    assert.equal(rec.stats.calls, 24);
    const byStep = (s: number) => seen.filter((q) => q.step === s);
    assert.equal(byStep(1).length, 8);
    assert.equal(byStep(2).length, 16);
    const actions = seen.filter((q) => q.labels?.join("") === "ABCD");
    assert.equal(actions.length, 8);
    for (const q of actions) {
      const persona = st.personas[q.agent]!.trim();
      assert.ok(q.prompt.startsWith(`${persona}\n\n`), "the persona comes first");
      assert.match(q.prompt, /You are on a social network\. In your feed, user \d+ (posted|reposted user \d+): ".*" \(\d+ likes?\)\n\nWhat do you do\?\nA\. Like it\nB\. Repost it\nC\. (Follow|Unfollow) user \d+\nD\. Nothing\nAnswer:$/su);
      assert.equal(q.plain, q.prompt.slice(persona.length + 2), "the plain prompt is the prompt without the persona");
    }
    const measures = seen.filter((q) => q.labels !== undefined && q.labels.join("") !== "ABCD");
    assert.equal(measures.length, 8);
    // step 1's measurement has no memory: it is the prompt of `civitas eval --persona`
    for (const q of measures.filter((m) => m.step === 1)) assert.equal(q.prompt, d.setup.groups[st.group[q.agent]!]!.prompt.text);
    // the model-driven agents' memory: what they read at step 2 (and the posts they wrote), at most `memory` lines
    for (const a of d.agents!(st).map((x, i) => ({ ...x, i })).filter((x) => x.llm)) {
      const lines = a.memory.split("\n");
      assert.equal(lines[0], "What you read and wrote lately:");
      assert.ok(lines.length - 1 <= 3, "at most `memory` lines");
      assert.equal(lines.filter((l) => /^- user \d+ /u.test(l)).length, 2, `agent ${a.i} read 2 posts`);
    }
    // step 2's measurement shows what the agent wrote at step 1 (if it wrote anything)
    for (const q of measures.filter((m) => m.step === 2)) {
      if (q.prompt.includes("What you read and wrote lately:")) assert.match(q.prompt, /- you posted: "/u);
    }
    assert.ok(recorded.final.posts! >= 4, "every rule-based agent wrote a post at step 1");

    // the same seed again (answers from the cache now): the same numbers
    const again = createSimModel(store, { ...spec, open: async () => borrowClient(await open()) }, { runId: "feed-again", point: 0, seed: 5 });
    const second = await simulate(createFeed(params, { suite, model: again }), { graph, params, seed: 5, every: 1 });
    await again.close();
    assert.deepEqual(second.series, recorded.series);

    // replay: every call from the record, no model opened
    const never = { ...spec, open: () => Promise.reject(new Error("the replay opened the model")) };
    const rep = createSimModel(store, never, { runId: "feed-rep", point: 0, seed: 5, replay: { runId: "feed-rec" } });
    const replayed = await simulate(createFeed(params, { suite, model: rep }), { graph, params, seed: 5, every: 1 });
    await rep.close();
    assert.equal(rep.stats.replayed, 24);
    assert.deepEqual(replayed.series, recorded.series);
  });
});
