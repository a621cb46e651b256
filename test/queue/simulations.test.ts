/**
 * `civitas simulate --queue`: a sweep's (point, seed) simulations as jobs run by `civitas worker`
 * processes, through BullMQ on a real redis-server (test/queue/redis.ts); every process the built
 * CLI as users run it.
 *
 * Stored rows are compared with an in-process run of the same command exactly (values as DuckDB
 * prints every digit): a worker runs the same code (run.ts simulateOne) on the same scenario, point
 * and seed, in the same Node build on the same machine, so the same floating-point operations in
 * the same order; for model-driven agents, the real stories260K with the same llama settings (one
 * prompt per sequence on one thread, as test/queue/queue.test.ts argues) on the same prompts.
 */
import assert from "node:assert/strict";
import { copyFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { DuckDBInstance } from "@duckdb/node-api";
import { Queue } from "bullmq";
import { parseModelSpec } from "../../src/models/index.js";
import { simulationQueueName } from "../../src/queue/index.js";
import { runCli, type CliResult } from "../helpers/cli.js";
import { MODEL, OPINIONQA, tempDir } from "../helpers/paths.js";
import { ended, killAll, serving, start as startProc, until, type Proc } from "./procs.js";
import { startRedis, type TestRedis } from "./redis.js";

const dir = tempDir("civitas-simjobs-test-");
const ENV = { CIVITAS_QUEUE_SWEEP_MS: "300", CIVITAS_QUEUE_CONNECT_MS: "2000" };
const LLAMA = ["--threads", "1", "--parallel", "1"];
/** No worker is killed in the model-driven test: locks long enough for a loaded machine (a 1 s lock missed would run a simulation again, costing time, not correctness). */
const LOCK = ["--lock-seconds", "15"];

/** Rule-based: 2 points x 2 seeds of Deffuant on 6000 agents, each simulation a fraction of a second (so a worker can be killed in the middle of one). */
const RULE = path.join(dir, "deffuant.yaml");
writeFileSync(RULE, ["name: deffuant-jobs", "dynamics: deffuant", "params: { agents: 6000, graph: complete, mu: 0.5, steps: 5000 }", "sweep: { epsilon: [0.02, 0.03] }", "seeds: 1..2", ""].join("\n"));
const N = 4;

const simulate = (file: string, store: string, extra: string[] = []) => ["simulate", file, "--store", store, "--json", "--progress", "none", ...extra];

interface SimJson {
  run: string;
  points: unknown[];
  simulations: { total: number; run: number; stored: number };
  model_calls: number;
}
function parsed(r: CliResult): SimJson {
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as SimJson;
}

/** Rows of a table of a store, every value as text (doubles with every digit). */
async function rowsOf(file: string, sql: string): Promise<string[]> {
  const db = await DuckDBInstance.create(file, { access_mode: "READ_ONLY" });
  const con = await db.connect();
  const rows = (await con.runAndReadAll(sql)).getRowObjectsJS();
  con.closeSync();
  db.closeSync();
  return rows.map((r) => JSON.stringify(r, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v)));
}
const metricsOf = (file: string) => rowsOf(file, "SELECT point, seed, step, metric, value::VARCHAR AS v FROM sim_metrics ORDER BY ALL");
const callsOf = (file: string) => rowsOf(file, "SELECT point, seed, call, step, agent, request_key FROM sim_calls ORDER BY ALL");
const requestsOf = (file: string) => rowsOf(file, "SELECT key, label_mass::VARCHAR AS m, coverage, raw::VARCHAR AS raw FROM requests ORDER BY key");

/** A worker and the simulation jobs it finished (its "simulation job <id>:" lines). */
type Worker = Proc & { ran(): string[] };
const withRan = (p: Proc): Worker => ({ ...p, ran: () => [...p.err().matchAll(/^simulation job (\S+):/gmu)].map((m) => m[1]!) });
const start = (args: string[]): Worker => withRan(startProc(args, ENV));
async function startWorker(url: string, extra: string[] = []): Promise<Worker> {
  return withRan(await serving(startProc(["worker", "--queue", url, "--lock-seconds", "1", ...extra], ENV)));
}

const redises: TestRedis[] = [];
const queues: Queue[] = [];
function queueOf(r: TestRedis, name: string): Queue {
  const q = new Queue(name, { connection: { url: r.url, maxRetriesPerRequest: null }, prefix: "civitas" });
  q.on("error", () => {});
  queues.push(q);
  return q;
}
const COUNTS = ["wait", "active", "completed", "failed", "delayed"] as const;

let baseline: { json: SimJson; metrics: string[] };
before(async () => {
  const store = path.join(dir, "rule-single.duckdb");
  baseline = { json: parsed(await runCli(simulate(RULE, store))), metrics: await metricsOf(store) };
  assert.equal(baseline.json.simulations.run, N);
});
after(async () => {
  killAll();
  await Promise.all(queues.map((q) => q.close()));
  await Promise.all(redises.map((r) => r.stop()));
});

describe("civitas simulate --queue: simulations as jobs", () => {
  it("rule-based: workers give the in-process numbers row for row; a worker kill -9 in the middle of a simulation is taken over", async () => {
    const r = await startRedis();
    redises.push(r);
    const q = queueOf(r, simulationQueueName());
    const w1 = await startWorker(r.url);
    const store = path.join(dir, "rule-killed-worker.duckdb");
    const c = start(simulate(RULE, store, ["--queue", r.url]));
    // w1 is the only worker: kill it while it runs a simulation.
    let held: string | undefined;
    await until(async () => (held = (await q.getActive())[0]?.id) !== undefined, "a simulation to be running");
    await w1.kill9();
    assert.ok(!w1.ran().includes(held!), "w1 died before finishing the simulation it held");
    const w2 = await startWorker(r.url);
    const w3 = await startWorker(r.url);
    const json = parsed(await ended(c, "the coordinator"));
    assert.equal(json.run, baseline.json.run, "the same run as in-process");
    assert.equal(json.simulations.run, N);
    assert.deepEqual(json.points, baseline.json.points);
    assert.deepEqual(await metricsOf(store), baseline.metrics);
    // The simulation w1 died holding was run again by another worker.
    assert.ok([...w2.ran(), ...w3.ran()].includes(held!), `${held} taken over`);
    assert.equal(new Set([...w1.ran(), ...w2.ran(), ...w3.ran()]).size, N);
    // What was collected left Redis.
    assert.equal(await q.getJobCountByTypes("completed", "wait", "active"), 0);
    await Promise.all([w2.kill9(), w3.kill9()]);
  });

  it("rule-based: a coordinator kill -9, then the same command: no simulation runs twice, the rest are collected from the queue, nothing enqueued again", async () => {
    const r = await startRedis();
    redises.push(r);
    const q = queueOf(r, simulationQueueName());
    const w = await startWorker(r.url);
    const store = path.join(dir, "rule-killed-coordinator.duckdb");
    const args = simulate(RULE, store, ["--queue", r.url]);
    const c1 = start(args);
    await until(() => w.ran().length >= 2, "two simulations to be done");
    await c1.kill9();
    // The worker goes on with the jobs c1 enqueued, with no coordinator.
    await until(async () => (await q.getJobCountByTypes("wait", "active")) === 0, "the queue to be worked off");
    const again = start([...args, "--progress", "lines"]);
    const json = parsed(await ended(again, "the second coordinator"));
    assert.equal(json.simulations.stored + json.simulations.run, N);
    assert.deepEqual(json.points, baseline.json.points);
    assert.deepEqual(await metricsOf(store), baseline.metrics);
    // Each simulation ran once, whether the first coordinator stored it or the second collected it.
    assert.equal(w.ran().length, N, w.ran().join(" "));
    assert.equal(new Set(w.ran()).size, N);
    if (json.simulations.run > 0) assert.match(again.err(), new RegExp(`the queue already holds ${json.simulations.run} of these simulations`, "u"));
    // The same command a third time: all from the store, nothing enqueued, nothing run.
    const third = parsed(await runCli(args, { env: ENV }));
    assert.equal(third.simulations.stored, N);
    assert.equal(third.simulations.run, 0);
    const left = await q.getJobCounts(...COUNTS);
    assert.deepEqual({ ...left, completed: 0 }, { wait: 0, active: 0, completed: 0, failed: 0, delayed: 0 });
    // A job leaves Redis once its result is stored: at most the one c1 stored as it was killed is left.
    assert.ok(left.completed! <= 1, `${left.completed} finished jobs left in Redis`);
    assert.equal(w.ran().length, N);
    await w.kill9();
  });

  it("model-driven (--distribute simulations): a worker of the scenario's model runs them, recorded as in-process (replay works); a worker of another model never takes one", async () => {
    const r = await startRedis();
    redises.push(r);
    const scenario = path.join(dir, "opinion.yaml");
    writeFileSync(
      scenario,
      [
        "name: opinion-jobs",
        "dynamics: opinion",
        "params: { agents: 8, graph: er:k=4, steps: 1, init: human, llm_share: 1 }",
        `model: { spec: ${JSON.stringify(`llama:${MODEL}`)}, threads: 1, parallel: 1 }`,
        `survey: { suite: opinionqa, data: ${JSON.stringify(OPINIONQA)}, question: SAFECRIME_W26, attribute: POLPARTY }`,
        "seeds: 1..2",
        "",
      ].join("\n"),
    );
    const single = path.join(dir, "opinion-single.duckdb");
    const other = path.join(dir, "other.gguf");
    copyFileSync(MODEL, other);
    // The other model's worker first, so it would be the one to take a job it could see.
    const [one, wOther] = await Promise.all([runCli(simulate(scenario, single)), startWorker(r.url, ["--model", `llama:${other}`, ...LLAMA, ...LOCK])]);
    const want = parsed(one);
    const store = path.join(dir, "opinion-queue.duckdb");
    const c = start(simulate(scenario, store, ["--queue", r.url, "--distribute", "simulations"]));
    const name = simulationQueueName((await parseModelSpec(`llama:${MODEL}`)).identity);
    await until(async () => (await queueOf(r, name).getJobCountByTypes("wait")) === 2 || /simulation job/u.test(wOther.err()), "the 2 simulations to wait");
    assert.doesNotMatch(wOther.err(), /simulation job/u, "the other model's worker never takes a job of this model");
    const w = await startWorker(r.url, ["--model", `llama:${MODEL}`, ...LLAMA, ...LOCK]);
    const got = parsed(await ended(c, "the coordinator"));
    assert.equal(got.run, want.run);
    assert.deepEqual(got.points, want.points);
    assert.equal(w.ran().length, 2);
    assert.equal(wOther.ran().length, 0, "the other model's worker ran nothing");
    assert.deepEqual(await metricsOf(store), await metricsOf(single));
    // The record came back with the results: the same calls and answers as in-process...
    const calls = await callsOf(store);
    assert.ok(calls.length > 0);
    assert.deepEqual(calls, await callsOf(single));
    assert.deepEqual(await requestsOf(store), await requestsOf(single));
    await Promise.all([w.kill9(), wOther.kill9()]);
    // ...so the run replays from the coordinator's store, with no model and no worker.
    const replay = parsed(await runCli(simulate(scenario, store, ["--replay", got.run]), { env: ENV }));
    assert.equal(replay.model_calls, 0);
    assert.deepEqual(replay.points, want.points);
  });

  it("refuses what simulation jobs cannot keep: a budget on model-driven jobs, --distribute without --queue, calls of a rule-based scenario", async () => {
    const scenario = path.join(dir, "budget.yaml");
    writeFileSync(scenario, ["name: budget-jobs", "dynamics: opinion", "params: { agents: 8, graph: er:k=4, steps: 1, init: human, llm_share: 1 }", `model: { spec: ${JSON.stringify(`llama:${MODEL}`)} }`, `survey: { suite: opinionqa, data: ${JSON.stringify(OPINIONQA)}, question: SAFECRIME_W26, attribute: POLPARTY }`, "budget: { max_calls: 10 }", ""].join("\n"));
    const b = await runCli(simulate(scenario, path.join(dir, "budget.duckdb"), ["--queue", "redis://127.0.0.1:1", "--distribute", "simulations"]), { env: ENV });
    assert.equal(b.code, 2, b.stderr);
    assert.match(b.stderr, /budget bounds the sweep's model calls in order, but simulation jobs run at once on many workers/u);
    const noQueue = await runCli(simulate(RULE, path.join(dir, "nq.duckdb"), ["--distribute", "simulations"]));
    assert.match(noQueue.stderr, /--distribute needs --queue/u);
    const calls = await runCli(simulate(RULE, path.join(dir, "nq.duckdb"), ["--queue", "redis://127.0.0.1:1", "--distribute", "calls"]));
    assert.match(calls.stderr, /deffuant is rule-based and makes no model calls/u);
  });
});
