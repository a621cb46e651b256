/**
 * From next-token probabilities to a distribution over option labels.
 *
 * A model can put an option label on the next token in several forms: "A", " A", "A.", "A)",
 * "(A", "a" (tokenizers differ in whether the space is part of the token). All forms of a label
 * are merged. The mass that falls on any valid label is the `coverage`; the distribution is the
 * label mass renormalised by it, as the papers do (Santurkar et al. 2023; Durmus et al. 2023).
 */
import type { TokenProb } from "./types.js";

/**
 * The label a single token's text stands for, or -1. Whitespace (including SentencePiece's
 * U+2581 and GPT-2's U+0120 space markers), one opening "(" and one closing ".", ")" or ":" are
 * stripped; the comparison ignores case.
 */
export function labelOfToken(tokenText: string, labels: readonly string[]): number {
  let t = tokenText.replace(/[\s\u2581\u0120]+/gu, "");
  if (t.startsWith("(")) t = t.slice(1);
  if (t.length > 1 && /[.):]$/u.test(t)) t = t.slice(0, -1);
  if (t.length === 0) return -1;
  const lower = t.toLowerCase();
  for (let i = 0; i < labels.length; i++) {
    if (labels[i]!.toLowerCase() === lower) return i;
  }
  return -1;
}

export interface LabelMass {
  readonly labelMass: number[];
  readonly coverage: number;
}

/** Sums the probability of every token that is a form of a label. */
export function labelMassFromTokens(tokens: Iterable<TokenProb>, labels: readonly string[]): LabelMass {
  const labelMass = labels.map(() => 0);
  for (const { token, prob } of tokens) {
    const i = labelOfToken(token, labels);
    if (i >= 0) labelMass[i]! += prob;
  }
  const coverage = Math.min(1, labelMass.reduce((a, b) => a + b, 0));
  return { labelMass, coverage };
}

/** Label mass renormalised to sum 1, or null when no mass fell on any label. */
export function renormalise(mass: readonly number[]): number[] | null {
  const total = mass.reduce((a, b) => a + b, 0);
  if (!(total > 0)) return null;
  return mass.map((m) => m / total);
}

/** Label probabilities as Santurkar et al. 2023 read them from the top-k next tokens (topKLabelMass). */
export interface TopKLabelMass extends LabelMass {
  /** Per label: true when neither of its forms was among the top-k tokens (it got the miss value). */
  readonly misses: boolean[];
}

/**
 * Label probabilities read from the k most likely next tokens as OpinionQA's code reads them
 * (tatsu-lab/opinions_qa, helpers.py, `get_probabilities`, lines 39-63):
 *
 * - `lps` is the top-k list of the first generated token (line 80 takes HELM's `top_logprobs`);
 * - min_prob = exp(min over the top-k) (line 41); remaining_prob = max(0, 1 - sum of their
 *   probabilities) (line 42), both over every listed token;
 * - a label's value is the larger of the tokens " X" and "X" (line 47: `[f" {prefix}", prefix]`,
 *   exactly these two texts: no lower case, no "X." or "(X"); a label with neither is a miss
 *   (lines 48-49);
 * - each miss gets min(min_prob, remaining_prob / Nmisses) (line 53: the log of it, exponentiated
 *   at line 56).
 *
 * `labelMass` is `probs_unnorm` (line 56); renormalised over the ordinal options it is D_M (line
 * 99). `coverage` is the probability found on labels (misses count 0), capped at 1. In the paper
 * `lps` is a dict keyed by token text, whose texts are distinct for distinct tokens; a backend
 * whose single-token texts collide (llama.cpp detokenizes "▁B" and "B" both as "B") lists
 * both here, each counted in min_prob and remaining_prob, and the label takes the larger, as the
 * paper's max over " B" and "B" does.
 */
export function topKLabelMass(top: Iterable<TokenProb>, labels: readonly string[]): TopKLabelMass {
  const best = new Map<string, number>();
  let minProb = Number.POSITIVE_INFINITY;
  let sum = 0;
  let listed = 0;
  for (const { token, prob } of top) {
    best.set(token, Math.max(best.get(token) ?? 0, prob));
    minProb = Math.min(minProb, prob);
    sum += prob;
    listed++;
  }
  const remaining = Math.max(0, 1 - sum);
  const found = labels.map((l) => {
    const values = [` ${l}`, l].filter((t) => best.has(t)).map((t) => best.get(t)!);
    return values.length > 0 ? Math.max(...values) : null;
  });
  const misses = found.map((v) => v === null);
  const nMisses = misses.filter(Boolean).length;
  // With an empty top-k list, min_prob is undefined in the paper (np.min of nothing raises); here every label misses with 0.
  const missValue = nMisses > 0 && listed > 0 ? Math.min(minProb, remaining / nMisses) : 0;
  const labelMass = found.map((v) => v ?? missValue);
  const coverage = Math.min(1, found.reduce<number>((a, v) => a + (v ?? 0), 0));
  return { labelMass, coverage, misses };
}

/**
 * Label probabilities read from the k most likely next tokens as SubPOP's code reads them (Suh et
 * al. 2025, JosephJeesungSuh/subpop, scripts/experiment/run_inference.py, inference_offline): for
 * each label the probabilities of the tokens "X" and " X" (the last token of "Answer:X" and of
 * "Answer: X") added up, a token absent from the top k counting 0 (`prob_1 + prob_2`, `0 if ... is
 * None`); the distribution is these masses renormalised (`np.array(prob_per_option) / sum(...)`),
 * as civitas renormalises every label mass. `coverage` is their sum, capped at 1.
 */
export function topKSumLabelMass(top: Iterable<TokenProb>, labels: readonly string[]): LabelMass {
  // Every listed token is a distinct token: two whose texts print the same (llama.cpp prints the
  // SentencePiece "\u2581B" as " B" or "B" depending on the model) are the paper's two ids, added.
  const sum = new Map<string, number>();
  for (const { token, prob } of top) sum.set(token, (sum.get(token) ?? 0) + prob);
  const labelMass = labels.map((l) => (sum.get(l) ?? 0) + (sum.get(` ${l}`) ?? 0));
  return { labelMass, coverage: Math.min(1, labelMass.reduce((a, b) => a + b, 0)) };
}
