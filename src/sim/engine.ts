/**
 * Runs a dynamics on a graph: init, then up to `steps` steps, metrics every `every` steps and at
 * the end. Thin on purpose: the dynamics owns its state and its update loop (typed arrays, one
 * sweep per step); the engine owns time, seeding, metrics collection, hooks and stopping.
 *
 * Contract with a `Dynamics<S>`:
 * - One engine step is one sweep: N agent updates. A "synchronous" dynamics updates every agent
 *   once from the state at the start of the step; an "asynchronous" (random sequential) one does N
 *   single updates of randomly drawn agents (or pairs), each seeing the ones before it (see
 *   `Dynamics.update`). Time is therefore comparable across dynamics: steps = sweeps.
 * - All randomness comes from `ctx.rng`, one generator per run made from `seed`, used by `init`
 *   and then by every step in order: the same seed gives the same run.
 * - `step` returns true once the dynamics has converged (by its own criterion, documented with
 *   it); the run then stops before the step limit. It may return a promise (model-driven agents).
 * - `metrics` must not change the state or draw random numbers. The engine adds `steps`, the
 *   number of steps done when the metrics were taken.
 * The engine yields to the event loop at least every 50 ms of computing, so an abort signal fired
 * from a timer or a signal handler is seen within about one step.
 */
import { CivitasError } from "../errors.js";
import { seededRng } from "../metrics/index.js";
import type { Dynamics, Graph, Params, StepContext } from "./types.js";

export type Metrics = Readonly<Record<string, number>>;

export interface StepEvent<S> {
  /** Steps done (0: just after init). */
  readonly step: number;
  readonly state: S;
  /** Present when metrics were taken at this step (every `every` steps, and at the end). */
  readonly metrics?: Metrics;
}

export interface SimulateOptions<S> {
  readonly graph: Graph;
  readonly params: Params;
  readonly seed: number;
  /** The step limit (default: `params.steps`). */
  readonly steps?: number;
  /** Take metrics at step 0 and every `every` steps (default: only at the end). */
  readonly every?: number;
  /** Called after init (step 0) and after every step; awaited if it returns a promise. */
  readonly onStep?: (event: StepEvent<S>) => void | Promise<void>;
  /** Stops the run between steps (and is passed to the dynamics for long steps). */
  readonly signal?: AbortSignal;
}

export interface SimulationResult {
  /** Steps done. */
  readonly steps: number;
  /** True when the dynamics reported convergence before the step limit. */
  readonly converged: boolean;
  /** Why the run ended. */
  readonly stop: "converged" | "steps" | "aborted";
  readonly update: "synchronous" | "asynchronous" | undefined;
  /** Metrics at step 0, every `every` steps, and at the end (each once). */
  readonly series: { step: number; metrics: Metrics }[];
  /** Metrics of the final state (with `steps`). */
  readonly final: Metrics;
}

const YIELD_MS = 50;

export async function simulate<S>(dynamics: Dynamics<S>, options: SimulateOptions<S>): Promise<SimulationResult> {
  const { graph, params, seed, every, onStep, signal } = options;
  const limit = options.steps ?? params.steps;
  if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 0) {
    throw new CivitasError("usage", `simulate ${dynamics.name}: steps must be an integer >= 0, got ${String(limit)}`);
  }
  if (every !== undefined && (!Number.isInteger(every) || every < 1)) {
    throw new CivitasError("usage", `simulate ${dynamics.name}: every must be an integer >= 1, got ${every}`);
  }
  if (!Number.isInteger(seed)) throw new CivitasError("usage", `simulate ${dynamics.name}: seed must be an integer, got ${seed}`);
  const agents = params.agents;
  if (agents !== undefined && Number(agents) !== graph.n) {
    throw new CivitasError("usage", `simulate ${dynamics.name}: agents = ${String(agents)} but the graph has ${graph.n} nodes`);
  }

  const rng = seededRng(seed);
  const base = signal === undefined ? { graph, params, rng, seed } : { graph, params, rng, seed, signal };
  const ctxAt = (step: number): StepContext => ({ ...base, step });
  const state = await dynamics.init(base);
  const series: { step: number; metrics: Metrics }[] = [];
  const measure = (step: number): Metrics => {
    const m: Metrics = { ...dynamics.metrics(state, ctxAt(step)), steps: step };
    series.push({ step, metrics: m });
    return m;
  };

  let t = 0;
  let stop: SimulationResult["stop"] = "steps";
  let last: Metrics | undefined = every !== undefined ? measure(0) : undefined;
  if (onStep !== undefined) await onStep(last === undefined ? { step: 0, state } : { step: 0, state, metrics: last });
  let lastYield = performance.now();
  while (t < limit) {
    if (signal?.aborted) {
      stop = "aborted";
      break;
    }
    const r = dynamics.step(state, ctxAt(t));
    const done = typeof r === "boolean" ? r : await r;
    t++;
    last = every !== undefined && t % every === 0 ? measure(t) : undefined;
    if (done) stop = "converged";
    if (stop === "converged" || t === limit) last ??= measure(t);
    if (onStep !== undefined) await onStep(last === undefined ? { step: t, state } : { step: t, state, metrics: last });
    if (stop === "converged") break;
    const now = performance.now();
    if (now - lastYield >= YIELD_MS) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      lastYield = performance.now();
    }
  }
  const final = series.length > 0 && series[series.length - 1]!.step === t ? series[series.length - 1]!.metrics : measure(t);
  return { steps: t, converged: stop === "converged", stop, update: dynamics.update, series, final };
}

// ---------------------------------------------------------------------------------------------
// Helpers shared by the dynamics: parameters and opinion metrics

/** A numeric parameter, checked; a clear usage error names it otherwise. */
export function numberParam(
  params: Params,
  name: string,
  spec: { default?: number; min?: number; max?: number; integer?: boolean; exclusiveMin?: boolean },
): number {
  const raw = params[name] ?? spec.default;
  if (raw === undefined) throw new CivitasError("usage", `parameter ${name} is required`);
  const v = typeof raw === "string" && raw.trim() !== "" ? Number(raw) : raw;
  const range =
    `${spec.min === undefined ? "" : `${spec.exclusiveMin ? ">" : ">="} ${spec.min}`}` +
    `${spec.min !== undefined && spec.max !== undefined ? " and " : ""}${spec.max === undefined ? "" : `<= ${spec.max}`}`;
  const ok =
    typeof v === "number" &&
    Number.isFinite(v) &&
    (!spec.integer || Number.isInteger(v)) &&
    (spec.min === undefined || (spec.exclusiveMin ? v > spec.min : v >= spec.min)) &&
    (spec.max === undefined || v <= spec.max);
  if (!ok) {
    throw new CivitasError("usage", `parameter ${name} must be ${spec.integer ? "an integer" : "a number"}${range ? ` ${range}` : ""}, got ${String(raw)}`);
  }
  return v as number;
}

export interface OpinionSummary {
  /** 1 when max - min <= tolerance (everyone within the tolerance of everyone), else 0. */
  consensus: number;
  /** Number of major clusters: maximal runs of sorted opinions with gaps <= tolerance holding >= minShare of the agents. */
  clusters: number;
  /** Share of agents in the largest cluster. */
  largest: number;
  mean: number;
  /** max - min. */
  spread: number;
}

/**
 * Clusters of scalar opinions: sort, cut where two consecutive opinions differ by more than
 * `tolerance`; count the clusters holding at least `minShare` of the agents (major clusters, as
 * Deffuant et al. 2000 count them, ignoring outliers). `sorted` skips the copy and sort.
 */
export function summarizeOpinions(x: Float64Array, tolerance: number, options: { minShare?: number; sorted?: boolean } = {}): OpinionSummary {
  const n = x.length;
  if (n === 0) return { consensus: 1, clusters: 0, largest: 0, mean: Number.NaN, spread: 0 };
  const s = options.sorted ? x : Float64Array.from(x).sort();
  const minSize = (options.minShare ?? 0.05) * n;
  let clusters = 0;
  let largest = 0;
  let start = 0;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    sum += s[i]!;
    if (i === n - 1 || s[i + 1]! - s[i]! > tolerance) {
      const size = i + 1 - start;
      if (size >= minSize) clusters++;
      if (size > largest) largest = size;
      start = i + 1;
    }
  }
  const spread = s[n - 1]! - s[0]!;
  return { consensus: spread <= tolerance ? 1 : 0, clusters, largest: largest / n, mean: sum / n, spread };
}

/** Opinions drawn uniformly on [0, 1). */
export function uniformOpinions(n: number, rng: { float(): number }): Float64Array {
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) x[i] = rng.float();
  return x;
}
