/**
 * Condorcet winners and losers, and the sets that generalise the Condorcet winner: the Smith set and
 * the Schwartz set.
 */
import { prepare, type Margins } from "./margins.js";
import type { MarginMatrix } from "./profile.js";
import type { RuleResult } from "./rule-result.js";

export function condorcetIndex({ m, M }: Margins): number {
  for (let a = 0; a < m; a++) {
    let all = true;
    for (let b = 0; b < m && all; b++) if (b !== a && !(M[a * m + b]! > 0)) all = false;
    if (all) return a;
  }
  return -1;
}

/**
 * The Condorcet winner: the alternative with a positive margin over every other (pref_voting
 * `condorcet_winner`), as a set: [] when there is none. (pref_voting's `condorcet` voting method
 * returns all alternatives instead; civitas keeps "no Condorcet winner" visible.)
 */
export function condorcetWinner(mm: MarginMatrix): RuleResult {
  const cw = condorcetIndex(prepare(mm, "condorcet"));
  return { winners: cw < 0 ? [] : [cw] };
}

/** The alternative every other beats by a positive margin, or null (pref_voting `condorcet_loser`); needs m >= 2. */
export function condorcetLoser(mm: MarginMatrix): number | null {
  const { m, M } = prepare(mm, "condorcet loser");
  if (m < 2) return null;
  for (let a = 0; a < m; a++) {
    let all = true;
    for (let b = 0; b < m && all; b++) if (b !== a && !(M[b * m + a]! > 0)) all = false;
    if (all) return a;
  }
  return null;
}

/**
 * Weak Condorcet winners: alternatives no other beats by a positive margin (pref_voting
 * `weak_condorcet_winner`), as a set: [] when every alternative is beaten by some other (a
 * 3-cycle). pref_voting's `weak_condorcet` voting method returns all alternatives then; civitas
 * keeps "no weak Condorcet winner" visible, as `condorcetWinner` does (docs/aggregate.md).
 */
export function weakCondorcetWinners(mm: MarginMatrix): RuleResult {
  const { m, M } = prepare(mm, "weak condorcet");
  const winners: number[] = [];
  for (let a = 0; a < m; a++) {
    let beaten = false;
    for (let b = 0; b < m && !beaten; b++) if (M[b * m + a]! > 0) beaten = true;
    if (!beaten) winners.push(a);
  }
  return { winners };
}

/** Boolean transitive closure (Floyd-Warshall) of an m x m relation, in place; the diagonal is left as given. */
function closure(R: Uint8Array, m: number): Uint8Array {
  for (let k = 0; k < m; k++) {
    for (let i = 0; i < m; i++) {
      if (i === k || R[i * m + k] === 0) continue;
      const ri = i * m;
      const rk = k * m;
      for (let j = 0; j < m; j++) if (R[rk + j] === 1) R[ri + j] = 1;
    }
  }
  return R;
}

/**
 * The Smith set (pref_voting `top_cycle`, a.k.a. GETCHA): the smallest non-empty set whose members
 * each beat every non-member by a positive margin. Computed as the alternatives that reach every
 * other in the weak majority graph (a -> b when margin(a, b) >= 0), whose strongly connected
 * components form a chain.
 */
export function smithSet(mm: MarginMatrix): RuleResult {
  const { m, M } = prepare(mm, "smith");
  const R = new Uint8Array(m * m);
  for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) if (i !== j && M[i * m + j]! >= 0) R[i * m + j] = 1;
  closure(R, m);
  const winners: number[] = [];
  for (let a = 0; a < m; a++) {
    let all = true;
    for (let b = 0; b < m && all; b++) if (b !== a && R[a * m + b] === 0) all = false;
    if (all) winners.push(a);
  }
  return { winners };
}

/**
 * The Schwartz set (pref_voting `gocha`): the union of the minimal sets not beaten (by a positive
 * margin) from outside; a is in it when every b that reaches a in the transitive closure of the
 * strict majority relation is also reached by a.
 */
export function schwartzSet(mm: MarginMatrix): RuleResult {
  const { m, M } = prepare(mm, "schwartz");
  const R = new Uint8Array(m * m);
  for (let k = 0; k < m * m; k++) if (M[k]! > 0) R[k] = 1;
  closure(R, m);
  const winners: number[] = [];
  for (let a = 0; a < m; a++) {
    let ok = true;
    for (let b = 0; b < m && ok; b++) if (b !== a && R[b * m + a] === 1 && R[a * m + b] === 0) ok = false;
    if (ok) winners.push(a);
  }
  return { winners };
}
