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
}

/** A named group of people inside a suite: `POLPARTY=Democrat`, `country=Japan`, `overall`. */
export interface Population {
  /** The name every command accepts, e.g. "POLPARTY=Democrat". */
  readonly id: string;
  /** The attribute it belongs to ("POLPARTY"), or null for `overall`. */
  readonly attribute: string | null;
  readonly value: string;
}

/** The answers of one population to one question, over the scored options (survey order). */
export interface HumanDistribution {
  readonly questionId: string;
  readonly population: string;
  /** Probabilities over the scored options, survey order, summing to 1. */
  readonly probs: readonly number[];
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
