/**
 * bench/scale: what the queue (`--queue`, BullMQ on Redis, `civitas worker`) costs and gains.
 *
 * The model is a fake OpenAI-compatible server over real HTTP on 127.0.0.1 that answers every
 * chat completion after a fixed latency (50 ms) and serves at most 4 requests at once (the rest
 * wait in its own queue), so the servers, not this machine, are the bottleneck: one server gives
 * at most 4 / 0.05 s = 80 requests/s. The requests are OpinionQA questions x 4 presentations, planned and stored by civitas's engine (runEval) in this process; workers are the
 * built CLI (`civitas worker`, dist/: `npm run build` first), each with its own server. It prints:
 *   - in-process on one server: the baseline;
 *   - the queue with 1, 2 and 4 workers: requests/s, and the ratio to 1 worker (target >= 0.8 x workers);
 *   - the queue's overhead: 1 worker against in-process on one server (target >= 0.9);
 *   - with instant servers (no latency, no limit): how fast the coordinator enqueues a run (no
 *     worker running) and collects it once workers have answered every job (no model asked):
 *     requests/s each (target >= 5,000/s).
 * Each figure is one timing of one run (from the first request asked to the last answer stored,
 * model start-up excluded), on whatever else the machine is doing: read them as rough.
 *
 *   - a rule-based sweep (Deffuant, 16 simulations) as simulation jobs: simulations/s in-process,
 *     with 1 and 2 workers (`civitas worker` without a model), and the ratio of 2 workers to 1.
 *
 *   npx tsx bench/scale.ts                # 2,000 requests (about two minutes)
 *   npx tsx bench/scale.ts --short        # 400 requests (under a minute)
 *   npx tsx bench/scale.ts --simulations  # the sweep only
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Queue } from "bullmq";
import { parseModelSpec, type ModelSpec } from "../src/models/index.js";
import { queueExecutor, queueName, simulationJobs } from "../src/queue/index.js";
import { applyOverrides, parseScenario, runScenario, type SimulationJobResult, type SimulationJobsRun } from "../src/sim/index.js";
import { runEval, type Executor } from "../src/runs/index.js";
import { Store } from "../src/store/index.js";
import { loadOpinionQA, parseVariants, resolvePopulations } from "../src/surveys/index.js";
import { tempDir } from "../test/helpers/paths.js";
import { startRedis } from "../test/queue/redis.js";
import { fakeServer, type FakeServer } from "./fake-server.js";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const DATA = path.resolve(REPO, "../shared/data/opinionqa");
const CLI = path.join(REPO, "dist/cli/main.js");
const { values: flags } = parseArgs({ options: { short: { type: "boolean" }, requests: { type: "string" }, simulations: { type: "boolean" } } });
const N = Number(flags.requests ?? (flags.short ? 400 : 2000));
const LATENCY_MS = 50;
const SERVER_LIMIT = 4;
// Four presentations of each question (letters or numbers, survey or reversed order), all asked for the label.
const VARIANTS = parseVariants("labels=letters;labels=letters,order=reversed;labels=numbers;labels=numbers,order=reversed", "opinionqa");
if (!Number.isInteger(N) || N < VARIANTS.length || N % VARIANTS.length !== 0) throw new Error(`--requests must be a multiple of ${VARIANTS.length}`);

// ---- fake servers ------------------------------------------------------------------------------

// ---- workers -----------------------------------------------------------------------------------

interface Worker {
  stop(): Promise<void>;
}
async function startWorker(redis: string, server: FakeServer, concurrency: number): Promise<Worker> {
  const child: ChildProcess = spawn(process.execPath, [CLI, "worker", "--queue", redis, "--model", "openai:fake", "--base-url", server.url, "--api-key", "none", "--concurrency", String(concurrency), "--jobs", "2", "--quiet"], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let err = "";
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on("data", (d: Buffer) => {
      err += d.toString();
      if (/^serving /mu.test(err)) resolve();
    });
    child.on("exit", () => reject(new Error(`the worker exited: ${err}`)));
  });
  return {
    stop: () =>
      new Promise<void>((r) => {
        child.removeAllListeners("exit");
        child.on("exit", () => r());
        child.kill("SIGTERM");
      }),
  };
}

// ---- simulations as jobs -----------------------------------------------------------------------

/** A rule-based sweep in-process, then as simulation jobs on 1 and 2 workers without a model; simulations/s from the plan to the last stored. */
async function simulationsBench(url: string): Promise<void> {
  const text = ["name: bench-sweep", "dynamics: deffuant", "params: { agents: 2000, graph: complete, mu: 0.5, steps: 5000 }", "sweep: { epsilon: [0.02, 0.03] }", "seeds: 1..8", ""].join("\n");
  const n = 16;
  let k = 0;
  const sweep = async (workers: number): Promise<number> => {
    // Other seeds each time: another run, so nothing comes from the store or the queue.
    const scenario = applyOverrides(parseScenario(text, "bench-sweep.yaml"), { seeds: `${k * 100 + 1}..${k * 100 + 8}` });
    k++;
    const ws: ChildProcess[] = [];
    for (let i = 0; i < workers; i++) {
      const child = spawn(process.execPath, [CLI, "worker", "--queue", url, "--quiet"], { stdio: ["ignore", "ignore", "pipe"] });
      ws.push(child);
      let err = "";
      await new Promise<void>((resolve, reject) => {
        child.stderr!.on("data", (d: Buffer) => {
          err += d.toString();
          if (/^serving /mu.test(err)) resolve();
        });
        child.on("exit", () => reject(new Error(`the worker exited: ${err}`)));
      });
    }
    const store = await Store.open(path.join(dir, `sweep-${k}.duckdb`));
    let first = 0;
    try {
      const r = await runScenario(scenario, {
        store,
        onPlan: () => (first = performance.now()),
        ...(workers === 0 ? {} : { simulations: (run: SimulationJobsRun) => simulationJobs<SimulationJobResult>(run, { url, sweepMs: 1000 }) }),
      });
      if (r.simulations.run !== n) throw new Error(`ran ${r.simulations.run} of ${n}`);
      return n / ((performance.now() - first) / 1000);
    } finally {
      await store.close();
      for (const c of ws) {
        c.removeAllListeners("exit");
        await new Promise<void>((r) => (c.on("exit", () => r()), c.kill("SIGTERM")));
      }
    }
  };
  const inProcess = await sweep(0);
  const one = await sweep(1);
  const two = await sweep(2);
  const f = (r: number) => `${r.toFixed(2)} simulations/s`;
  console.log(`rule-based sweep (Deffuant, 2000 agents, ${n} simulations) as simulation jobs: in-process ${f(inProcess)}; queue, 1 worker ${f(one)}; 2 workers ${f(two)}, ratio to 1 worker ${(two / one).toFixed(2)}`);
}

// ---- runs --------------------------------------------------------------------------------------

const dir = tempDir("civitas-bench-scale-");
if (flags.simulations) {
  const redis = await startRedis();
  try {
    await simulationsBench(redis.url);
  } finally {
    await redis.stop();
  }
  process.exit(0);
}
const suite = await loadOpinionQA({ data: DATA });
const questions = suite.questions.slice(0, N / VARIANTS.length);
const modelFor = (server: FakeServer): Promise<ModelSpec> => parseModelSpec("openai:fake", { baseURL: server.url, apiKey: "none", concurrency: SERVER_LIMIT, modelId: "fake" });
let seed = 0;

/** One run of N requests; requests/s from the first request asked to the last answer. */
async function run(model: ModelSpec, executor?: (m: { model: ModelSpec; runId: string }) => Executor, signal?: AbortSignal): Promise<{ rate: number; calls: number }> {
  const store = await Store.open(path.join(dir, `run-${++seed}.duckdb`));
  let first = 0;
  let last = 0;
  try {
    const result = await runEval(
      store,
      {
        suite,
        questions,
        populations: resolvePopulations(suite, ["POLPARTY"]),
        model,
        variants: VARIANTS,
        metric: "wasserstein",
        minCoverage: 0,
        seed,
        resamples: 10,
        command: "bench",
      },
      {
        onPlan: () => (first = performance.now()),
        onProgress: (p) => {
          if (p.modelCalls > 0) last = performance.now();
        },
        ...(executor ? { executor } : {}),
        ...(signal ? { signal } : {}),
      },
    );
    const calls = result.answers.model_calls;
    return { rate: calls / ((last - first) / 1000), calls };
  } finally {
    await store.close();
  }
}

const fmt = (r: number) => `${r.toFixed(1)} requests/s`;
const redis = await startRedis();
const servers: FakeServer[] = [];
try {
  for (let i = 0; i < 4; i++) servers.push(await fakeServer(LATENCY_MS, SERVER_LIMIT));
  console.log(`${N} requests (OpinionQA, ${questions.length} questions x ${VARIANTS.length} presentations); each server ${LATENCY_MS} ms per request, at most ${SERVER_LIMIT} at once (at most ${(SERVER_LIMIT * 1000) / LATENCY_MS} requests/s)`);
  const inProcess = await run(await modelFor(servers[0]!));
  console.log(`in-process, 1 server:  ${fmt(inProcess.rate)}`);
  const viaQueue = (m: { model: ModelSpec; runId: string }) => queueExecutor(m.model, { url: redis.url, run: m.runId, sweepMs: 1000 });
  const rates: number[] = [];
  for (const workers of [1, 2, 4]) {
    const ws = await Promise.all(servers.slice(0, workers).map((s) => startWorker(redis.url, s, SERVER_LIMIT)));
    const r = await run(await modelFor(servers[0]!), viaQueue);
    await Promise.all(ws.map((w) => w.stop()));
    rates.push(r.rate);
    console.log(`queue, ${workers} worker${workers === 1 ? " " : "s"}:     ${fmt(r.rate)}${workers === 1 ? "" : `; ratio to 1 worker ${(r.rate / rates[0]!).toFixed(2)} (target >= ${(0.8 * workers).toFixed(1)})`}`);
  }
  console.log(`queue overhead: 1 worker / in-process on one server = ratio ${(rates[0]! / inProcess.rate).toFixed(2)} (target >= 0.9)`);

  // Enqueue and collect with instant servers.
  const instant = await fakeServer(0, 1_000_000);
  servers.push(instant);
  const model = await modelFor(instant);
  const q = new Queue(queueName(model.identity), { connection: { url: redis.url }, prefix: "civitas" });
  const jobs = Math.ceil(N / 200);
  const stop = new AbortController();
  let enqueueStart = 0;
  const enqueueing = run(model, (m) => {
    enqueueStart = performance.now();
    return queueExecutor(m.model, { url: redis.url, run: m.runId });
  }, stop.signal).catch(() => undefined);
  while ((await q.getJobCounts("wait")).wait! < jobs) await new Promise((r) => setTimeout(r, 2));
  const enqueueRate = N / ((performance.now() - enqueueStart) / 1000);
  stop.abort();
  await enqueueing;
  const ws = await Promise.all([instant, instant].map((s) => startWorker(redis.url, s, 64)));
  while ((await q.getJobCounts("completed")).completed! < jobs) await new Promise((r) => setTimeout(r, 20));
  await Promise.all(ws.map((w) => w.stop()));
  seed--; // the same run again: every answer is collected from the queue
  const collect = await run(model, (m) => queueExecutor(m.model, { url: redis.url, run: m.runId }));
  await q.close();
  console.log(`coordinator with instant servers: enqueues ${fmt(enqueueRate)}, collects ${fmt(collect.rate)} (${collect.calls} answers, no worker running; target >= 5000 requests/s each)`);
  await simulationsBench(redis.url);
} finally {
  await Promise.all(servers.map((s) => s.close()));
  await redis.stop();
}
