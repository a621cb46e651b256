/**
 * The questions of a steering run in three parts: train (what a method may learn from: the
 * population's answers for few-shot examples, calibration offsets), dev (where each method's knob
 * is tuned) and test (where it is judged). A question is in exactly one part.
 *
 * - `stratified` (default): within each survey wave (Question.source; else the dataset; else one
 *   stratum) the questions are shuffled with the seed, the strata laid end to end, and positions
 *   0, 1, 2 of every five go to train, 3 to dev, 4 to test: about 60 / 20 / 20 overall and within
 *   each wave.
 * - `wave`: whole waves are held out (stricter: a method cannot lean on the wave's topic). The
 *   waves are shuffled with the seed; test takes waves until it holds 20% of the questions, dev the
 *   next until 20%, train the rest. It needs at least three waves.
 *
 * The split depends only on the question ids, their strata and the seed (never on the input order):
 * the same seed gives the same split.
 */
import { CivitasError } from "../errors.js";
import { streamRng } from "../metrics/index.js";
import type { Question } from "../surveys/index.js";

export const SPLIT_KINDS = ["stratified", "wave"] as const;
export type SplitKind = (typeof SPLIT_KINDS)[number];

export interface Split {
  readonly kind: SplitKind;
  readonly seed: number;
  readonly train: readonly Question[];
  readonly dev: readonly Question[];
  readonly test: readonly Question[];
}

/** A question's stratum: its survey wave, else its dataset, else one for all. */
export function stratumOf(q: Question): string {
  return q.source ?? q.dataset ?? "all";
}

/** The questions shuffled with a stream of the seed (Fisher-Yates), after sorting by id so the input order does not matter. */
function shuffled<T extends { readonly id: string }>(items: readonly T[], seed: number, stream: string): T[] {
  const out = [...items].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const rng = streamRng(seed, stream);
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Strata, each shuffled, in the order of their names. */
function strata(questions: readonly Question[], seed: number): [string, Question[]][] {
  const by = new Map<string, Question[]>();
  for (const q of questions) {
    const s = stratumOf(q);
    const list = by.get(s);
    if (list) list.push(q);
    else by.set(s, [q]);
  }
  return [...by.keys()].sort().map((s) => [s, shuffled(by.get(s)!, seed, `steer-split:${s}`)]);
}

/**
 * At most `limit` questions, spread over the waves: each wave shuffled with the seed, then one
 * question of each wave in turn. Without a limit, all of them.
 */
export function limitQuestions(questions: readonly Question[], limit: number | undefined, seed: number): Question[] {
  if (limit === undefined || limit >= questions.length) return [...questions];
  const lists = strata(questions, seed).map(([, qs]) => qs);
  const out: Question[] = [];
  for (let k = 0; out.length < limit; k++) {
    for (const l of lists) if (k < l.length && out.length < limit) out.push(l[k]!);
  }
  return out;
}

export function splitQuestions(questions: readonly Question[], kind: SplitKind, seed: number): Split {
  const ids = new Set<string>();
  for (const q of questions) {
    if (ids.has(q.id)) throw new CivitasError("input", `question ${q.id} appears twice in the questions to split`);
    ids.add(q.id);
  }
  const train: Question[] = [];
  const dev: Question[] = [];
  const test: Question[] = [];
  const st = strata(questions, seed);
  if (kind === "stratified") {
    let i = 0;
    for (const [, qs] of st) {
      for (const q of qs) {
        const r = i++ % 5;
        (r < 3 ? train : r === 3 ? dev : test).push(q);
      }
    }
  } else {
    if (st.length < 3) {
      throw new CivitasError("usage", `--split wave holds out whole waves and needs at least 3 of them; these questions come from ${st.length} (${st.map(([s]) => s).join(", ")})`, {
        hint: "use --split stratified, or more questions (a larger --limit, or more waves)",
      });
    }
    const waves = shuffled(
      st.map(([s, qs]) => ({ id: s, qs })),
      seed,
      "steer-split:waves",
    );
    const target = 0.2 * questions.length;
    let k = 0;
    // Test and dev take at least one wave each, and leave at least one for train.
    for (const part of [test, dev]) {
      do part.push(...waves[k++]!.qs);
      while (part.length < target && k < waves.length - (part === test ? 2 : 1));
    }
    for (; k < waves.length; k++) train.push(...waves[k]!.qs);
  }
  return { kind, seed, train, dev, test };
}
