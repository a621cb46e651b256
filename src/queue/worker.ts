/**
 * A worker's side of a queued run (`civitas worker`): it opens its model first (and refuses to
 * serve when it cannot), then takes jobs from its model identity's queue only, and answers each
 * request through the in-process executor, the same code `civitas eval` asks a model with, so an
 * answer is the same whichever process asks it. A job's answers are its return value.
 *
 * BullMQ holds a lock on each job a worker runs, renewed every lockMs / 2; a worker killed in the
 * middle of a job stops renewing it, and after lockMs another worker's stalled-job check moves the
 * job back to the queue (at most maxStalledCount times, then it fails). A worker that loses Redis
 * reconnects (ioredis) and goes on taking jobs.
 */
import { UnrecoverableError, type Job } from "bullmq";
import { CivitasError, messageOf } from "../errors.js";
import { borrowClient, type ModelClient, type ModelSpec } from "../models/index.js";
import { inProcessExecutor, type Executor, type ModelRequest } from "../runs/index.js";
import { decode, encode } from "./codec.js";
import type { JobData } from "./executor.js";
import { startConsumer } from "./consumer.js";
import { connectionOf, queueName } from "./names.js";
import { serveSimulations, type SimulationJobPayload } from "./simulations.js";

export interface WorkerOptions {
  readonly url: string;
  /** Requests in flight at most (default: what the model client says it can take). */
  readonly concurrency?: number;
  /** Jobs run at once (default 2: the next job's requests fill the slots the last one's tail leaves). */
  readonly jobs?: number;
  /** How long a job's lock lasts without renewal, in ms (default 30000): a dead worker's job is taken over after about this long. */
  readonly lockMs?: number;
  /** A job that stalled more than this many times fails (default 5). */
  readonly maxStalled?: number;
  onLog?(message: string): void;
  /** After each job: its requests and how long it took. */
  onJob?(info: { id: string; requests: number; seconds: number }): void;
  /** Runs this model's model-driven simulation jobs (src/sim/jobs.ts, given by the CLI) once the model is open; none: it takes no simulation jobs. */
  simulations?(client: ModelClient): { run(job: SimulationJobPayload): Promise<unknown>; close(): Promise<void> };
  /** After each simulation job (simulations.ts): which simulation, how long it took. */
  onSimulation?(info: { id: string; point: number; seed: number; seconds: number }): void;
}

export interface QueueWorker {
  /** The queue served. */
  readonly queue: string;
  /** Requests answered so far. */
  readonly answered: number;
  /** Model-driven simulations of this model run so far (simulation jobs, simulations.ts). */
  readonly simulations: number;
  /** Stops taking jobs, waits for those running, closes the model. */
  close(): Promise<void>;
}

/** Opens the model, then serves its queue (see the module comment). Rejects, having taken no job, when the model cannot be opened. */
export async function serveQueue(spec: ModelSpec, options: WorkerOptions): Promise<QueueWorker> {
  connectionOf(options.url); // checks the URL before the model is loaded
  let client: ModelClient;
  try {
    client = await spec.open();
  } catch (e) {
    throw new CivitasError("model", `cannot load ${spec.display}, so this worker takes no jobs: ${messageOf(e)}`, { cause: e, ...(e instanceof CivitasError && e.hint ? { hint: e.hint } : {}) });
  }
  const concurrency = options.concurrency ?? client.concurrency;
  // An executor per parameter set the model is asked with (the spec's; the one for shared prefixes,
  // opened on the first job that needs it), each answering through the same in-process code.
  const executors = new Map<string, { spec: ModelSpec; executor?: Executor }>();
  const own = JSON.stringify(spec.params);
  executors.set(own, { spec: { ...spec, open: () => Promise.resolve(borrowClient(client)) } });
  const shared = spec.forSharedPrefixes?.();
  if (shared) executors.set(JSON.stringify(shared.params), { spec: shared });
  const executorFor = (params: string): Executor | undefined => {
    const e = executors.get(params);
    if (!e) return undefined;
    return (e.executor ??= inProcessExecutor(e.spec, { concurrency }));
  };

  let answered = 0;
  const processor = async (job: Job<JobData>): Promise<string> => {
    if (job.data.model !== spec.identity) {
      // Cannot happen through civitas (a queue per identity), but a job must never be answered by another model.
      throw new UnrecoverableError(`job ${job.id} is for ${job.data.model}; this worker runs ${spec.identity}`);
    }
    const executor = executorFor(job.data.params);
    if (!executor) throw new UnrecoverableError(`job ${job.id} asks ${spec.display} with parameters ${job.data.params}; this worker runs it with ${own}`);
    const t0 = performance.now();
    const requests = decode<ModelRequest[]>(job.data.requests, `the requests of job ${job.id}`);
    const rows = await Promise.all(requests.map((r) => executor.ask(r)));
    answered += rows.length;
    options.onJob?.({ id: String(job.id), requests: rows.length, seconds: (performance.now() - t0) / 1000 });
    return encode(rows);
  };

  const worker = await startConsumer(queueName(spec.identity), processor, {
    url: options.url,
    jobs: options.jobs ?? 2,
    ...(options.lockMs === undefined ? {} : { lockMs: options.lockMs }),
    ...(options.maxStalled === undefined ? {} : { maxStalled: options.maxStalled }),
    what: "job",
    ...(options.onLog === undefined ? {} : { onLog: options.onLog }),
  });
  // The model-driven simulations of this model, as whole jobs (`civitas simulate --queue --distribute simulations`).
  const runner = options.simulations?.(client);
  const sims =
    runner === undefined
      ? undefined
      : await serveSimulations({
          url: options.url,
          model: { identity: spec.identity, params: own, display: spec.display },
          run: (job) => runner.run(job),
          jobs: options.jobs ?? 2,
          ...(options.lockMs === undefined ? {} : { lockMs: options.lockMs }),
          ...(options.maxStalled === undefined ? {} : { maxStalled: options.maxStalled }),
          ...(options.onLog === undefined ? {} : { onLog: options.onLog }),
          ...(options.onSimulation === undefined ? {} : { onSimulation: options.onSimulation }),
        });

  return {
    queue: queueName(spec.identity),
    get answered() {
      return answered;
    },
    get simulations() {
      return sims?.simulations ?? 0;
    },
    async close() {
      await sims?.close();
      await runner?.close();
      await worker.close();
      for (const e of executors.values()) await e.executor?.close();
      await client.close();
    },
  };
}
