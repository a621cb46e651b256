/**
 * A small survey built in the test, for known-answer tests of the steering methods and of how a
 * steering run is judged: two-option (or n-option) questions, populations of one attribute, human
 * shares given per (question, population), and stored model answers given per (persona, question).
 */
import type { HumanDistribution, Population, Question, Suite } from "../../src/surveys/index.js";
import type { Steered, StoredAnswers } from "../../src/steer/index.js";

export function question(id: string, options = 2, source = "W1", text = `question ${id}`): Question {
  return { id, text, options: Array.from({ length: options }, (_, i) => `option ${i + 1}`), refusal: new Array<boolean>(options).fill(false), ordinals: Array.from({ length: options }, (_, i) => i + 1), source };
}

export const pop = (value: string, attribute = "X"): Population => ({ id: `${attribute}=${value}`, attribute, value });

/** A suite whose human(q, p) is `humans[q][p]`; `reads` records every (question) whose human shares were read. */
export function suiteOf(questions: Question[], populations: Population[], humans: Record<string, Record<string, number[]>>, options: { reference?: Population; metric?: "tv" | "wasserstein" } = {}) {
  const reads: string[] = [];
  const suite: Suite = {
    name: "synthetic",
    title: "synthetic",
    location: "test",
    fingerprint: "synthetic",
    questions,
    populations: options.reference ? [options.reference, ...populations] : populations,
    reference: options.reference?.id ?? null,
    defaultMetric: options.metric ?? "tv",
    human(questionId: string, population: string): HumanDistribution | undefined {
      reads.push(questionId);
      const probs = humans[questionId]?.[population];
      return probs ? { questionId, population, probs, n: null } : undefined;
    },
  };
  return { suite, reads };
}

/** Stored answers from `plain[q]` and `persona[target][q]`, one variant, with the given token counts. */
export function storedOf(plain: Record<string, number[]>, persona: Record<string, Record<string, number[]>>, tokens = { plain: 10, persona: 20 }): StoredAnswers {
  const s = (dist: number[] | undefined, t: number): Steered | undefined => (dist ? { dist, tokens: t } : undefined);
  return {
    plain: (q) => s(plain[q.id], tokens.plain),
    persona: (t, q) => s(persona[t.id]?.[q.id], tokens.persona),
  };
}
