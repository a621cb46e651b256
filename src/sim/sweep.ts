/**
 * Sweeps: a grid over parameters times a list of seeds, and the summary of each grid point across
 * seeds. Pure functions; `run.ts` runs the simulations and stores them.
 *
 * - Seeds are written `"1..20"` (inclusive), a list `[1, 5, 9]`, or one seed `7`.
 * - The grid is the Cartesian product of the swept values, in the order the scenario lists the
 *   parameters, the first varying slowest (`{a: [1, 2], b: [x, y]}` gives a1 b.x, a1 b.y, a2 b.x, a2 b.y).
 * - A point's metric is summarised from the final value of each seed's run: the mean, a 95%
 *   interval of the kind the metric calls for (metric-kinds.ts: the Wilson score interval for 0/1
 *   metrics such as consensus; Student's t-interval mean +- t_{0.975, n-1} s / sqrt(n), s the
 *   sample standard deviation (Student 1908), clipped to the metric's range where it has one), the
 *   per-seed values, and the seeds left out because they have no value. The t quantile is
 *   `tQuantile` (metrics/distributions.ts).
 */
import { CivitasError } from "../errors.js";
import { tQuantile, wilsonInterval } from "../metrics/index.js";
import { metricKind } from "./metric-kinds.js";
import type { Params } from "./types.js";

export type ParamValue = number | string | boolean;

/** Swept parameters in the scenario's order, each with its values. */
export type Sweep = readonly (readonly [name: string, values: readonly ParamValue[]])[];

/** The largest number of seeds a range may name (a typo like 1..1e9 is an error, not a week of work). */
export const MAX_SEEDS = 100_000;
/** Seeds are non-negative 31-bit integers (the generators take 32-bit seeds). */
export const MAX_SEED = 2 ** 31 - 1;

/**
 * Seeds from `"a..b"` (inclusive), `"a,b,c"`, `"a"`, a number or a list of numbers. `where`
 * prefixes every error ("examples/hk.yaml: seeds", "--seeds"). Duplicates are errors (they would
 * count one run twice in an interval).
 */
export function parseSeeds(spec: string | number | readonly number[], where: string): number[] {
  const bad = (what: string) =>
    new CivitasError("usage", `${where}: ${what}`, { hint: 'write a range "1..20" (inclusive), a list [1, 2, 3] or "1,2,3", or one seed 7' });
  const check = (s: number, text: string): number => {
    if (!Number.isInteger(s) || s < 0 || s > MAX_SEED) throw bad(`seed ${text} is not an integer in 0..${MAX_SEED}`);
    return s;
  };
  let seeds: number[];
  if (typeof spec === "number") seeds = [check(spec, String(spec))];
  else if (typeof spec !== "string") seeds = spec.map((s) => check(s, String(s)));
  else {
    const text = spec.trim();
    const range = /^(\S+?)\s*\.\.\s*(\S+)$/u.exec(text);
    if (range) {
      const num = (t: string) => (/^\d+$/u.test(t) ? Number(t) : Number.NaN);
      const a = check(num(range[1]!), `"${range[1]}"`);
      const b = check(num(range[2]!), `"${range[2]}"`);
      if (b < a) throw bad(`range "${text}" is empty (${b} < ${a})`);
      if (b - a + 1 > MAX_SEEDS) throw bad(`range "${text}" names ${b - a + 1} seeds; at most ${MAX_SEEDS}`);
      seeds = Array.from({ length: b - a + 1 }, (_, i) => a + i);
    } else {
      const parts = text.replace(/^\[(.*)\]$/u, "$1").split(",").map((p) => p.trim());
      if (text === "" || parts.some((p) => p === "")) throw bad(`"${spec}" is not a seed list`);
      seeds = parts.map((p) => check(/^\d+$/u.test(p) ? Number(p) : Number.NaN, `"${p}"`));
    }
  }
  if (seeds.length === 0) throw bad("no seeds");
  if (seeds.length > MAX_SEEDS) throw bad(`${seeds.length} seeds; at most ${MAX_SEEDS}`);
  const seen = new Set<number>();
  for (const s of seeds) {
    if (seen.has(s)) throw bad(`seed ${s} is listed twice`);
    seen.add(s);
  }
  return seeds;
}

/** Seeds written back compactly: "1..20" for a run of consecutive seeds, else "1, 5, 9". */
export function formatSeeds(seeds: readonly number[]): string {
  if (seeds.length === 0) return "none";
  if (seeds.length === 1) return String(seeds[0]);
  const consecutive = seeds.every((s, i) => i === 0 || s === seeds[i - 1]! + 1);
  return consecutive ? `${seeds[0]}..${seeds[seeds.length - 1]}` : seeds.join(", ");
}

/** Every grid point: the base parameters with one combination of the swept values (first parameter slowest). */
export function expandGrid(base: Params, sweep: Sweep): Params[] {
  let points: Record<string, ParamValue>[] = [{ ...base }];
  for (const [name, values] of sweep) {
    if (values.length === 0) throw new CivitasError("usage", `sweep.${name}: no values`);
    const next: Record<string, ParamValue>[] = [];
    for (const p of points) for (const v of values) next.push({ ...p, [name]: v });
    points = next;
  }
  return points;
}

/** The swept parameters' values at a point, as `epsilon=0.2, agents=500` (for labels and messages). */
export function pointLabel(point: Params, sweep: Sweep): string {
  return sweep.length === 0 ? "(no sweep)" : sweep.map(([name]) => `${name}=${String(point[name])}`).join(", ");
}

export interface TInterval {
  readonly mean: number;
  /** The interval [lo, hi]; [NaN, NaN] with fewer than two values. */
  readonly ci: readonly [number, number];
  /** Values used (the finite ones). */
  readonly n: number;
  /** Sample standard deviation (n - 1 in the denominator); NaN with fewer than two values. */
  readonly sd: number;
}

/**
 * Student's t-interval for the mean of `values` (their non-finite entries ignored):
 * mean +- t_{(1+level)/2, n-1} s / sqrt(n). With one value the interval is undefined ([NaN, NaN]);
 * with no spread it is [mean, mean].
 */
export function tInterval(values: readonly number[], level = 0.95): TInterval {
  if (!(level > 0 && level < 1)) throw new CivitasError("usage", `interval level must be in (0, 1), got ${level}`);
  const x = values.filter((v) => Number.isFinite(v));
  const n = x.length;
  if (n === 0) return { mean: Number.NaN, ci: [Number.NaN, Number.NaN], n: 0, sd: Number.NaN };
  const mean = x.reduce((a, b) => a + b, 0) / n;
  if (n === 1) return { mean, ci: [Number.NaN, Number.NaN], n, sd: Number.NaN };
  const sd = Math.sqrt(x.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
  const half = tQuantile((1 + level) / 2, n - 1) * (sd / Math.sqrt(n));
  return { mean, ci: [mean - half, mean + half], n, sd };
}

/** How an interval was computed: "wilson" (0/1 per seed), "t" clipped to a range, or plain "t". */
export type IntervalMethod = "wilson" | "t-clipped" | "t";

export interface SeedInterval {
  readonly mean: number;
  /** [lo, hi]; [NaN, NaN] with no value, or with one value where the interval is a t-interval. */
  readonly ci: readonly [number, number];
  /** Values used (the finite ones). */
  readonly n: number;
  readonly method: IntervalMethod;
  /** The range the interval was clipped to (method "t-clipped"). */
  readonly range?: readonly [number, number];
}

/**
 * The mean of a metric's finite values across seeds with the interval its kind calls for (see the
 * module comment). Non-finite values are ignored (the caller reports them as dropped).
 */
export function seedInterval(name: string, values: readonly number[], level = 0.95): SeedInterval {
  const x = values.filter((v) => Number.isFinite(v));
  const kind = metricKind(name);
  if (kind.kind === "indicator" && x.length > 0 && x.every((v) => v === 0 || v === 1)) {
    const k = x.filter((v) => v === 1).length;
    const w = wilsonInterval(k, x.length, level);
    return { mean: w.share, ci: w.ci, n: x.length, method: "wilson" };
  }
  const t = tInterval(x, level);
  if (kind.kind === "bounded" && x.every((v) => v >= kind.min && v <= kind.max)) {
    const clip = (v: number) => (Number.isNaN(v) ? v : Math.min(kind.max, Math.max(kind.min, v)));
    return { mean: t.mean, ci: [clip(t.ci[0]), clip(t.ci[1])], n: t.n, method: "t-clipped", range: [kind.min, kind.max] };
  }
  return { mean: t.mean, ci: t.ci, n: t.n, method: "t" };
}

export interface MetricSummary {
  readonly mean: number;
  readonly ci: readonly [number, number];
  /** How `ci` was computed (see metric-kinds.ts). Absent in runs stored by earlier versions (a t-interval). */
  readonly interval?: IntervalMethod;
  /** Seeds whose value entered the summary. */
  readonly n: number;
  readonly min: number;
  readonly max: number;
  /** The final value of each seed's run, in the order of the run's seeds; null where a seed has none (not run, stopped early, or not a number). */
  readonly per_seed: (number | null)[];
  /** Seeds left out of the summary because they have no value (their per_seed is null). Absent in runs stored by earlier versions. */
  readonly dropped?: number[];
}

/**
 * Summaries of one grid point: for every metric any seed reported, the interval of its kind
 * (`seedInterval`) of the final values across seeds. `finals[k]` is seed k's final metrics, or undefined when that seed's run is
 * missing. Metrics come in the order the runs reported them, or with `order`, those it names in
 * its order and the others sorted by name after them (so that a run read back from the store,
 * whose metrics come sorted, prints as it did).
 */
export function summarizeMetrics(
  finals: readonly (Readonly<Record<string, number>> | undefined)[],
  options: { level?: number; order?: readonly string[]; /** The seed of each entry of finals (default: its index), to name dropped seeds. */ seeds?: readonly number[] } = {},
): Record<string, MetricSummary> {
  const level = options.level ?? 0.95;
  const found: string[] = [];
  for (const f of finals) for (const k of Object.keys(f ?? {})) if (!found.includes(k)) found.push(k);
  const order = options.order;
  const names = order === undefined ? found : [...order.filter((k) => found.includes(k)), ...found.filter((k) => !order.includes(k)).sort()];
  const out: Record<string, MetricSummary> = {};
  for (const name of names) {
    const perSeed = finals.map((f) => {
      const v = f?.[name];
      return v !== undefined && Number.isFinite(v) ? v : null;
    });
    const values = perSeed.filter((v): v is number => v !== null);
    const t = seedInterval(name, values, level);
    out[name] = {
      mean: t.mean,
      ci: t.ci,
      interval: t.method,
      n: t.n,
      min: values.length ? Math.min(...values) : Number.NaN,
      max: values.length ? Math.max(...values) : Number.NaN,
      per_seed: perSeed,
      dropped: perSeed.flatMap((v, k) => (v === null ? [options.seeds?.[k] ?? k] : [])),
    };
  }
  return out;
}
