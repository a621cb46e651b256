/**
 * Writes what a long-running command produces (answers and cache entries, a simulation's recorded
 * calls) in batches: everything that arrives within `intervalMs` goes into one transaction.
 *
 * Batches keep the store free for other processes most of the time (src/store/handle.ts): each
 * write opens the file, writes and closes it again, and while another process holds the file the
 * batch simply waits in memory for the next try, so the model never waits on the store. The
 * interval adapts to what a write costs (at least ten times the last write), so that the file is
 * held at most about a tenth of the time whatever the store's size. A process killed at any
 * moment loses at most the batch not yet written; the next run asks for exactly what is missing.
 * Each batch also carries the heartbeat and progress of the run it belongs to, which is how
 * `runs list` and the viewer see a running run's progress.
 */
import type { AnswerRow, Batch, RequestRow, Store } from "./store.js";
import { isStoreBusy } from "./handle.js";

export interface BatchWriterOptions {
  /** Shortest time between two writes, in ms (default 500). */
  readonly intervalMs?: number;
  /** The run whose invocation's heartbeat and progress go with each batch. */
  readonly runId?: string;
  /** Replace stored cache entries and answers with the same keys (answers asked again; see Batch.replace). */
  readonly replace?: boolean;
}

type SimCall = NonNullable<Batch["simCalls"]>[number];

export class BatchWriter {
  private requests: RequestRow[] = [];
  private answers: AnswerRow[] = [];
  private simCalls: SimCall[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inflight: Promise<void> | null = null;
  private interval: number;
  private readonly minInterval: number;
  /** The first error a write met; later adds are refused and flush() throws it. */
  error: unknown = null;

  constructor(
    private readonly store: Store,
    private readonly options: BatchWriterOptions = {},
  ) {
    this.minInterval = options.intervalMs ?? 500;
    this.interval = this.minInterval;
  }

  /** Queues rows for the next batch. */
  add(batch: { requests?: readonly RequestRow[]; answers?: readonly AnswerRow[]; simCalls?: readonly SimCall[] }): void {
    if (batch.requests) this.requests.push(...batch.requests);
    if (batch.answers) this.answers.push(...batch.answers);
    if (batch.simCalls) this.simCalls.push(...batch.simCalls);
    this.schedule(this.interval);
  }

  private get empty(): boolean {
    return this.requests.length === 0 && this.answers.length === 0 && this.simCalls.length === 0;
  }

  private schedule(ms: number): void {
    if (this.timer || this.inflight || this.error || this.empty) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.inflight = this.write(false).finally(() => {
        this.inflight = null;
      });
    }, ms);
  }

  /** Takes what is queued and writes it; on a busy store (when not waiting) puts it back. */
  private async write(wait: boolean): Promise<void> {
    if (this.empty) return;
    const batch: Batch = {
      requests: this.requests,
      answers: this.answers,
      simCalls: this.simCalls,
      ...(this.options.runId === undefined ? {} : { beats: [this.options.runId] }),
      ...(this.options.replace ? { replace: true } : {}),
    };
    this.requests = [];
    this.answers = [];
    this.simCalls = [];
    const t0 = performance.now();
    try {
      await this.store.writeBatch(batch, { wait });
      this.interval = Math.max(this.minInterval, 10 * (performance.now() - t0));
      this.schedule(this.interval);
    } catch (e) {
      // Put the rows back in front, in their order.
      this.requests.unshift(...(batch.requests ?? []));
      this.answers.unshift(...(batch.answers ?? []));
      this.simCalls.unshift(...(batch.simCalls ?? []));
      if (!wait && isStoreBusy(e)) {
        // Another process writes now: try again shortly.
        setImmediate(() => this.schedule(50 + Math.random() * 100));
      } else {
        this.error = e;
      }
    }
  }

  /** Writes everything queued, waiting for the store if another process holds it. */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    while (this.inflight) await this.inflight;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.error) throw this.error;
    await this.write(true);
    if (this.error) throw this.error;
  }
}
