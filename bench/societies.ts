/**
 * bench/societies: how fast the `feed` scenario (src/sim/agents/feed.ts) runs large societies.
 *
 * Agent-steps per second (agents x steps / seconds of the steps, the world's set-up and the graph
 * excluded) of a feed world on an Erdos-Renyi follow graph of mean degree 10, the defaults of
 * the scenario (10% of the agents active per step, feeds of 5 posts ranked by `mix`, posts kept 5
 * steps), SAFECRIME_W26 of OpinionQA with the POLPARTY groups, side by side:
 *   (a) rule-based agents only, at 10,000 and 100,000 agents;
 *   (b) 1% model-driven agents (llm_share 0.01) answered from the request cache, at 10,000 and
 *       100,000 agents. The cache is filled first by the same run (same seed) against a fake
 *       OpenAI-compatible server over real HTTP on 127.0.0.1 that answers at once (the same
 *       log-probabilities and the text "A" for every prompt), then the run is timed again from a
 *       fresh simulation whose every call is a cache hit (checked: no model call, the same
 *       metrics as the filling run). It measures what civitas costs around cached answers (prompt
 *       building, request keys, cache look-ups in DuckDB, recording), not a model.
 * and, for each, how time grows with agents: seconds per step at 100,000 / at 10,000 (the
 * ratio per 10x agents; 10 is linear). Best of --rounds timings for (a), after one untimed
 * warm-up run; one timed cached run for (b). Figures are one machine's on whatever else it is doing: read them as rough.
 *
 *   npx tsx bench/societies.ts            # 20 steps, best of 7 rule-based rounds
 *   npx tsx bench/societies.ts --short    # 10 steps, best of 5 (well under a minute)
 */
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { parseModelSpec } from "../src/models/index.js";
import { createFeed } from "../src/sim/agents/feed.js";
import { simulate, type Metrics } from "../src/sim/engine.js";
import { erdosRenyi } from "../src/sim/graph.js";
import { createSimModel } from "../src/sim/model.js";
import type { Graph, Params } from "../src/sim/types.js";
import { Store } from "../src/store/index.js";
import { loadOpinionQA } from "../src/surveys/index.js";
import { tempDir } from "../test/helpers/paths.js";
import { fakeServer } from "./fake-server.js";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const { values: flags } = parseArgs({ options: { short: { type: "boolean", default: false }, steps: { type: "string" }, rounds: { type: "string" } } });
const STEPS = Number(flags.steps ?? (flags.short ? 10 : 20));
const ROUNDS = Number(flags.rounds ?? (flags.short ? 5 : 7));
for (const [name, v] of [["steps", STEPS], ["rounds", ROUNDS]] as const) if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a whole number >= 1`);
const SEED = 42;
const SIZES = [10_000, 100_000];

const suite = await loadOpinionQA({ data: path.resolve(REPO, "../shared/data/opinionqa"), waves: ["W26"] });
const base = { question: "SAFECRIME_W26", attribute: "POLPARTY", steps: STEPS };

/** Runs the feed; seconds of steps 1..STEPS (from the end of init to the end of the last step). */
async function timed(graph: Graph, params: Params, model?: Parameters<typeof createFeed>[1]["model"]): Promise<{ seconds: number; final: Metrics; series: unknown }> {
  const d = createFeed(params, model === undefined ? { suite } : { suite, model });
  let t0 = 0;
  const r = await simulate(d, { graph, params, seed: SEED, every: STEPS, onStep: (e) => void (e.step === 0 && (t0 = performance.now())) });
  return { seconds: (performance.now() - t0) / 1000, final: r.final, series: r.series };
}

const k = (x: number) => (x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : `${(x / 1e3).toFixed(0)}k`);
const cpu = os.cpus();
console.log(
  `bench/societies${flags.short ? " --short" : ""}: feed, ER k=10, active_share 0.1, feed_size 5, ranking mix; ${STEPS} steps, seed ${SEED}; ` +
    `node ${process.version}, ${cpu.length} x ${cpu[0]?.model ?? "unknown CPU"}`,
);
const graphs = new Map<number, Graph>();
for (const n of SIZES) graphs.set(n, erdosRenyi(n, { meanDegree: 10 }, SEED));

// (a) rule-based (after one untimed run at 10k, so that V8 has optimised the step before the first timing)
await timed(graphs.get(SIZES[0]!)!, { ...base, agents: SIZES[0]!, llm_share: 0 });
const rule: number[] = [];
for (const n of SIZES) {
  const params = { ...base, agents: n, llm_share: 0 };
  let best = Infinity;
  let final: Metrics = {};
  for (let r = 0; r < ROUNDS; r++) {
    const t = await timed(graphs.get(n)!, params);
    best = Math.min(best, t.seconds);
    final = t.final;
  }
  rule.push(best / STEPS);
  console.log(
    `(a) rule-based, ${k(n).padStart(5)} agents: ${k((n * STEPS) / best).padStart(6)} agent-steps/s (${((best / STEPS) * 1000).toFixed(0)} ms per step; ` +
      `${final.posts} posts, ${final.reposts} reposts, echo_chamber ${final.echo_chamber!.toFixed(3)})`,
  );
}
console.log(`(a) rule-based: time per step at 100k / at 10k agents = ratio ${(rule[1]! / rule[0]!).toFixed(2)} per 10x agents (10 = linear)`);

// (b) 1% model-driven, from the cache
// Answers at once; E and digits too, for the survey questions the model-driven agents are measured on.
const server = await fakeServer(0, 1_000_000, ["A", "B", "C", "D", "E", "1", "2", "3"]);
const dir = tempDir("civitas-bench-societies-");
const cached: number[] = [];
try {
  const spec = await parseModelSpec("openai:fake", { baseURL: server.url, apiKey: "none", concurrency: 64, modelId: "fake" });
  for (const n of SIZES) {
    const store = await Store.open(path.join(dir, `societies-${n}.duckdb`));
    try {
      const params = { ...base, agents: n, llm_share: 0.01 };
      const graph = graphs.get(n)!;
      let t = performance.now();
      const fill = createSimModel(store, spec, { runId: `fill-${n}`, point: 0, seed: SEED });
      const filled = await timed(graph, params, fill);
      await fill.close();
      const fillSeconds = (performance.now() - t) / 1000;
      t = performance.now();
      const hit = createSimModel(store, spec, { runId: `cached-${n}`, point: 0, seed: SEED });
      const again = await timed(graph, params, hit);
      await hit.close();
      const s = hit.stats;
      if (s.modelCalls !== 0) throw new Error(`the cached run asked the model ${s.modelCalls} times`);
      if (JSON.stringify(again.series) !== JSON.stringify(filled.series)) throw new Error("the cached run's metrics differ from the filling run's");
      cached.push(again.seconds / STEPS);
      console.log(
        `(b) 1% model-driven, ${k(n).padStart(5)} agents: ${k((n * STEPS) / again.seconds).padStart(6)} agent-steps/s from the cache ` +
          `(${((again.seconds / STEPS) * 1000).toFixed(0)} ms per step; ${s.calls} calls, all cache hits, ${(s.calls / again.seconds).toFixed(0)} calls/s; same metrics as the filling run, which made ${fill.stats.modelCalls} HTTP calls in ${fillSeconds.toFixed(1)} s)`,
      );
    } finally {
      await store.close();
    }
  }
  console.log(`(b) 1% model-driven from the cache: time per step at 100k / at 10k agents = ratio ${(cached[1]! / cached[0]!).toFixed(2)} per 10x agents (10 = linear)`);
  console.log(`agent-steps/s of 1% model-driven (cached) over rule-based: ratio ${(rule[0]! / cached[0]!).toFixed(2)} at 10k, ${(rule[1]! / cached[1]!).toFixed(2)} at 100k`);
} finally {
  await server.close();
}

