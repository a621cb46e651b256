/**
 * Sweeps: seeds and grid expansion, the t-interval on hand cases (values from R's t.test), and
 * whole scenarios run into a real DuckDB file: stored series read back, the same seed giving the
 * same numbers, resume after an interrupt, the consensus transition of Hegselmann-Krause across
 * epsilon, and model-driven agents on the real stories260K model (recorded calls, a budget that
 * stops cleanly and continues, replay with no model).
 */
import assert from "node:assert/strict";
import path from "node:path";
import { describe, it } from "node:test";
import { CivitasError } from "../../src/errors.js";
import { parseScenario } from "../../src/sim/scenario.js";
import { runScenario, type SimulationReport } from "../../src/sim/run.js";
import { droppedLine } from "../../src/report/index.js";
import { wilsonInterval } from "../../src/metrics/intervals.js";
import { metricKind } from "../../src/sim/metric-kinds.js";
import { expandGrid, formatSeeds, parseSeeds, summarizeMetrics, tInterval } from "../../src/sim/sweep.js";
import type { DynamicsFactory } from "../../src/sim/types.js";
import { Store } from "../../src/store/index.js";
import { rejectsCivitas } from "../helpers/errors.js";
import { MODEL, OPINIONQA, tempDir } from "../helpers/paths.js";

const close = (a: number, b: number, tol = 1e-6) => assert.ok(Math.abs(a - b) <= tol, `${a} != ${b}`);

describe("seeds", () => {
  it('reads "a..b" inclusive, lists, one seed, and writes ranges back', () => {
    assert.deepEqual(parseSeeds("1..20", "seeds"), Array.from({ length: 20 }, (_, i) => i + 1));
    assert.deepEqual(parseSeeds(" 3 .. 5 ", "seeds"), [3, 4, 5]);
    assert.deepEqual(parseSeeds("7", "seeds"), [7]);
    assert.deepEqual(parseSeeds(7, "seeds"), [7]);
    assert.deepEqual(parseSeeds("1,5, 9", "seeds"), [1, 5, 9]);
    assert.deepEqual(parseSeeds("[2,4]", "seeds"), [2, 4]);
    assert.deepEqual(parseSeeds([0, 10], "seeds"), [0, 10]);
    assert.equal(formatSeeds([1, 2, 3, 4]), "1..4");
    assert.equal(formatSeeds([1, 5, 9]), "1, 5, 9");
    assert.equal(formatSeeds([4]), "4");
  });

  it("rejects empty ranges, non-integers, negatives and repeats, naming where", () => {
    for (const [bad, what] of [
      ["3..1", /--seeds: range "3\.\.1" is empty/u],
      ["1..x", /--seeds: seed "x" is not an integer/u],
      ["1.5", /--seeds: seed "1.5" is not an integer/u],
      ["-1", /--seeds: seed "-1" is not an integer/u],
      ["1,2,1", /--seeds: seed 1 is listed twice/u],
      ["1,,2", /--seeds: "1,,2" is not a seed list/u],
      ["0..1000000", /names 1000001 seeds; at most 100000/u],
    ] as const) {
      assert.throws(() => parseSeeds(bad, "--seeds"), (e: unknown) => e instanceof CivitasError && e.kind === "usage" && what.test(e.message), bad);
    }
    assert.throws(() => parseSeeds([1.5], "seeds"), /seeds: seed 1.5 is not an integer/u);
  });
});

describe("grid", () => {
  it("is the product of the swept values, the first parameter varying slowest, over the fixed ones", () => {
    const points = expandGrid({ agents: 100, steps: 10, epsilon: 0.5 }, [
      ["epsilon", [0.1, 0.2]],
      ["graph", ["complete", "er:k=4"]],
      ["mu", [0.3]],
    ]);
    assert.deepEqual(points, [
      { agents: 100, steps: 10, epsilon: 0.1, graph: "complete", mu: 0.3 },
      { agents: 100, steps: 10, epsilon: 0.1, graph: "er:k=4", mu: 0.3 },
      { agents: 100, steps: 10, epsilon: 0.2, graph: "complete", mu: 0.3 },
      { agents: 100, steps: 10, epsilon: 0.2, graph: "er:k=4", mu: 0.3 },
    ]);
    assert.deepEqual(expandGrid({ agents: 5 }, []), [{ agents: 5 }]);
  });
});

describe("t-interval", () => {
  it("matches R's t.test on hand cases", () => {
    // t.test(1:5)$conf.int: 1.036757 4.963243 (mean 3, s = sqrt(2.5), t_{0.975,4} = 2.776445)
    const a = tInterval([1, 2, 3, 4, 5]);
    assert.equal(a.mean, 3);
    close(a.sd, Math.sqrt(2.5), 1e-12);
    close(a.ci[0], 1.036757);
    close(a.ci[1], 4.963243);
    // t.test(c(0, 1))$conf.int: -5.853102 6.853102 (t_{0.975,1} = 12.7062)
    const b = tInterval([0, 1]);
    close(b.ci[0], -5.853102);
    close(b.ci[1], 6.853102);
    // 90%: mean 19.9 / 6, s^2 = 7.108333 / 5, t_{0.95,5} = 2.015048 (tables): 3.316667 -+ 0.980873
    const c = tInterval([2.1, 3.4, 1.9, 5.0, 4.2, 3.3], 0.9);
    close(c.ci[0], 2.335794, 1e-5);
    close(c.ci[1], 4.29754, 1e-5);
  });

  it("is undefined for one value, a point for no spread, and ignores non-finite values", () => {
    const one = tInterval([4]);
    assert.equal(one.mean, 4);
    assert.ok(Number.isNaN(one.ci[0]) && Number.isNaN(one.ci[1]));
    assert.deepEqual(tInterval([2, 2, 2]).ci, [2, 2]);
    const some = tInterval([1, Number.NaN, 2, 3, 4, 5]);
    assert.equal(some.n, 5);
    close(some.ci[0], 1.036757);
    assert.equal(tInterval([]).n, 0);
  });

  it("summarises each metric across seeds with the per-seed values in seed order, null where missing", () => {
    const s = summarizeMetrics([{ consensus: 1, steps: 4 }, undefined, { consensus: 0, steps: 6 }, { consensus: 1, steps: Number.NaN }]);
    assert.deepEqual(Object.keys(s), ["consensus", "steps"]);
    assert.deepEqual(s.consensus!.per_seed, [1, null, 0, 1]);
    assert.equal(s.consensus!.n, 3);
    close(s.consensus!.mean, 2 / 3, 1e-12);
    assert.deepEqual(s.steps!.per_seed, [4, null, 6, null]);
    assert.equal(s.steps!.mean, 5);
    assert.equal(s.steps!.min, 4);
    assert.equal(s.steps!.max, 6);
    const ordered = summarizeMetrics([{ b: 1, steps: 2, a: 3, c: 4 }], { order: ["steps", "c", "z"] });
    assert.deepEqual(Object.keys(ordered), ["steps", "c", "a", "b"]);
  });
});

describe("intervals across seeds respect each metric's kind", () => {
  it("the Wilson score interval matches Newcombe (1998, Table II, method 3) and a hand computation", () => {
    // Newcombe, "Two-sided confidence intervals for the single proportion: comparison of seven
    // methods", Statistics in Medicine 17:857-872, 1998, Table II, score method without continuity
    // correction, 95%: 81/263, 15/148, 0/20, 1/29. The table gives 4 decimals: tolerance 5e-5.
    const cases: [number, number, number, number][] = [
      [81, 263, 0.2553, 0.3662],
      [15, 148, 0.0624, 0.1605],
      [0, 20, 0, 0.1611],
      [1, 29, 0.0061, 0.1718],
    ];
    for (const [k, n, lo, hi] of cases) {
      const w = wilsonInterval(k, n);
      close(w.ci[0], lo, 5e-5);
      close(w.ci[1], hi, 5e-5);
      assert.equal(w.share, k / n);
    }
    // From Wilson's formula by hand (Python, z = 1.959964), 3 of 10: centre (0.3 + z^2/20) / (1 + z^2/10)
    // = 0.355507, half z sqrt(0.021 + z^2/400) / (1 + z^2/10) = 0.247715 -> [0.107791, 0.603222].
    const w = wilsonInterval(3, 10);
    close(w.ci[0], 0.107791);
    close(w.ci[1], 0.603222);
    // 0 of n: [0, z^2 / (n + z^2)] exactly; n of n mirrors it.
    const z2 = 1.959963984540054 ** 2;
    assert.equal(wilsonInterval(0, 10).ci[0], 0);
    close(wilsonInterval(0, 10).ci[1], z2 / (10 + z2), 1e-12);
    close(wilsonInterval(10, 10).ci[0], 10 / (10 + z2), 1e-12);
    assert.equal(wilsonInterval(10, 10).ci[1], 1);
    assert.ok(Number.isNaN(wilsonInterval(0, 0).ci[0]));
  });

  it("consensus (0/1 per seed) gets the Wilson interval, not a t-interval that leaves [0, 1]", () => {
    // 1 of 5 seeds reached consensus: Student's t gives [-0.355, 0.755] (the example).
    const t = tInterval([0, 1, 0, 0, 0]);
    close(t.ci[0], -0.355297, 1e-5);
    const s = summarizeMetrics([{ consensus: 0 }, { consensus: 1 }, { consensus: 0 }, { consensus: 0 }, { consensus: 0 }]);
    assert.equal(s.consensus!.interval, "wilson");
    assert.equal(s.consensus!.mean, 0.2);
    // Wilson, 1 of 5, by hand: centre (0.2 + z^2/10) / (1 + z^2/5) = 0.330345, half = 0.294121.
    close(s.consensus!.ci[0], 0.036224, 1e-5);
    close(s.consensus!.ci[1], 0.624465, 1e-5);
    // Every seed agrees: the interval is not a point.
    const all = summarizeMetrics([{ consensus: 1 }, { consensus: 1 }, { consensus: 1 }]).consensus!;
    assert.ok(all.ci[0] > 0.4 && all.ci[0] < 1 && all.ci[1] === 1, String(all.ci));
  });

  it("steps and shares are clipped to their range; unknown metrics keep the t-interval", () => {
    const s = summarizeMetrics([6, 6, 7, 6, 24].map((steps) => ({ steps, largest: steps === 24 || steps === 7 ? 1 : 0.5, other: steps - 10 })));
    const t = tInterval([6, 6, 7, 6, 24]);
    assert.ok(t.ci[0] < 0, "the t-interval of these steps goes below 0");
    assert.equal(s.steps!.interval, "t-clipped");
    assert.deepEqual(s.steps!.ci, [0, t.ci[1]]);
    const tl = tInterval([0.5, 0.5, 1, 0.5, 1]);
    assert.ok(tl.ci[1] > 1);
    assert.deepEqual(s.largest!.ci, [tl.ci[0], 1]);
    assert.equal(s.other!.interval, "t");
    assert.deepEqual(s.other!.ci, tInterval([-4, -4, -3, -4, 14]).ci);
    assert.equal(metricKind("share_3").kind, "bounded");
    assert.equal(metricKind("switch_rate_12").kind, "bounded");
    assert.equal(metricKind("consensus").kind, "indicator");
    assert.equal(metricKind("no_such_metric").kind, "real");
    // A value outside the registered range: the registry is wrong for this dynamics, so no clipping.
    assert.equal(summarizeMetrics([{ steps: -3 }, { steps: 5 }]).steps!.interval, "t");
    assert.equal(summarizeMetrics([{ consensus: 0.5 }, { consensus: 1 }]).consensus!.interval, "t");
  });

  it("names the seeds each metric left out, in the result and the text output", () => {
    const s = summarizeMetrics([{ consensus: 1, tv: 0.2 }, undefined, { consensus: 0, tv: Number.NaN }, { consensus: 1, tv: 0.3 }], { seeds: [11, 12, 13, 14] });
    assert.deepEqual(s.consensus!.dropped, [12]);
    assert.deepEqual(s.tv!.dropped, [12, 13]);
    assert.equal(s.tv!.n, 2);
    assert.equal(droppedLine(s), "left out, no value: consensus (seed 12); tv (seeds 12..13)");
    assert.equal(droppedLine(summarizeMetrics([{ consensus: 1 }])), "");
  });
});

// ---------------------------------------------------------------------------------------------
// Running scenarios into a real store

const scenario = (yaml: string, source = "test.yaml") => parseScenario(yaml, source);

async function withStore<T>(file: string, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await Store.open(file);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

const HK = `
name: hk-small
dynamics: hk
params: { agents: 200, steps: 1000 }
sweep: { epsilon: [0.1, 0.15, 0.2, 0.25, 0.3, 0.4] }
seeds: 1..10
`;

describe("running a sweep", () => {
  const dir = tempDir();

  it("shows the Hegselmann-Krause consensus transition: consensus rises with epsilon (N = 200)", async () => {
    const r = await withStore(path.join(dir, "hk.duckdb"), (store) => runScenario(scenario(HK), { store }));
    const consensus = r.points.map((p) => p.metrics.consensus!.mean);
    const clusters = r.points.map((p) => p.metrics.clusters!.mean);
    for (let i = 1; i < consensus.length; i++) {
      assert.ok(consensus[i]! >= consensus[i - 1]!, `consensus ${consensus.join(", ")}`);
      assert.ok(clusters[i]! <= clusters[i - 1]!, `clusters ${clusters.join(", ")}`);
    }
    assert.equal(consensus[0], 0); // epsilon 0.1: several clusters in every run
    assert.equal(consensus[consensus.length - 1], 1); // epsilon 0.4: one opinion in every run
    assert.ok(clusters[0]! >= 3);
    assert.equal(r.stop, "done");
    assert.deepEqual(r.simulations, { total: 60, run: 60, stored: 0, stopped: [], not_run: 0 });
    assert.deepEqual(r.sweep, ["epsilon"]);
    assert.deepEqual(r.points[2]!.params, { agents: 200, steps: 1000, graph: "complete", epsilon: 0.2 });
    assert.equal(r.points[0]!.metrics.consensus!.per_seed.length, 10);
  });

  it("stores each run's series and the summary; a fresh process reads them back, and the same command reports from the store", async () => {
    const file = path.join(dir, "series.duckdb");
    const s = scenario(`name: series\ndynamics: deffuant\nparams: { agents: 300, steps: 200, epsilon: 0.3 }\nsweep: { mu: [0.2, 0.5] }\nseeds: 1..3\nevery: 5\n`);
    const first = await withStore(file, (store) => runScenario(s, { store, command: "civitas simulate series.yaml" }));
    await withStore(file, async (store) => {
      const run = await store.getRun(first.run);
      assert.ok(run);
      assert.equal(run.suite, "sim:series");
      assert.equal(run.model, "none");
      assert.equal(run.metric, "-");
      assert.equal(run.status, "done");
      assert.equal(run.command, "civitas simulate series.yaml");
      assert.deepEqual(JSON.parse(JSON.stringify(run.summary)), JSON.parse(JSON.stringify(first)));
      const rows = await store.simMetrics(first.run);
      for (let p = 0; p < 2; p++) {
        for (const [k, seed] of [1, 2, 3].entries()) {
          const mine = rows.filter((r) => r.point === p && r.seed === seed);
          const steps = [...new Set(mine.map((r) => r.step))];
          const last = Math.max(...steps);
          // every 5 steps from 0, and the end
          assert.deepEqual(steps.filter((t) => t !== last), Array.from({ length: Math.ceil(last / 5) }, (_, i) => 5 * i));
          const final = mine.filter((r) => r.step === last);
          assert.equal(final.find((r) => r.metric === "steps")!.value, last);
          for (const metric of ["consensus", "clusters", "largest", "mean", "spread", "steps"]) {
            assert.equal(final.find((r) => r.metric === metric)!.value, first.points[p]!.metrics[metric]!.per_seed[k], `${metric} point ${p} seed ${seed}`);
          }
        }
      }
    });
    const again = await withStore(file, (store) => runScenario(s, { store }));
    assert.equal(again.run, first.run);
    assert.deepEqual(again.simulations, { total: 6, run: 0, stored: 6, stopped: [], not_run: 0 });
    assert.deepEqual(again.points, first.points);
  });

  it("gives the same numbers for the same seeds (in another store), others for other seeds; random graphs per seed or fixed by graph_seed", async () => {
    const yaml = (seeds: string, extra = "") => `name: er\ndynamics: voter\nparams: { agents: 60, steps: 100000, graph: "er:k=6"${extra} }\nseeds: ${seeds}\n`;
    const a = await withStore(path.join(dir, "a.duckdb"), (store) => runScenario(scenario(yaml("1..4")), { store }));
    const b = await withStore(path.join(dir, "b.duckdb"), (store) => runScenario(scenario(yaml("1..4")), { store }));
    const c = await withStore(path.join(dir, "b.duckdb"), (store) => runScenario(scenario(yaml("5..8")), { store }));
    assert.equal(a.run, b.run);
    assert.deepEqual(a.points, b.points);
    assert.notEqual(c.run, a.run);
    assert.notDeepEqual(c.points[0]!.metrics.time!.per_seed, a.points[0]!.metrics.time!.per_seed);
    const fixed = await withStore(path.join(dir, "b.duckdb"), (store) => runScenario(scenario(yaml("1..4", ", graph_seed: 3")), { store }));
    assert.notEqual(fixed.run, a.run);
    assert.notDeepEqual(fixed.points[0]!.metrics.time!.per_seed, a.points[0]!.metrics.time!.per_seed);
  });

  it("continues an interrupted run with the simulations it lacks, to the numbers of an uninterrupted one", async () => {
    const file = path.join(dir, "resume.duckdb");
    const s = scenario(`name: resume\ndynamics: hk\nparams: { agents: 150, steps: 500 }\nsweep: { epsilon: [0.1, 0.3] }\nseeds: 1..3\n`);
    const controller = new AbortController();
    const cut = await withStore(file, (store) =>
      runScenario(s, {
        store,
        signal: controller.signal,
        onProgress: (p) => {
          if (p.done === 2) controller.abort();
        },
      }),
    );
    assert.equal(cut.stop, "interrupted");
    assert.equal(cut.simulations.run, 2);
    assert.equal(cut.simulations.not_run, 4);
    await withStore(file, async (store) => {
      const run = await store.getRun(cut.run);
      assert.equal(run?.status, "interrupted");
      assert.match(run?.error ?? "", /interrupted after 2 of 6 simulations/u);
    });
    const rest = await withStore(file, (store) => runScenario(s, { store }));
    assert.equal(rest.run, cut.run);
    assert.deepEqual(rest.simulations, { total: 6, run: 4, stored: 2, stopped: [], not_run: 0 });
    const whole = await withStore(path.join(dir, "whole.duckdb"), (store) => runScenario(s, { store }));
    assert.deepEqual(rest.points, whole.points);
  });

  it("names the scenario field behind a graph that cannot be built", async () => {
    const s = scenario(`name: g\ndynamics: hk\nparams: { agents: 10, steps: 5, epsilon: 0.2 }\nsweep: { graph: [complete, "ws:k=3,beta=0.1"] }\n`, "g.yaml");
    const e = await rejectsCivitas(
      withStore(path.join(dir, "g.duckdb"), (store) => runScenario(s, { store })),
      "usage",
    );
    assert.match(e.message, /^g\.yaml: sweep\.graph: graph/u);
  });
});

// ---------------------------------------------------------------------------------------------
// Model-driven agents on the real model

interface Votes {
  x: Uint8Array;
}

/**
 * A small model-driven dynamics: each step every agent asks the model (all calls first, then every
 * agent updates), and takes opinion A with the probability the model gives "A".
 */
const asking: DynamicsFactory = (_params, deps) => ({
  name: "opinion",
  update: "synchronous",
  init: ({ graph, rng }) => ({ x: Uint8Array.from({ length: graph.n }, () => rng.int(0, 1)) }),
  async step(s: Votes, ctx) {
    const model = deps.model!;
    const answers = await Promise.all(
      Array.from(s.x, (v, i) =>
        model.optionDistribution({ prompt: `Day ${ctx.step}: Tom asked friend ${i}, who said ${v ? "yes" : "no"}. A. yes B. no Answer:`, labels: ["A", "B"], step: ctx.step, agent: i }),
      ),
    );
    answers.forEach((a, i) => (s.x[i] = ctx.rng.float() < a.distribution[0]! ? 1 : 0));
    return false;
  },
  metrics: (s: Votes) => ({ share: s.x.reduce((a, b) => a + b, 0) / s.x.length }),
}) as ReturnType<DynamicsFactory>;

describe("model-driven agents (stories260K)", () => {
  const dir = tempDir();
  const yaml = `name: asking\ndynamics: opinion\nparams: { agents: 4, steps: 3 }\nseeds: 1..2\nevery: 1\nmodel: { spec: "llama:${MODEL}", threads: 1 }\n`;

  it("records every call; a budget stops cleanly and the same command continues; a replay answers from the record with no model", async () => {
    const file = path.join(dir, "model.duckdb");
    await withStore(file, async (store) => {
      // 6 model calls allowed: the first step asks 4 (one prompt per agent), the second fails as a whole at its 3rd.
      const budgeted = scenario(`${yaml}budget: { max_calls: 6 }\n`);
      const cut: SimulationReport = await runScenario(budgeted, { store, factory: asking });
      assert.equal(cut.stop, "budget");
      assert.equal(cut.model_calls, 6);
      assert.deepEqual(cut.simulations.stopped, [{ point: 0, seed: 1, steps: 1 }]);
      assert.equal(cut.simulations.not_run, 1);
      assert.deepEqual(cut.points[0]!.metrics, {}); // no seed completed: nothing to summarise
      assert.equal(cut.budget_note, "6 model calls made (max_calls 6)");
      const partial = await store.simMetrics(cut.run);
      // the metrics so far: step 0 and the last complete step
      assert.deepEqual([...new Set(partial.map((r) => `${r.point}:${r.seed}:${r.step}`))], ["0:1:0", "0:1:1"]);

      // the same scenario without the budget is the same run: it continues, its first calls from the cache
      const full = await runScenario(scenario(yaml), { store, factory: asking });
      assert.equal(full.run, cut.run);
      assert.equal(full.stop, "done");
      assert.deepEqual(full.simulations, { total: 2, run: 2, stored: 0, stopped: [], not_run: 0 });
      assert.ok(full.cache_hits >= 6, `cache hits ${full.cache_hits}`);
      assert.deepEqual([...new Set((await store.simMetrics(full.run)).filter((r) => r.seed === 1).map((r) => r.step))], [0, 1, 2, 3]);
      for (const seed of [1, 2]) assert.equal((await store.simCalls(full.run, 0, seed)).length, 4 * 3, `seed ${seed}`);
      const shares = full.points[0]!.metrics.share!.per_seed;
      assert.ok(shares.every((v) => v !== null && v >= 0 && v <= 1));

      // replay: no model is opened (a file that does not exist would fail to open), same numbers
      const replayed = await runScenario(scenario(yaml.replace(MODEL, path.join(dir, "absent.gguf"))), { store, factory: asking, replay: full.run.slice(0, 6) });
      assert.notEqual(replayed.run, full.run);
      assert.equal(replayed.model_calls, 0);
      assert.deepEqual(replayed.points[0]!.metrics, full.points[0]!.metrics);
      assert.match(replayed.model, /\(replay of [0-9a-f]{12}\)$/u);

      // a replay of another scenario says which simulation it lacks
      const other = await rejectsCivitas(
        runScenario(scenario(yaml.replace("seeds: 1..2", "seeds: 1..3")), { store, factory: asking, replay: full.run }),
        "usage",
      );
      assert.match(other.message, /has no simulation at .*seed 3/u);
    });
  });

  it("reaches the agent scenarios of src/sim/agents by name; without a model they run their rule-based agents", async () => {
    const s = scenario(`name: donor\ndynamics: donor\nparams: { agents: 10, steps: 3, rounds: 2 }\nsweep: { multiplier: [1, 3] }\nseeds: 1..2\n`);
    const r = await withStore(path.join(dir, "donor.duckdb"), (store) => runScenario(s, { store }));
    assert.equal(r.model, "none");
    assert.equal(r.stop, "done");
    assert.deepEqual(r.points[1]!.metrics.steps!.per_seed, [3, 3]);
    assert.ok(r.points[0]!.metrics.cooperation!.n === 2);
    // metrics in the registry's order, numbered ones in numeric order, as the store gives them back
    const names = Object.keys(r.points[0]!.metrics);
    assert.deepEqual(names.slice(0, 4), ["cooperation", "resources", "unparsed", "llm_share"]);
    assert.equal(names[names.length - 1], "steps");
    const again = await withStore(path.join(dir, "donor.duckdb"), (store) => runScenario(s, { store }));
    assert.equal(again.simulations.stored, 4);
    assert.deepEqual(Object.keys(again.points[0]!.metrics), names);
  });

  it("passes the survey to the dynamics: the loaded suite, and its question, attribute and populations as params", async () => {
    const seen: { params: Record<string, unknown>; suite: string | undefined; questions: number }[] = [];
    const probe: DynamicsFactory = (params, deps) => {
      seen.push({ params: { ...params }, suite: deps.suite?.name, questions: deps.suite?.questions.length ?? 0 });
      return { name: "probe", init: () => ({}), step: () => true, metrics: () => ({ one: 1 }) };
    };
    const s = scenario(
      `name: probe\ndynamics: opinion\nparams: { agents: 3, steps: 1, llm_share: 0 }\nsurvey: { suite: opinionqa, data: "${OPINIONQA}", question: SAFECRIME_W26, attribute: POLPARTY, populations: [SEX=Female] }\n`,
    );
    const r = await withStore(path.join(dir, "probe.duckdb"), (store) => runScenario(s, { store, factory: probe }));
    assert.deepEqual(seen[0]!.params, { agents: 3, steps: 1, llm_share: 0, graph: "complete", question: "SAFECRIME_W26", attribute: "POLPARTY", populations: "SEX=Female" });
    assert.equal(seen[0]!.suite, "opinionqa");
    assert.ok(seen[0]!.questions > 600);
    assert.deepEqual(r.points[0]!.params, { agents: 3, steps: 1, llm_share: 0, graph: "complete" }); // the survey is not a swept or fixed parameter
  });
});
