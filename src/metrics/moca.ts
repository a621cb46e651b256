/**
 * The scores of MoCa (Nie et al. 2023), for yes/no questions answered by a group of people: the
 * model's P(yes) against the share of people who said yes.
 *
 * - agreement: 1 - mean total variation between the model's (P(yes), P(no)) and the people's
 *   (share yes, share no); for two options TV = |P(yes) - share yes|. (Civitas' distributional
 *   score, Meister et al. 2024; not one of MoCa's own metrics.)
 * - AuROC on unambiguous items (MoCa's main metric; moca/evaluator.py `AuROCEvaluator`): items
 *   whose majority share is <= 0.6 are left out; the label is the people's majority (yes = 1), the
 *   score is the model's P(yes). The original computes it with sklearn `roc_curve(...,
 *   pos_label=0)` (0 = yes) and `auc`, i.e. the trapezoidal area, which equals the Mann-Whitney
 *   statistic with ties counted 1/2, divided by n_pos * n_neg: that is how it is computed here.
 * - accuracy with the ambiguity class (MoCa's `AccuracyEvaluatorWithAmbiguity`): each item gets a
 *   class for the people and one for the model, "ambiguous" when the larger of the two
 *   probabilities is <= 0.6, else the more likely answer; accuracy is the share of items whose
 *   classes agree.
 *
 * Uncertainty: a percentile bootstrap over items (as bootstrap.ts: `resamples` resamples of the
 * items with replacement, seeded, percentiles with numpy's linear interpolation); where items
 * carry a `cluster` (MoCa's story, told with several questions), whole clusters are resampled
 * instead, each with all its items, and each score is the mean over the items drawn. The three scores
 * share the same resamples. AuROC is computed on the unambiguous items of each resample; a resample
 * without both a yes-majority and a no-majority item has no AuROC and is skipped (counted in
 * `skipped`). MoCa's own intervals differ: unseeded, 1,000 resamples, for accuracy only, and the
 * percentiles are order statistics `sorted[int(0.025 * B)]` without interpolation.
 */
import { clusterMembers, percentileInterval, type BootstrapOptions, type Estimate } from "./bootstrap.js";
import { seededRng } from "./rng.js";

/** MoCa's ambiguity threshold: a distribution whose larger share is <= 0.6 is ambiguous. */
export const MOCA_AMBIGUITY_THRESHOLD = 0.6;

export type AmbiguityClass = "yes" | "no" | "ambiguous";

/**
 * The class of a yes/no distribution given its P(yes): "ambiguous" when max(P(yes), P(no)) <=
 * threshold (exactly 0.6 is ambiguous, as in moca/evaluator.py `max(...) <= 0.6`), else the more
 * likely answer (a tie goes to "yes", as numpy's argmax does; it can only happen with a threshold
 * below 0.5).
 */
export function ambiguityClass(shareYes: number, threshold: number = MOCA_AMBIGUITY_THRESHOLD): AmbiguityClass {
  const shareNo = 1 - shareYes;
  if (Math.max(shareYes, shareNo) <= threshold) return "ambiguous";
  return shareYes >= shareNo ? "yes" : "no";
}

/**
 * Area under the ROC curve of `scores` for binary `labels` (1 = positive, 0 = negative): the
 * Mann-Whitney U of the positives, ties counted 1/2, over n_pos * n_neg. NaN when either class is
 * missing.
 */
export function auroc(labels: ArrayLike<number>, scores: ArrayLike<number>): number {
  if (labels.length !== scores.length) throw new RangeError(`auroc: ${labels.length} labels but ${scores.length} scores`);
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] !== 0 && labels[i] !== 1) throw new RangeError(`auroc: label ${i} is ${labels[i]}, not 0 or 1`);
    if (Number.isNaN(scores[i]!)) throw new RangeError(`auroc: score ${i} is NaN`);
  }
  const order = sortedByScore(scores);
  return weightedAuroc(order, labels, scores, new Int32Array(labels.length).fill(1));
}

/** Indices of `scores`, ascending by score. */
function sortedByScore(scores: ArrayLike<number>): Int32Array {
  return Int32Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
}

/**
 * AuROC of the items in `order` (ascending by score), item i counted `weights[i]` times (0 = not
 * there): one sweep over groups of tied scores, each positive scoring 1 per negative below it and
 * 1/2 per negative tied with it.
 */
function weightedAuroc(order: Int32Array, labels: ArrayLike<number>, scores: ArrayLike<number>, weights: ArrayLike<number>): number {
  let u = 0;
  let negBelow = 0;
  let nPos = 0;
  let nNeg = 0;
  for (let a = 0; a < order.length; ) {
    const s = scores[order[a]!]!;
    let pos = 0;
    let neg = 0;
    let b = a;
    for (; b < order.length && scores[order[b]!] === s; b++) {
      const i = order[b]!;
      if (labels[i] === 1) pos += weights[i]!;
      else neg += weights[i]!;
    }
    u += pos * (negBelow + neg / 2);
    negBelow += neg;
    nPos += pos;
    nNeg += neg;
    a = b;
  }
  return nPos > 0 && nNeg > 0 ? u / (nPos * nNeg) : Number.NaN;
}

export interface MoCaItem {
  /** The question (for error messages); an id may repeat, e.g. one item per presentation variant. */
  readonly id: string;
  /** Share of people who answered yes. */
  readonly humanYes: number;
  /** The model's probability of yes (renormalised over yes and no). */
  readonly modelYes: number;
  /**
   * Whether the item is left out of the AuROC (the dataset's `is_ambiguous`); when absent, the
   * rule max(share yes, share no) <= threshold decides. MoCa's files and code agree with the rule.
   * The accuracy always uses the rule (it is what defines the people's class).
   */
  readonly ambiguous?: boolean;
  /** Items with the same cluster (MoCa's story) are resampled together. */
  readonly cluster?: string;
}

export interface MoCaScoreOptions extends BootstrapOptions {
  /** Ambiguity threshold (default 0.6). */
  readonly threshold?: number;
}

export interface MoCaScores {
  /** 1 - mean |modelYes - humanYes| over all items; n = items. */
  readonly agreement: Estimate;
  /** AuROC over the unambiguous items; n = unambiguous items; `skipped` resamples had one class only. */
  readonly auroc: Estimate & { readonly skipped: number };
  /** Share of items where the model's class (yes / no / ambiguous) is the people's; n = items. */
  readonly accuracy: Estimate;
}

function checkProbability(v: number, what: string, id: string): number {
  if (!(v >= -1e-9 && v <= 1 + 1e-9)) throw new RangeError(`mocaScores: item ${id}: ${what} ${v} is not a probability`);
  return Math.min(1, Math.max(0, v));
}

/** MoCa's scores with seeded percentile bootstrap intervals over items (see the file comment). */
export function mocaScores(items: readonly MoCaItem[], opts: MoCaScoreOptions = {}): MoCaScores {
  const resamples = opts.resamples ?? 1000;
  const level = opts.level ?? 0.95;
  const threshold = opts.threshold ?? MOCA_AMBIGUITY_THRESHOLD;
  const n = items.length;

  const agree = new Float64Array(n);
  const correct = new Float64Array(n);
  const labels = new Int8Array(n);
  const scores = new Float64Array(n);
  const unambiguous: number[] = [];
  items.forEach((it, i) => {
    const h = checkProbability(it.humanYes, "humanYes", it.id);
    const m = checkProbability(it.modelYes, "modelYes", it.id);
    const humanClass = ambiguityClass(h, threshold);
    agree[i] = 1 - Math.abs(m - h);
    correct[i] = ambiguityClass(m, threshold) === humanClass ? 1 : 0;
    labels[i] = h >= 1 - h ? 1 : 0;
    scores[i] = m;
    if (!(it.ambiguous ?? humanClass === "ambiguous")) unambiguous.push(i);
  });
  // Unambiguous items by ascending score; a resample only changes their weights.
  const order = Int32Array.from(unambiguous).sort((a, b) => scores[a]! - scores[b]!);

  const weights = new Int32Array(n);
  const statistic = (w: Int32Array): [number, number, number] => {
    let sa = 0;
    let sc = 0;
    let total = 0;
    for (let i = 0; i < n; i++) {
      sa += w[i]! * agree[i]!;
      sc += w[i]! * correct[i]!;
      total += w[i]!;
    }
    return [sa / total, weightedAuroc(order, labels, scores, w), sc / total];
  };

  if (n === 0) {
    const none: Estimate = { mean: Number.NaN, ci: [Number.NaN, Number.NaN], n: 0 };
    return { agreement: none, auroc: { ...none, skipped: resamples }, accuracy: none };
  }
  weights.fill(1);
  const point = statistic(weights);
  const draws = [new Float64Array(resamples), new Float64Array(resamples), new Float64Array(resamples)] as const;
  let skipped = 0;
  // The same draws as bootstrapMeans: for each resample, n uniform indices in turn; with clusters,
  // as many uniform cluster indices as there are clusters (bootstrapStatistic's clustered draws).
  const rng = seededRng(opts.seed ?? 0);
  const clusters = items.some((it) => it.cluster !== undefined) ? clusterMembers(items.map((it, i) => it.cluster ?? `\u0000${i}`)) : null;
  for (let b = 0; b < resamples; b++) {
    weights.fill(0);
    if (clusters) {
      for (let k = 0; k < clusters.length; k++) for (const i of clusters[rng.int(0, clusters.length - 1)]!) weights[i]!++;
    } else {
      for (let k = 0; k < n; k++) weights[rng.int(0, n - 1)]!++;
    }
    const [a, r, c] = statistic(weights);
    draws[0][b] = a;
    draws[1][b] = r;
    draws[2][b] = c;
    if (Number.isNaN(r)) skipped++;
  }
  return {
    agreement: { mean: point[0], ci: percentileInterval(draws[0], level), n },
    auroc: { mean: point[1], ci: percentileInterval(draws[1], level), n: unambiguous.length, skipped },
    accuracy: { mean: point[2], ci: percentileInterval(draws[2], level), n },
  };
}
