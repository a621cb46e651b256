/**
 * Whole simulations as queue jobs (`civitas simulate --queue`, docs/scale.md): a sweep's
 * (point, seed) simulations run on `civitas worker` processes instead of one after another in the
 * coordinator.
 *
 * - Queues (names.ts): `sim-rule` for rule-based scenarios, taken by workers without a model;
 *   `sim-<hash of the model identity>` for model-driven ones, taken only by workers serving that
 *   model (separate from the model-call queues).
 * - A job's id is `sim-<run id>-<point>-<seed>`: the run id is the hash of the resolved scenario,
 *   so planning again (the same command after a crash, on another machine) finds the same jobs:
 *   done ones are collected, running ones waited for, failed ones retried, missing ones enqueued.
 *   BullMQ adds nothing for an id it holds, so nothing is enqueued twice.
 * - A job carries the scenario as it runs (overrides applied; without its model section, budget
 *   and steering: run.ts jobScenario), the point and seed, the model identity and request
 *   parameters for model-driven agents, and the survey data's fingerprint. The worker's runner
 *   (src/sim/jobs.ts, given to serveSimulations by the CLI: this module only carries jobs) plans
 *   the scenario itself (loading the survey from the same path, refusing when its data differs),
 *   runs the simulation with the in-process code, and returns the series; for model-driven agents
 *   also the simulation's recorded calls and the cache entries they answered from, which the
 *   coordinator stores, so `--replay` of the run works as after an in-process run.
 * - Completeness is the store's: the coordinator enqueues only what its store lacks, and stores
 *   each result as it arrives (the record, then the metrics); a job lost or run twice costs
 *   compute, never a wrong or missing number. A job leaves Redis once its result is stored (a
 *   coordinator killed between the two leaves that finished job behind; it expires after
 *   `keepSeconds`).
 */
import { Queue, QueueEvents, UnrecoverableError, type Job } from "bullmq";
import { CivitasError, messageOf } from "../errors.js";
import type { ModelSpec } from "../models/index.js";
import { decode, encode } from "./codec.js";
import { startConsumer } from "./consumer.js";
import { connectionOf, PREFIX, shownUrl, simulationQueueName } from "./names.js";

/** What a simulation job carries (see the module comment). */
export interface SimJobData {
  readonly run: string;
  readonly point: number;
  readonly seed: number;
  /** The scenario, encoded (codec.ts). */
  readonly scenario: string;
  /** The model identity and request parameters (JSON) of model-driven agents; null for rule-based. */
  readonly model: string | null;
  readonly params: string | null;
  /** The survey data's fingerprint, when the scenario has a survey. */
  readonly suite: string | null;
}

export interface SimulationJobsOptions {
  readonly url: string;
  /** How often outstanding jobs are checked, in ms (default 2000). */
  readonly sweepMs?: number;
  /** How long to wait for Redis at the start, in ms (default 10000). */
  readonly connectTimeoutMs?: number;
  /** How long finished jobs stay in Redis if nobody collects them, in seconds (default 7 days). */
  readonly keepSeconds?: number;
  onLog?(message: string): void;
}

/** The run whose simulations go as jobs (src/sim/run.ts SimulationJobsRun has this shape). */
export interface SimulationJobsRun {
  readonly runId: string;
  /** The scenario as the workers are to run it (encoded with codec.ts). */
  readonly scenario: unknown;
  /** The model of model-driven agents: its jobs go to its identity's simulation queue. */
  readonly model?: ModelSpec;
  readonly suiteFingerprint?: string;
}

/** The coordinator's side: runs a sweep's simulations as jobs, handing each result (R, as a worker returned it) to `onResult`. */
export interface SimulationJobsRunner<R> {
  run(todo: readonly { point: number; seed: number }[], onResult: (sim: { point: number; seed: number }, result: R) => Promise<void>, signal?: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

/** The coordinator's runner of simulation jobs for one run (see the module comment). */
export function simulationJobs<R>(run: SimulationJobsRun, options: SimulationJobsOptions): SimulationJobsRunner<R> {
  return new SimulationQueue<R>(run, options);
}

class SimulationQueue<R> implements SimulationJobsRunner<R> {
  private readonly name: string;
  private queueOrNull: Queue<SimJobData> | null = null;
  private eventsOrNull: QueueEvents | null = null;
  private readonly data: Omit<SimJobData, "point" | "seed">;
  private readonly collected: string[] = [];

  constructor(
    private readonly run_: SimulationJobsRun,
    private readonly options: SimulationJobsOptions,
  ) {
    connectionOf(options.url); // checks the URL
    this.name = simulationQueueName(run_.model?.identity);
    this.data = {
      run: run_.runId,
      scenario: encode(run_.scenario),
      model: run_.model?.identity ?? null,
      params: run_.model === undefined ? null : JSON.stringify(run_.model.params),
      suite: run_.suiteFingerprint ?? null,
    };
  }

  private get queue(): Queue<SimJobData> {
    return this.queueOrNull!;
  }

  private idOf(point: number, seed: number): string {
    return `sim-${this.run_.runId}-${point}-${seed}`;
  }

  private async start(): Promise<void> {
    const connection = connectionOf(this.options.url);
    this.queueOrNull = new Queue<SimJobData>(this.name, { connection, prefix: PREFIX });
    this.eventsOrNull = new QueueEvents(this.name, { connection, prefix: PREFIX });
    for (const e of [this.queueOrNull, this.eventsOrNull]) (e as { on(e: string, f: (e: unknown) => void): unknown }).on("error", () => {});
    const timeout = this.options.connectTimeoutMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        Promise.all([this.queue.waitUntilReady(), this.eventsOrNull.waitUntilReady()]),
        new Promise<never>((_r, reject) => (timer = setTimeout(() => reject(new Error(`no answer in ${timeout / 1000} s`)), timeout))),
      ]);
    } catch (e) {
      throw new CivitasError("model", `cannot reach Redis at ${shownUrl(this.options.url)} (${messageOf(e)})`, {
        hint: "start redis-server there (docs/scale.md), or check the --queue URL and its password",
      });
    } finally {
      clearTimeout(timer);
    }
  }

  private async add(sims: readonly { point: number; seed: number }[]): Promise<void> {
    const age = this.options.keepSeconds ?? 7 * 24 * 3600;
    for (let i = 0; i < sims.length; i += 100) {
      await this.queue.addBulk(
        sims.slice(i, i + 100).map(({ point, seed }) => ({
          name: "simulate",
          data: { ...this.data, point, seed },
          opts: { jobId: this.idOf(point, seed), attempts: 1, removeOnComplete: { age }, removeOnFail: { age } },
        })),
      );
    }
  }

  async run(todo: readonly { point: number; seed: number }[], onResult: (sim: { point: number; seed: number }, result: R) => Promise<void>, signal?: AbortSignal): Promise<void> {
    if (todo.length === 0) return;
    await this.start();
    const log = (m: string) => this.options.onLog?.(m);
    const kind = this.run_.model === undefined ? "rule-based" : `on ${this.run_.model.display}`;
    log(`running ${todo.length} simulations as jobs through the queue at ${shownUrl(this.options.url)} (start workers with: civitas worker --queue URL${this.run_.model === undefined ? "" : " --model ..."}; ${kind})`);
    const pending = new Map(todo.map((t) => [this.idOf(t.point, t.seed), t]));
    let failure: unknown = null;
    let writing: Promise<void> = Promise.resolve();
    let wake = () => {};
    const checking = new Set<string>();

    const collect = (id: string, job: Job<SimJobData>) => {
      const sim = pending.get(id);
      if (sim === undefined) return;
      pending.delete(id);
      writing = writing
        .then(async () => {
          if (failure !== null) return;
          await onResult(sim, decode<R>(String(job.returnvalue), `the result of job ${id}`));
          // Stored: the job leaves Redis (if that fails, close() tries again).
          await job.remove().catch(() => this.collected.push(id));
        })
        .catch((e: unknown) => {
          failure ??= e;
        })
        .finally(() => wake());
    };
    /** Looks at a job: collects it when done, fails the run (or retries, for an earlier coordinator's job) when failed, reports it lost when it is gone. */
    const check = async (id: string, first: boolean): Promise<"lost" | "found" | "busy"> => {
      if (!pending.has(id) || checking.has(id)) return "busy";
      checking.add(id);
      try {
        // The state first, then the job: a job read before it completes has no return value yet.
        const state = await this.queue.getJobState(id);
        if (state === "unknown") return "lost";
        const job = await this.queue.getJob(id);
        if (!pending.has(id)) return "busy";
        if (job === undefined) return "lost";
        if (state === "completed") collect(id, job);
        else if (state === "failed") {
          if (first) await job.retry("failed");
          else {
            const sim = pending.get(id)!;
            failure ??= new CivitasError("model", `a worker failed simulation job ${id} (point ${sim.point}, seed ${sim.seed}): ${job.failedReason}`, {
              hint: "see the worker's output; run the same command again to retry",
            });
            wake();
          }
        }
        return "found";
      } finally {
        checking.delete(id);
      }
    };

    // Jobs an earlier coordinator enqueued: collected, waited for or retried; the rest enqueued.
    const fresh: { point: number; seed: number }[] = [];
    const ids = [...pending.keys()];
    for (let i = 0; i < ids.length; i += 200) {
      const states = await Promise.all(ids.slice(i, i + 200).map(async (id) => [id, await check(id, true)] as const));
      for (const [id, s] of states) if (s === "lost") fresh.push(pending.get(id)!);
    }
    if (fresh.length < todo.length) log(`the queue already holds ${todo.length - fresh.length} of these simulations (enqueued by an earlier coordinator): collecting them`);
    await this.add(fresh);

    const events = this.eventsOrNull!;
    const onEvent = ({ jobId }: { jobId: string }) => void check(jobId, false).catch(() => undefined);
    events.on("completed", onEvent);
    events.on("failed", onEvent);
    // In case an event is missed (a reconnect) or Redis lost the jobs (restarted empty).
    let sweeping = false;
    const sweeper = setInterval(() => {
      if (sweeping) return;
      sweeping = true;
      void (async () => {
        const lost: { point: number; seed: number }[] = [];
        for (const id of [...pending.keys()]) if ((await check(id, false)) === "lost") lost.push(pending.get(id)!);
        if (lost.length > 0) {
          log(`${lost.length} simulations were no longer in the queue (Redis restarted?): enqueued again`);
          await this.add(lost);
        }
      })()
        .catch(() => undefined) // Redis away: the next sweep looks again
        .finally(() => (sweeping = false));
    }, this.options.sweepMs ?? 2000);
    const onAbort = () => wake();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      while (pending.size > 0 && failure === null && !signal?.aborted) await new Promise<void>((r) => (wake = r));
      await writing;
      if (failure !== null) throw failure;
    } finally {
      clearInterval(sweeper);
      signal?.removeEventListener("abort", onAbort);
      events.off("completed", onEvent);
      events.off("failed", onEvent);
    }
  }

  async close(): Promise<void> {
    if (this.queueOrNull === null) return;
    // The caller has stored what was collected: those jobs leave Redis.
    await Promise.all(this.collected.map((id) => this.queue.remove(id).catch(() => 0)));
    await Promise.race([Promise.allSettled([this.eventsOrNull!.close(), this.queue.close()]), new Promise((r) => setTimeout(r, 5000).unref())]);
  }
}

// ---- the worker's side ------------------------------------------------------------------------

/** A simulation job as the worker's runner gets it (the scenario decoded). */
export interface SimulationJobPayload {
  readonly id: string;
  readonly run: string;
  readonly point: number;
  readonly seed: number;
  readonly scenario: unknown;
  readonly suite: string | null;
}

export interface SimulationWorkerOptions {
  readonly url: string;
  /** The model this worker serves (its identity's model-driven simulations); none: rule-based simulations. */
  readonly model?: { readonly identity: string; readonly params: string; readonly display: string };
  /** Runs one simulation (src/sim/jobs.ts) and gives its result, returned to the coordinator. */
  run(job: SimulationJobPayload): Promise<unknown>;
  /** Simulations run at once (default 1: a rule-based simulation keeps one core busy). */
  readonly jobs?: number;
  readonly lockMs?: number;
  readonly maxStalled?: number;
  onLog?(message: string): void;
  onSimulation?(info: { id: string; point: number; seed: number; seconds: number }): void;
}

export interface SimulationWorker {
  readonly queue: string;
  /** Simulations run so far. */
  readonly simulations: number;
  /** Stops taking jobs and waits for those running. */
  close(): Promise<void>;
}

/** Takes simulation jobs: rule-based ones without a model, model-driven ones of its model's identity with one. */
export async function serveSimulations(options: SimulationWorkerOptions): Promise<SimulationWorker> {
  connectionOf(options.url); // checks the URL
  const model = options.model;
  let simulations = 0;
  const processor = async (job: Job<SimJobData>): Promise<string> => {
    const d = job.data;
    if (d.model !== (model?.identity ?? null)) {
      // Cannot happen through civitas (a queue per identity), but a simulation must never run on another model.
      throw new UnrecoverableError(`job ${job.id} is for ${d.model ?? "no model"}; this worker runs ${model?.identity ?? "no model"}`);
    }
    if (d.params !== (model?.params ?? null)) throw new UnrecoverableError(`job ${job.id} asks ${model?.display} with parameters ${d.params}; this worker runs it with ${model?.params}`);
    const t0 = performance.now();
    const scenario = decode<unknown>(d.scenario, `the scenario of job ${job.id}`);
    const result = await options.run({ id: String(job.id), run: d.run, point: d.point, seed: d.seed, scenario, suite: d.suite });
    simulations++;
    options.onSimulation?.({ id: String(job.id), point: d.point, seed: d.seed, seconds: (performance.now() - t0) / 1000 });
    return encode(result);
  };

  const name = simulationQueueName(model?.identity);
  const worker = await startConsumer(name, processor, {
    url: options.url,
    jobs: options.jobs ?? 1,
    ...(options.lockMs === undefined ? {} : { lockMs: options.lockMs }),
    ...(options.maxStalled === undefined ? {} : { maxStalled: options.maxStalled }),
    what: "simulation job",
    ...(options.onLog === undefined ? {} : { onLog: options.onLog }),
  });
  return {
    queue: name,
    get simulations() {
      return simulations;
    },
    close: () => worker.close(),
  };
}
