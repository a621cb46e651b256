import type { MetricName } from "../metrics/index.js";

/**
 * One survey question. `options` are in survey order and include non-substantive answers
 * ("Refused", "Not sure", ...), which are shown to the model as the survey showed them to people
 * but excluded from scoring (`refusal[i] === true`).
 */
export interface Question {
  /** Stable id within the suite, e.g. "SAFECRIME_W26". */
  readonly id: string;
  readonly text: string;
  /** All options, survey order. */
  readonly options: readonly string[];
  /** Per option: true when it is a refusal / non-substantive answer, excluded from scoring. */
  readonly refusal: readonly boolean[];
  /**
   * Ordinal position of each scored option (those with `refusal[i] === false`), in survey order;
   * null for nominal questions.
   */
  readonly ordinals: readonly number[] | null;
  /** Where it comes from (e.g. the survey wave), for reports. */
  readonly source?: string;
  /**
   * The sub-dataset of the suite it belongs to (distalign: "opinionqa", "globalvalues",
   * "nytimes"), for per-dataset results and equal weighting of datasets. Absent in one-dataset suites.
   */
  readonly dataset?: string;
  /**
   * Knowledge questions only (KorNAT's common-knowledge half, a custom survey's quiz items): the
   * index into `options` of the one correct answer. Such a question is scored by the accuracy of
   * the model's most likely option and the probability it gives the correct one, not against
   * populations.
   */
  readonly correct?: number;
  /**
   * Questions that are not independent share a cluster (MoCa: the story, asked with several
   * questions); bootstrap intervals then resample whole clusters (metrics/bootstrap.ts). Absent:
   * the question is its own.
   */
  readonly cluster?: string;
}

/** A named group of people inside a suite: `POLPARTY=Democrat`, `country=Japan`, `overall`. */
export interface Population {
  /** The name every command accepts, e.g. "POLPARTY=Democrat". */
  readonly id: string;
  /** The attribute it belongs to ("POLPARTY"), or null for `overall` and other free-standing groups. */
  readonly attribute: string | null;
  readonly value: string;
}

/** The answers of one population to one question, over the scored options (survey order). */
export interface HumanDistribution {
  readonly questionId: string;
  readonly population: string;
  /** Probabilities over the scored options, survey order, summing to 1. */
  readonly probs: readonly number[];
  /**
   * Shares over all options, survey order, refusals included, summing to 1, when the source has
   * them (protocols that keep refusals as ordinary options, e.g. meister2024, need them).
   */
  readonly allProbs?: readonly number[];
  /**
   * The population's mean answer on the ordinal scale, normalised to [0, 1] ((o - min) / (max - min)),
   * when the source gives it. Sources that give only this (the "Randomness, Not Representation"
   * data) have an empty `probs` and can be scored with the `mean` metric only.
   */
  readonly meanScore?: number;
  /** Respondents behind it (unweighted count), or null when the source does not say. */
  readonly n: number | null;
}

/** A loaded survey: questions, populations and the human answer distributions. */
export interface Suite {
  readonly name: string;
  readonly title: string;
  /** Where the data came from (local folder or cache), for reports. */
  readonly location: string;
  /** Hash of the data files read; part of a run's identity. */
  readonly fingerprint: string;
  readonly questions: readonly Question[];
  readonly populations: readonly Population[];
  /** The population that human baselines compare against (e.g. "overall"), if the suite has one. */
  readonly reference: string | null;
  readonly defaultMetric: MetricName;
  /** Sub-datasets, in order (see Question.dataset); absent in one-dataset suites. */
  readonly datasets?: readonly string[];
  /**
   * Suite-specific scores computed beside the distributional alignment: "moca" (AuROC on
   * unambiguous items and accuracy with the ambiguity class, Nie et al. 2023); "mort" (Pearson's r
   * between the model's P(yes) and each population's share of yes, Schramowski et al. 2022);
   * "multicultural" (alignment per language asked with each country, Rystrøm et al. 2025); "papi"
   * (each person's held-out answers and Big Five domain scores, Zhu et al. 2024).
   */
  readonly extraScores?: readonly ("moca" | "mort" | "multicultural" | "papi")[];
  /**
   * Steering persona templates per attribute, "{value}" standing for the population's value, e.g.
   * { country: "Answer as someone who lives in {value}." }. Defaults: surveys/personas.ts.
   */
  readonly personaTemplates?: Readonly<Record<string, string>>;
  /** What Question.cluster stands for ("story"), for the printed bootstrap; absent when questions have no clusters. */
  readonly clusterName?: string;
  /**
   * A population's own steering persona, when the suite builds it from the data rather than from a
   * template (PAPI: a person's profile answers). A user's --persona-template for the attribute wins.
   */
  readonly personaFor?: (population: Population) => string | undefined;
  /** The data's licence, when the loaded data itself says it (a Hugging Face mapping); else the registered suite's. */
  readonly licence?: string;
  /** How to cite the data, for reports. */
  readonly citation?: string;
  /** What the loader noticed and a reader should know (renormalised shares, skipped rows). */
  readonly warnings?: readonly string[];
  /**
   * The presentation variants its questions are asked in when the user names none (a `--variants`
   * string): pacifaist's four rotations of the options, so that a gold answer stored as "A" 328
   * times in 351 is shown once in each position. Default: "standard".
   */
  readonly defaultVariants?: string;
  /** The prompt template its questions are asked with by default (surveys/prompt.ts TEMPLATES; default "opinionqa"). */
  readonly template?: string;
  /** Human distribution of a population on a question, or undefined when it has none. */
  human(questionId: string, population: string): HumanDistribution | undefined;
}

/** Indices (into `options`) of the scored options, survey order. */
export function scoredIndices(q: Question): number[] {
  const out: number[] = [];
  q.refusal.forEach((r, i) => {
    if (!r) out.push(i);
  });
  return out;
}

/**
 * A population's distribution from per-option masses in survey order (counts, weights or shares):
 * `probs` over the scored options and `allProbs` over all options, each renormalised. Undefined
 * when no mass fell on a scored option (unless `refusalOnly` is "keep": then `probs` is empty) or a
 * mass is NaN. `n`: the respondents behind it, or
 * "scored" for the sum of the scored masses (when they are counts).
 */
export function humanDistribution(
  q: Question,
  population: string,
  mass: readonly number[],
  n: number | null | "scored" = "scored",
  /**
   * Keep a population whose mass is all on refusal options, as a distribution with no scored
   * options (`probs` empty): scored when refusals are kept (the meister2024 protocol), skipped when
   * they are dropped. The Global Values and distalign loaders ask for it, as Meister et al.'s code
   * scores such a group; without it there is no distribution.
   */
  refusalOnly: "keep" | "none" = "none",
): HumanDistribution | undefined {
  if (mass.some((m) => Number.isNaN(m))) return undefined;
  let total = 0;
  let scored = 0;
  mass.forEach((m, i) => {
    total += m;
    if (!q.refusal[i]) scored += m;
  });
  if (!(total > 0) || (!(scored > 0) && refusalOnly === "none")) return undefined;
  // All of the mass on refusal options (refusalOnly "keep"): nothing to score when refusals are
  // dropped (`probs` is empty, and runs/score.ts humanView skips it), an ordinary distribution when
  // they are kept (the meister2024 protocol; the paper's code scores such a group, utils.py compute_tv).
  const probs: number[] = [];
  if (scored > 0) {
    mass.forEach((m, i) => {
      if (!q.refusal[i]) probs.push(m / scored);
    });
  }
  return { questionId: q.id, population, probs, allProbs: mass.map((m) => m / total), n: n === "scored" ? scored : n };
}
