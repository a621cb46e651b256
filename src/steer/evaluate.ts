/**
 * How a steering run is judged, on the test questions only: per target population the alignment
 * unsteered and with each method, and each method's gain over unsteered, over the persona prompt
 * and over the calibration baseline, with paired percentile bootstrap intervals (the same
 * resampled questions for both sides; metrics/bootstrap.ts); the target x evaluated-population
 * matrix and its specificity; whether each gain survives the presentation variants (the
 * stability machinery's conclusionStability); cost; the per-target gain distribution; and the
 * three forms of pluralism of Sorensen et al. 2024.
 *
 * Distances are the eval scorer's (runs/score.ts distanceTable: the conventions' metric over the
 * scored view, the mean over variants of a question); alignment is 1 - mean distance.
 */
import { bootstrapStatistic, conclusionStability } from "../metrics/index.js";
import { distanceTable, humanView, modelView, type Conventions } from "../runs/index.js";
import type { Population, Question, Suite } from "../surveys/index.js";
import type { SteeredAnswers } from "./methods.js";

export interface Interval {
  readonly mean: number;
  readonly ci: readonly [number, number];
}

/** A method's steered answers on the test questions, per target. */
export interface MethodAnswers {
  readonly method: string;
  readonly byTarget: ReadonlyMap<string, SteeredAnswers>;
}

export interface EvaluateInput {
  readonly suite: Suite;
  readonly conventions: Conventions;
  readonly seed: number;
  readonly resamples: number;
  readonly targets: readonly Population[];
  /** Every population the steered answers are compared with (the matrix's columns); includes the targets. */
  readonly evaluated: readonly Population[];
  readonly test: readonly Question[];
  readonly variants: readonly string[];
  readonly unsteered: SteeredAnswers;
  readonly methods: readonly MethodAnswers[];
}

export interface MethodRow {
  readonly method: string;
  readonly alignment: Interval;
  /** Gains in alignment (positive: closer to the population), paired over questions; null where the reference method was not run. */
  readonly gain_unsteered: Interval;
  readonly gain_persona: Interval | null;
  readonly gain_calibrate: Interval | null;
}

export interface TargetRow {
  readonly population: string;
  /** Test questions the population can be scored on. */
  readonly n: number;
  readonly unsteered: Interval;
  readonly methods: MethodRow[];
}

export interface Evaluation {
  readonly targets: TargetRow[];
  /** The mean over targets (resampled jointly). */
  readonly overall: { readonly unsteered: Interval; readonly methods: MethodRow[] };
  readonly matrix: {
    readonly evaluated: string[];
    readonly unsteered: (number | null)[];
    readonly rows: { readonly method: string; readonly target: string; readonly alignment: (number | null)[] }[];
  };
  readonly specificity: { readonly method: string; readonly mean: number | null; readonly targets: { readonly target: string; readonly value: number | null }[] }[];
  readonly variants_check: {
    readonly variants: string[];
    readonly methods: { readonly method: string; readonly per_variant_gain: (number | null)[]; readonly share_positive: number; readonly survives: boolean }[];
  } | null;
  readonly cost: { readonly method: string; readonly tokens_per_question: number; readonly gain_per_1k_tokens: number | null }[];
  readonly individuals: { readonly method: string; readonly n: number; readonly min: number; readonly q25: number; readonly median: number; readonly q75: number; readonly max: number; readonly positive: number }[];
  readonly pluralism: {
    readonly distributional: Interval & { readonly population: string };
    readonly steerable: { readonly method: string; readonly mean: number }[];
    readonly overton: { readonly population: string; readonly share: number; readonly options: number };
  };
}

const finite = (x: number): number | null => (Number.isFinite(x) ? x : null);

function mean(values: readonly number[]): number {
  const f = values.filter((v) => !Number.isNaN(v));
  return f.length > 0 ? f.reduce((a, b) => a + b, 0) / f.length : Number.NaN;
}

/** Mean of col over the sampled questions (NaN left out). */
function sampledMean(col: Float64Array, sample: Int32Array): number {
  let s = 0;
  let n = 0;
  for (const i of sample) {
    const v = col[i]!;
    if (!Number.isNaN(v)) {
      s += v;
      n++;
    }
  }
  return n > 0 ? s / n : Number.NaN;
}

/** Mean of ref - x over the sampled questions where both have a value: the paired gain in alignment of x over ref. */
export function pairedGain(ref: Float64Array, x: Float64Array, sample: Int32Array): number {
  let s = 0;
  let n = 0;
  for (const i of sample) {
    const a = ref[i]!;
    const b = x[i]!;
    if (!Number.isNaN(a) && !Number.isNaN(b)) {
      s += a - b;
      n++;
    }
  }
  return n > 0 ? s / n : Number.NaN;
}

/** The q-quantile (linear interpolation, numpy's default) of values. */
function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo]! + (pos - lo) * (sorted[hi]! - sorted[lo]!);
}

export function evaluate(input: EvaluateInput): Evaluation {
  const { suite, conventions, test, targets, evaluated, seed, resamples } = input;
  const noiseCache = new Map<string, number>();
  const clusters = test.some((q) => q.cluster !== undefined) ? test.map((q) => q.cluster ?? `\u0000${q.id}`) : undefined;
  /** Distance of answers (all variants, or one) to each population, per test question. */
  const distances = (answers: SteeredAnswers, pops: readonly Population[], variant?: number): Float64Array[] =>
    distanceTable(
      suite,
      test,
      pops,
      (q) => {
        const list = answers(q);
        const chosen = variant === undefined ? list : [list[variant]];
        const dists = chosen.filter((s) => s !== undefined).map((s) => s.dist);
        return dists.length > 0 ? dists : undefined;
      },
      { conventions, seed, noiseCache },
    ).model;

  const names = ["unsteered", ...input.methods.map((m) => m.method)];
  const answersOf = (m: number, t: Population): SteeredAnswers => (m === 0 ? input.unsteered : input.methods[m - 1]!.byTarget.get(t.id)!);
  // full[m][t][e]: distances of method m steered to target t, against evaluated population e.
  const full = names.map((_, m) => targets.map((t) => distances(answersOf(m, t), evaluated)));
  const col = (m: number, t: number) => full[m]![t]![evaluated.findIndex((e) => e.id === targets[t]!.id)]!;
  const persona = names.indexOf("persona");
  const calibrate = names.indexOf("calibrate");

  // ---- alignments and gains, with one set of paired resamples of the test questions
  const statistic = (sample: Int32Array): number[] => {
    const out: number[] = [];
    const perTarget = targets.map((_, t) => {
      const row: number[] = [1 - sampledMean(col(0, t), sample)];
      for (let m = 1; m < names.length; m++) {
        row.push(
          1 - sampledMean(col(m, t), sample),
          pairedGain(col(0, t), col(m, t), sample),
          persona > 0 ? pairedGain(col(persona, t), col(m, t), sample) : Number.NaN,
          calibrate > 0 ? pairedGain(col(calibrate, t), col(m, t), sample) : Number.NaN,
        );
      }
      return row;
    });
    for (const row of perTarget) out.push(...row);
    const width = perTarget[0]?.length ?? 0;
    for (let k = 0; k < width; k++) out.push(mean(perTarget.map((r) => r[k]!)));
    return out;
  };
  const est = bootstrapStatistic(test.length, statistic, { seed, resamples, ...(clusters ? { clusters } : {}) });
  const width = 1 + 4 * (names.length - 1);
  const at = (block: number, k: number): Interval => {
    const e = est[block * width + k]!;
    return { mean: e.mean, ci: e.ci };
  };
  const rowsOf = (block: number): MethodRow[] =>
    names.slice(1).map((method, j) => ({
      method,
      alignment: at(block, 1 + 4 * j),
      gain_unsteered: at(block, 2 + 4 * j),
      gain_persona: persona > 0 ? at(block, 3 + 4 * j) : null,
      gain_calibrate: calibrate > 0 ? at(block, 4 + 4 * j) : null,
    }));
  const targetRows: TargetRow[] = targets.map((t, ti) => ({
    population: t.id,
    n: col(0, ti).filter((v) => !Number.isNaN(v)).length,
    unsteered: at(ti, 0),
    methods: rowsOf(ti),
  }));
  const overall = { unsteered: at(targets.length, 0), methods: rowsOf(targets.length) };

  // ---- the target x evaluated matrix and specificity (point estimates)
  const all = Int32Array.from(test.map((_, i) => i));
  const align = (d: Float64Array) => 1 - sampledMean(d, all);
  const unsteeredRow = evaluated.map((_, e) => align(full[0]![0]![e]!));
  const matrixRows = names.slice(1).flatMap((method, j) => targets.map((t, ti) => ({ method, target: t.id, alignment: evaluated.map((_, e) => finite(align(full[j + 1]![ti]![e]!))) })));
  const specificity = names.slice(1).map((method, j) => {
    const per = targets.map((t, ti) => {
      const gainOn = (e: number) => align(full[j + 1]![ti]![e]!) - unsteeredRow[e]!;
      const self = evaluated.findIndex((e) => e.id === t.id);
      const others = evaluated.map((_, e) => e).filter((e) => e !== self);
      const sameAttribute = others.filter((e) => evaluated[e]!.attribute !== null && evaluated[e]!.attribute === t.attribute);
      const pool = sameAttribute.length > 0 ? sameAttribute : others;
      return { target: t.id, value: pool.length > 0 ? finite(gainOn(self) - mean(pool.map(gainOn))) : null };
    });
    const values = per.map((p) => p.value).filter((v): v is number => v !== null);
    return { method, mean: values.length > 0 ? mean(values) : null, targets: per };
  });

  // ---- does each gain survive the variants? (conclusionStability: the method vs unsteered as two "populations")
  let variantsCheck: Evaluation["variants_check"] = null;
  if (input.variants.length >= 2) {
    const pooled = (m: number, v: number): Float64Array => {
      const cols = targets.map((t) => {
        const e = evaluated.findIndex((p) => p.id === t.id);
        return distances(answersOf(m, t), [evaluated[e]!], v)[0]!;
      });
      return Float64Array.from(test.map((_, i) => 1 - mean(cols.map((c) => c[i]!))));
    };
    const plain = input.variants.map((_, v) => pooled(0, v));
    variantsCheck = {
      variants: [...input.variants],
      methods: names.slice(1).map((method, j) => {
        const scores = input.variants.map((_, v) => [pooled(j + 1, v), plain[v]!]);
        const c = conclusionStability(scores, { seed, resamples, ...(clusters ? { clusters } : {}) });
        return {
          method,
          per_variant_gain: c.perVariantMeans.map((row) => finite(row[0]! - row[1]!)),
          share_positive: c.top === 0 ? c.topShare : 1 - c.topShare,
          survives: c.top === 0 && c.stable,
        };
      }),
    };
  }

  // ---- cost: prompt tokens the model evaluated per test question (all variants), and gain per 1,000 of them
  const tokensOf = (answers: SteeredAnswers): number => mean(test.map((q) => answers(q).reduce((s, a) => s + (a?.tokens ?? 0), 0)));
  const cost = names.map((method, m) => {
    const tokens = m === 0 ? tokensOf(input.unsteered) : mean(targets.map((t) => tokensOf(answersOf(m, t))));
    const gain = m === 0 ? Number.NaN : overall.methods[m - 1]!.gain_unsteered.mean;
    return { method, tokens_per_question: tokens, gain_per_1k_tokens: m === 0 || !(tokens > 0) ? null : finite(gain / (tokens / 1000)) };
  });

  // ---- per-target gain distribution (individuals: PAPI's people)
  const individuals = names.slice(1).map((method, j) => {
    const gains = targetRows.map((r) => r.methods[j]!.gain_unsteered.mean).filter((g) => !Number.isNaN(g)).sort((a, b) => a - b);
    return {
      method,
      n: gains.length,
      min: gains[0] ?? Number.NaN,
      q25: quantile(gains, 0.25),
      median: quantile(gains, 0.5),
      q75: quantile(gains, 0.75),
      max: gains[gains.length - 1] ?? Number.NaN,
      positive: gains.length > 0 ? gains.filter((g) => g > 0).length / gains.length : Number.NaN,
    };
  });

  // ---- pluralism (Sorensen et al. 2024)
  const reference = suite.reference ? suite.populations.find((p) => p.id === suite.reference) : undefined;
  let distributional: Interval & { population: string };
  if (reference) {
    const d = distances(input.unsteered, [reference])[0]!;
    const e = bootstrapStatistic(test.length, (s) => [1 - sampledMean(d, s)], { seed, resamples, ...(clusters ? { clusters } : {}) })[0]!;
    distributional = { population: reference.id, mean: e.mean, ci: e.ci };
  } else {
    distributional = { population: "the targets (mean)", ...overall.unsteered };
  }
  let options = 0;
  let kept = 0;
  for (const q of test) {
    const views = input.unsteered(q).flatMap((a) => (a ? [modelView(q, a.dist, conventions.refusals)] : [])).filter((v): v is number[] => v !== null);
    if (views.length === 0) continue;
    const model = views[0]!.map((_, j) => mean(views.map((v) => v[j]!)));
    for (const p of reference ? [reference] : targets) {
      const h = humanView(suite.human(q.id, p.id), conventions.refusals);
      if (!h || h.length !== model.length) continue;
      h.forEach((share, j) => {
        if (share < 0.1) return;
        options++;
        if (model[j]! >= 0.1) kept++;
      });
    }
  }
  return {
    targets: targetRows,
    overall,
    matrix: { evaluated: evaluated.map((e) => e.id), unsteered: unsteeredRow.map(finite), rows: matrixRows },
    specificity,
    variants_check: variantsCheck,
    cost,
    individuals,
    pluralism: {
      distributional,
      steerable: overall.methods.map((m) => ({ method: m.method, mean: m.gain_unsteered.mean })),
      overton: { population: reference ? reference.id : "the targets", share: options > 0 ? kept / options : Number.NaN, options },
    },
  };
}
