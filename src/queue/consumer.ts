/**
 * A BullMQ worker as civitas runs them (model-call jobs, worker.ts; simulation jobs,
 * simulations.ts): a lock of `lockMs` renewed while a job runs, the stalled-job check as often (a
 * job whose worker died goes back to the queue after about lockMs, at most `maxStalled` times, then
 * fails), short polls when the queue is empty (a worker sees Redis come back quickly), and Redis
 * trouble told once per change, not once per retry.
 */
import { Worker, type Job } from "bullmq";
import { messageOf } from "../errors.js";
import { connectionOf, PREFIX } from "./names.js";

export interface ConsumerOptions {
  readonly url: string;
  /** Jobs held at once. */
  readonly jobs: number;
  readonly lockMs?: number;
  /** A job that stalled more than this many times fails (default 5). */
  readonly maxStalled?: number;
  /** How a failed job is named in the log ("job", "simulation job"). */
  readonly what: string;
  onLog?(message: string): void;
}

/** Starts a worker on queue `name` and waits until it is connected. */
export async function startConsumer<D>(name: string, processor: (job: Job<D>) => Promise<string>, options: ConsumerOptions): Promise<Worker<D, string>> {
  const lockMs = options.lockMs ?? 30_000;
  const worker = new Worker<D, string>(name, processor, {
    connection: connectionOf(options.url),
    prefix: PREFIX,
    concurrency: options.jobs,
    lockDuration: lockMs,
    stalledInterval: lockMs,
    maxStalledCount: options.maxStalled ?? 5,
    drainDelay: 1,
  });
  let lastError = "";
  worker.on("error", (e) => {
    const m = messageOf(e);
    if (m !== lastError) options.onLog?.(`queue: ${m} (reconnecting)`);
    lastError = m;
  });
  worker.on("ready", () => {
    if (lastError !== "") options.onLog?.("queue: connected again");
    lastError = "";
  });
  worker.on("failed", (job, e) => options.onLog?.(`${options.what} ${job?.id ?? "?"} failed: ${messageOf(e)}`));
  await worker.waitUntilReady();
  return worker;
}
