/**
 * bench/sim: what does the simulation engine cost over a bare typed-array loop?
 *
 * Side by side in one process, each measured in agent updates per second:
 *   (a) rule-based dynamics through `simulate` against a plain loop of the same update written
 *       inline below (same generator, same seed, same initial state, so both end in the same
 *       state, which is checked):
 *       - voter, 1,000,000 agents, Erdos-Renyi graph of mean degree 10 (asynchronous: one update
 *         = an agent copies a random neighbour);
 *       - Deffuant-Weisbuch, same graph, epsilon 0.2, mu 0.5 (one update = one pairwise encounter);
 *       - Hegselmann-Krause, 100,000 agents, complete graph, epsilon 0.05, sorted update (one
 *         update = one agent's new opinion in a synchronous step; 10 runs of 10 steps a round,
 *         as it converges in ~14).
 *     Rounds alternate engine and plain loop; the best round of each is compared. Target: engine /
 *     plain >= 0.8.
 *   (b) replay of a recorded model-driven run (opinion with the tiny model, recorded first):
 *       agent-steps per second with no model (target >= 100,000);
 *   (c) model-driven with the tiny model: mean calls in flight / the concurrency limit.
 *
 *   npx tsx bench/sim.ts                 # 3 rounds, 5 sweeps per round
 *   npx tsx bench/sim.ts --short         # 2 rounds, 2 sweeps, (c) with 1 and 2 sequences (about a minute)
 *   npx tsx bench/sim.ts --rounds 5 --sweeps 10
 */
import { parseArgs } from "node:util";
import { seededRng, type Rng } from "../src/metrics/index.js";
import { deffuant, hegselmannKrause, voter, type DeffuantState, type HkState, type VoterState } from "../src/sim/dynamics/index.js";
import { simulate } from "../src/sim/engine.js";
import { completeGraph, erdosRenyi } from "../src/sim/graph.js";
import type { Dynamics, Graph, Params } from "../src/sim/types.js";

const { values: flags } = parseArgs({
  options: {
    rounds: { type: "string" },
    sweeps: { type: "string" },
    agents: { type: "string", default: "1000000" },
    "hk-agents": { type: "string", default: "100000" },
    short: { type: "boolean", default: false },
  },
});
// --short: 2 rounds of 2 sweeps, and (c) with 1 and 2 parallel sequences only (under a minute).
const ROUNDS = Number(flags.rounds ?? (flags.short ? 2 : 3));
const SWEEPS = Number(flags.sweeps ?? (flags.short ? 2 : 5));
const N = Number(flags.agents);
const N_HK = Number(flags["hk-agents"]);
for (const [name, v] of [["rounds", ROUNDS], ["sweeps", SWEEPS], ["agents", N], ["hk-agents", N_HK]] as const) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a whole number >= 1`);
}
const SEED = 42;

/** Runs `steps` steps through the engine; returns the seconds spent in steps 1..steps (init and final metrics excluded) and the state. */
async function viaEngine<S>(dynamics: Dynamics<S>, graph: Graph, params: Params, steps: number): Promise<{ seconds: number; state: S; steps: number }> {
  let start = 0;
  let end = 0;
  let state: S | undefined;
  const r = await simulate(dynamics, {
    graph,
    params,
    seed: SEED,
    steps,
    onStep: (e) => {
      // step 0 arrives after init; the last step's hook after the final metrics, so time the
      // steps by the hook before them: steps 1 .. steps-1 (the last one is timed separately below)
      if (e.step === 0) start = performance.now();
      if (e.step === steps - 1) end = performance.now();
      state = e.state;
    },
  });
  if (r.steps !== steps) throw new Error(`${dynamics.name} stopped after ${r.steps} of ${steps} steps (${r.stop}); choose fewer steps`);
  return { seconds: (end - start) / 1000, state: state!, steps: steps - 1 };
}

// --- plain loops: the same updates, inline, on bare typed arrays (one function per sweep, so V8
// optimises it as it does the dynamics' step) -------------------------------------------------

function plainVoter(graph: Graph, steps: number): { seconds: number; s: Uint8Array } {
  const n = graph.n;
  const rng = seededRng(SEED);
  // init as the voter dynamics does: exactly n/2 ones at random (partial Fisher-Yates)
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  const s = new Uint8Array(n);
  const ones = Math.round(0.5 * n);
  for (let k = 0; k < ones; k++) {
    const r = rng.int(k, n - 1);
    const t = perm[r]!;
    perm[r] = perm[k]!;
    perm[k] = t;
    s[t] = 1;
  }
  const start = performance.now();
  let end = start;
  for (let step = 0; step < steps; step++) {
    if (step === steps - 1) end = performance.now();
    voterSweep(s, graph.offsets, graph.neighbors, rng);
  }
  return { seconds: (end - start) / 1000, s };
}

function voterSweep(s: Uint8Array, off: Int32Array, nb: Int32Array, rng: Rng): void {
  const n = s.length;
  for (let t = 0; t < n; t++) {
    const i = rng.int(0, n - 1);
    const a = off[i]!;
    const d = off[i + 1]! - a;
    if (d === 0) continue;
    s[i] = s[nb[a + rng.int(0, d - 1)]!]!;
  }
}

function plainDeffuant(graph: Graph, steps: number, epsilon: number, mu: number): { seconds: number; x: Float64Array } {
  const n = graph.n;
  const rng = seededRng(SEED);
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) x[i] = rng.float();
  const start = performance.now();
  let end = start;
  for (let step = 0; step < steps; step++) {
    if (step === steps - 1) end = performance.now();
    deffuantSweep(x, graph.offsets, graph.neighbors, rng, epsilon, mu);
  }
  return { seconds: (end - start) / 1000, x };
}

function deffuantSweep(x: Float64Array, off: Int32Array, nb: Int32Array, rng: Rng, epsilon: number, mu: number): void {
  const n = x.length;
  for (let t = 0; t < n; t++) {
    const i = rng.int(0, n - 1);
    const a = off[i]!;
    const d = off[i + 1]! - a;
    if (d === 0) continue;
    const j = nb[a + rng.int(0, d - 1)]!;
    const xi = x[i]!;
    const xj = x[j]!;
    const diff = xj - xi;
    if (diff < epsilon && diff > -epsilon) {
      x[i] = xi + mu * diff;
      x[j] = xj - mu * diff;
    }
  }
}

function plainHk(n: number, steps: number, epsilon: number): { seconds: number; x: Float64Array } {
  const rng = seededRng(SEED);
  let x = new Float64Array(n);
  for (let i = 0; i < n; i++) x[i] = rng.float();
  x.sort();
  let next = new Float64Array(n);
  const prefix = new Float64Array(n + 1);
  const start = performance.now();
  let end = start;
  for (let step = 0; step < steps; step++) {
    if (step === steps - 1) end = performance.now();
    hkSweep(x, next, prefix, epsilon);
    const t = x;
    x = next;
    next = t;
  }
  return { seconds: (end - start) / 1000, x };
}

function hkSweep(x: Float64Array, next: Float64Array, prefix: Float64Array, epsilon: number): void {
  const n = x.length;
  for (let i = 0; i < n; i++) prefix[i + 1] = prefix[i]! + x[i]!;
  let lo = 0;
  let hi = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[i]!;
    while (xi - x[lo]! > epsilon) lo++;
    if (hi < i) hi = i;
    while (hi + 1 < n && x[hi + 1]! - xi <= epsilon) hi++;
    next[i] = x[lo] === x[hi] ? xi : (prefix[hi + 1]! - prefix[lo]!) / (hi + 1 - lo);
  }
}

// --- measuring -------------------------------------------------------------------------------

function sameArray(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

interface Row {
  name: string;
  agents: number;
  updatesPerRound: number;
  engine: number;
  plain: number;
}

async function compare(
  name: string,
  agents: number,
  updatesPerRound: number,
  engineRound: () => Promise<{ seconds: number; final: ArrayLike<number> }>,
  plainRound: () => { seconds: number; final: ArrayLike<number> },
): Promise<Row> {
  let engine = Infinity;
  let plain = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    const e = await engineRound();
    const p = plainRound();
    if (!sameArray(e.final, p.final)) throw new Error(`${name}: the engine and the plain loop ended in different states`);
    engine = Math.min(engine, e.seconds);
    plain = Math.min(plain, p.seconds);
  }
  const row = { name, agents, updatesPerRound, engine, plain };
  print(row);
  return row;
}

const fmt = (x: number) => (x >= 1e6 ? `${(x / 1e6).toFixed(1)}M` : `${(x / 1e3).toFixed(0)}k`);
function print(r: Row): void {
  const e = r.updatesPerRound / r.engine;
  const p = r.updatesPerRound / r.plain;
  console.log(
    `${r.name.padEnd(54)} ${fmt(r.agents).padStart(6)}  engine ${fmt(e).padStart(7)} updates/s  plain ${fmt(p).padStart(7)} updates/s  ratio ${(e / p).toFixed(2)}`,
  );
}

console.log(`bench/sim${flags.short ? " --short" : ""}: ${ROUNDS} rounds (best of each), ${SWEEPS} timed sweeps per round, seed ${SEED}; node ${process.version}`);
const t0 = performance.now();
const er = erdosRenyi(N, { meanDegree: 10 }, SEED);
console.log(`Erdos-Renyi graph: ${N} agents, ${er.neighbors.length / 2} edges (mean degree ${(er.neighbors.length / N).toFixed(2)}), built in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
const complete = completeGraph(N_HK);

// (a) rule-based dynamics: engine vs plain loop
const rows: Row[] = [];
const steps = SWEEPS + 1; // the last step's hook comes after the final metrics; it is not timed
rows.push(
  await compare(
    "voter (async), ER k=10",
    N,
    SWEEPS * N,
    async () => {
      const r = await viaEngine<VoterState>(voter, er, {}, steps);
      return { seconds: r.seconds, final: r.state.s };
    },
    () => {
      const r = plainVoter(er, steps);
      return { seconds: r.seconds, final: r.s };
    },
  ),
);
rows.push(
  await compare(
    "Deffuant (async), ER k=10, eps 0.2",
    N,
    SWEEPS * N,
    async () => {
      const r = await viaEngine<DeffuantState>(deffuant, er, { epsilon: 0.2, mu: 0.5 }, steps);
      return { seconds: r.seconds, final: r.state.x };
    },
    () => {
      const r = plainDeffuant(er, steps, 0.2, 0.5);
      return { seconds: r.seconds, final: r.x };
    },
  ),
);
// HK on 100,000 agents converges in ~14 steps at epsilon 0.05: a round is 10 runs of 10 steps
// (9 timed each), from the same start.
const HK_STEPS = 10;
const HK_RUNS = 10;
rows.push(
  await compare(
    "Hegselmann-Krause (sync, sorted), complete, eps 0.05",
    N_HK,
    HK_RUNS * (HK_STEPS - 1) * N_HK,
    async () => {
      let seconds = 0;
      let final: Float64Array = new Float64Array(0);
      for (let k = 0; k < HK_RUNS; k++) {
        const r = await viaEngine<HkState>(hegselmannKrause, complete, { epsilon: 0.05 }, HK_STEPS);
        seconds += r.seconds;
        final = r.state.x;
      }
      return { seconds, final };
    },
    () => {
      let seconds = 0;
      let final: Float64Array = new Float64Array(0);
      for (let k = 0; k < HK_RUNS; k++) {
        const r = plainHk(N_HK, HK_STEPS, 0.05);
        seconds += r.seconds;
        final = r.x;
      }
      return { seconds, final };
    },
  ),
);
const worst = Math.min(...rows.map((r) => r.plain / r.engine));
console.log(`lowest engine / plain ratio: ${worst.toFixed(2)} (target >= 0.8)`);

// ============================================================================================
// (b) REPLAY OF A RECORDED MODEL-DRIVEN RUN
// An opinion run (400 OpinionQA personas of POLPARTY on a 20 x 20 torus, every agent asking the
// tiny model at every step, 50 steps) is recorded into a fresh store, then replayed from its record
// through `simulate` with a SimModel that answers from the record (no model: its spec cannot be
// opened). Reported: agent-steps (one agent's call answered and its answer drawn) per second of the
// whole replay, loading the record included (two queries, then in-memory lookups); best of
// --rounds replays. Target >= 100,000. The replay's metrics must equal the recording's.
// ============================================================================================
{
  const { mkdtempSync, rmSync } = await import("node:fs");
  const os = await import("node:os");
  const path = await import("node:path");
  const { fileURLToPath } = await import("node:url");
  const { llamaSpec } = await import("../src/models/index.js");
  const { Store } = await import("../src/store/index.js");
  const { loadOpinionQA } = await import("../src/surveys/index.js");
  const { AGENT_SCENARIOS } = await import("../src/sim/agents/index.js");
  const { createSimModel } = await import("../src/sim/model.js");
  const { lattice2d } = await import("../src/sim/graph.js");
  const shared = fileURLToPath(new URL("../../shared/", import.meta.url));
  const tmp = mkdtempSync(path.join(os.tmpdir(), "civitas-bench-sim-"));
  try {
    const suite = await loadOpinionQA({ data: path.join(shared, "data/opinionqa"), waves: ["W26"] });
    const modelFile = path.join(shared, "models/stories260K.gguf");
    const store = await Store.open(path.join(tmp, "bench.duckdb"));
    try {
      const side = 20;
      const agents = side * side;
      const steps = 50;
      const graph = lattice2d(side, side, { torus: true });
      const params = { question: "SAFECRIME_W26", attribute: "POLPARTY", init: "human", llm_share: 1, steps };
      const spec = await llamaSpec(modelFile);
      let t = performance.now();
      const rec = createSimModel(store, spec, { runId: "bench-rec", point: 0, seed: SEED });
      const recorded = await simulate(AGENT_SCENARIOS.opinion!(params, { suite, model: rec }), { graph, params, seed: SEED });
      await rec.close();
      const recordSeconds = (performance.now() - t) / 1000;
      if (recorded.steps !== steps) throw new Error(`the recorded run stopped after ${recorded.steps} of ${steps} steps`);
      const rs = rec.stats;
      console.log(
        `(b) recorded: opinion, ${agents} agents x ${steps} steps = ${rs.calls} calls (${rs.modelCalls} asked of the tiny model, ${rs.cacheHits} answered by this run's earlier calls or the cache) in ${recordSeconds.toFixed(1)} s`,
      );
      const never = { ...spec, open: () => Promise.reject(new Error("the replay opened the model")) };
      let best = Infinity;
      for (let r = 0; r < ROUNDS; r++) {
        t = performance.now();
        const rep = createSimModel(store, never, { runId: `bench-rep-${r}`, point: 0, seed: SEED, replay: { runId: "bench-rec" } });
        const replayed = await simulate(AGENT_SCENARIOS.opinion!(params, { suite, model: rep }), { graph, params, seed: SEED });
        await rep.close();
        best = Math.min(best, (performance.now() - t) / 1000);
        if (JSON.stringify(replayed.final) !== JSON.stringify(recorded.final)) throw new Error("the replay's metrics differ from the recording's");
        if (rep.stats.replayed !== rs.calls) throw new Error(`the replay answered ${rep.stats.replayed} of ${rs.calls} calls from the record`);
      }
      const rate = (agents * steps) / best;
      console.log(
        `(b) replay: ${fmt(rate).padStart(7)} agent-steps/s (${agents * steps} agent-steps in ${(best * 1000).toFixed(0)} ms, record loaded included; no model; metrics identical); target >= 100k: ${rate >= 100_000 ? "met" : "NOT met"}`,
      );
    } finally {
      await store.close();
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

// ============================================================================================
// (c) CALLS IN FLIGHT VS THE CONCURRENCY LIMIT, with the tiny model
// A model-driven opinion run (60 agents on an Erdos-Renyi graph of mean degree 6, each first
// answering with its persona, then 2 steps) against a fresh store, so every distinct prompt goes to
// llama.cpp, with 1, 2 and 4 parallel sequences. Reported: the SimModel's time-weighted mean of
// calls in flight (while any is) over its limit (target close to 1: a step's calls keep every
// sequence busy), the peak, and model calls per second.
// ============================================================================================
{
  const { mkdtempSync, rmSync } = await import("node:fs");
  const os = await import("node:os");
  const path = await import("node:path");
  const { fileURLToPath } = await import("node:url");
  const { llamaSpec } = await import("../src/models/index.js");
  const { Store } = await import("../src/store/index.js");
  const { loadOpinionQA } = await import("../src/surveys/index.js");
  const { AGENT_SCENARIOS } = await import("../src/sim/agents/index.js");
  const { createSimModel } = await import("../src/sim/model.js");
  const shared = fileURLToPath(new URL("../../shared/", import.meta.url));
  const suite = await loadOpinionQA({ data: path.join(shared, "data/opinionqa"), waves: ["W26"] });
  const graph = erdosRenyi(60, { meanDegree: 6 }, SEED);
  const params = { question: "SAFECRIME_W26", attribute: "POLPARTY", init: "model", llm_share: 1, steps: 2 };
  for (const parallel of flags.short ? [1, 2] : [1, 2, 4]) {
    const tmp = mkdtempSync(path.join(os.tmpdir(), "civitas-bench-sim-"));
    try {
      const store = await Store.open(path.join(tmp, "bench.duckdb"));
      try {
        const spec = await llamaSpec(path.join(shared, "models/stories260K.gguf"), { parallel });
        const model = createSimModel(store, spec, { runId: "bench-inflight", point: 0, seed: SEED });
        // the steps are timed from the end of init (which opened the model) to the end
        let t0 = 0;
        let calls0 = 0;
        await simulate(AGENT_SCENARIOS.opinion!(params, { suite, model }), {
          graph,
          params,
          seed: SEED,
          onStep: (e) => {
            if (e.step === 0) {
              t0 = performance.now();
              calls0 = model.stats.modelCalls;
            }
          },
        });
        const seconds = (performance.now() - t0) / 1000;
        await model.close();
        const s = model.stats;
        console.log(
          `(c) tiny model, parallel ${parallel}: mean in flight ${s.meanInFlight.toFixed(2)} / limit ${s.concurrency} = ${(s.meanInFlight / s.concurrency).toFixed(2)}, peak ${s.maxInFlight}; ` +
            `${s.modelCalls} model calls of ${s.calls}; the steps' ${s.modelCalls - calls0} at ${((s.modelCalls - calls0) / seconds).toFixed(0)}/s`,
        );
      } finally {
        await store.close();
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
}
