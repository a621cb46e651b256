/**
 * Does a result survive rewording? ("Randomness, Not Representation", 2025.) From the answers of
 * a run with several presentation variants: how much the model's answers move between variants,
 * beside how much real populations differ; whether the conclusion "the model is closest to X"
 * holds in every variant and bootstrap draw; the position and label bias behind instability; and
 * how much of the per-question score is explained by population, by variant and by both.
 *
 * The model's own view is used (answers without a persona).
 */
import {
  bootstrapStatistic,
  conclusionStability,
  meanOrdinalScore,
  populationStd,
  positionBias,
  variantSpread,
  varianceDecomposition,
} from "../metrics/index.js";
import type { AnswerRow, Method } from "../store/index.js";
import { renderPrompt, type Population, type Question, type Suite, type Variant } from "../surveys/index.js";
import type { Conventions } from "./protocols.js";
import { distanceTable, humanView, modelView, withClusters, type Interval } from "./score.js";

export interface StabilityReport {
  readonly variants: readonly string[];
  /** Per question, the mean pairwise TV between the model's answers under different variants; mean over questions. */
  readonly spread: Interval & { readonly questions: number };
  /** The same statistic between real populations on the same questions (the difference that matters). */
  readonly human_spread: number | null;
  /**
   * The paper's statistic for ordinal questions: mean over questions of the standard deviation
   * (ddof 0) of mean answers on the [0, 1] scale, across variants (model) and across populations (humans).
   */
  readonly score_spread: { readonly model: number; readonly human: number; readonly questions: number } | null;
  /** Which population the model is closest to, recomputed per variant and bootstrap draw. */
  readonly conclusion: {
    readonly top: string;
    readonly ranking: readonly string[];
    /** Share of (variant x draw) pairs whose top is `top`: rewording and resampling pooled. */
    readonly top_share: number;
    // The two sources apart; always set, optional only because results stored before lack them.
    /** Share of variants whose top on all questions is `top` (rewording alone). */
    readonly rewording_share?: number;
    /** Share of (variant x draw) pairs whose top is the variant's own top (resampling questions alone). */
    readonly resampling_share?: number;
    /** Null when stable; otherwise what it is unstable under. */
    readonly cause?: "rewording" | "resampling" | "both" | null;
    /** Questions behind the conclusion (resampled). */
    readonly questions?: number;
    readonly kendall_tau: number;
    readonly stable: boolean;
    readonly threshold: number;
    /** Each variant's top on all questions, and the share of draws of questions that keep it. */
    readonly per_variant_top: readonly { readonly variant: string; readonly top: string; readonly resampling_share?: number }[];
  } | null;
  /** Mass on each position shown and each label, whatever the content, beside the mass expected without bias. */
  readonly bias: ReturnType<typeof positionBias>;
  /** Shares of the per-question score's variation explained by population, variant and their interaction. */
  readonly variance: { readonly population: number; readonly variant: number; readonly interaction: number; readonly questions: number } | null;
}

const THRESHOLD = 0.95;

export function stabilityReport(
  suite: Suite,
  questions: readonly Question[],
  populations: readonly Population[],
  answers: readonly AnswerRow[],
  o: { readonly method: Method; readonly variants: readonly Variant[]; readonly conventions: Conventions; readonly seed: number },
): StabilityReport | undefined {
  if (o.variants.length < 2) return undefined;
  const { refusals } = o.conventions;
  const byKey = new Map<string, number[]>();
  for (const a of answers) {
    if (a.method !== o.method || a.persona !== "none" || a.status !== "scored" || !a.distribution) continue;
    byKey.set(`${a.variant}\u0000${a.questionId}`, [...a.distribution]);
  }
  const get = (v: Variant, q: Question) => byKey.get(`${v.id}\u0000${q.id}`);
  const opinion = questions.filter((q) => q.correct === undefined);

  // Spread across variants, and between populations.
  const spreads = opinion.map((q) => {
    const d = o.variants.map((v) => get(v, q)).flatMap((x) => (x ? [modelView(q, x, refusals)] : [])).filter((x): x is number[] => x !== null);
    return d.length >= 2 ? variantSpread(d) : Number.NaN;
  });
  const usable = spreads.map((x, i) => [x, i] as const).filter(([x]) => !Number.isNaN(x));
  const est = bootstrapStatistic(
    usable.length,
    (sample) => [sample.length ? Array.from(sample).reduce((s, i) => s + usable[i]![0], 0) / sample.length : Number.NaN],
    { seed: o.seed, resamples: o.conventions.resamples, ...withClusters(usable.map(([, i]) => opinion[i]!)) },
  )[0]!;
  const comparedPops = populations.length >= 2 ? populations : suite.populations;
  const humanSpreads = usable.map(([, i]) => {
    const q = opinion[i]!;
    const d = comparedPops.map((p) => humanView(suite.human(q.id, p.id), refusals)).filter((x): x is readonly number[] => !!x && x.length > 0);
    return d.length >= 2 ? variantSpread(d) : Number.NaN;
  });
  const hs = humanSpreads.filter((x) => !Number.isNaN(x));

  // The paper's score spread, on ordinal questions.
  const modelStd: number[] = [];
  const humanStd: number[] = [];
  for (const q of opinion) {
    const ord = q.ordinals;
    if (!ord || Math.max(...ord) === Math.min(...ord)) continue;
    const ms = o.variants
      .map((v) => get(v, q))
      .flatMap((x) => {
        const d = x ? modelView(q, x, "drop") : null;
        return d ? [meanOrdinalScore(d, ord)] : [];
      });
    const hsc = comparedPops.flatMap((p) => {
      const h = suite.human(q.id, p.id);
      const score = h?.meanScore ?? (h && h.probs.length > 0 ? meanOrdinalScore(h.probs, ord) : undefined);
      return score === undefined || Number.isNaN(score) ? [] : [score];
    });
    if (ms.length >= 2 && hsc.length >= 2) {
      modelStd.push(populationStd(ms));
      humanStd.push(populationStd(hsc));
    }
  }
  const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

  // One distance table per variant: the per-question scores behind the conclusion and the decomposition.
  const tables = o.variants.map((v) =>
    distanceTable(suite, opinion, populations, (q) => {
      const d = get(v, q);
      return d ? [d] : undefined;
    }, { conventions: o.conventions, seed: o.seed }),
  );
  const scores = tables.map((t) => t.model.map((col) => col.map((d) => 1 - d)));
  let conclusion: StabilityReport["conclusion"] = null;
  const c = populations.length >= 2 ? conclusionStability(scores, { seed: o.seed, resamples: o.conventions.resamples, threshold: THRESHOLD, ...withClusters(opinion) }) : null;
  if (c && c.top >= 0) {
    conclusion = {
      top: populations[c.top]!.id,
      ranking: c.ranking.map((p) => populations[p]!.id),
      top_share: c.topShare,
      rewording_share: c.rewordingShare,
      resampling_share: c.resamplingShare,
      cause: c.cause,
      questions: c.questions,
      kendall_tau: c.kendallTau,
      stable: c.stable,
      threshold: THRESHOLD,
      per_variant_top: c.perVariantTop.map((p, v) => ({ variant: o.variants[v]!.id, top: p >= 0 ? populations[p]!.id : "-", resampling_share: c.perVariantResamplingShare[v]! })),
    };
  }
  let variance: StabilityReport["variance"] = null;
  if (populations.length >= 2) {
    const y = opinion.map((_, q) => populations.map((_p, p) => o.variants.map((_v, v) => scores[v]![p]![q]!)));
    const d = varianceDecomposition(y);
    variance = { population: d.population, variant: d.variant, interaction: d.interaction, questions: d.questionsUsed };
  }

  // Position and label bias, from every answer as it was shown.
  const shown = opinion.flatMap((q) =>
    o.variants.flatMap((v) => {
      const d = get(v, q);
      if (!d) return [];
      const r = renderPrompt(q, v);
      return [{ presented: r.order.map((i) => d[i]!), labels: r.labels }];
    }),
  );

  return {
    variants: o.variants.map((v) => v.id),
    spread: { mean: est.mean, ci: est.ci, questions: usable.length },
    human_spread: hs.length ? mean(hs) : null,
    score_spread: modelStd.length ? { model: mean(modelStd), human: mean(humanStd), questions: modelStd.length } : null,
    conclusion,
    bias: positionBias(shown),
    variance,
  };
}

/** What `stabilityVerdict` reads: a stored conclusion, of this version or of one before the two sources were told apart. */
export interface ConclusionLike {
  readonly top: string;
  readonly top_share: number;
  readonly rewording_share?: number | undefined;
  readonly resampling_share?: number | undefined;
  readonly cause?: "rewording" | "resampling" | "both" | null | undefined;
  readonly questions?: number | undefined;
  readonly stable: boolean;
  readonly threshold: number;
  readonly per_variant_top: readonly { readonly variant: string; readonly top: string }[];
}

const pct = (x: number) => `${(100 * x).toFixed(0)}%`;

/**
 * The verdict on "the model is closest to X" in words, with what it is unstable under (one text
 * for the terminal, the warnings, the report and the viewer). `headline` is the short form
 * ("unstable under rewording"), `text` the sentence with its shares.
 */
export function stabilityVerdict(c: ConclusionLike): { readonly stable: boolean; readonly headline: string; readonly text: string } {
  const pooled = `${pct(c.top_share)} of variant x bootstrap draws pooled (needs ${pct(c.threshold)})`;
  if (c.stable) return { stable: true, headline: "stable", text: `${c.top} is closest, stable under rewording and resampling: ${pooled}` };
  if (c.cause === undefined || c.rewording_share === undefined || c.resampling_share === undefined) {
    // Stored before the two sources were told apart: the pooled share is all there is.
    return { stable: false, headline: "unstable", text: `${c.top} stays closest in only ${pooled}; not a finding (stored before civitas told rewording and resampling apart)` };
  }
  const nv = c.per_variant_top.length;
  const agree = c.per_variant_top.filter((v) => v.top === c.top).length;
  const qs = c.questions === undefined ? "the questions" : `${c.questions} questions`;
  const rewording = `${c.top} is closest under ${agree} of ${nv} variants`;
  const resampling = `each variant keeps its own closest population in ${pct(c.resampling_share)} of bootstrap draws of ${qs}`;
  switch (c.cause) {
    case "rewording":
      return {
        stable: false,
        headline: "unstable under rewording",
        text: `unstable under rewording: ${rewording}, while under resampling alone ${resampling}; ${pooled}. Not a finding.`,
      };
    case "resampling":
      return {
        stable: false,
        headline: "too few questions to tell: unstable under resampling",
        text: `too few questions to tell: unstable under resampling: ${resampling}, while under rewording ${rewording}; ${pooled}. Not a finding: ask more questions.`,
      };
    default:
      return {
        stable: false,
        headline: "unstable under rewording and under resampling",
        text: `unstable under rewording and under resampling: ${rewording}, and ${resampling}; ${pooled}. Not a finding.`,
      };
  }
}
