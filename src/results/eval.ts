/**
 * The result of `civitas eval` (and the scores `civitas score` prints): what --json prints, what
 * the store keeps as the run's result, and what `runs show`, reports and the viewer read.
 *
 * Version 3 (this one): the knowledge-to-simulation `gap` is Meister et al.'s comparison (the
 * sequence and verbalize methods side by side, their difference with a paired interval), and
 * `set_aside.unparsed_sequence_tokens` counts what sequence completions held besides answers.
 * `evalV2ToV3` keeps a version 2 gap (another statistic) as `gap_v2` and counts no sequence tokens.
 *
 * Version 2 is version 1 with every field present: version 1 is what civitas wrote
 * before results carried a version, and the first releases left some fields out (`method`,
 * `protocol`, the noise floor, `answers.modes`, `questions.skipped`, ...). `evalV1ToV2` fills them
 * with what those releases did (logprobs, no protocol, no noise floor, ...).
 */
import { z } from "zod";
import { ci, count, estimate, interval, num, numOrNull } from "./common.js";

/** A population's alignment with its interval and baselines. */
export const populationResult = z.object({
  population: z.string(),
  mean: num,
  ci,
  /** Questions scored for this population. */
  n: count,
  /** Alignment of always answering uniformly over the options. */
  uniform: num,
  /** Alignment of this population with the other real populations (or the reference); null when there is none. */
  human: numOrNull,
  /** Alignment of an empirical distribution of the survey's n respondents (or the model's K samples) with the truth. */
  noise: numOrNull,
});

const baselines = z.object({
  uniform: interval,
  /** Against `reference` (e.g. overall), or against the other populations of the same attribute when it is null. */
  human: interval.extend({ reference: z.string().nullable() }).nullable(),
  noise: interval.extend({ samples: z.union([z.literal("respondents"), z.number()]) }).nullable(),
});

/** Who the model is closest to under each presentation variant, and how stable that is (runs/stability.ts). */
export const stabilityReport = z.object({
  variants: z.array(z.string()).readonly(),
  spread: interval.extend({ questions: count }),
  human_spread: numOrNull,
  score_spread: z.object({ model: num, human: num, questions: count }).nullable(),
  conclusion: z
    .object({
      top: z.string(),
      ranking: z.array(z.string()).readonly(),
      top_share: num,
      // The two sources apart (issue 19); results stored before have the pooled share only.
      rewording_share: num.optional(),
      resampling_share: num.optional(),
      cause: z.enum(["rewording", "resampling", "both"]).nullable().optional(),
      questions: count.optional(),
      kendall_tau: num,
      stable: z.boolean(),
      threshold: z.number(),
      per_variant_top: z.array(z.object({ variant: z.string(), top: z.string(), resampling_share: num.optional() })).readonly(),
    })
    .nullable(),
  bias: z.object({
    byPosition: z.array(z.object({ position: z.number(), mean: num, expected: num, n: count })),
    byLabel: z.array(z.object({ label: z.string(), mean: num, expected: num, n: count })),
    answersUsed: count,
    answersWithoutMass: count,
  }),
  variance: z.object({ population: num, variant: num, interaction: num, questions: count }).nullable(),
});

/** MoCa's scores (Nie et al. 2023): agreement, AuROC on unambiguous stories, accuracy with the ambiguity class. */
export const mocaResult = z.object({
  n: count,
  agreement: estimate,
  auroc: estimate.extend({ skipped: count }),
  accuracy: estimate,
});

/** MoRT's statistic (Schramowski et al. 2022): per population, Pearson's r between the model's P(yes) and the share of people answering yes, over actions. */
export const mortResult = z.object({
  populations: z.array(z.object({ population: z.string(), r: estimate })),
});

/**
 * Which bootstrap the intervals come from (runs/score.ts bootstrapOf): questions resampled, or
 * whole clusters of questions (MoCa's stories); absent in results stored before it was recorded
 * (those resampled questions).
 */
export const bootstrapInfo = z.object({
  unit: z.enum(["question", "cluster"]),
  /** What a cluster is ("story"). */
  of: z.string().optional(),
  units: count,
  items: count,
  resamples: count,
  stratified: z.boolean(),
  /** Presentation variants of each question, resampled together with it. */
  variants: count.optional(),
});

/** A score over persons (PAPI's individual level): mean with its interval, standard deviation and quantiles. */
const overPersons = interval.extend({ sd: num, quantiles: z.object({ p10: num, p25: num, p50: num, p75: num, p90: num }) });
const domainValues = z.object({ O: num, C: num, E: num, A: num, N: num });
const personScores = z.object({ item_distance: overPersons, item_distance_mode: overPersons, domain_error: overPersons });

/** PAPI's individual level (Zhu et al. 2024; runs/papi.ts): per person, the held-out items and Big Five domain scores. */
export const papiResult = personScores.extend({
  persons: count,
  /** Whether the model answered as each person's persona (--persona), or unsteered. */
  steered: z.boolean(),
  scale: z.string(),
  domains: z.array(z.object({ domain: z.string(), domain_error: overPersons })),
  /** With personas: the same scores of the unsteered answers. */
  unsteered: personScores.optional(),
  baselines: z.object({
    uniform: z.object({ item_distance: num, domain_error: num }),
    /** The other people's answer distribution on each item, as a prediction of the person. */
    population: z.object({ item_distance: num, domain_error: num }),
  }),
  people: z.array(
    z.object({ person: z.string(), n: count, item_distance: num, item_distance_mode: num, domain_error: num, model_domains: domainValues, person_domains: domainValues }),
  ),
});

/** "Multilingual != Multicultural" (Rystrøm et al. 2025): alignment per language asked (metrics/multicultural.ts). */
export const multiculturalResult = z.object({
  by_language: z.array(
    z.object({
      language: z.string(),
      n: count,
      groups: z.array(z.object({ group: z.string(), n: count, spearman: interval, mean_alignment: interval })),
    }),
  ),
  us_bias: z.array(z.object({ language: z.string(), native: z.array(z.string()), n: count, us_minus_native: interval })),
  native_vs_english: z.array(z.object({ country: z.string(), language: z.string(), n: count, native_minus_english: interval })),
});

/** The scores of a run or of outside predictions (runs/result.ts, runs/predictions.ts). */
export const evalScores = z.object({
  metric: z.string(),
  overall: interval,
  populations: z.array(populationResult),
  baselines,
  /** Per dataset of a multi-dataset suite. */
  datasets: z.array(z.object({ dataset: z.string(), overall: interval, n: count })).optional(),
  questions: z.object({ scored: count, no_scale: count, knowledge: count.optional() }),
  bootstrap: bootstrapInfo.optional(),
  metric_label: z.string(),
  protocol: z.string().nullable(),
  /** The headline method ("predictions" for `civitas score`). */
  method: z.string(),
  /** Every method of the run, when it has more than one. */
  by_method: z.array(z.object({ method: z.string(), overall: interval, populations: z.array(populationResult), baselines })).optional(),
  /** With personas: alignment with the persona minus without, per population (paired bootstrap). */
  steerability: z.object({ overall: interval, populations: z.array(interval.extend({ population: z.string(), n: count })) }).optional(),
  /** With personas: the alignment without them, for comparison. */
  unsteered: z.object({ overall: interval, populations: z.array(populationResult) }).optional(),
  /**
   * Meister et al.'s knowledge-to-simulation gap, when the run has the sequence and verbalize
   * methods (runs/score.ts knowledgeGap): each method's mean TV side by side, TV(sequence) -
   * TV(verbalize) with its paired bootstrap interval over questions, and TV(seq)/TV(verb) - 1.
   */
  gap: z
    .object({
      formats: z.array(z.object({ method: z.string(), tv: interval, pairs: count })),
      sequence_method: z.string(),
      verbalize_method: z.string(),
      difference: interval,
      pairs: count,
      relative: num,
    })
    .optional(),
  /**
   * What version 2 printed as the gap: TV(m) / TV(verbalize) - 1 with m the run's first other
   * method (logprobs standing in for the sequence): not Meister et al.'s statistic. Only in results
   * stored by version 2; kept so they read as they were.
   */
  gap_v2: interval.extend({ sequence_method: z.string(), tv_sequence: num, tv_verbalized: num, pairs: count }).optional(),
  /** Questions with one correct option. */
  knowledge: z.object({ n: count, accuracy: interval, p_correct: interval }).optional(),
  moca: mocaResult.optional(),
  mort: mortResult.optional(),
  papi: papiResult.optional(),
  multicultural: multiculturalResult.optional(),
  /** With several presentation variants: does the result survive them? */
  stability: stabilityReport.optional(),
  warnings: z.array(z.string()),
});

/** The result of an eval run. */
export const evalResult = evalScores.extend({
  run: z.string(),
  suite: z.string(),
  model: z.string(),
  questions: evalScores.shape.questions.extend({
    planned: count,
    answered: count,
    /** Candidate questions left out before anything was asked (no chosen population can be scored on them), and why. */
    skipped: count,
    skipped_reason: z.string().optional(),
  }),
  set_aside: z.object({
    low_coverage: count,
    off_format: count,
    only_refusal: count,
    total: count,
    /** Sampled completions that named no option (method sample). */
    unparsed_samples: count,
    /** Tokens of sequence completions that were no answer (method sequence). */
    unparsed_sequence_tokens: count,
    /** Stated distributions that were not valid (method verbalize). */
    invalid_statements: count,
  }),
  coverage: z.object({ mean: num, min: num, min_required: z.number() }),
  answers: z.object({
    total: count,
    model_calls: count,
    cache_hits: count,
    resumed: count,
    /** How many answers each decoding mode produced. */
    modes: z.record(z.string(), count),
  }),
  /** The store the run is in. */
  store: z.string(),
  seconds: z.number(),
});

/** What `civitas score` prints: the scores of the predictions in a file. */
export const scoreResult = evalScores.extend({
  suite: z.string(),
  /** Lines of the predictions file. */
  predictions: count,
});

export type PopulationResult = z.output<typeof populationResult>;
export type StabilityReport = z.output<typeof stabilityReport>;
export type MocaResult = z.output<typeof mocaResult>;
export type MortResult = z.output<typeof mortResult>;
export type PapiResult = z.output<typeof papiResult>;
export type MulticulturalResult = z.output<typeof multiculturalResult>;
export type EvalScores = z.output<typeof evalScores>;
export type EvalResult = z.output<typeof evalResult>;
export type ScoreResult = z.output<typeof scoreResult>;

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Json) : {});

/** A population as the first releases wrote it (no noise floor). */
const populationV1 = (p: unknown): unknown => (p !== null && typeof p === "object" ? { noise: null, ...obj(p) } : p);

/** The scores of version 1 with what later versions added, as the releases that left them out did. */
function scoresV1ToV2(r: Json): Json {
  const b = obj(r.baselines);
  return {
    ...r,
    populations: Array.isArray(r.populations) ? r.populations.map(populationV1) : r.populations,
    baselines: r.baselines === undefined ? undefined : { ...b, human: b.human ?? null, noise: b.noise ?? null },
    questions: { no_scale: 0, ...obj(r.questions) },
    protocol: r.protocol ?? null,
    method: r.method ?? "logprobs",
  };
}

/** An eval result of version 1 (no `version`) in version 2's shape (see the module comment). */
export function evalV1ToV2(r: Json): Json {
  return {
    ...scoresV1ToV2(r),
    questions: { no_scale: 0, skipped: 0, ...obj(r.questions) },
    set_aside: { unparsed_samples: 0, invalid_statements: 0, ...obj(r.set_aside) },
    answers: { modes: {}, ...obj(r.answers) },
  };
}

/** Scores printed by `civitas score` before results carried a version. */
export function scoreV1ToV2(r: Json): Json {
  return scoresV1ToV2(r);
}

/** Version 2's scores in version 3's shape: its gap (another statistic) kept as `gap_v2`. */
function scoresV2ToV3(r: Json): Json {
  const { gap, ...rest } = r;
  return gap === undefined ? rest : { ...rest, gap_v2: gap };
}

/** An eval result of version 2 in version 3's shape (see the module comment). */
export function evalV2ToV3(r: Json): Json {
  return { ...scoresV2ToV3(r), set_aside: { unparsed_sequence_tokens: 0, ...obj(r.set_aside) } };
}

/** Scores printed by `civitas score` in version 2 (they never had a gap: one method). */
export function scoreV2ToV3(r: Json): Json {
  return scoresV2ToV3(r);
}
