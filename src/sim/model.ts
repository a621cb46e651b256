/**
 * How model-driven agents reach a model: `createSimModel` implements `SimModel` (types.ts) over the
 * same machinery as `civitas eval`, so that a simulation and an evaluation share answers.
 *
 * Recording (the default). Every call:
 *   1. gets its request key exactly as `civitas eval` computes it (`requestKey` of runs/engine:
 *      model identity and parameters, method, method parameters, prompt, labels), so a prompt
 *      that `civitas eval` (or an earlier simulation) already asked is answered from the cache;
 *   2. is numbered in the order it is issued (0, 1, 2, ... per simulation = (run, point, seed)),
 *      synchronously, so the numbering depends only on the dynamics' (seeded) order of calls,
 *      never on which answer arrives first;
 *   3. is answered from what this simulation already asked (an identical prompt asked twice goes
 *      to the model once, even while the first is in flight), else from the request cache (the
 *      keys issued in one tick are looked up in one query), else by the model, through the
 *      execute stage of `civitas eval` (an Executor, src/runs/stages/execute.ts): opened lazily on
 *      the first call the cache cannot answer (never when everything is cached), with at most
 *      `concurrency` calls in flight (default the client's own: llama `--parallel`, servers
 *      `--concurrency`). Backend retries are the client's (`withRetry`).
 *   4. is recorded, cached or not, with its step and agent, new cache entries with it, in the
 *      store's batches (`BatchWriter`, which also carries the run's heartbeat). `flush()` waits
 *      for the writes; `close()` flushes and closes the model.
 *
 * Budget. `maxCalls` bounds the model calls (cache hits are free) and `maxTokens` the prompt
 * tokens the model evaluated (as the backend reports them, else prompt length / 4). A model call
 * that would be call maxCalls + 1, or that would start once the tokens so far reach maxTokens, is
 * refused, and so is every call after it (cached or not): `exhausted` becomes true and the call
 * rejects with a `BudgetExhaustedError` (a `CivitasError` of kind "model"; test with
 * `isBudgetExhausted`). A dynamics awaits all calls of a step before it changes any agent, so the
 * step that ran out fails as a whole and the state is that of the last complete step: a runner
 * catches the error, keeps the metrics so far and stops cleanly. Calls already in flight finish
 * (and are cached and recorded), so tokens may pass maxTokens by up to `concurrency - 1` prompts.
 *
 * Replay (`replay: { runId: X }`). Every call is answered from run X's recorded calls for the same
 * (point, seed), in order: call k must have the request key X recorded as call k (else "the
 * scenario changed since run X"), and X must have recorded a call k (else "run X recorded only N
 * calls"). The record and the cache entries it needs are read in two queries at the first call;
 * after that every call is an in-memory lookup. No model is ever opened (`spec.open` is not
 * called) and nothing is written: a replay's calls are X's calls, verified one by one, so replay X
 * (not the replay) to replay it again. With the same seed a dynamics that samples agents' answers
 * with the run's RNG (src/sim/agents) gives a bit-identical run.
 *
 * Distributions are the label masses renormalised over the labels (all zeros when no mass fell on
 * any label: the coverage, 0 then, says so; the dynamics decide what such an answer means).
 * Completions are `sample` requests with n = 1 (method parameters n, temperature, max_tokens, seed,
 * constrain false); the text returned is the completion's.
 */
import { CHARS_PER_TOKEN } from "../tokens.js";
import { CivitasError, messageOf } from "../errors.js";
import { renormalise, type ModelSpec } from "../models/index.js";
import { DEFAULT_SAMPLES, inProcessExecutor, requestKey, type Executor, type ModelRequest } from "../runs/index.js";
import { BatchWriter, type Method, type RequestRow, type Store } from "../store/index.js";
import type { SimModel, SimModelStats, SimQuery } from "./types.js";

export interface SimModelOptions {
  /** The simulation run the calls belong to (recorded under it). */
  readonly runId: string;
  /** The sweep point and the seed of this simulation: a record is per (run, point, seed). */
  readonly point: number;
  readonly seed: number;
  /** Model calls in flight at most (default: the client's concurrency, known once it is open). */
  readonly concurrency?: number;
  /** Stops the simulation cleanly when reached (see the module comment). */
  readonly budget?: { readonly maxCalls?: number; readonly maxTokens?: number };
  /** Answer every call from run `runId`'s record instead of the cache and the model. */
  readonly replay?: { readonly runId: string };
  /** Aborts the model calls in flight (interrupt). */
  readonly signal?: AbortSignal;
  /** Who asks the model (default: this process, inProcessExecutor); closed with the SimModel. */
  readonly executor?: Executor;
  /**
   * A steered model (src/sim/steer.ts): told each call's plain prompt (SimQuery.plain) before the
   * call is asked; a call without one is refused.
   */
  readonly steering?: { registerPlain(prompt: string, plain: string): void };
}

export interface SimModelRunStats extends SimModelStats {
  /** Calls the model answered (calls - cacheHits). */
  readonly modelCalls: number;
  /** Calls answered from a recorded run (replay). */
  readonly replayed: number;
  /**
   * Model-driven agent-steps: distinct (step, agent) pairs of the calls answered (an agent that
   * writes a message and then answers in one step is one agent-step).
   */
  readonly agentSteps: number;
  /**
   * Prompt tokens of every call answered, cached, replayed or not, estimated as
   * ceil(characters / 4) (CHARS_PER_TOKEN, src/config/tokens.ts): what the agents' prompts hold,
   * the same whoever answers them (unlike promptTokens, what the model evaluated).
   */
  readonly askedTokens: number;
}

/** A SimModel with the run's side: writing the record, the budget, closing the model. */
export interface RecordingSimModel extends SimModel {
  readonly stats: SimModelRunStats;
  /** True once the budget refused a call: every later call rejects with BudgetExhaustedError. */
  readonly exhausted: boolean;
  /** True when no model can be opened (replay). */
  readonly replaying: boolean;
  /** Waits until every recorded call and new cache entry is written. */
  flush(): Promise<void>;
  /** Flushes, then closes the model if it was opened. The SimModel must not be used after. */
  close(): Promise<void>;
}

/** The budget of a simulation ran out; the runner stops the run cleanly with the metrics so far. */
export class BudgetExhaustedError extends CivitasError {
  readonly budget: "calls" | "tokens";
  constructor(budget: "calls" | "tokens", message: string) {
    super("model", message, { hint: "raise the budget (or remove it) to let the simulation go further; the metrics up to the last complete step are kept" });
    this.name = "BudgetExhaustedError";
    this.budget = budget;
  }
}

export function isBudgetExhausted(e: unknown): e is BudgetExhaustedError {
  return e instanceof BudgetExhaustedError;
}

interface Answered {
  readonly row: RequestRow;
  /** True when this simulation asked the model for it (not the cache or the record). */
  readonly fresh: boolean;
}

interface RecordedCall {
  readonly point: number;
  readonly seed: number;
  readonly call: number;
  readonly step: number;
  readonly agent: number;
  readonly requestKey: string;
}

const COMPLETION_METHOD: Method = "sample";

/**
 * The SimModel of one simulation (run, point, seed). See the module comment for what each call
 * does when recording, under a budget, and when replaying.
 */
export function createSimModel(store: Store, spec: ModelSpec, options: SimModelOptions): RecordingSimModel {
  return new StoreSimModel(store, spec, options);
}

class StoreSimModel implements RecordingSimModel {
  private nextCall = 0;
  private answeredCalls = 0;
  private hits = 0;
  private replayedCalls = 0;
  private modelCalls = 0;
  private tokens = 0;
  private isExhausted = false;
  // agent-steps: distinct (step, agent) pairs of answered calls; the sets of the last two steps
  // seen are kept (a step's calls complete before the next step's start, src/sim/agents contract)
  private agentStepsDone = 0;
  private readonly stepAgents = new Map<number, Set<number>>();
  private asked = 0;

  // in flight: time-weighted mean while any is in flight
  private inFlight = 0;
  private peak = 0;
  private lastChange = 0;
  private busyMs = 0;
  private areaMs = 0;

  /** Request key by prompt, then by method and labels or parameters. */
  private readonly keys = new Map<string, Map<string, string>>();
  /** Answers of this simulation by request key (settled or in flight). */
  private readonly answers = new Map<string, Promise<Answered>>();
  /** Option distributions by request key, built once. */
  private readonly distributions = new Map<string, { readonly distribution: number[]; readonly coverage: number }>();

  // cache lookups issued in one tick go in one query
  private lookupQueue: { key: string; resolve: (r: RequestRow | undefined) => void; reject: (e: unknown) => void }[] = [];

  // the model, asked through the run's execute stage (opened lazily, at most `concurrency` calls in flight)
  private readonly executor: Executor;
  private limitConcurrency = 0;

  // the record being written, in batches
  private readonly writer: BatchWriter;

  // replay
  private readonly replayRun: string | undefined;
  private record: RecordedCall[] | null = null;
  private recordRows: Map<string, RequestRow> | null = null;
  private loading: Promise<void> | null = null;

  private closed = false;

  constructor(
    private readonly store: Store,
    private readonly spec: ModelSpec,
    private readonly options: SimModelOptions,
  ) {
    this.replayRun = options.replay?.runId;
    this.writer = new BatchWriter(store, { runId: options.runId });
    this.executor = options.executor ?? inProcessExecutor(spec, {
      ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
      onModelReady: (info) => (this.limitConcurrency = info.concurrency),
    });
    const { budget, concurrency } = options;
    for (const [name, v] of [["budget.maxCalls", budget?.maxCalls], ["budget.maxTokens", budget?.maxTokens]] as const) {
      if (v !== undefined && !(Number.isInteger(v) && v >= 0)) throw new CivitasError("usage", `${name} must be a whole number >= 0, got ${v}`);
    }
    if (concurrency !== undefined && !(Number.isInteger(concurrency) && concurrency >= 1)) {
      throw new CivitasError("usage", `concurrency must be a whole number >= 1, got ${concurrency}`);
    }
  }

  get exhausted(): boolean {
    return this.isExhausted;
  }

  get replaying(): boolean {
    return this.replayRun !== undefined;
  }

  get stats(): SimModelRunStats {
    const now = performance.now();
    const busy = this.busyMs + (this.inFlight > 0 ? now - this.lastChange : 0);
    const area = this.areaMs + (this.inFlight > 0 ? this.inFlight * (now - this.lastChange) : 0);
    return {
      calls: this.answeredCalls,
      cacheHits: this.hits,
      modelCalls: this.modelCalls,
      replayed: this.replayedCalls,
      agentSteps: this.agentStepsDone + [...this.stepAgents.values()].reduce((a, x) => a + x.size, 0),
      askedTokens: this.asked,
      promptTokens: this.tokens,
      maxInFlight: this.peak,
      meanInFlight: busy > 0 ? area / busy : 0,
      concurrency: this.limitConcurrency > 0 ? this.limitConcurrency : (this.options.concurrency ?? 0),
    };
  }

  // ---- the two calls ----------------------------------------------------------------------

  async optionDistribution(query: SimQuery & { readonly labels: readonly string[] }): Promise<{ readonly distribution: number[]; readonly coverage: number }> {
    const { prompt, labels } = query;
    const key = this.keyOf(prompt, "logprobs", labels.join("\u0001"), () => requestKey(this.spec, "logprobs", {}, prompt, labels));
    const row = await this.call(
      {
        kind: "elicit",
        key,
        method: "logprobs",
        prompt,
        labels: [...labels],
        params: { ...this.spec.params, method: "logprobs" },
        rendered: { text: prompt, prefix: "", labels: [...labels], shown: [...labels], answer: "label" },
        settings: { samples: DEFAULT_SAMPLES, constrain: false, seed: 0 },
      },
      query,
    );
    let d = this.distributions.get(key);
    if (d === undefined) {
      d = { distribution: renormalise(row.labelMass) ?? row.labelMass.map(() => 0), coverage: row.coverage };
      this.distributions.set(key, d);
    }
    return d;
  }

  async complete(query: SimQuery & { readonly maxTokens: number; readonly temperature: number; readonly seed: number }): Promise<string> {
    const { prompt, maxTokens, temperature, seed } = query;
    const params = { n: 1, temperature, max_tokens: maxTokens, seed, constrain: false };
    const key = this.keyOf(prompt, COMPLETION_METHOD, `${maxTokens}\u0001${temperature}\u0001${seed}`, () => requestKey(this.spec, COMPLETION_METHOD, params, prompt, []));
    const row = await this.call(
      {
        kind: "completion",
        key,
        method: COMPLETION_METHOD,
        prompt,
        labels: [],
        params: { ...this.spec.params, method: COMPLETION_METHOD, ...params },
        query: { prompt, n: 1, temperature, maxTokens, seed },
      },
      query,
    );
    const texts = (row.raw as { texts?: unknown } | null)?.texts;
    return Array.isArray(texts) && typeof texts[0] === "string" ? texts[0] : "";
  }

  /** Counts an answered call's agent-step and estimated prompt tokens (stats.agentSteps, stats.askedTokens). */
  private countAsked(prompt: string, query: SimQuery): void {
    this.asked += Math.ceil(prompt.length / CHARS_PER_TOKEN);
    let agents = this.stepAgents.get(query.step);
    if (agents === undefined) {
      agents = new Set();
      this.stepAgents.set(query.step, agents);
      for (const [s, set] of this.stepAgents) {
        if (s < query.step - 1) {
          this.agentStepsDone += set.size;
          this.stepAgents.delete(s);
        }
      }
    }
    agents.add(query.agent);
  }

  private keyOf(prompt: string, method: string, sig: string, compute: () => string): string {
    let byPrompt = this.keys.get(prompt);
    if (byPrompt === undefined) {
      byPrompt = new Map();
      this.keys.set(prompt, byPrompt);
    }
    const s = method === "logprobs" ? sig : `${method}\u0000${sig}`;
    let key = byPrompt.get(s);
    if (key === undefined) {
      key = compute();
      byPrompt.set(s, key);
    }
    return key;
  }

  /** Numbers the call, answers it (record, memory, cache or model) and records it. */
  private async call(request: ModelRequest, query: SimQuery): Promise<RequestRow> {
    const { key } = request;
    if (this.closed) throw new CivitasError("usage", "this simulation's model is closed");
    if (this.writer.error !== null) throw this.writer.error;
    if (this.options.steering !== undefined && this.replayRun === undefined) {
      if (query.plain === undefined) throw new CivitasError("usage", `steer: agent ${query.agent} (step ${query.step}) asked without a plain prompt; this dynamics cannot be steered`);
      this.options.steering.registerPlain(request.prompt, query.plain);
    }
    const index = this.nextCall++;
    if (this.isExhausted) throw this.exhaustedError();
    if (this.replayRun !== undefined) return this.replayCall(index, key, query);
    let p = this.answers.get(key);
    let joined = true;
    if (p === undefined) {
      joined = false;
      p = this.lookup(key).then((cached) => (cached !== undefined ? { row: cached, fresh: false } : this.askModel(request)));
      this.answers.set(key, p);
      // a failed request may be asked again by a later call
      p.catch(() => {
        if (this.answers.get(key) === p) this.answers.delete(key);
      });
    }
    const { row, fresh } = await p;
    this.countAsked(request.prompt, query);
    this.answeredCalls++;
    if (joined || !fresh) this.hits++;
    this.writer.add({
      simCalls: [{ runId: this.options.runId, point: this.options.point, seed: this.options.seed, call: index, step: query.step, agent: query.agent, requestKey: key }],
      ...(fresh && !joined ? { requests: [row] } : {}),
    });
    return row;
  }

  // ---- cache --------------------------------------------------------------------------------

  private lookup(key: string): Promise<RequestRow | undefined> {
    return new Promise((resolve, reject) => {
      this.lookupQueue.push({ key, resolve, reject });
      if (this.lookupQueue.length === 1) queueMicrotask(() => void this.runLookups());
    });
  }

  private async runLookups(): Promise<void> {
    const queue = this.lookupQueue;
    this.lookupQueue = [];
    try {
      const rows = await this.store.lookupRequests([...new Set(queue.map((q) => q.key))]);
      for (const q of queue) q.resolve(rows.get(q.key));
    } catch (e) {
      for (const q of queue) q.reject(e);
    }
  }

  // ---- model --------------------------------------------------------------------------------

  private async askModel(request: ModelRequest): Promise<Answered> {
    if (this.isExhausted) throw this.exhaustedError();
    const row = await this.executor.ask(request, {
      ...(this.options.signal ? { signal: this.options.signal } : {}),
      hooks: {
        // Checked when the call would start, so that the tokens of the calls before it are known.
        beforeAsk: () => {
          const budget = this.options.budget;
          if (!this.isExhausted && budget?.maxCalls !== undefined && this.modelCalls >= budget.maxCalls) this.exhaust("calls");
          if (!this.isExhausted && budget?.maxTokens !== undefined && this.tokens >= budget.maxTokens) this.exhaust("tokens");
          if (this.isExhausted) throw this.exhaustedError();
          this.modelCalls++;
          this.changeInFlight(1);
        },
        afterAsk: (_request, answered) => {
          if (answered) this.tokens += answered.promptTokens ?? Math.ceil(answered.prompt.length / 4);
          this.changeInFlight(-1);
        },
      },
    });
    return { row, fresh: true };
  }

  private changeInFlight(delta: number): void {
    const now = performance.now();
    if (this.inFlight > 0) {
      this.busyMs += now - this.lastChange;
      this.areaMs += this.inFlight * (now - this.lastChange);
    }
    this.lastChange = now;
    this.inFlight += delta;
    if (this.inFlight > this.peak) this.peak = this.inFlight;
  }

  private exhaustReason: "calls" | "tokens" = "calls";

  private exhaust(reason: "calls" | "tokens"): void {
    this.isExhausted = true;
    this.exhaustReason = reason;
  }

  private exhaustedError(): BudgetExhaustedError {
    const b = this.options.budget;
    const what =
      this.exhaustReason === "calls"
        ? `${this.modelCalls} model calls (budget maxCalls ${b?.maxCalls ?? "none"})`
        : `${this.tokens} prompt tokens (budget maxTokens ${b?.maxTokens ?? "none"})`;
    return new BudgetExhaustedError(this.exhaustReason, `the simulation's budget is spent: ${what}`);
  }

  // ---- replay -------------------------------------------------------------------------------

  private async replayCall(index: number, key: string, query: SimQuery): Promise<RequestRow> {
    if (this.record === null) {
      this.loading ??= this.loadRecord();
      await this.loading;
    }
    const run = this.replayRun!;
    const rec = this.record![index];
    const where = `point ${this.options.point}, seed ${this.options.seed}`;
    if (rec === undefined) {
      const n = this.record!.length;
      throw new CivitasError("usage", `run ${run} recorded only ${n} call${n === 1 ? "" : "s"} (${where}); this simulation asked for call ${index + 1} (step ${query.step}, agent ${query.agent})`, {
        hint: "the scenario, its step limit or the budget differs from run " + run + "'s, or the run stopped early; replay the unchanged scenario, or run it without replay to record it",
      });
    }
    if (rec.requestKey !== key) {
      throw new CivitasError("usage", `the scenario changed since run ${run}: call ${index + 1} (${where}, step ${query.step}, agent ${query.agent}) asks another request than the one recorded (step ${rec.step}, agent ${rec.agent})`, {
        hint: "a replay needs the same scenario, parameters, survey, model and seed; run it without replay to record it anew",
      });
    }
    const row = this.recordRows!.get(key);
    if (row === undefined) {
      throw new CivitasError("store", `run ${run}'s call ${index + 1} (${where}) has no cached answer in ${this.store.file} (request ${key.slice(0, 12)})`, {
        hint: "its cached answers were removed (civitas cache prune or cache clear); a replay needs them: run the scenario without --replay to record it again",
      });
    }
    this.countAsked(row.prompt, query);
    this.answeredCalls++;
    this.hits++;
    this.replayedCalls++;
    return row;
  }

  private async loadRecord(): Promise<void> {
    const run = this.replayRun!;
    let calls: { call: number; step: number; agent: number; requestKey: string }[];
    let rows: Map<string, RequestRow>;
    try {
      calls = await this.store.simCalls(run, this.options.point, this.options.seed);
      rows = await this.store.lookupRequests([...new Set(calls.map((c) => c.requestKey))]);
    } catch (e) {
      throw new CivitasError("store", `cannot read run ${run}'s recorded calls from ${this.store.file}: ${messageOf(e)}`, { cause: e });
    }
    // Dense by call number: a gap (calls refused by a budget) ends the record.
    const record: RecordedCall[] = [];
    for (const c of calls) {
      if (c.call !== record.length) break;
      record.push({ point: this.options.point, seed: this.options.seed, ...c });
    }
    this.recordRows = rows;
    this.record = record;
  }

  // ---- writing the record -------------------------------------------------------------------

  async flush(): Promise<void> {
    await this.writer.flush();
  }

  async close(): Promise<void> {
    try {
      await this.flush();
    } finally {
      this.closed = true;
      await this.executor.close();
    }
  }
}
