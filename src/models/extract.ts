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
