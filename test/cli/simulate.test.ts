/**
 * `civitas simulate` as a user runs it, on the shipped examples: the JSON shape and the published
 * results each example shows (Hegselmann-Krause consensus transition, Deffuant clusters, voter
 * consensus time N ln 2, DeGroot on small worlds), the text tables, the same command finding the
 * same run, flags overriding the file, and exit codes with one clear error for a bad scenario.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { runCli } from "../helpers/cli.js";
import { REPO, tempDir } from "../helpers/paths.js";

interface Summary {
  mean: number;
  ci: [number | null, number | null];
  interval?: string;
  dropped?: number[];
  n: number;
  min: number;
  max: number;
  per_seed: (number | null)[];
}
interface Result {
  run: string;
  scenario: string;
  dynamics: string;
  model: string;
  sweep: string[];
  seeds: number[];
  points: { params: Record<string, number | string>; metrics: Record<string, Summary> }[];
  stop: string;
  simulations: { total: number; run: number; stored: number; stopped: unknown[]; not_run: number };
  store: string;
}

const dir = tempDir();
const example = (name: string) => path.join(REPO, "examples", `${name}.yaml`);
const json = async (args: string[]): Promise<Result> => {
  const r = await runCli(["simulate", ...args, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, "");
  return JSON.parse(r.stdout) as Result;
};
const mean = (r: Result, metric: string) => r.points.map((p) => p.metrics[metric]!.mean);

describe("civitas simulate", () => {
  it("hk.yaml: consensus 0 at epsilon 0.15 and 0.19, 1 at 0.25 and 0.3 (Fortunato 2005), in the documented JSON shape", async () => {
    const store = path.join(dir, "hk.duckdb");
    const r = await json([example("hk"), "--store", store]);
    assert.match(r.run, /^[0-9a-f]{12}$/u);
    assert.equal(r.scenario, "hk-consensus");
    assert.equal(r.model, "none");
    assert.equal(r.stop, "done");
    assert.equal(r.store, store);
    assert.deepEqual(r.sweep, ["epsilon"]);
    assert.deepEqual(
      r.points.map((p) => p.params.epsilon),
      [0.15, 0.19, 0.22, 0.25, 0.3],
    );
    assert.deepEqual(r.points[0]!.params, { agents: 1000, graph: "complete", steps: 1000, epsilon: 0.15 });
    const c = mean(r, "consensus");
    assert.deepEqual([c[0], c[1], c[3], c[4]], [0, 0, 1, 1]);
    assert.ok(c[2]! > 0 && c[2]! < 1, `epsilon 0.22 is in the transition: ${c[2]}`);
    const m = r.points[2]!.metrics.consensus!;
    assert.deepEqual(Object.keys(m), ["mean", "ci", "interval", "n", "min", "max", "per_seed", "dropped"]);
    assert.equal(m.per_seed.length, 10);
    assert.equal(m.mean, m.per_seed.reduce<number>((a, b) => a + b!, 0) / 10);
    assert.ok(m.ci[0]! < m.mean && m.mean < m.ci[1]!);
    assert.deepEqual(m.dropped, []);
    // consensus is 0 or 1 per seed: a Wilson interval for the share of seeds. With 0 of 10 it is
    // [0, z^2 / (10 + z^2)] (Wilson 1927), not the t-interval's [0, 0], and it never leaves [0, 1].
    const z2 = 1.959963984540054 ** 2;
    const none = r.points[0]!.metrics.consensus!;
    assert.equal(none.interval, "wilson");
    assert.equal(none.ci[0], 0);
    assert.ok(Math.abs(none.ci[1]! - z2 / (10 + z2)) < 1e-12, String(none.ci));
    for (const p of r.points) assert.ok(p.metrics.consensus!.ci[0]! >= 0 && p.metrics.consensus!.ci[1]! <= 1);
    // steps cannot be negative: its interval is clipped at 0.
    for (const p of r.points) assert.ok(p.metrics.steps!.ci[0]! >= 0, String(p.metrics.steps!.ci));
    assert.deepEqual(r.simulations, { total: 50, run: 50, stored: 0, stopped: [], not_run: 0 });

    // the same command finds the same run, from the store, and prints a table per point
    const again = await runCli(["simulate", example("hk"), "--store", store]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, new RegExp(`run ${r.run} · 50 simulations \\(0 run, 50 from the store\\)`, "u"));
    assert.match(again.stdout, /^epsilon = 0\.22\nmetric +mean +95% CI +min +max +seeds\nconsensus +0\.[0-9]+ +\[/mu);
    assert.equal(again.stdout.match(/^epsilon = /gmu)?.length, 5);
  });

  it("deffuant.yaml: floor(1/(2 epsilon)) clusters, 4-5 at 0.1 (Deffuant et al. 2000; Ben-Naim et al. 2003), consensus above 1/2", async () => {
    const r = await json([example("deffuant"), "--store", path.join(dir, "deffuant.duckdb")]);
    const eps = r.points.map((p) => p.params.epsilon);
    const clusters = (e: number) => r.points[eps.indexOf(e)]!.metrics.clusters!;
    assert.ok(clusters(0.1).min >= 4 && clusters(0.1).max <= 5);
    assert.deepEqual([clusters(0.2).min, clusters(0.2).max], [2, 2]);
    assert.deepEqual([clusters(0.3).min, clusters(0.3).max], [1, 1]);
    assert.equal(r.points[eps.indexOf(0.6)]!.metrics.consensus!.mean, 1);
  });

  it("voter.yaml: the mean consensus time's 95% interval holds N ln 2 for every N (Sood and Redner 2005)", async () => {
    const r = await json([example("voter"), "--store", path.join(dir, "voter.duckdb")]);
    assert.deepEqual(
      r.points.map((p) => p.params.agents),
      [100, 200, 400, 800],
    );
    for (const p of r.points) {
      const t = p.metrics.time!;
      const expected = Number(p.params.agents) * Math.LN2;
      assert.ok(t.ci[0]! <= expected && expected <= t.ci[1]!, `N = ${p.params.agents}: N ln 2 = ${expected.toFixed(1)}, interval [${t.ci.join(", ")}]`);
      assert.equal(p.metrics.consensus!.mean, 1);
    }
  });

  it("degroot.yaml: shortcuts speed up consensus on a small world (Watts-Strogatz rewiring)", async () => {
    const r = await json([example("degroot"), "--store", path.join(dir, "degroot.duckdb")]);
    const steps = mean(r, "steps");
    for (let i = 1; i < steps.length; i++) assert.ok(steps[i]! < steps[i - 1]!, `steps ${steps.join(", ")}`);
    assert.ok(steps[0]! > 20 * steps[3]!, `ring ${steps[0]} vs random ${steps[3]}`);
    assert.deepEqual(mean(r, "consensus"), [1, 1, 1, 1]);
  });

  it("takes --set and --seeds over the file: a fixed value replaces a sweep, a list makes one", async () => {
    const store = path.join(dir, "flags.duckdb");
    const one = await json([example("hk"), "--store", store, "--set", "epsilon=0.3", "--set", "agents=100", "--seeds", "1..3"]);
    assert.deepEqual(one.sweep, []);
    assert.equal(one.points.length, 1);
    assert.deepEqual(one.points[0]!.params, { agents: 100, graph: "complete", steps: 1000, epsilon: 0.3 });
    assert.deepEqual(one.seeds, [1, 2, 3]);
    const grid = await json([example("voter"), "--store", store, "--set", "agents=[16,36]", "--set", "graph=[complete,torus]", "--seeds", "4"]);
    assert.deepEqual(
      grid.points.map((p) => [p.params.agents, p.params.graph]),
      [
        [16, "complete"],
        [16, "torus"],
        [36, "complete"],
        [36, "torus"],
      ],
    );
    assert.notEqual(grid.run, one.run);
  });

  it("gives one clear error naming the file and field for a malformed scenario (exit 1), and exit 2 for bad flags", async () => {
    const bad = path.join(dir, "bad.yaml");
    writeFileSync(bad, "name: bad\ndynamics: hk\nparams: { agents: 100, steps: 50, epsilon: high }\n");
    const r = await runCli(["simulate", bad, "--store", path.join(dir, "bad.duckdb")]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    const lines = r.stderr.trimEnd().split("\n");
    assert.equal(lines[0], `error: ${bad}: params.epsilon: expected a number >= 0, got "high"`);
    assert.equal(lines.filter((l) => l.startsWith("error:")).length, 1);

    const missing = await runCli(["simulate", path.join(dir, "none.yaml")]);
    assert.equal(missing.code, 2, "a path that does not exist is a usage error, as in every command");
    assert.match(missing.stderr, /^error: no scenario file .*none\.yaml\n/u);

    for (const [args, message] of [
      [["--set", "mu=0.3"], /^error: --set mu: unknown parameter of hk \(valid: agents, graph, steps, graph_seed, epsilon, tolerance, threshold\)/u],
      [["--seeds", "9..1"], /^error: --seeds: range "9\.\.1" is empty/u],
      [["--max-calls", "10"], /^error: --max-calls: hk is rule-based and asks no model/u],
      [["--replay", "abc"], /^error: --replay: hk is rule-based/u],
      [["--max-calls", "x"], /--max-calls must be an integer >= 0/u],
      [["--set", "graph=torus", "--set", "agents=40"], /^error: --set graph: graph "torus": 40 agents do not fill a grid/u],
      [["--frobnicate"], /unknown option '--frobnicate'/u],
    ] as const) {
      const u = await runCli(["simulate", example("hk"), "--store", path.join(dir, "usage.duckdb"), ...args]);
      assert.equal(u.code, 2, `${args.join(" ")}: ${u.stderr}`);
      assert.match(u.stderr, message);
    }
  });

  it("--help teaches with examples and lists the dynamics", async () => {
    const r = await runCli(["simulate", "--help"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /Examples:\n {2}civitas simulate examples\/hk\.yaml/u);
    for (const d of ["degroot", "hk", "deffuant", "voter", "opinion", "conformity", "donor", "cooperation", "pressure", "debate", "feed"]) assert.match(r.stdout, new RegExp(`^ {2}${d} `, "mu"));
    assert.match(r.stdout, /--max-calls <n>/u);
    const top = await runCli(["--help"]);
    assert.match(top.stdout, /simulate \[options\] <file>/u);
  });
});
