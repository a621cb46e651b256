/**
 * `civitas export` of a simulation run: its metric series (every point x seed x step x metric) in
 * CSV, JSON Lines and Parquet, or a model-driven simulation's recorded calls; and a run with
 * nothing to export is an error (exit 1, no file), never an empty file with exit 0.
 *
 * The simulations are real (examples/hk.yaml; examples/opinion.yaml on the real tiny model); the
 * exported values are checked against what `civitas simulate --json` reported for each seed.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { DuckDBInstance } from "@duckdb/node-api";
import { Store } from "../../src/store/store.js";
import { runCli } from "../helpers/cli.js";
import { REPO, tempDir } from "../helpers/paths.js";

const dir = tempDir();
const example = (name: string) => path.join(REPO, "examples", `${name}.yaml`);

interface SimResult {
  run: string;
  points: { params: Record<string, number | string>; metrics: Record<string, { per_seed: (number | null)[] }> }[];
  seeds: number[];
  model_calls: number;
  cache_hits: number;
}

async function simulate(args: string[]): Promise<SimResult> {
  const r = await runCli(["simulate", ...args, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as SimResult;
}

interface Row {
  run: string;
  point: number;
  param_epsilon: number;
  seed: number;
  step: number;
  metric: string;
  value: number | null;
}

/** Checks exported rows against the simulation's own report: its final value per point, seed and metric. */
function checkRows(rows: readonly Row[], sim: SimResult, what: string): void {
  const metrics = Object.keys(sim.points[0]!.metrics);
  // hk stores the final step only (no `every`): one row per point x seed x metric.
  assert.equal(rows.length, sim.points.length * sim.seeds.length * metrics.length, what);
  for (const [p, point] of sim.points.entries()) {
    for (const [k, seed] of sim.seeds.entries()) {
      for (const m of metrics) {
        const row = rows.find((r) => Number(r.point) === p && Number(r.seed) === seed && r.metric === m);
        assert.ok(row, `${what}: point ${p} seed ${seed} ${m}`);
        assert.equal(row.run, sim.run);
        assert.equal(Number(row.param_epsilon), point.params.epsilon);
        assert.equal(row.value === null ? null : Number(row.value), point.metrics[m]!.per_seed[k], `${what}: point ${p} seed ${seed} ${m}`);
      }
    }
  }
}

describe("civitas export <simulation run>", () => {
  const store = path.join(dir, "sim.duckdb");
  let sim: SimResult;

  it("writes the metric series in csv, jsonl and parquet, one row per point x seed x step x metric", async () => {
    sim = await simulate([example("hk"), "--set", "agents=60", "--set", "epsilon=[0.15,0.3]", "--seeds", "1..3", "--store", store]);

    const csv = path.join(dir, "series.csv");
    const c = await runCli(["export", sim.run, "--store", store, "--out", csv]);
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stderr, /^wrote 36 metric values of simulation [0-9a-f]{12} to /u);
    const [header, ...lines] = readFileSync(csv, "utf8").trim().split("\n");
    assert.equal(header, "run,point,param_epsilon,seed,step,metric,value");
    const csvRows = lines.map((l) => {
      const [run, point, eps, seed, step, metric, value] = l.split(",");
      return { run: run!, point: Number(point), param_epsilon: Number(eps), seed: Number(seed), step: Number(step), metric: metric!, value: value === "" ? null : Number(value) };
    });
    checkRows(csvRows, sim, "csv");

    const jsonl = path.join(dir, "series.jsonl");
    const j = await runCli(["export", sim.run, "--store", store, "--format", "jsonl", "--out", jsonl]);
    assert.equal(j.code, 0, j.stderr);
    checkRows(readFileSync(jsonl, "utf8").trim().split("\n").map((l) => JSON.parse(l) as Row), sim, "jsonl");

    const parquet = path.join(dir, "series.parquet");
    const q = await runCli(["export", sim.run, "--store", store, "--format", "parquet", "--out", parquet]);
    assert.equal(q.code, 0, q.stderr);
    const db = await DuckDBInstance.create(":memory:");
    const con = await db.connect();
    const read = await con.runAndReadAll(`SELECT * FROM read_parquet('${parquet.replace(/'/gu, "''")}')`);
    checkRows(read.getRowObjectsJS() as unknown as Row[], sim, "parquet");
    con.closeSync();
    db.closeSync();
  });

  it("--calls of a rule-based simulation, and a simulation with nothing stored, are errors that write no file", async () => {
    const out = path.join(dir, "calls.csv");
    const r = await runCli(["export", sim.run, "--store", store, "--calls", "--out", out]);
    assert.equal(r.code, 2, "--calls does not apply to a rule-based simulation: a usage error");
    assert.match(r.stderr, /error: --calls: simulation [0-9a-f]{12} is rule-based and asked no model/u);
    assert.equal(existsSync(out), false);

    // A simulation interrupted before its first simulation finished: a run with a configuration and no metrics.
    const empty = path.join(dir, "empty.duckdb");
    const s = await Store.open(empty);
    await s.beginRun({ id: "0123456789ab", command: "civitas simulate x.yaml", suite: "sim:x", model: "none", metric: "-", config: { kind: "simulate", sweep: [], points: [{}] } });
    await s.beginRun({ id: "ba9876543210", command: "civitas eval opinionqa", suite: "opinionqa", model: "m", metric: "tv", config: { suite: "opinionqa" } });
    await s.close();
    const none = path.join(dir, "none.csv");
    const e = await runCli(["export", "0123", "--store", empty, "--out", none]);
    assert.equal(e.code, 1);
    assert.match(e.stderr, /error: simulation 0123456789ab has no stored metrics to export \(status interrupted: the store was closed before the run finished\)/u);
    assert.equal(existsSync(none), false);
    const ev = await runCli(["export", "ba98", "--store", empty, "--out", none]);
    assert.equal(ev.code, 1);
    assert.match(ev.stderr, /error: run ba9876543210 has no stored answers to export/u);
    assert.equal(existsSync(none), false);
  });

  it("--calls exports a model-driven simulation's recorded calls, one row per call", async () => {
    const s = path.join(dir, "opinion.duckdb");
    const o = await simulate([example("opinion"), "--set", "agents=8", "--set", "steps=2", "--seeds", "1", "--store", s]);
    const out = path.join(dir, "calls.jsonl");
    const r = await runCli(["export", o.run, "--store", s, "--calls", "--format", "jsonl", "--out", out]);
    assert.equal(r.code, 0, r.stderr);
    const rows = readFileSync(out, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { run: string; seed: number; call: number; prompt: string; labels: string[]; label_mass: number[] });
    // Every call of the simulation is recorded, whether the model or the cache answered it.
    assert.equal(rows.length, o.model_calls + o.cache_hits);
    assert.deepEqual(rows.map((x) => x.call), rows.map((_, i) => i));
    for (const x of rows) {
      assert.equal(x.run, o.run);
      assert.match(x.prompt, /How safe, if at all, would you say your local community is from crime\?/u);
      assert.deepEqual(x.labels, ["A", "B", "C", "D", "E"]);
      assert.equal(x.label_mass.length, 5);
    }
  });
});
