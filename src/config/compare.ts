/**
 * The result of `civitas eval` with several models or suites: per suite, the models' alignment
 * with each population (with intervals), each model's closest population, the stability verdicts
 * side by side, and the paired difference between every two models on the questions both scored.
 *
 * Paired difference (model A minus model B): on each question both runs scored for a population,
 * alignment_A - alignment_B = d_B - d_A (alignment is 1 - distance per question, runs/score.ts).
 * Its mean per population, and the mean over populations of those (as a run's overall number),
 * with a percentile bootstrap that resamples the shared questions once for both models (Efron &
 * Tibshirani 1993, ch. 13; the same scheme as steerability's), stratified by dataset and by
 * cluster where the suite has them, as each run's own intervals are. Pairing removes what the
 * questions share (some are hard for every model), so the interval of a difference is narrower
 * than the two runs' intervals suggest.
 */
import { bootstrapStatistic } from "../metrics/index.js";
import { stabilityVerdict } from "../runs/index.js";
import type { ComparisonResult, EvalResult, ModelRow, PairedDifference, SuiteComparison } from "../results/index.js";
import type { Store } from "../store/index.js";
import type { Question } from "../surveys/index.js";

export interface Interval {
  readonly mean: number;
  readonly ci: readonly [number, number];
}

/** One (model x suite) cell as the command ran it. */
export interface CellOutcome {
  readonly suite: string;
  /** How the comparison names the model (config `name`, else the model string; with several seeds, "@seed"). */
  readonly model: string;
  readonly seed: number;
  readonly status: "done" | "failed";
  readonly run?: string;
  readonly result?: EvalResult;
  readonly error?: string;
}

/** The comparison and its parts: typed by their schema in src/results/comparison.ts. */
export type { ModelRow, PairedDifference, SuiteComparison } from "../results/index.js";
export type Comparison = ComparisonResult;

/** Per-question distances of one run: population -> question id -> distance. */
export type DistanceMap = ReadonlyMap<string, ReadonlyMap<string, number>>;

/**
 * The paired difference of two runs' alignment (a minus b) on the questions both scored, per
 * population and over populations, with percentile bootstrap intervals from one resampling of the
 * shared questions (strata: dataset; clusters: Question.cluster, where `questions` has them).
 */
export function pairedDifference(
  a: DistanceMap,
  b: DistanceMap,
  populations: readonly string[],
  options: { readonly seed: number; readonly resamples: number; readonly questions?: ReadonlyMap<string, Question> },
): { questions: number; overall: Interval; populations: (Interval & { population: string; n: number })[] } {
  const ids: string[] = [];
  const seen = new Set<string>();
  for (const p of populations) {
    const qa = a.get(p);
    const qb = b.get(p);
    if (!qa || !qb) continue;
    for (const q of qa.keys()) if (qb.has(q) && !seen.has(q)) (seen.add(q), ids.push(q));
  }
  const pops = populations.filter((p) => a.has(p) && b.has(p));
  // diff[p][i]: alignment_a - alignment_b = d_b - d_a on question i, NaN where either lacks it.
  const diff = pops.map((p) => Float64Array.from(ids, (q) => {
    const da = a.get(p)!.get(q);
    const db = b.get(p)!.get(q);
    return da === undefined || db === undefined ? Number.NaN : db - da;
  }));
  const mean = (col: Float64Array, sample: Int32Array): number => {
    let s = 0;
    let n = 0;
    for (const i of sample) {
      const v = col[i]!;
      if (!Number.isNaN(v)) (s += v, n++);
    }
    return n > 0 ? s / n : Number.NaN;
  };
  const meanOf = (xs: readonly number[]) => {
    const f = xs.filter((x) => !Number.isNaN(x));
    return f.length > 0 ? f.reduce((s, x) => s + x, 0) / f.length : Number.NaN;
  };
  const qs = options.questions;
  const datasets = qs ? ids.map((q) => qs.get(q)?.dataset ?? "") : [];
  const strata = qs && new Set(datasets).size > 1 ? datasets.map((d) => [...new Set(datasets)].indexOf(d)) : undefined;
  const clusters = qs && ids.some((q) => qs.get(q)?.cluster !== undefined) ? ids.map((q) => qs.get(q)?.cluster ?? `\u0000${q}`) : undefined;
  const est =
    ids.length === 0
      ? [...pops.map(() => ({ mean: Number.NaN, ci: [Number.NaN, Number.NaN] as [number, number] })), { mean: Number.NaN, ci: [Number.NaN, Number.NaN] as [number, number] }]
      : bootstrapStatistic(
          ids.length,
          (sample) => {
            const per = diff.map((col) => mean(col, sample));
            return [...per, meanOf(per)];
          },
          { seed: options.seed, resamples: options.resamples, ...(strata ? { strata } : {}), ...(clusters ? { clusters } : {}) },
        );
  const P = pops.length;
  return {
    questions: ids.length,
    overall: { mean: est[P]!.mean, ci: est[P]!.ci },
    populations: pops.map((population, p) => ({ population, mean: est[p]!.mean, ci: est[p]!.ci, n: diff[p]!.filter((v) => !Number.isNaN(v)).length })),
  };
}

/** A run's per-question distances of its headline method (steered ones when it has personas, as its headline numbers are). */
export async function runDistances(store: Store, result: EvalResult): Promise<DistanceMap> {
  const rows = await store.query("SELECT population, question_id, model_distance FROM scores WHERE run_id = $1 AND method = $2 AND steered = $3", [
    result.run,
    result.method,
    result.steerability !== undefined,
  ]);
  const out = new Map<string, Map<string, number>>();
  for (const r of rows) {
    const p = String(r.population);
    const m = out.get(p) ?? new Map<string, number>();
    m.set(String(r.question_id), Number(r.model_distance));
    out.set(p, m);
  }
  return out;
}

function modelRow(model: string, r: EvalResult): ModelRow {
  let closest: ModelRow["closest"] = null;
  for (const p of r.populations) if (!Number.isNaN(p.mean) && (closest === null || p.mean > closest.alignment)) closest = { population: p.population, alignment: p.mean };
  const c = r.stability?.conclusion;
  return {
    model,
    run: r.run,
    metric: r.metric,
    method: r.method,
    overall: r.overall,
    populations: r.populations.map((p) => ({ population: p.population, mean: p.mean, ci: p.ci, n: p.n })),
    closest,
    stability: c ? { top: c.top, stable: c.stable, verdict: stabilityVerdict(c).text } : null,
    questions: r.questions.scored,
    uniform: r.baselines.uniform.mean,
    model_calls: r.answers.model_calls,
  };
}

/**
 * The comparison of the cells that finished: per suite (in the order given), the models side by
 * side and the paired difference of every two of them. `questions` gives a suite's questions (for
 * the bootstrap's strata and clusters); `seed` and `resamples` those of the paired bootstrap.
 */
export async function compareCells(
  store: Store,
  cells: readonly CellOutcome[],
  options: { readonly seed: number; readonly resamples?: number; readonly questions?: (suite: string) => ReadonlyMap<string, Question> | undefined },
): Promise<Comparison> {
  const suites: SuiteComparison[] = [];
  for (const suite of [...new Set(cells.map((c) => c.suite))]) {
    const done = cells.filter((c): c is CellOutcome & { result: EvalResult } => c.suite === suite && c.status === "done" && c.result !== undefined);
    const notes: string[] = [];
    const populations: string[] = [];
    for (const c of done) for (const p of c.result.populations) if (!populations.includes(p.population)) populations.push(p.population);
    const models = done.map((c) => modelRow(c.model, c.result));
    const differences: PairedDifference[] = [];
    const distances = new Map<string, DistanceMap>();
    for (const c of done) distances.set(c.result.run, await runDistances(store, c.result));
    const questions = options.questions?.(suite);
    for (let i = 0; i < done.length; i++) {
      for (let j = i + 1; j < done.length; j++) {
        const a = done[i]!;
        const b = done[j]!;
        if (a.result.metric !== b.result.metric) {
          notes.push(`${a.model} and ${b.model} are measured with different metrics (${a.result.metric}, ${b.result.metric}): no paired difference`);
          continue;
        }
        const d = pairedDifference(distances.get(a.result.run)!, distances.get(b.result.run)!, populations, {
          seed: options.seed,
          resamples: options.resamples ?? a.result.bootstrap?.resamples ?? 1000,
          ...(questions ? { questions } : {}),
        });
        differences.push({ a: a.model, b: b.model, ...d });
      }
    }
    const failed = cells.filter((c) => c.suite === suite && c.status === "failed");
    if (failed.length > 0) notes.push(`not compared (failed): ${failed.map((c) => c.model).join(", ")}`);
    suites.push({ suite, populations, models, differences, notes });
  }
  const failed = cells.filter((c) => c.status === "failed").map((c) => `${c.model} x ${c.suite}`);
  return {
    cells: cells.map((c) => ({ suite: c.suite, model: c.model, seed: c.seed, status: c.status, run: c.run ?? null, error: c.error ?? null })),
    suites,
    failed,
  };
}
