/**
 * The coordinator's side of a queued run: an `Executor` (src/runs/stages/execute.ts) that sends
 * the requests to BullMQ on Redis instead of asking a model itself; `civitas worker` processes
 * (worker.ts) ask them and return the answers.
 *
 * - One queue per model identity (names.ts): a worker serves only its own model's queue.
 * - Requests go in jobs of up to `jobSize` (default 200), in the order the caller gives them
 *   (the run's asking order: prompts that share a prefix are neighbours, so they travel in one job
 *   and a worker evaluates the prefix once).
 * - A job's id derives from the run and its requests' keys, and every request key is recorded in
 *   the run's map in Redis (request key -> job id): planning again (a rerun of the same command)
 *   finds the job each request already went in, collects it if it is done (answers finished while
 *   the coordinator was away), waits for it if it is not, and enqueues only the requests no live
 *   job holds. Nothing is enqueued twice.
 * - Answers come back as the job's return value: the coordinator hears of them through QueueEvents
 *   and, in case an event is missed (a reconnect, Redis restarted), by checking its outstanding jobs
 *   every `sweepMs`; a job that no longer exists (Redis restarted empty, it keeps nothing on disk) has
 *   its requests enqueued again.
 * - Each answer is handed to the caller, who stores it: whether a run is complete is decided by the
 *   store (the caller asks only what it lacks), never by the queue; a lost or duplicated job costs
 *   compute, never correctness. When the executor closes (after the caller has written the answers),
 *   the jobs it collected are removed from Redis.
 */
import { Queue, QueueEvents, type Job } from "bullmq";
import { Redis } from "ioredis";
import { CivitasError, messageOf } from "../errors.js";
import { sha256Hex } from "../hash.js";
import type { ModelSpec } from "../models/index.js";
import type { Executor, ModelRequest, RequestHooks } from "../runs/index.js";
import type { RequestRow } from "../store/index.js";
import { decode, encode } from "./codec.js";
import { connectionOf, PREFIX, queueName, shownUrl } from "./names.js";

/** What a job carries: the model it is for (identity and parameters), and its requests (codec.ts). */
export interface JobData {
  readonly model: string;
  readonly params: string;
  readonly requests: string;
}

export interface QueueExecutorOptions {
  /** The Redis URL (`--queue`). */
  readonly url: string;
  /** What the requests belong to (a run id; a simulation's run, point and seed): part of every job id. */
  readonly run: string;
  /** Requests per job (default 200). */
  readonly jobSize?: number;
  /** How often outstanding jobs are checked, in ms (default 2000). */
  readonly sweepMs?: number;
  /** How long completed jobs stay in Redis if nobody collects them, in seconds (default 7 days). */
  readonly keepSeconds?: number;
  /** How long to wait for Redis at the start before giving up, in ms (default 10000). */
  readonly connectTimeoutMs?: number;
  /** Notes for the user: jobs enqueued, collected from an earlier coordinator, enqueued again. */
  onLog?(message: string): void;
}

interface Waiter {
  resolve(row: RequestRow): void;
  reject(e: unknown): void;
}

/** An executor whose requests are answered by `civitas worker` processes through BullMQ (see the module comment). */
export function queueExecutor(spec: ModelSpec, options: QueueExecutorOptions): Executor & { readonly enqueued: number; readonly collectedEarlier: number } {
  return new QueueExecutor(spec, options);
}

class QueueExecutor implements Executor {
  private readonly name: string;
  // Connections are made on the first request: a run with nothing to ask opens none.
  private queueOrNull: Queue<JobData> | null = null;
  private eventsOrNull: QueueEvents | null = null;
  private redisOrNull: Redis | null = null;
  private readonly mapKey: string;
  private readonly runTag: string;
  private readonly params: string;
  private readonly jobSize: number;
  private readonly keepSeconds: number;

  /** Requests waiting for an answer, by key. */
  private readonly waiters = new Map<string, Waiter[]>();
  private readonly requests = new Map<string, ModelRequest>();
  /** Outstanding jobs: their request keys; and each waiting key's job. */
  private readonly jobs = new Map<string, Set<string>>();
  private readonly keyJob = new Map<string, string>();
  /** Jobs collected and their keys (removed from Redis on close). */
  private readonly collected: { id: string; keys: string[] }[] = [];

  /** What to do when a signal aborts, per waiter: one listener per signal, however many requests wait on it. */
  private readonly abortables = new Map<AbortSignal, Map<Waiter, () => void>>();
  private pending: ModelRequest[] = [];
  private flushing: Promise<void> = Promise.resolve();
  private flushScheduled = false;
  private ready: Promise<void> | null = null;
  private sweeper: NodeJS.Timeout | null = null;
  private sweeping = false;
  private closed = false;
  private calls = 0;
  enqueued = 0;
  collectedEarlier = 0;

  constructor(
    private readonly spec: ModelSpec,
    private readonly options: QueueExecutorOptions,
  ) {
    connectionOf(options.url); // checks the URL
    this.name = queueName(spec.identity);
    this.runTag = sha256Hex(`${spec.identity}\n${options.run}`).slice(0, 16);
    this.mapKey = `${PREFIX}:${this.name}:run:${this.runTag}`;
    this.params = JSON.stringify(spec.params);
    this.jobSize = options.jobSize ?? 200;
    this.keepSeconds = options.keepSeconds ?? 7 * 24 * 3600;
    if (!(Number.isInteger(this.jobSize) && this.jobSize >= 1)) throw new CivitasError("usage", `the queue's job size must be a whole number >= 1, got ${this.jobSize}`);
  }

  private get queue(): Queue<JobData> {
    return this.queueOrNull!;
  }
  private get events(): QueueEvents {
    return this.eventsOrNull!;
  }
  private get redis(): Redis {
    return this.redisOrNull!;
  }

  private connect(): void {
    const connection = connectionOf(this.options.url);
    this.queueOrNull = new Queue<JobData>(this.name, { connection, prefix: PREFIX });
    this.eventsOrNull = new QueueEvents(this.name, { connection, prefix: PREFIX });
    this.redisOrNull = new Redis(this.options.url, { maxRetriesPerRequest: null, retryStrategy: (times) => Math.min(1000, 50 * times), lazyConnect: true });
    // Errors while Redis is away are retried by ioredis; they must not crash the process.
    for (const emitter of [this.queue, this.events, this.redis]) (emitter as { on(e: string, f: (e: unknown) => void): unknown }).on("error", () => {});
    this.events.on("completed", ({ jobId }) => void this.check([jobId]));
    this.events.on("failed", ({ jobId }) => void this.check([jobId]));
  }

  get modelCalls(): number {
    return this.calls;
  }

  /** Connects (once): Redis must answer within connectTimeoutMs. */
  private start(): Promise<void> {
    return (this.ready ??= (async () => {
      this.connect();
      const timeout = this.options.connectTimeoutMs ?? 10_000;
      const unreachable = (why: string) =>
        new CivitasError("model", `cannot reach Redis at ${shownUrl(this.options.url)} (${why})`, {
          hint: "start redis-server there (docs/scale.md), or check the --queue URL and its password",
        });
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          (async () => {
            // ioredis retries a refused connection: wait for it to be ready, up to the timeout.
            await this.redis.connect().catch(() => undefined);
            await this.redis.ping();
            await this.queue.waitUntilReady();
            await this.events.waitUntilReady();
          })(),
          new Promise<never>((_r, reject) => {
            timer = setTimeout(() => reject(unreachable(`no answer in ${timeout / 1000} s`)), timeout);
          }),
        ]);
      } catch (e) {
        throw e instanceof CivitasError ? e : unreachable(messageOf(e));
      } finally {
        clearTimeout(timer);
      }
      this.sweeper = setInterval(() => void this.sweep(), this.options.sweepMs ?? 2000);
      this.sweeper.unref();
    })());
  }

  ask(request: ModelRequest, o: { readonly signal?: AbortSignal; readonly hooks?: RequestHooks } = {}): Promise<RequestRow> {
    if (this.closed) return Promise.reject(new CivitasError("usage", "the executor is closed"));
    try {
      o.signal?.throwIfAborted();
      o.hooks?.beforeAsk?.(request);
    } catch (e) {
      return Promise.reject(e);
    }
    const answer = new Promise<RequestRow>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject };
      const list = this.waiters.get(request.key);
      if (list) list.push(waiter);
      else {
        this.waiters.set(request.key, [waiter]);
        this.requests.set(request.key, request);
        this.pending.push(request);
        this.scheduleFlush();
      }
      if (o.signal) {
        const signal = o.signal;
        this.onAbort(signal, waiter, () => {
          const l = this.waiters.get(request.key);
          if (l) this.waiters.set(request.key, l.filter((w) => w !== waiter));
          reject(new CivitasError("usage", "interrupted"));
        });
        const settle = () => this.abortables.get(signal)?.delete(waiter);
        waiter.resolve = (row) => (settle(), resolve(row));
        waiter.reject = (e) => (settle(), reject(e));
      }
    });
    return answer.then(
      (row) => {
        this.calls++;
        o.hooks?.afterAsk?.(request, row);
        return row;
      },
      (e: unknown) => {
        o.hooks?.afterAsk?.(request, undefined, e);
        throw e;
      },
    );
  }

  async askAll(requests: readonly ModelRequest[], onAnswer: (request: ModelRequest, row: RequestRow) => void, signal?: AbortSignal): Promise<void> {
    // A failure (of a job, or of onAnswer) stops waiting for the rest, as an interrupt does; what
    // the workers finish meanwhile stays in the queue for the next run to collect.
    const stop = new AbortController();
    const both = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal;
    let failure: unknown = null;
    await Promise.all(
      requests.map((request) =>
        this.ask(request, { signal: both }).then(
          (row) => {
            if (failure !== null || signal?.aborted) return;
            try {
              onAnswer(request, row);
            } catch (e) {
              failure ??= e;
              stop.abort();
            }
          },
          (e: unknown) => {
            if (!signal?.aborted && !stop.signal.aborted) {
              failure ??= e;
              stop.abort();
            }
          },
        ),
      ),
    );
    if (failure !== null) throw failure;
    if (signal?.aborted) throw new CivitasError("usage", "interrupted");
  }

  private onAbort(signal: AbortSignal, waiter: Waiter, abort: () => void): void {
    let m = this.abortables.get(signal);
    if (!m) {
      const map = (m = new Map());
      this.abortables.set(signal, map);
      signal.addEventListener(
        "abort",
        () => {
          this.abortables.delete(signal);
          for (const f of map.values()) f();
        },
        { once: true },
      );
    }
    m.set(waiter, abort);
  }

  // ---- enqueueing ---------------------------------------------------------------------------

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // Requests asked in one turn of the event loop (a whole plan; a simulation step) go together.
    setImmediate(() => {
      this.flushScheduled = false;
      const batch = this.pending;
      this.pending = [];
      this.flushing = this.flushing.then(() => this.enqueue(batch)).catch((e: unknown) => this.failKeys(batch.map((r) => r.key), e));
    });
  }

  /** Finds the jobs that already hold some of these requests, and enqueues the rest. */
  private async enqueue(batch: readonly ModelRequest[], recorded = true): Promise<void> {
    await this.start();
    const live = batch.filter((r) => this.waiters.has(r.key) && !this.keyJob.has(r.key));
    if (live.length === 0) return;
    const fresh: ModelRequest[] = [];
    if (recorded) {
      const ids = await this.hmget(live.map((r) => r.key));
      const found = new Map<string, string[]>();
      live.forEach((r, i) => {
        const id = ids[i];
        if (id) found.set(id, [...(found.get(id) ?? []), r.key]);
        else fresh.push(r);
      });
      if (found.size > 0) {
        for (const [id, keys] of found) this.track(id, keys);
        // A rerun: what these jobs hold is collected, waited for, retried or enqueued again.
        const n = [...found.values()].reduce((a, k) => a + k.length, 0);
        this.options.onLog?.(`the queue already holds ${n} of these requests (enqueued by an earlier coordinator): collecting them`);
        await this.check([...found.keys()], { retryFailed: true });
      }
    } else fresh.push(...live);
    // In bulk: the map first (a coordinator killed between the two finds the jobs missing and
    // enqueues again), then the jobs, a few hundred per round trip.
    const jobs: { name: string; data: JobData; opts: { jobId: string; attempts: number; removeOnComplete: { age: number }; removeOnFail: { age: number } } }[] = [];
    const fields: Record<string, string> = {};
    for (let i = 0; i < fresh.length; i += this.jobSize) {
      const chunk = fresh.slice(i, i + this.jobSize);
      const keys = chunk.map((r) => r.key);
      const id = `${this.runTag}-${sha256Hex(keys.join("\n")).slice(0, 24)}`;
      for (const k of keys) fields[k] = id;
      this.track(id, keys);
      jobs.push({
        name: "ask",
        data: { model: this.spec.identity, params: this.params, requests: encode(chunk) },
        opts: { jobId: id, attempts: 1, removeOnComplete: { age: this.keepSeconds }, removeOnFail: { age: this.keepSeconds } },
      });
    }
    const entries = Object.entries(fields);
    for (let i = 0; i < entries.length; i += 5000) await this.redis.hset(this.mapKey, Object.fromEntries(entries.slice(i, i + 5000)));
    for (let i = 0; i < jobs.length; i += 100) await this.queue.addBulk(jobs.slice(i, i + 100));
    this.enqueued += fresh.length;
  }

  private async hmget(keys: readonly string[]): Promise<(string | null)[]> {
    const out: (string | null)[] = [];
    for (let i = 0; i < keys.length; i += 5000) out.push(...(await this.redis.hmget(this.mapKey, ...keys.slice(i, i + 5000))));
    return out;
  }

  private track(id: string, keys: readonly string[]): void {
    let set = this.jobs.get(id);
    if (!set) this.jobs.set(id, (set = new Set()));
    for (const k of keys) {
      set.add(k);
      this.keyJob.set(k, id);
    }
  }

  // ---- collecting ---------------------------------------------------------------------------

  /** Looks at these jobs: collects the completed, fails (or retries) the failed, re-enqueues the lost. */
  private async check(ids: readonly string[], o: { retryFailed?: boolean } = {}): Promise<void> {
    const lost: string[] = [];
    await Promise.all(
      ids.map(async (id) => {
        if (!this.jobs.has(id)) return;
        let job: Job<JobData> | undefined;
        try {
          job = await this.queue.getJob(id);
        } catch {
          return; // Redis away: the next sweep looks again
        }
        if (!this.jobs.has(id)) return;
        if (job === undefined) {
          lost.push(id);
          return;
        }
        const state = await job.getState().catch(() => "unknown");
        // A job read just before it completed has no return value yet: read it again.
        if (state === "completed" && (job.returnvalue === null || job.returnvalue === undefined)) job = (await this.queue.getJob(id).catch(() => undefined)) ?? job;
        if (state === "completed") this.collect(id, job);
        else if (state === "failed") {
          if (o.retryFailed) await job.retry("failed").catch(() => lost.push(id));
          else this.failKeys([...this.jobs.get(id)!], new CivitasError("model", `a worker failed job ${id} on ${this.spec.display}: ${job.failedReason}`, { hint: "see the worker's output; run the same command again to retry" }));
        } else if (state === "unknown") lost.push(id);
      }),
    );
    if (lost.length > 0) {
      const again: ModelRequest[] = [];
      for (const id of lost) {
        for (const k of this.jobs.get(id) ?? []) {
          this.keyJob.delete(k);
          const r = this.requests.get(k);
          if (r && this.waiters.has(k)) again.push(r);
        }
        this.jobs.delete(id);
      }
      if (again.length > 0) {
        this.options.onLog?.(`${again.length} requests were no longer in the queue (Redis restarted?): enqueued again`);
        this.flushing = this.flushing.then(() => this.enqueue(again, false)).catch((e: unknown) => this.failKeys(again.map((r) => r.key), e));
      }
    }
  }

  private collect(id: string, job: Job<JobData>): void {
    const keys = this.jobs.get(id);
    if (!keys) return;
    this.jobs.delete(id);
    this.collected.push({ id, keys: [...keys] });
    let rows: RequestRow[];
    try {
      rows = decode<RequestRow[]>(String(job.returnvalue), `the answers of job ${id}`);
    } catch (e) {
      this.failKeys([...keys], e);
      return;
    }
    for (const row of rows) {
      if (!keys.has(row.key)) continue;
      keys.delete(row.key);
      this.keyJob.delete(row.key);
      const waiting = this.waiters.get(row.key);
      this.waiters.delete(row.key);
      this.requests.delete(row.key);
      if (row.model !== this.spec.identity) {
        const e = new CivitasError("model", `job ${id} was answered by another model (${row.model}, not ${this.spec.identity})`);
        for (const w of waiting ?? []) w.reject(e);
      } else for (const w of waiting ?? []) w.resolve(row);
    }
    // A job that came back without some of its requests: they go again.
    const missing = [...keys].filter((k) => this.waiters.has(k)).map((k) => this.requests.get(k)!);
    for (const k of keys) this.keyJob.delete(k);
    if (missing.length > 0) this.flushing = this.flushing.then(() => this.enqueue(missing, false)).catch((e: unknown) => this.failKeys(missing.map((r) => r.key), e));
  }

  private failKeys(keys: readonly string[], e: unknown): void {
    for (const k of keys) {
      const waiting = this.waiters.get(k);
      this.waiters.delete(k);
      const id = this.keyJob.get(k);
      this.keyJob.delete(k);
      if (id) this.jobs.get(id)?.delete(k);
      for (const w of waiting ?? []) w.reject(e);
    }
  }

  /** Every sweepMs: outstanding jobs checked, in case an event was missed or Redis lost them. */
  private async sweep(): Promise<void> {
    if (this.sweeping || this.closed || this.jobs.size === 0) return;
    this.sweeping = true;
    try {
      const ids = [...this.jobs.keys()];
      for (let i = 0; i < ids.length && !this.closed; i += 200) await this.check(ids.slice(i, i + 200));
    } catch {
      // Redis away: the next sweep looks again.
    } finally {
      this.sweeping = false;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.sweeper) clearInterval(this.sweeper);
    if (this.ready === null) return; // never connected: nothing to close
    try {
      if (this.collected.length > 0) {
        // The caller has written what was collected: those jobs and their keys leave Redis.
        await Promise.all(this.collected.map(({ id }) => this.queue.remove(id).catch(() => 0)));
        const fields = this.collected.flatMap((c) => c.keys);
        for (let i = 0; i < fields.length; i += 5000) await this.redis.hdel(this.mapKey, ...fields.slice(i, i + 5000));
      }
    } catch (e) {
      this.options.onLog?.(`could not clean the collected jobs out of Redis: ${messageOf(e)}`);
    } finally {
      // A connection that never came up (or went away) would make BullMQ's close wait for it.
      const connected = (await this.ready.then(() => true, () => false)) && this.redis.status === "ready";
      if (connected) await Promise.race([Promise.allSettled([this.events.close(), this.queue.close()]), new Promise((r) => setTimeout(r, 5000).unref())]);
      await Promise.race([Promise.allSettled([this.events.disconnect(), this.queue.disconnect()]), new Promise((r) => setTimeout(r, 1000).unref())]);
      this.redis.disconnect();
    }
  }
}
