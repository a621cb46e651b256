/**
 * The engine's contract: step limit and convergence, metrics every k steps and at the end with
 * `steps` added, step hooks, abort signals (also from a timer during a long synchronous run),
 * promise-returning steps, parameter checks, and same seed same run.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CivitasError } from "../../src/errors.js";
import { numberParam, simulate, summarizeOpinions } from "../../src/sim/engine.js";
import { voter } from "../../src/sim/dynamics/index.js";
import { completeGraph, erdosRenyi } from "../../src/sim/graph.js";
import type { Dynamics } from "../../src/sim/types.js";

interface Counter {
  value: number;
  draws: number[];
}

/** Adds 1 a step and draws one random number; converges when value reaches `target` (if given). */
function counter(options: { busyMs?: number; async?: boolean } = {}): Dynamics<Counter> {
  return {
    name: "counter",
    update: "synchronous",
    init: () => ({ value: 0, draws: [] }),
    step(s, ctx) {
      assert.equal(ctx.step, s.value);
      if (options.busyMs !== undefined) {
        const end = performance.now() + options.busyMs;
        while (performance.now() < end);
      }
      s.value++;
      s.draws.push(ctx.rng.int(0, 1_000_000));
      const done = typeof ctx.params.target === "number" && s.value >= ctx.params.target;
      return options.async ? Promise.resolve(done) : done;
    },
    metrics: (s) => ({ value: s.value, consensus: 0, clusters: 1 }),
  };
}

const graph = completeGraph(3);

describe("simulate", () => {
  it("takes metrics at step 0, every k steps and at the end, each once, with steps added", async () => {
    const r = await simulate(counter(), { graph, params: {}, seed: 1, steps: 10, every: 4 });
    assert.equal(r.steps, 10);
    assert.equal(r.converged, false);
    assert.equal(r.stop, "steps");
    assert.equal(r.update, "synchronous");
    assert.deepEqual(r.series.map((p) => p.step), [0, 4, 8, 10]);
    assert.deepEqual(r.series.map((p) => p.metrics.value), [0, 4, 8, 10]);
    assert.deepEqual(r.final, { value: 10, consensus: 0, clusters: 1, steps: 10 });
    const exact = await simulate(counter(), { graph, params: {}, seed: 1, steps: 8, every: 4 });
    assert.deepEqual(exact.series.map((p) => p.step), [0, 4, 8]);
  });

  it("records only the final metrics without every, and stops when the dynamics converges", async () => {
    const r = await simulate(counter(), { graph, params: { target: 6 }, seed: 1, steps: 100 });
    assert.equal(r.steps, 6);
    assert.equal(r.converged, true);
    assert.equal(r.stop, "converged");
    assert.deepEqual(r.series, [{ step: 6, metrics: r.final }]);
    assert.equal(r.final.steps, 6);
  });

  it("takes the step limit from params.steps and awaits promise-returning steps", async () => {
    const r = await simulate(counter({ async: true }), { graph, params: { steps: 5 }, seed: 1 });
    assert.equal(r.steps, 5);
    const c = await simulate(counter({ async: true }), { graph, params: { target: 2, steps: 5 }, seed: 1 });
    assert.equal(c.steps, 2);
    assert.equal(c.converged, true);
  });

  it("calls onStep after init and after every step, with metrics where they were taken", async () => {
    const seen: { step: number; value: number; metrics: number | undefined }[] = [];
    await simulate(counter(), {
      graph,
      params: {},
      seed: 1,
      steps: 5,
      every: 2,
      onStep: async (e) => {
        await Promise.resolve();
        seen.push({ step: e.step, value: e.state.value, metrics: e.metrics?.value });
      },
    });
    assert.deepEqual(seen, [
      { step: 0, value: 0, metrics: 0 },
      { step: 1, value: 1, metrics: undefined },
      { step: 2, value: 2, metrics: 2 },
      { step: 3, value: 3, metrics: undefined },
      { step: 4, value: 4, metrics: 4 },
      { step: 5, value: 5, metrics: 5 },
    ]);
  });

  it("stops between steps when the signal is aborted, and reports the state reached", async () => {
    const ac = new AbortController();
    const r = await simulate(counter(), {
      graph,
      params: {},
      seed: 1,
      steps: 100,
      signal: ac.signal,
      onStep: (e) => {
        if (e.step === 3) ac.abort();
      },
    });
    assert.equal(r.stop, "aborted");
    assert.equal(r.converged, false);
    assert.equal(r.steps, 3);
    assert.equal(r.final.value, 3);
  });

  it("yields to the event loop so a timer can abort a long synchronous run, and stops at the next step", async () => {
    // Each step computes for at least 5 ms without awaiting anything; the engine yields at least
    // every 50 ms of computing, so a timer due at once runs after at most 10 steps, or at the
    // latest at the yield after that (20 steps) whatever the machine's load: a busy machine makes
    // steps slower, never more numerous per 50 ms. Without yielding, the timer would never run
    // and the run would end at its step limit.
    const ac = new AbortController();
    let state: Counter | undefined;
    const busy: Dynamics<Counter> = { ...counter({ busyMs: 5 }), init: () => (state = { value: 0, draws: [] }) };
    let stepsWhenAborted = -1;
    setTimeout(() => {
      stepsWhenAborted = state?.value ?? 0;
      ac.abort();
    }, 0);
    const r = await simulate(busy, { graph, params: {}, seed: 1, steps: 400, signal: ac.signal });
    assert.equal(r.stop, "aborted");
    assert.ok(stepsWhenAborted >= 1 && stepsWhenAborted <= 20, `the timer ran after ${stepsWhenAborted} steps`);
    // Seen before another step began.
    assert.equal(r.steps, stepsWhenAborted);
    assert.equal(r.final.value, stepsWhenAborted);
  });

  it("gives the same run for the same seed, another for another seed", async () => {
    const draws = async (seed: number) => {
      let state: Counter | undefined;
      await simulate(counter(), { graph, params: {}, seed, steps: 20, onStep: (e) => void (state = e.state) });
      return state!.draws;
    };
    assert.deepEqual(await draws(9), await draws(9));
    assert.notDeepEqual(await draws(9), await draws(10));
    const g = erdosRenyi(300, { meanDegree: 6 }, 2);
    const a = await simulate(voter, { graph: g, params: {}, seed: 4, steps: 30, every: 5 });
    const b = await simulate(voter, { graph: g, params: {}, seed: 4, steps: 30, every: 5 });
    assert.deepEqual(a, b);
  });

  it("rejects a bad step limit, every, or an agents parameter that disagrees with the graph", async () => {
    const rejects = (p: Promise<unknown>, re: RegExp) => assert.rejects(p, (e: unknown) => e instanceof CivitasError && e.kind === "usage" && re.test(e.message));
    await rejects(simulate(counter(), { graph, params: {}, seed: 1 }), /steps must be an integer >= 0, got undefined/);
    await rejects(simulate(counter(), { graph, params: {}, seed: 1, steps: 2.5 }), /steps must be/);
    await rejects(simulate(counter(), { graph, params: {}, seed: 1, steps: 5, every: 0 }), /every must be/);
    await rejects(simulate(counter(), { graph, params: { agents: 4 }, seed: 1, steps: 5 }), /agents = 4 but the graph has 3 nodes/);
  });
});

describe("helpers for dynamics", () => {
  it("reads numeric parameters with defaults and ranges, naming the bad one", () => {
    assert.equal(numberParam({ epsilon: 0.2 }, "epsilon", { min: 0 }), 0.2);
    assert.equal(numberParam({ epsilon: "0.25" }, "epsilon", { min: 0 }), 0.25);
    assert.equal(numberParam({}, "mu", { default: 0.5 }), 0.5);
    assert.throws(() => numberParam({}, "epsilon", {}), /parameter epsilon is required/);
    assert.throws(() => numberParam({ mu: 0.7 }, "mu", { min: 0, exclusiveMin: true, max: 0.5 }), /parameter mu must be a number > 0 and <= 0.5, got 0.7/);
    assert.throws(() => numberParam({ agents: true }, "agents", { integer: true }), /parameter agents must be an integer, got true/);
  });

  it("counts major clusters (>= 5% of agents) of opinions separated by more than the tolerance", () => {
    const x = new Float64Array(100);
    for (let i = 0; i < 100; i++) x[i] = i < 60 ? 0.2 : i < 96 ? 0.7 + i * 1e-5 : 0.9 + i * 0.01; // 60, 36, then 4 singletons
    const s = summarizeOpinions(x, 1e-3);
    assert.equal(s.clusters, 2);
    assert.equal(s.consensus, 0);
    assert.equal(s.largest, 0.6);
    assert.ok(Math.abs(s.spread - (0.9 + 0.99 - 0.2)) < 1e-12);
    assert.equal(summarizeOpinions(new Float64Array([0.5, 0.5004, 0.5008]), 1e-3).consensus, 1);
    assert.equal(summarizeOpinions(new Float64Array([0.5, 0.5008, 0.5016]), 1e-3).consensus, 0);
  });
});
