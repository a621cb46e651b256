/**
 * Stability of alignment results under trivial changes of presentation.
 *
 * "Randomness, Not Representation" (2025) showed that the cultural-alignment conclusions drawn
 * about language models often move more when a question is presented differently (option order,
 * numbers vs letters, answering with the label or the option text) than the real differences
 * between human populations. civitas asks every question in several presentation variants; the
 * statistics here say how much the model's answers and the conclusions drawn from them move.
 *
 * Everything here is pure: no I/O, no printing; every random choice takes a seed.
 */
import { bootstrapStatistic } from "./bootstrap.js";
import { meanOrdinalScore, totalVariation } from "./distances.js";

/**
 * The spread of one question's answer distributions across presentation variants: the mean over
 * all pairs of variants (i < j) of the total variation TV(p_i, p_j) = 1/2 * sum_k |p_ik - p_jk|.
 * All distributions must be in survey order (answers mapped back from the presented order) and of
 * the same length. 0 for a model that answers the same under every variant; at most 1.
 * NaN for fewer than 2 variants. (Spread of the model's distributions across variants of the same
 * question, "Randomness, Not Representation", 2025; TV as Meister et al. 2024.)
 */
export function variantSpread(dists: readonly (readonly number[])[]): number {
  const n = dists.length;
  if (n < 2) return Number.NaN;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) sum += totalVariation(dists[i]!, dists[j]!);
  }
  return sum / ((n * (n - 1)) / 2);
}

/**
 * The mean position of a distribution on an ordinal scale, normalised to [0, 1]:
 * sum_k p_k * (o_k - min o) / (max o - min o), with p renormalised to sum 1 first. 0 means all
 * mass on the lowest ordinal, 1 all on the highest. NaN for a degenerate scale (all ordinals
 * equal, or not finite) or a distribution without mass. This is the per-country "mean normalised
 * answer score" of "Randomness, Not Representation" (2025) (its `mean_weights`, with ordinals
 * 1..K in survey order).
 */
export const meanScore = meanOrdinalScore;

/**
 * The population standard deviation (ddof = 0, numpy.std's default):
 * sqrt(1/n * sum_i (x_i - mean)^2) over the values that are not NaN. NaN when there are none.
 * (Two passes, for accuracy.)
 */
export function populationStd(values: readonly number[]): number {
  let n = 0;
  let s = 0;
  for (const v of values) {
    if (!Number.isNaN(v)) {
      s += v;
      n++;
    }
  }
  if (n === 0) return Number.NaN;
  const mean = s / n;
  let ss = 0;
  for (const v of values) {
    if (!Number.isNaN(v)) ss += (v - mean) * (v - mean);
  }
  return Math.sqrt(ss / n);
}

/**
 * The human between-population baseline of "Randomness, Not Representation" (2025): for each
 * question, the standard deviation (ddof = 0) of the populations' mean scores (see `meanScore`),
 * then the mean over questions. `perQuestion[q][p]` is population p's mean score on question q
 * (NaN = not asked). Questions with fewer than 2 scored populations have no between-population
 * spread and are left out (numpy would give them a std of 0). NaN when no question is left.
 * On the paper's 77 GlobalOpinionQA questions and 15 countries this is 0.1143 (0.118 with ddof = 1).
 */
export function scoreSpreadBaseline(perQuestion: readonly (readonly number[])[]): number {
  let s = 0;
  let n = 0;
  for (const scores of perQuestion) {
    let finite = 0;
    for (const v of scores) if (!Number.isNaN(v)) finite++;
    if (finite < 2) continue;
    s += populationStd(scores);
    n++;
  }
  return n > 0 ? s / n : Number.NaN;
}

/**
 * Kendall's tau-b rank correlation, with ties, as scipy.stats.kendalltau's default
 * (variant "b", Kendall 1945): (C - D) / sqrt((N - T_x) * (N - T_y)), where over all N = n(n-1)/2
 * pairs of items C counts concordant pairs, D discordant pairs, T_x pairs tied in x (whether or
 * not also tied in y) and T_y pairs tied in y. NaN when either side is constant (denominator 0),
 * for fewer than 2 items, or when any value is NaN (scipy's nan_policy="propagate").
 * O(n^2): meant for rankings of dozens of populations.
 */
export function kendallTauB(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const n = x.length;
  if (y.length !== n) throw new RangeError(`kendallTauB: x has ${n} values but y has ${y.length}`);
  if (n < 2) return Number.NaN;
  let concordant = 0;
  let discordant = 0;
  let tiedX = 0;
  let tiedY = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[i]!;
    const yi = y[i]!;
    if (Number.isNaN(xi) || Number.isNaN(yi)) return Number.NaN;
    for (let j = i + 1; j < n; j++) {
      const dx = Math.sign(xi - x[j]!);
      const dy = Math.sign(yi - y[j]!);
      if (dx === 0) tiedX++;
      if (dy === 0) tiedY++;
      if (dx !== 0 && dy !== 0) {
        if (dx === dy) concordant++;
        else discordant++;
      }
    }
  }
  const pairs = (n * (n - 1)) / 2;
  const denom = Math.sqrt((pairs - tiedX) * (pairs - tiedY));
  return denom > 0 ? (concordant - discordant) / denom : Number.NaN;
}

export interface ConclusionStabilityOptions {
  /** Seed of the question resamples (default 0). */
  readonly seed?: number;
  /** Bootstrap resamples of the questions (default 1000). */
  readonly resamples?: number;
  /** The share of (variant x draw) that must keep the top population for `stable` (default 0.95). */
  readonly threshold?: number;
  /** A cluster id per question (MoCa's story): whole clusters are resampled (bootstrap.ts). */
  readonly clusters?: ArrayLike<string | number>;
}

export interface ConclusionStability {
  /** The population (index) with the highest pooled mean alignment; -1 if no population has a value. */
  readonly top: number;
  /** Populations (indices) by pooled mean alignment, highest first; ties keep index order; populations without any value last. */
  readonly ranking: number[];
  /** Pooled mean alignment per population: the mean over variants of each variant's mean over questions. */
  readonly means: number[];
  /** `means` within each variant: `perVariantMeans[v][p]`. */
  readonly perVariantMeans: number[][];
  /** Share of (variant x bootstrap draw) pairs whose top population is `top` (rewording and resampling pooled). */
  readonly topShare: number;
  /**
   * Stability under rewording alone: the share of variants whose top population on all questions
   * is `top` (no resampling).
   */
  readonly rewordingShare: number;
  /**
   * Stability under resampling alone: the share of (variant x draw) pairs whose top population is
   * that variant's own top on all questions (no change of variant). Per variant in `perVariantResamplingShare`.
   */
  readonly resamplingShare: number;
  readonly perVariantResamplingShare: number[];
  /**
   * What the conclusion is unstable under, when it is (null when stable): "rewording" (the variants
   * disagree, resampling alone is stable), "resampling" (every variant agrees on all questions, but
   * too few questions to tell: draws of them change the top), "both" (each fails, or each passes
   * alone but not together).
   */
  readonly cause: "rewording" | "resampling" | "both" | null;
  /** Questions resampled. */
  readonly questions: number;
  /** The top population of each variant on all questions (-1 if none has a value). */
  readonly perVariantTop: number[];
  /** Mean over pairs of variants of Kendall's tau-b between their per-population mean alignments; NaN for fewer than 2 variants. */
  readonly kendallTau: number;
  /** topShare >= threshold. */
  readonly stable: boolean;
  readonly resamples: number;
  readonly threshold: number;
}

/** Index of the largest non-NaN value (the first on ties); -1 if all are NaN. */
function argmax(values: ArrayLike<number>): number {
  let best = -1;
  let bestValue = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isNaN(v) && (best < 0 || v > bestValue)) {
      best = i;
      bestValue = v;
    }
  }
  return best;
}

/**
 * Whether the conclusion "the model is closest to population X" (and the ranking of populations)
 * survives changes of presentation and of the question sample ("Randomness, Not Representation",
 * 2025: a conclusion must hold across variants, not only on average).
 *
 * `scores[v][p][q]` is the alignment of the model with population p on question q under variant v
 * (higher = closer; NaN = missing, left out of means as in `bootstrapMeans`).
 *
 * - Point conclusion: each population's mean over questions within each variant, then the mean of
 *   those over variants (variants pooled with equal weight); `top` is the highest, `ranking` the
 *   full order (ties: lower index first).
 * - For each of `resamples` percentile-bootstrap resamples of the questions (seeded; one set of
 *   resamples shared by every variant, drawn as `bootstrapStatistic` draws them) and each variant,
 *   the top population of that variant on that resample. `topShare` is the share of these
 *   (variant x draw) pairs whose top is `top`; `stable` is topShare >= threshold (default 0.95).
 * - The two sources apart: `rewordingShare`, the share of variants whose top on all questions is
 *   `top` (rewording alone), and `resamplingShare`, the share of (variant x draw) pairs whose top
 *   is that variant's own top on all questions (resampling alone); each compared with the same
 *   threshold gives `cause`. A model whose answers follow the options' content is stable under
 *   rewording (every variant maps back to the same answers) yet can be unstable on 20 questions:
 *   the pooled share alone would blame rewording for the small question sample.
 * - `kendallTau`: mean over pairs of variants of Kendall's tau-b between their per-population mean
 *   alignments on all questions (populations with no value in either variant of a pair left out;
 *   pairs whose tau is undefined, e.g. all populations tied, left out of the mean).
 */
export function conclusionStability(
  scores: readonly (readonly ArrayLike<number>[])[],
  options: ConclusionStabilityOptions = {},
): ConclusionStability {
  const resamples = options.resamples ?? 1000;
  const threshold = options.threshold ?? 0.95;
  const seed = options.seed ?? 0;
  if (!Number.isInteger(resamples) || resamples < 1) throw new RangeError(`conclusionStability: resamples must be a positive integer, got ${resamples}`);
  const nv = scores.length;
  const np = nv > 0 ? scores[0]!.length : 0;
  const nq = np > 0 ? scores[0]![0]!.length : 0;
  // Copy into one contiguous array per (variant, population): the resampling loop reads it B times.
  const cols: Float64Array[][] = [];
  for (let v = 0; v < nv; v++) {
    const row = scores[v]!;
    if (row.length !== np) throw new RangeError(`conclusionStability: variant ${v} has ${row.length} populations, variant 0 has ${np}`);
    cols.push(
      row.map((col, p) => {
        if (col.length !== nq) throw new RangeError(`conclusionStability: variant ${v}, population ${p} has ${col.length} questions, expected ${nq}`);
        return Float64Array.from(col);
      }),
    );
  }

  const meansOver = (sample: Int32Array, out: Float64Array, v: number): void => {
    for (let p = 0; p < np; p++) {
      const col = cols[v]![p]!;
      let s = 0;
      let n = 0;
      for (let i = 0; i < sample.length; i++) {
        const x = col[sample[i]!]!;
        if (x === x) {
          s += x;
          n++;
        }
      }
      out[p] = n > 0 ? s / n : Number.NaN;
    }
  };

  const identity = Int32Array.from({ length: nq }, (_, i) => i);
  const perVariantMeans: number[][] = [];
  const buf = new Float64Array(np);
  for (let v = 0; v < nv; v++) {
    meansOver(identity, buf, v);
    perVariantMeans.push(Array.from(buf));
  }
  const means: number[] = [];
  for (let p = 0; p < np; p++) {
    let s = 0;
    let n = 0;
    for (let v = 0; v < nv; v++) {
      const m = perVariantMeans[v]![p]!;
      if (!Number.isNaN(m)) {
        s += m;
        n++;
      }
    }
    means.push(n > 0 ? s / n : Number.NaN);
  }
  const top = argmax(means);
  const ranking = Array.from({ length: np }, (_, p) => p).sort((a, b) => {
    const ma = means[a]!;
    const mb = means[b]!;
    if (Number.isNaN(ma) || Number.isNaN(mb)) return Number.isNaN(ma) ? (Number.isNaN(mb) ? a - b : 1) : -1;
    return mb - ma || a - b;
  });
  const perVariantTop = perVariantMeans.map((m) => argmax(m));

  // Bootstrap: the statistic is each variant's top population on the resample. bootstrapStatistic
  // evaluates it first on all questions (the point), then on each resample; we count the matches
  // of the resamples only.
  let calls = 0;
  let same = 0;
  const ownSame = new Array<number>(nv).fill(0);
  if (nq > 0 && nv > 0) {
    bootstrapStatistic(
      nq,
      (sample) => {
        const tops: number[] = [];
        for (let v = 0; v < nv; v++) {
          meansOver(sample, buf, v);
          const t = argmax(buf);
          tops.push(t);
          if (calls > 0 && t === top && top >= 0) same++;
          if (calls > 0 && t === perVariantTop[v] && t >= 0) ownSame[v]!++;
        }
        calls++;
        return tops;
      },
      { seed, resamples, ...(options.clusters ? { clusters: options.clusters } : {}) },
    );
    if (calls !== resamples + 1) throw new Error(`conclusionStability: expected ${resamples + 1} evaluations of the statistic, got ${calls}`);
  }
  const topShare = nq > 0 && nv > 0 ? same / (nv * resamples) : Number.NaN;
  const rewordingShare = nv > 0 && top >= 0 ? perVariantTop.filter((t) => t === top).length / nv : Number.NaN;
  const perVariantResamplingShare = ownSame.map((n) => (nq > 0 ? n / resamples : Number.NaN));
  const resamplingShare = nq > 0 && nv > 0 ? ownSame.reduce((a, b) => a + b, 0) / (nv * resamples) : Number.NaN;
  const stable = topShare >= threshold;
  const rewordingStable = rewordingShare >= threshold;
  const resamplingStable = resamplingShare >= threshold;
  const cause = stable ? null : rewordingStable && !resamplingStable ? "resampling" : !rewordingStable && resamplingStable ? "rewording" : "both";

  let tauSum = 0;
  let tauN = 0;
  for (let a = 0; a < nv; a++) {
    for (let b = a + 1; b < nv; b++) {
      const xs: number[] = [];
      const ys: number[] = [];
      for (let p = 0; p < np; p++) {
        const x = perVariantMeans[a]![p]!;
        const y = perVariantMeans[b]![p]!;
        if (!Number.isNaN(x) && !Number.isNaN(y)) {
          xs.push(x);
          ys.push(y);
        }
      }
      const t = kendallTauB(xs, ys);
      if (!Number.isNaN(t)) {
        tauSum += t;
        tauN++;
      }
    }
  }
  const kendallTau = tauN > 0 ? tauSum / tauN : Number.NaN;

  return {
    top,
    ranking,
    means,
    perVariantMeans,
    topShare,
    rewordingShare,
    resamplingShare,
    perVariantResamplingShare,
    cause,
    questions: nq,
    perVariantTop,
    kendallTau,
    stable,
    resamples,
    threshold,
  };
}

export interface PositionMass {
  /** 1 = the option shown first. */
  readonly position: number;
  /** Mean probability on the option shown at this position, over answers that had it. */
  readonly mean: number;
  /** Mass expected without position bias: the mean of 1/K over the same answers (K = options shown). */
  readonly expected: number;
  /** Answers that had this position. */
  readonly n: number;
}

export interface LabelMass {
  /** The label as shown ("A", "1", ...), compared exactly. */
  readonly label: string;
  readonly mean: number;
  readonly expected: number;
  readonly n: number;
}

export interface PositionBias {
  readonly byPosition: PositionMass[];
  /** In order of first appearance. */
  readonly byLabel: LabelMass[];
  /** Answers with some probability mass; answers without any (off-format) are not counted. */
  readonly answersUsed: number;
  readonly answersWithoutMass: number;
}

/**
 * How much probability the model puts on each position (1st shown, 2nd shown, ...) and on each
 * label ("A", "B", "1", ...) regardless of the options' content ("Randomness, Not
 * Representation", 2025, on position and label biases). `answers[i].presented[j]` is the model's
 * probability on the option shown j-th (in presented order, not survey order) and
 * `answers[i].labels[j]` the label it was shown with. Each answer is renormalised to sum 1. For
 * each position and label: the mean mass over the answers that have it, beside the mass an
 * unbiased model would put there, the mean of 1/K over the same answers.
 *
 * When the same questions are shown in several orders (e.g. every rotation), a preference for
 * some option's content lands on different positions and averages out towards 1/K, while a
 * preference for a position stays.
 */
export function positionBias(answers: readonly { readonly presented: readonly number[]; readonly labels: readonly string[] }[]): PositionBias {
  const posSum: number[] = [];
  const posExp: number[] = [];
  const posN: number[] = [];
  const labels = new Map<string, { sum: number; exp: number; n: number }>();
  let used = 0;
  let withoutMass = 0;
  answers.forEach((a, i) => {
    const k = a.presented.length;
    if (a.labels.length !== k) throw new RangeError(`positionBias: answer ${i} has ${k} probabilities but ${a.labels.length} labels`);
    let mass = 0;
    for (const x of a.presented) mass += x;
    if (!(mass > 0) || !Number.isFinite(mass)) {
      withoutMass++;
      return;
    }
    used++;
    for (let j = 0; j < k; j++) {
      const m = a.presented[j]! / mass;
      posSum[j] = (posSum[j] ?? 0) + m;
      posExp[j] = (posExp[j] ?? 0) + 1 / k;
      posN[j] = (posN[j] ?? 0) + 1;
      const label = a.labels[j]!;
      const acc = labels.get(label);
      if (acc) {
        acc.sum += m;
        acc.exp += 1 / k;
        acc.n++;
      } else {
        labels.set(label, { sum: m, exp: 1 / k, n: 1 });
      }
    }
  });
  return {
    byPosition: posN.map((n, j) => ({ position: j + 1, mean: posSum[j]! / n, expected: posExp[j]! / n, n })),
    byLabel: [...labels].map(([label, acc]) => ({ label, mean: acc.sum / acc.n, expected: acc.exp / acc.n, n: acc.n })),
    answersUsed: used,
    answersWithoutMass: withoutMass,
  };
}

export interface VarianceDecomposition {
  /** Share of the within-question sum of squares due to populations. */
  readonly population: number;
  /** Share due to presentation variants. */
  readonly variant: number;
  /** Share due to population x variant interaction (the residual of the additive model). */
  readonly interaction: number;
  readonly sumsOfSquares: { readonly population: number; readonly variant: number; readonly interaction: number; readonly total: number };
  readonly questionsUsed: number;
  /** Questions left out because a cell is missing (NaN) or they have no cells. */
  readonly questionsLeftOut: number;
}

/**
 * How much of the variation of alignment scores comes from real differences between populations
 * and how much from presentation ("Randomness, Not Representation", 2025). `y[q][p][v]` is the
 * alignment on question q with population p under variant v. A two-way decomposition (one
 * observation per cell) within each question, each question centred on its own mean so that
 * differences between questions do not count:
 *   SS_population  = sum_q sum_p V * (mean_qp. - mean_q..)^2
 *   SS_variant     = sum_q sum_v P * (mean_q.v - mean_q..)^2
 *   SS_interaction = sum_q sum_p sum_v (y_qpv - mean_qp. - mean_q.v + mean_q..)^2
 * The three add up to the within-question total sum of squares; the shares are each over their
 * sum (NaN if it is 0). Questions with any missing (NaN) cell are left out (`questionsLeftOut`).
 * Questions may have different numbers of populations and variants, but each must be rectangular.
 */
export function varianceDecomposition(y: readonly (readonly (readonly number[])[])[]): VarianceDecomposition {
  let ssPop = 0;
  let ssVar = 0;
  let ssInt = 0;
  let used = 0;
  let leftOut = 0;
  y.forEach((cells, q) => {
    const np = cells.length;
    const nv = np > 0 ? cells[0]!.length : 0;
    let complete = np > 0 && nv > 0;
    for (let p = 0; p < np; p++) {
      const row = cells[p]!;
      if (row.length !== nv) throw new RangeError(`varianceDecomposition: question ${q}, population ${p} has ${row.length} variants, population 0 has ${nv}`);
      for (const x of row) if (Number.isNaN(x)) complete = false;
    }
    if (!complete) {
      leftOut++;
      return;
    }
    used++;
    const rowMean = new Float64Array(np);
    const colMean = new Float64Array(nv);
    let grand = 0;
    for (let p = 0; p < np; p++) {
      for (let v = 0; v < nv; v++) {
        const x = cells[p]![v]!;
        rowMean[p]! += x;
        colMean[v]! += x;
        grand += x;
      }
    }
    for (let p = 0; p < np; p++) rowMean[p]! /= nv;
    for (let v = 0; v < nv; v++) colMean[v]! /= np;
    grand /= np * nv;
    for (let p = 0; p < np; p++) ssPop += nv * (rowMean[p]! - grand) ** 2;
    for (let v = 0; v < nv; v++) ssVar += np * (colMean[v]! - grand) ** 2;
    for (let p = 0; p < np; p++) {
      for (let v = 0; v < nv; v++) ssInt += (cells[p]![v]! - rowMean[p]! - colMean[v]! + grand) ** 2;
    }
  });
  const total = ssPop + ssVar + ssInt;
  const share = (ss: number): number => (total > 0 ? ss / total : Number.NaN);
  return {
    population: share(ssPop),
    variant: share(ssVar),
    interaction: share(ssInt),
    sumsOfSquares: { population: ssPop, variant: ssVar, interaction: ssInt, total },
    questionsUsed: used,
    questionsLeftOut: leftOut,
  };
}
