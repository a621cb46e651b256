/**
 * From stored answers to the alignment of a model with each population: per question the
 * distance between the model's distribution and the population's, then 1 - mean over questions
 * with a percentile bootstrap interval, beside the uniform-answer and human baselines.
 */
import { bootstrapMeans, distance, METRICS, uniform, type Estimate, type MetricName } from "../metrics/index.js";
import type { AnswerRow, AnswerStatus, ScoreRow } from "../store/index.js";
import { scoredIndices, type Population, type Question, type Suite } from "../surveys/index.js";

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
  /** Alignment of this population with the reference population (e.g. overall); null for the reference itself. */
  readonly human: number | null;
}

export interface ScoreSummary {
  readonly overall: Interval;
  readonly populations: PopulationResult[];
  readonly baselines: { readonly uniform: Interval; readonly human: (Interval & { readonly reference: string }) | null };
  readonly setAside: Readonly<Record<Exclude<AnswerStatus, "scored">, number>> & { readonly total: number };
  /** `no_scale`: answered, but with no ordinal scale for an ordinal metric (not scored). */
  readonly questions: { readonly planned: number; readonly answered: number; readonly scored: number; readonly no_scale: number };
  readonly coverage: { readonly mean: number; readonly min: number };
  readonly scores: ScoreRow[];
}

export interface ScoreOptions {
  readonly metric: MetricName;
  readonly seed: number;
  readonly resamples: number;
}

/** The model's distribution over a question's scored options (survey order), or null if it has none there. */
export function scoredDistribution(q: Question, distribution: readonly number[]): number[] | null {
  const idx = scoredIndices(q);
  const sub = idx.map((i) => distribution[i]!);
  const total = sub.reduce((a, b) => a + b, 0);
  if (!(total > 0)) return null;
  return sub.map((p) => p / total);
}

/**
 * Scores the answers of one run. Answers to several variants or personas of the same question
 * are averaged (distance per answer, then mean) before the question enters the bootstrap.
 */
export function scoreRun(
  suite: Suite,
  questions: readonly Question[],
  populations: readonly Population[],
  answers: readonly AnswerRow[],
  options: ScoreOptions,
): ScoreSummary {
  const byQuestion = new Map<string, AnswerRow[]>();
  const setAside = { low_coverage: 0, off_format: 0, only_refusal: 0 };
  let coverageSum = 0;
  let coverageMin = Number.POSITIVE_INFINITY;
  for (const a of answers) {
    coverageSum += a.coverage;
    coverageMin = Math.min(coverageMin, a.coverage);
    if (a.status !== "scored") {
      setAside[a.status]++;
      continue;
    }
    const list = byQuestion.get(a.questionId);
    if (list) list.push(a);
    else byQuestion.set(a.questionId, [a]);
  }
  const answeredQuestions = new Set(answers.map((a) => a.questionId));

  const ref = suite.reference;
  const scored = questions.filter((q) => byQuestion.has(q.id));
  const P = populations.length;
  const modelCols = populations.map(() => new Float64Array(scored.length).fill(Number.NaN));
  const uniformCols = populations.map(() => new Float64Array(scored.length).fill(Number.NaN));
  const humanCols = populations.map(() => new Float64Array(scored.length).fill(Number.NaN));
  const rows: ScoreRow[] = [];
  const needsOrdinals = METRICS[options.metric].needsOrdinals;
  let noScale = 0;

  scored.forEach((q, qi) => {
    const ordinals = needsOrdinals ? q.ordinals : null;
    // A nominal question, or one whose ordinals are all equal (ORIENTATIONMOD_W50 has [1, 1, 1, 1]),
    // has no ordinal distance: under an ordinal metric it is not scored (it would score a perfect 0).
    if (needsOrdinals && (!ordinals || Math.max(...ordinals) === Math.min(...ordinals))) {
      noScale++;
      return;
    }
    const modelDists = byQuestion
      .get(q.id)!
      .map((a) => scoredDistribution(q, a.distribution!))
      .filter((d): d is number[] => d !== null);
    if (modelDists.length === 0) return;
    const refDist = ref ? suite.human(q.id, ref) : undefined;
    for (let p = 0; p < P; p++) {
      const pop = populations[p]!;
      const h = suite.human(q.id, pop.id);
      if (!h) continue;
      const d = modelDists.reduce((s, m) => s + distance(options.metric, m, h.probs, ordinals), 0) / modelDists.length;
      const du = distance(options.metric, uniform(h.probs.length), h.probs, ordinals);
      const dh = refDist && pop.id !== ref ? distance(options.metric, h.probs, refDist.probs, ordinals) : null;
      modelCols[p]![qi] = 1 - d;
      uniformCols[p]![qi] = 1 - du;
      if (dh !== null) humanCols[p]![qi] = 1 - dh;
      rows.push({
        questionId: q.id,
        population: pop.id,
        metric: options.metric,
        modelDistance: d,
        uniformDistance: du,
        humanDistance: dh,
        humanN: h.n,
      });
    }
  });

  // One seed for all three: the same question resamples for model and baselines.
  const boot = { seed: options.seed, resamples: options.resamples };
  const model = bootstrapMeans(modelCols, boot);
  const unif = bootstrapMeans(uniformCols, boot);
  const human = bootstrapMeans(humanCols, boot);
  const fromAlignment = (e: Estimate): Interval => ({ mean: e.mean, ci: e.ci });

  const populationsOut: PopulationResult[] = populations.map((pop, p) => ({
    population: pop.id,
    mean: model.series[p]!.mean,
    ci: model.series[p]!.ci,
    n: model.series[p]!.n,
    uniform: unif.series[p]!.mean,
    human: human.series[p]!.n > 0 ? human.series[p]!.mean : null,
  }));
  const anyHuman = human.series.some((s) => s.n > 0);
  const questionsWithScore = new Set(rows.map((r) => r.questionId));
  return {
    overall: fromAlignment(model.average),
    populations: populationsOut,
    baselines: {
      uniform: fromAlignment(unif.average),
      human: anyHuman && ref ? { ...fromAlignment(human.average), reference: ref } : null,
    },
    setAside: { ...setAside, total: setAside.low_coverage + setAside.off_format + setAside.only_refusal },
    questions: { planned: questions.length, answered: answeredQuestions.size, scored: questionsWithScore.size, no_scale: noScale },
    coverage: { mean: answers.length ? coverageSum / answers.length : Number.NaN, min: answers.length ? coverageMin : Number.NaN },
    scores: rows,
  };
}
