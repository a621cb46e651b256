/**
 * `--queue`: a run's model calls answered by `civitas worker` processes through BullMQ on a real
 * redis-server (test/queue/redis.ts), every process the built CLI as users run it, the model the
 * real stories260K (llama.cpp in-process, --threads 1 --parallel 1). Each test has its own Redis.
 *
 * Numbers are compared with a single-process run key for key, exactly: the worker answers through
 * the same code (inProcessExecutor) with the same llama settings, one prompt per sequence on one
 * thread, so llama.cpp runs the same kernels on the same inputs in the same order of operations.
 */
import assert from "node:assert/strict";
import { copyFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { DuckDBInstance } from "@duckdb/node-api";
import { Queue } from "bullmq";
import { parseModelSpec } from "../../src/models/index.js";
import { queueName } from "../../src/queue/index.js";
import { runCli, type CliResult } from "../helpers/cli.js";
import { MODEL, OPINIONQA, tempDir } from "../helpers/paths.js";
import { ended, killAll, serving, start as startProc, until, type Proc } from "./procs.js";
import { startRedis, type TestRedis } from "./redis.js";

const dir = tempDir("civitas-queue-test-");
const LIMIT = 40;
/** Small jobs, so that 40 requests make 4 jobs; outstanding jobs checked often. */
const ENV = { CIVITAS_QUEUE_JOB_SIZE: "10", CIVITAS_QUEUE_SWEEP_MS: "300", CIVITAS_QUEUE_CONNECT_MS: "2000" };
const LLAMA = ["--threads", "1", "--parallel", "1"];

const evalArgs = (store: string, model = `llama:${MODEL}`, extra: string[] = []) => [
  "eval", "opinionqa", "--model", model, ...LLAMA, "--data", OPINIONQA, "--populations", "POLPARTY",
  "--limit", String(LIMIT), "--resamples", "10", "--store", store, "--progress", "lines", "--json", ...extra,
];

interface Row {
  key: string;
  m: string;
  coverage: number;
  raw: string;
}
/** The request cache of a store, by key (label masses as DuckDB prints them: every digit). */
async function requestsOf(file: string): Promise<Map<string, Row>> {
  const db = await DuckDBInstance.create(file, { access_mode: "READ_ONLY" });
  const con = await db.connect();
  const rows = (await con.runAndReadAll("SELECT key, label_mass::VARCHAR AS m, coverage, raw::VARCHAR AS raw FROM requests")).getRowObjectsJS() as unknown as Row[];
  con.closeSync();
  db.closeSync();
  return new Map(rows.map((r) => [r.key, r]));
}

function assertSameAnswers(got: Map<string, Row>, want: Map<string, Row>): void {
  assert.equal(got.size, want.size, "as many answers as the single-process run");
  for (const [key, w] of want) assert.deepEqual(got.get(key), w, `request ${key.slice(0, 12)}`);
}

interface EvalJson {
  run: string;
  overall: { mean: number };
  answers: { model_calls: number; total: number };
}
function parsed(r: CliResult): EvalJson {
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as EvalJson;
}

/** With DEBUG_QUEUE_TEST=1 the test says where it is, and shows the processes' stderr. */
const step = (what: string) => {
  if (process.env.DEBUG_QUEUE_TEST) console.error(`-- ${what}`);
};

/** A worker and the requests it answered (its "job ...: N requests" lines). */
type Worker = Proc & { answered(): number };
const withAnswered = (p: Proc): Worker => ({ ...p, answered: () => [...p.err().matchAll(/^job \S+: (\d+) requests/gmu)].reduce((a, m) => a + Number(m[1]), 0) });
const start = (args: string[], env: NodeJS.ProcessEnv = {}): Worker => withAnswered(startProc(args, { ...ENV, ...env }));
async function startWorker(url: string, model = `llama:${MODEL}`, extra: string[] = []): Promise<Worker> {
  return withAnswered(await serving(startProc(["worker", "--queue", url, "--model", model, ...LLAMA, "--lock-seconds", "1", "--jobs", "1", ...extra], ENV)));
}

let queue: string;
let baseline: Map<string, Row>;
let baselineMean: number;
const redises: TestRedis[] = [];
const queues: Queue[] = [];
const opened = new Map<string, Queue>();
async function counts(redis: TestRedis, name = queue): Promise<Record<string, number>> {
  let q = opened.get(`${redis.url} ${name}`);
  if (!q) {
    q = new Queue(name, { connection: { url: redis.url, maxRetriesPerRequest: null }, prefix: "civitas" });
    q.on("error", () => {});
    opened.set(`${redis.url} ${name}`, q);
    queues.push(q);
  }
  const c = await q.getJobCounts("wait", "active", "completed", "failed", "delayed");
  return c;
}
async function redis(options: { password?: string } = {}): Promise<TestRedis> {
  const r = await startRedis(options);
  redises.push(r);
  return r;
}

before(async () => {
  queue = queueName((await parseModelSpec(`llama:${MODEL}`)).identity);
  const store = path.join(dir, "single.duckdb");
  baselineMean = parsed(await runCli(evalArgs(store))).overall.mean;
  baseline = await requestsOf(store);
  assert.equal(baseline.size, LIMIT);
});
after(async () => {
  killAll();
  await Promise.all(queues.map((q) => q.close()));
  await Promise.all(redises.map((r) => r.stop()));
});

describe("civitas eval --queue with civitas worker", () => {
  it("two workers give the single-process numbers key for key; a worker kill -9 mid-job is taken over; the Redis password is never shown", async () => {
    const PASSWORD = "s3cret-Redis-pw";
    const r = await redis({ password: PASSWORD });
    const w1 = await startWorker(r.url);
    const store = path.join(dir, "killed-worker.duckdb");
    const coordinator = start(evalArgs(store, `llama:${MODEL}`, ["--queue", r.url]));
    // w1 is the only worker: kill it while it holds a job.
    await until(async () => (await counts(r)).active! >= 1, "a job to be active");
    await w1.kill9();
    const w2 = await startWorker(r.url);
    const res = await ended(coordinator, "the coordinator");
    step("coordinator done");
    const result = parsed(res);
    assert.equal(result.answers.total, LIMIT);
    assertSameAnswers(await requestsOf(store), baseline);
    assert.equal(result.overall.mean, baselineMean);
    // The job w1 died holding was taken over: w2 answered it (w1 finished fewer than all of them).
    assert.ok(w1.answered() < LIMIT, `w1 answered ${w1.answered()}`);
    assert.equal(w1.answered() + w2.answered() >= LIMIT, true);
    // The password: not in what the commands print, nor in the command the store keeps.
    step("compared");
    const runs = await runCli(["runs", "list", "--store", store, "--json"]);
    step("runs listed");
    for (const text of [res.stdout, res.stderr, w1.err(), w2.err(), runs.stdout]) assert.ok(!text.includes(PASSWORD), text);
    assert.match(runs.stdout, /redis:\/\/\*\*\*@127\.0\.0\.1/u);
    // A coordinator that cannot get in says so, without the password.
    const wrong = await runCli(evalArgs(path.join(dir, "wrong.duckdb"), `llama:${MODEL}`, ["--queue", `redis://:${PASSWORD}@127.0.0.1:1`]), { env: ENV });
    step("wrong URL done");
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /cannot reach Redis at redis:\/\/\*\*\*@127\.0\.0\.1:1/u);
    assert.ok(!wrong.stderr.includes(PASSWORD));
    await w2.kill9();
  });

  it("re-planning enqueues nothing twice; a coordinator kill -9 then the same command collects what workers finished, asking nothing; a worker of another model never answers", async () => {
    const r = await redis();
    // Another model (same file, another name: another identity) serves its own queue only.
    const other = path.join(dir, "other.gguf");
    copyFileSync(MODEL, other);
    const wOther = await startWorker(r.url, `llama:${other}`);
    const store = path.join(dir, "killed-coordinator.duckdb");
    const args = evalArgs(store, `llama:${MODEL}`, ["--queue", r.url]);
    const c1 = start(args);
    await until(async () => (await counts(r)).wait === 4, "4 jobs of 10 waiting");
    await c1.kill9();
    const c2 = start(args);
    await until(() => /the queue already holds 40 of these requests/u.test(c2.err()), "the second coordinator to find the jobs");
    // Let its sweeps run: still the same 4 jobs.
    await new Promise((res) => setTimeout(res, 1000));
    assert.deepEqual(await counts(r), { wait: 4, active: 0, completed: 0, failed: 0, delayed: 0 });
    await c2.kill9();
    // A worker of this model answers them while no coordinator runs.
    const w = await startWorker(r.url);
    await until(async () => (await counts(r)).completed === 4, "the 4 jobs to be done");
    await w.kill9();
    assert.equal(w.answered(), LIMIT, "each request answered once");
    // The same command again, with no worker of this model running: every answer comes from the queue.
    const result = parsed(await runCli(args, { env: ENV }));
    assert.equal(result.answers.total, LIMIT);
    assertSameAnswers(await requestsOf(store), baseline);
    // It cleaned up what it collected.
    assert.equal((await counts(r)).completed, 0);
    // The other model's worker never took a job.
    assert.equal(wOther.answered(), 0);
    assert.deepEqual(await counts(r, queueName((await parseModelSpec(`llama:${other}`)).identity)), { wait: 0, active: 0, completed: 0, failed: 0, delayed: 0 });
    await wOther.kill9();
    // Run again: answered from the store, nothing enqueued.
    const again = parsed(await runCli(args, { env: ENV }));
    assert.equal(again.answers.model_calls, 0);
    assert.equal((await counts(r)).wait, 0);
  });

  it("Redis restarted empty in the middle of a run: the coordinator enqueues what is missing and the worker reconnects", async () => {
    const r = await redis();
    const w = await startWorker(r.url);
    const store = path.join(dir, "redis-restart.duckdb");
    const c = start(evalArgs(store, `llama:${MODEL}`, ["--queue", r.url]));
    await until(() => w.answered() >= 10, "a first job to be answered");
    await r.restart();
    const res = await ended(c, "the coordinator");
    const result = parsed(res);
    assert.match(res.stderr, /no longer in the queue/u);
    assert.equal(result.answers.total, LIMIT);
    assertSameAnswers(await requestsOf(store), baseline);
    assert.ok(w.answered() >= LIMIT);
    await w.kill9();
  });

  it("a worker that cannot load its model says so and takes no jobs", async () => {
    const r = await redis();
    const broken = path.join(dir, "broken.gguf");
    writeFileSync(broken, "not a GGUF file");
    const model = `llama:${broken}`;
    // The coordinator never loads the model: it enqueues the run's requests for the workers.
    const c = start(evalArgs(path.join(dir, "broken.duckdb"), model, ["--chat-template", "none", "--queue", r.url]));
    const name = queueName((await parseModelSpec(model, { chatTemplate: "none" })).identity);
    await until(async () => (await counts(r, name)).wait === 4, "the jobs to be enqueued");
    const w = await ended(start(["worker", "--queue", r.url, "--model", model, "--chat-template", "none", ...LLAMA]), "the worker to refuse", 30_000);
    assert.equal(w.code, 1);
    assert.match(w.stderr, /cannot load llama:broken\.gguf, so this worker takes no jobs/u);
    assert.doesNotMatch(w.stderr, /serving/u);
    assert.deepEqual(await counts(r, name), { wait: 4, active: 0, completed: 0, failed: 0, delayed: 0 });
    await c.kill9();
  });

  it("a simulation's model calls go through the same queue, with the single-process numbers", async () => {
    const r = await redis();
    const scenario = path.join(dir, "opinion.yaml");
    writeFileSync(
      scenario,
      [
        "name: opinion-queue",
        "dynamics: opinion",
        "params: { agents: 24, graph: er:k=4, steps: 2, init: human, llm_share: 1 }",
        `model: { spec: ${JSON.stringify(`llama:${MODEL}`)}, threads: 1, parallel: 1 }`,
        `survey: { suite: opinionqa, data: ${JSON.stringify(OPINIONQA)}, question: SAFECRIME_W26, attribute: POLPARTY }`,
        "seeds: 1",
        "",
      ].join("\n"),
    );
    const simulate = (store: string, extra: string[] = []) => ["simulate", scenario, "--store", store, "--json", "--progress", "none", ...extra];
    const single = path.join(dir, "sim-single.duckdb");
    const one = await runCli(simulate(single));
    assert.equal(one.code, 0, one.stderr);
    const w = await startWorker(r.url);
    const queued = path.join(dir, "sim-queue.duckdb");
    const two = await runCli(simulate(queued, ["--queue", r.url]), { env: ENV });
    assert.equal(two.code, 0, two.stderr);
    await w.kill9();
    assert.ok(w.answered() > 0, "the worker answered the agents");
    const points = (t: string) => (JSON.parse(t) as { points: unknown }).points;
    assert.deepEqual(points(two.stdout), points(one.stdout));
    const want = await requestsOf(single);
    assert.ok(want.size > 0);
    assertSameAnswers(await requestsOf(queued), want);
  });
});
