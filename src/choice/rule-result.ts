/**
 * What a voting rule returns, and when scores count as tied: within 1e-12 x the largest |score|
 * (see rules.ts on fractional weights).
 */
import { rankingFromScores } from "./profile.js";

/** What a rule decided. */
export interface RuleResult {
  /** The winners: 0-based alternative indices, ascending. Several when tied. */
  readonly winners: number[];
  /** A score per alternative, higher is better, where the rule has one (each rule says what it is). */
  readonly scores?: number[];
  /** The rule's social ranking as tiers (best first) when it outputs one. */
  readonly ranking?: number[][];
  /** Things the caller should know about the result (e.g. a regularised Bradley-Terry fit). */
  readonly warnings?: string[];
}

export const REL_TOL = 1e-12;

/** The arg max of `values` as a set, with values within `tol` of the best tied. */
export function argMax(values: ArrayLike<number>, tol: number): number[] {
  let best = -Infinity;
  for (let i = 0; i < values.length; i++) if (values[i]! > best) best = values[i]!;
  const out: number[] = [];
  for (let i = 0; i < values.length; i++) if (best - values[i]! <= tol) out.push(i);
  return out;
}

/** Tolerance for comparing scores: REL_TOL x the largest |score| (at least REL_TOL). */
export function scoreTol(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s = Math.max(s, Math.abs(values[i]!));
  return REL_TOL * Math.max(1, s);
}

/** Tiers by descending score, scores within `tol` of the tier's first tied; indices ascending in a tier. */
export function rankingByScores(scores: ArrayLike<number>, tol = scoreTol(scores)): number[][] {
  return rankingFromScores(scores, tol);
}
