/**
 * Which questions a run asks: only those that some chosen population can be scored on. A question
 * no chosen population was asked (GlobalOpinionQA asks each country a different subset; distalign
 * asks countries and US groups different datasets) would cost a model call and score nothing, so it
 * is left out when the run is planned, before anything is asked, and counted in the result.
 *
 * `limit` then means "the first N questions that can be scored" (of each dataset in suites that have
 * several), so that `--limit 10` asks ten questions that count, not ten of which three count.
 */
import type { Population, Question, Suite } from "../surveys/index.js";

/** Why a question is left out, as the result and the terminal say it. */
export const SKIPPED_REASON = "no chosen population was asked them";

export interface QuestionSelection {
  /** The questions to ask, suite order. */
  readonly questions: readonly Question[];
  /**
   * Questions passed over because no chosen population has human answers to them: every such
   * question without a limit; with one, those met before a dataset had its N questions.
   */
  readonly skipped: number;
}

/**
 * True when some population has a human distribution on the question. Knowledge questions have a
 * correct answer instead and are always scorable.
 */
export function scorableBy(suite: Suite, q: Question, populations: readonly Population[]): boolean {
  return q.correct !== undefined || populations.some((p) => suite.human(q.id, p.id) !== undefined);
}

/**
 * The candidates some chosen population can score, in order, then at most `limit` of them (of each
 * dataset when the suite has several, so that every dataset is represented).
 */
export function selectQuestions(suite: Suite, candidates: readonly Question[], populations: readonly Population[], limit?: number): QuestionSelection {
  const multi = !!suite.datasets && suite.datasets.length > 1;
  const taken = new Map<string, number>();
  const questions: Question[] = [];
  let skipped = 0;
  for (const q of candidates) {
    const group = multi ? q.dataset ?? "" : "";
    const n = taken.get(group) ?? 0;
    // Once a dataset has its N questions, the rest of it are not candidates (asked or skipped).
    if (limit !== undefined && n >= limit) continue;
    if (scorableBy(suite, q, populations)) {
      questions.push(q);
      taken.set(group, n + 1);
    } else {
      skipped++;
    }
  }
  return { questions, skipped };
}
