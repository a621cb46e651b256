/**
 * From model distributions to the alignment of a model with each population: per question the
 * distance between the model's distribution and the population's, then 1 - mean over questions
 * with a percentile bootstrap interval, beside three baselines (uniform answers, the distance
 * between real populations, and the survey's own sampling noise).
 *
 * The same code scores `civitas eval` runs (model distributions from stored answers) and outside
 * predictions (`civitas score`), under a protocol's conventions.
 */
import { bootstrapStatistic, distance, expectedSamplingDistance, findMetric, meanOrdinalScore, uniform, type MetricName } from "../metrics/index.js";
import { scoredIndices, type HumanDistribution, type Population, type Question, type Suite } from "../surveys/index.js";
import type { Conventions } from "./protocols.js";

export interface Interval {
  readonly mean: number;
  readonly ci: readonly [number, number];
}

export interface PopulationResult extends Interval {
  readonly population: string;
  /** Questions scored for this population. */
  readonly n: number;
  /** Alignment of always answering uniformly over the options. */
  readonly uniform: number;
  /** Alignment of this population with the other real populations (or the reference); null when there is none. */
  readonly human: number | null;
  /** Alignment of an empirical distribution of the survey's n respondents (or the model's K samples) with the truth. */
  readonly noise: number | null;
}

export interface AlignmentSummary {
  readonly metric: MetricName;
  readonly overall: Interval;
  readonly populations: PopulationResult[];
  readonly baselines: {
    readonly uniform: Interval;
    /** Against `reference` (e.g. overall), or against the other populations of the same attribute when it is null. */
    readonly human: (Interval & { readonly reference: string | null }) | null;
    readonly noise: (Interval & { readonly samples: "respondents" | number }) | null;
  };
  /** Per dataset of a multi-dataset suite. */
  readonly datasets?: { readonly dataset: string; readonly overall: Interval; readonly n: number }[];
  readonly questions: { readonly scored: number; readonly no_scale: number };
  readonly bootstrap: BootstrapInfo;
}

/** Model distributions over all options (survey order) for a question when compared with a population. */
export type ModelDistributions = (q: Question, p: Population) => readonly (readonly number[])[] | undefined;

/** A population's answers to one question as a metric compares them. */
interface HumanTarget {
  readonly dist: readonly number[] | undefined;
  /** Mean score on the ordinal scale in [0, 1] (metric "mean" only). */
  readonly score: number;
}

/** Distances of every (population, question) pair; NaN where there is nothing to compare. */
export interface DistanceTable {
  readonly metric: MetricName;
  readonly questions: readonly Question[];
  readonly populations: readonly Population[];
  readonly model: Float64Array[];
  readonly uniform: Float64Array[];
  readonly human: Float64Array[];
  readonly noise: Float64Array[];
  readonly humanN: (number | null)[][];
  /** Questions left out because the metric needs an ordinal scale they lack. */
  readonly noScale: number;
  /** Reference of the human baseline, or null for "other populations of the same attribute". */
  readonly reference: string | null;
}

export interface TableOptions {
  readonly conventions: Conventions;
  readonly seed: number;
  /** For the noise floor: "respondents" (each population's n) or K model samples. */
  readonly noiseSamples?: "respondents" | number;
  /**
   * Noise floors already computed (they depend on the human data, not on the model): share one
   * map between the tables of a run (methods, with and without personas).
   */
  readonly noiseCache?: Map<string, number>;
}

/** The model's distribution restricted to what is scored under the conventions, or null if empty. */
export function modelView(q: Question, dist: readonly number[], refusals: "drop" | "keep"): number[] | null {
  const idx = refusals === "keep" ? q.options.map((_, i) => i) : scoredIndices(q);
  const sub = idx.map((i) => dist[i]!);
  const total = sub.reduce((a, b) => a + b, 0);
  if (!(total > 0)) return null;
  return sub.map((x) => x / total);
}

/** The human distribution under the conventions, or undefined (e.g. refusals kept but the source has no shares for them). */
export function humanView(h: HumanDistribution | undefined, refusals: "drop" | "keep"): readonly number[] | undefined {
  if (!h) return undefined;
  return refusals === "keep" ? h.allProbs : h.probs;
}

/** Kept for callers that score the scored options only. */
export function scoredDistribution(q: Question, distribution: readonly number[]): number[] | null {
  return modelView(q, distribution, "drop");
}

/** Ordinals under the conventions, or null when the question has no usable ordinal scale. */
function scaleOf(q: Question, metric: MetricName): readonly number[] | null | "none" {
  if (!findMetric(metric).needsOrdinals) return null;
  const o = q.ordinals;
  // A nominal question, or one whose ordinals are all equal (ORIENTATIONMOD_W50 has [1, 1, 1, 1]),
  // has no ordinal distance: it would score a perfect 0.
  if (!o || Math.max(...o) === Math.min(...o)) return "none";
  return o;
}

export function distanceTable(
  suite: Suite,
  questions: readonly Question[],
  populations: readonly Population[],
  model: ModelDistributions,
  options: TableOptions,
): DistanceTable {
  const { metric, refusals } = options.conventions;
  const P = populations.length;
  const make = () => populations.map(() => new Float64Array(questions.length).fill(Number.NaN));
  const t = { model: make(), uniform: make(), human: make(), noise: make() };
  const humanN = populations.map(() => questions.map((): number | null => null));
  const reference = suite.reference;
  // Siblings for the human baseline when the suite has no reference population.
  const siblings = new Map<string, Population[]>();
  for (const p of populations) {
    siblings.set(
      p.id,
      suite.populations.filter((o) => o.id !== p.id && o.attribute === p.attribute && o.id !== reference),
    );
  }
  let noScale = 0;
  questions.forEach((q, i) => {
    const scale = scaleOf(q, metric);
    if (scale === "none") {
      noScale++;
      return;
    }
    // What a population's answers are compared by: its distribution, or (metric "mean") its mean
    // score on the ordinal scale, which some sources give without the distribution.
    const target = (hd: HumanDistribution | undefined): HumanTarget | undefined => {
      const h = humanView(hd, refusals);
      const dist = h && h.length > 0 ? h : undefined;
      if (metric !== "mean") return dist ? { dist, score: Number.NaN } : undefined;
      const score = hd?.meanScore ?? (dist && scale ? meanOrdinalScore(dist, scale) : undefined);
      return score === undefined || Number.isNaN(score) ? undefined : { dist, score };
    };
    const gap = (d: readonly number[], h: HumanTarget): number =>
      metric === "mean" ? Math.abs(meanOrdinalScore(d, scale as readonly number[]) - h.score) : distance(metric, d, h.dist!, scale);
    const between = (a: HumanTarget, b: HumanTarget): number => (metric === "mean" ? Math.abs(a.score - b.score) : distance(metric, a.dist!, b.dist!, scale));
    const refTarget = reference ? target(suite.human(q.id, reference)) : undefined;
    const k = refusals === "keep" ? q.options.length : q.refusal.filter((r) => !r).length;
    for (let p = 0; p < P; p++) {
      const pop = populations[p]!;
      const hd = suite.human(q.id, pop.id);
      const h = target(hd);
      if (!h) continue;
      const dists = (model(q, pop) ?? []).map((d) => modelView(q, d, refusals)).filter((d): d is number[] => d !== null);
      if (dists.length === 0) continue;
      t.model[p]![i] = dists.reduce((s, d) => s + gap(d, h), 0) / dists.length;
      t.uniform[p]![i] = gap(uniform(k), h);
      if (reference) {
        if (refTarget && pop.id !== reference) t.human[p]![i] = between(h, refTarget);
      } else {
        const others = siblings
          .get(pop.id)!
          .map((o) => target(suite.human(q.id, o.id)))
          .filter((o): o is HumanTarget => o !== undefined);
        if (others.length > 0) t.human[p]![i] = others.reduce((s, o) => s + between(h, o), 0) / others.length;
      }
      const n = options.noiseSamples === undefined || options.noiseSamples === "respondents" ? hd?.n ?? null : options.noiseSamples;
      if (n !== null && n > 0 && h.dist) {
        const key = `${metric}\u0000${refusals}\u0000${q.id}\u0000${pop.id}\u0000${n}\u0000${options.seed}`;
        let noise = options.noiseCache?.get(key);
        if (noise === undefined) {
          // Each question its own random stream under the run's seed (for the simulated metrics).
          noise = expectedSamplingDistance(metric, h.dist, n, scale, { seed: options.seed, stream: q.id });
          options.noiseCache?.set(key, noise);
        }
        t.noise[p]![i] = noise;
      }
      humanN[p]![i] = hd?.n ?? null;
    }
  });
  return { metric, questions, populations, ...t, humanN, noScale, reference };
}

/** Mean of the non-NaN values of col at the sampled indices (those of stratum `only` when given), or NaN. */
function sampledMean(col: Float64Array, sample: Int32Array, strata?: readonly number[], only?: number): number {
  let s = 0;
  let n = 0;
  for (let k = 0; k < sample.length; k++) {
    const i = sample[k]!;
    if (strata !== undefined && strata[i] !== only) continue;
    const v = col[i]!;
    if (!Number.isNaN(v)) {
      s += v;
      n++;
    }
  }
  return n > 0 ? s / n : Number.NaN;
}

/** Mean of the non-NaN values of every column at the sampled indices [from, to): the mean over (question, population) pairs. */
/** Mean of the non-NaN values of every column at the sampled indices (those of stratum `only` when given): the mean over (question, population) pairs. */
function pairMean(cols: readonly Float64Array[], sample: Int32Array, strata?: readonly number[], only?: number): number {
  let s = 0;
  let n = 0;
  for (const col of cols) {
    for (let k = 0; k < sample.length; k++) {
      const i = sample[k]!;
      if (strata !== undefined && strata[i] !== only) continue;
      const v = col[i]!;
      if (!Number.isNaN(v)) {
        s += v;
        n++;
      }
    }
  }
  return n > 0 ? s / n : Number.NaN;
}

function meanOf(values: readonly number[]): number {
  const f = values.filter((v) => !Number.isNaN(v));
  return f.length > 0 ? f.reduce((a, b) => a + b, 0) / f.length : Number.NaN;
}

function countValues(col: Float64Array): number {
  let n = 0;
  for (const v of col) if (!Number.isNaN(v)) n++;
  return n;
}

/** The stratum (dataset) of each question, and the strata in order of their first question. */
function strataOf(questions: readonly Question[], datasets: readonly string[] | undefined) {
  const names = datasets && datasets.length > 0 ? [...datasets] : [];
  for (const q of questions) if (q.dataset !== undefined && !names.includes(q.dataset)) names.push(q.dataset);
  const strata = questions.map((q) => (q.dataset === undefined ? 0 : Math.max(0, names.indexOf(q.dataset))));
  const order: number[] = [];
  for (const s of strata) if (!order.includes(s)) order.push(s);
  return { names, strata, order };
}

/**
 * The cluster of each question (Question.cluster: MoCa's story), for a clustered bootstrap; or
 * undefined when no question has one, for the bootstrap over questions. A question without a
 * cluster is its own.
 */
export function clustersOf(questions: readonly Question[]): string[] | undefined {
  return questions.some((q) => q.cluster !== undefined) ? questions.map((q) => q.cluster ?? `\u0000${q.id}`) : undefined;
}

/** Which bootstrap the intervals of a set of questions come from (printed with the result). */
export function bootstrapOf(questions: readonly Question[], resamples: number, stratified: boolean, clusterName = "cluster"): BootstrapInfo {
  const clusters = clustersOf(questions);
  if (!clusters) return { unit: "question", units: questions.length, items: questions.length, resamples, stratified };
  return { unit: "cluster", of: clusterName, units: new Set(clusters).size, items: questions.length, resamples, stratified };
}

/** How the intervals were drawn: resampled unit (questions, or clusters of questions such as stories), how many, of how many questions. */
export interface BootstrapInfo {
  readonly unit: "question" | "cluster";
  /** What a cluster is ("story"), when clustered. */
  readonly of?: string;
  /** Units resampled (questions, or clusters). */
  readonly units: number;
  /** Questions. */
  readonly items: number;
  readonly resamples: number;
  /** Resampled within each dataset. */
  readonly stratified: boolean;
  /** Presentation variants of each question, resampled together with it (runs with --variants). */
  readonly variants?: number;
}

/**
 * 1 - mean distance per population, and the overall mean, with percentile bootstrap intervals
 * over questions (stratified by dataset; whole clusters where questions have them), for the model
 * and each baseline.
 */
export function summarize(table: DistanceTable, suite: Suite, conventions: Conventions, seed: number, noiseSamples: "respondents" | number = "respondents"): AlignmentSummary {
  const P = table.populations.length;
  const { names, strata, order: strataOrder } = strataOf(table.questions, suite.datasets);
  const multi = names.length > 1;
  const series = [table.model, table.uniform, table.human, table.noise];
  // statistic layout: for each series s: P population alignments, then the overall; then per dataset overall (model only).
  // The overall number of a sample (of the questions of stratum `st` when given): the mean over
  // populations of each one's mean (default), or the mean over every scored (question, population) pair.
  const pairs = conventions.average === "pairs";
  const overallOf = (cols: Float64Array[], sample: Int32Array, st?: number): number =>
    pairs ? 1 - pairMean(cols, sample, st === undefined ? undefined : strata, st) : meanOf(cols.map((col) => 1 - sampledMean(col, sample, st === undefined ? undefined : strata, st)));
  const statistic = (sample: Int32Array): number[] => {
    const out: number[] = [];
    for (const cols of series) {
      const perPop = cols.map((col) => 1 - sampledMean(col, sample));
      out.push(...perPop);
      if (multi && conventions.datasets === "equal") {
        const perDataset = strataOrder.map((st) => overallOf(cols, sample, st));
        out.push(meanOf(perDataset));
      } else {
        out.push(overallOf(cols, sample));
      }
    }
    if (multi) for (const st of strataOrder) out.push(overallOf(table.model, sample, st));
    return out;
  };
  const clusters = clustersOf(table.questions);
  const est = bootstrapStatistic(table.questions.length, statistic, {
    seed,
    resamples: conventions.resamples,
    strata,
    ...(clusters ? { clusters } : {}),
  });
  const at = (s: number, k: number): Interval => {
    const e = est[s * (P + 1) + k]!;
    return { mean: e.mean, ci: e.ci };
  };
  const ns = table.model.map(countValues);
  const populations: PopulationResult[] = table.populations.map((pop, p) => ({
    population: pop.id,
    ...at(0, p),
    n: ns[p]!,
    uniform: at(1, p).mean,
    human: countValues(table.human[p]!) > 0 ? at(2, p).mean : null,
    noise: countValues(table.noise[p]!) > 0 ? at(3, p).mean : null,
  }));
  const anyHuman = table.human.some((c) => countValues(c) > 0);
  const anyNoise = table.noise.some((c) => countValues(c) > 0);
  const scoredQuestions = table.questions.filter((_, i) => table.model.some((col) => !Number.isNaN(col[i]!))).length;
  const datasetBase = 4 * (P + 1);
  return {
    metric: table.metric,
    overall: at(0, P),
    populations,
    baselines: {
      uniform: at(1, P),
      human: anyHuman ? { ...at(2, P), reference: table.reference } : null,
      noise: anyNoise ? { ...at(3, P), samples: noiseSamples } : null,
    },
    ...(multi
      ? {
          datasets: strataOrder.map((s, k) => ({
            dataset: names[s] ?? `dataset ${s}`,
            overall: { mean: est[datasetBase + k]!.mean, ci: est[datasetBase + k]!.ci },
            n: table.questions.filter((_, i) => strata[i] === s && table.model.some((col) => !Number.isNaN(col[i]!))).length,
          })),
        }
      : {}),
    questions: { scored: scoredQuestions, no_scale: table.noScale },
    bootstrap: bootstrapOf(table.questions, conventions.resamples, multi, suite.clusterName),
  };
}

/** The clusters option of bootstrapStatistic for these questions, or nothing (the bootstrap over questions). */
export function withClusters(questions: readonly Question[]): { clusters?: string[] } {
  const clusters = clustersOf(questions);
  return clusters ? { clusters } : {};
}

/**
 * Steerability (Santurkar et al. 2023): alignment with the population's persona minus alignment
 * without, per population, with a paired bootstrap over questions (the same questions resampled
 * for both).
 */
export function steerability(steered: DistanceTable, unsteered: DistanceTable, seed: number, resamples: number): { overall: Interval; populations: (Interval & { population: string; n: number })[] } {
  const P = steered.populations.length;
  const diff = steered.model.map((col, p) => col.map((v, i) => (Number.isNaN(v) || Number.isNaN(unsteered.model[p]![i]!) ? Number.NaN : unsteered.model[p]![i]! - v)));
  const est = bootstrapStatistic(
    steered.questions.length,
    (sample) => {
      const per = diff.map((col) => sampledMean(col, sample));
      return [...per, meanOf(per)];
    },
    { seed, resamples, ...withClusters(steered.questions) },
  );
  return {
    overall: { mean: est[P]!.mean, ci: est[P]!.ci },
    populations: steered.populations.map((pop, p) => ({ population: pop.id, mean: est[p]!.mean, ci: est[p]!.ci, n: countValues(diff[p]!) })),
  };
}

/** One output format's mean total variation in Meister et al.'s knowledge-to-simulation comparison. */
export interface FormatTV {
  readonly method: string;
  /** Mean TV over the (question, population) pairs it scored (lower is better), with its interval. */
  readonly tv: Interval;
  readonly pairs: number;
}

/** Meister et al.'s knowledge-to-simulation comparison (see knowledgeGap). */
export interface KnowledgeGap {
  /** Each format's mean TV, side by side, in the order given. */
  readonly formats: FormatTV[];
  /** The format that writes answers (sequence) and the one that states the distribution (verbalize). */
  readonly sequence_method: string;
  readonly verbalize_method: string;
  /** TV(sequence) - TV(verbalize) on the pairs both scored, with a paired bootstrap interval over questions. */
  readonly difference: Interval;
  /** The pairs both scored. */
  readonly pairs: number;
  /** TV(sequence) / TV(verbalize) - 1 on those pairs: eval_utils.py compute_K2S_gap's "K2S Mean" (results/k2s_gap.csv). */
  readonly relative: number;
}

/**
 * Meister et al.'s knowledge-to-simulation gap (2024, Sec. 3.1): how much better a model states
 * a group's distribution (verbalize) than it produces answers from it (sequence). Each format's
 * mean total variation, side by side, as the paper's leaderboard gives them
 * (nicolemeister/benchmarking-distributional-alignment, eval_utils.py distrib_alignment_leaderboard,
 * lines 513-550: per dataset the mean over every (question, group) pair, the datasets weighted
 * equally by compute_three, lines 104-162); the difference TV(sequence) - TV(verbalize) on the
 * pairs both scored, with a paired percentile bootstrap over questions (the same resampled
 * questions for both formats, stratified by dataset); and the relative gap TV(seq) / TV(verb) - 1
 * that the repository's compute_K2S_gap (lines 481-507) writes to results/k2s_gap.csv. Positive:
 * the model knows the distribution better than it can simulate it.
 *
 * `tables` are the total variation tables of the formats, by method, over the same questions and
 * populations; `datasetsEqual`: weigh the datasets of a multi-dataset suite equally.
 */
export function knowledgeGap(
  tables: ReadonlyMap<string, DistanceTable>,
  sequenceMethod: string,
  verbalizeMethod: string,
  options: { readonly seed: number; readonly resamples: number; readonly datasets?: readonly string[]; readonly datasetsEqual: boolean },
): KnowledgeGap {
  const seq = tables.get(sequenceMethod);
  const verb = tables.get(verbalizeMethod);
  if (!seq || !verb) throw new Error(`knowledgeGap: no table for ${seq ? verbalizeMethod : sequenceMethod}`);
  const questions = seq.questions;
  const { names, strata, order: strataOrder } = strataOf(questions, options.datasets);
  const equal = options.datasetsEqual && names.length > 1;
  const methods = [...tables.keys()];
  const cols = methods.map((m) => tables.get(m)!.model);
  // The pairs both formats scored, for the paired difference.
  const both = (a: Float64Array[], b: Float64Array[]) => a.map((col, p) => col.map((v, i) => (Number.isNaN(v) || Number.isNaN(b[p]![i]!) ? Number.NaN : v)));
  const seqBoth = both(seq.model, verb.model);
  const verbBoth = both(verb.model, seq.model);
  const mean = (c: readonly Float64Array[], sample: Int32Array): number =>
    equal ? meanOf(strataOrder.map((st) => pairMean(c, sample, strata, st))) : pairMean(c, sample);
  const est = bootstrapStatistic(
    questions.length,
    (sample) => {
      const a = mean(seqBoth, sample);
      const b = mean(verbBoth, sample);
      return [a - b, a / b - 1, ...cols.map((c) => mean(c, sample))];
    },
    { seed: options.seed, resamples: options.resamples, strata, ...withClusters(questions) },
  );
  return {
    formats: methods.map((method, k) => ({ method, tv: { mean: est[2 + k]!.mean, ci: est[2 + k]!.ci }, pairs: cols[k]!.reduce((n, c) => n + countValues(c), 0) })),
    sequence_method: sequenceMethod,
    verbalize_method: verbalizeMethod,
    difference: { mean: est[0]!.mean, ci: est[0]!.ci },
    pairs: seqBoth.reduce((n, c) => n + countValues(c), 0),
    relative: est[1]!.mean,
  };
}

/**
 * Knowledge questions (one correct option): accuracy of the model's most likely option and the
 * mean probability it gives the correct one, with bootstrap intervals over questions.
 */
export function knowledgeScores(
  items: readonly { readonly question: Question; readonly distribution: readonly number[] }[],
  seed: number,
  resamples: number,
): { n: number; accuracy: Interval; p_correct: Interval } {
  const correct = items.map(({ question, distribution }) => {
    let best = 0;
    for (let k = 1; k < distribution.length; k++) if (distribution[k]! > distribution[best]!) best = k;
    return best === question.correct ? 1 : 0;
  });
  const pc = items.map(({ question, distribution }) => distribution[question.correct!] ?? 0);
  const est = bootstrapStatistic(
    items.length,
    (sample) => {
      let a = 0;
      let p = 0;
      for (const i of sample) {
        a += correct[i]!;
        p += pc[i]!;
      }
      return sample.length > 0 ? [a / sample.length, p / sample.length] : [Number.NaN, Number.NaN];
    },
    { seed, resamples, ...withClusters(items.map((it) => it.question)) },
  );
  return { n: items.length, accuracy: { mean: est[0]!.mean, ci: est[0]!.ci }, p_correct: { mean: est[1]!.mean, ci: est[1]!.ci } };
}
