/**
 * Rules that score each alternative by its pairwise contests: Copeland, Llull and Minimax.
 */
import { prepare } from "./margins.js";
import type { MarginMatrix } from "./profile.js";
import { argMax, type RuleResult } from "./rule-result.js";

function copelandLike(mm: MarginMatrix, rule: string, win: number, tie: number, loss: number): RuleResult {
  const { m, M } = prepare(mm, rule);
  const scores = new Array<number>(m).fill(0);
  for (let a = 0; a < m; a++) {
    for (let b = 0; b < m; b++) {
      if (a === b) continue;
      const x = M[a * m + b]!;
      scores[a]! += x > 0 ? win : x < 0 ? loss : tie;
    }
  }
  return { winners: argMax(scores, 0), scores };
}

/**
 * Copeland, pref_voting's default `copeland_scores(scores=(1, 0, -1))`: score = wins - losses
 * (a tie counts 0). Winners = the highest scores.
 */
export function copeland(mm: MarginMatrix): RuleResult {
  return copelandLike(mm, "copeland", 1, 0, -1);
}

/** Llull, pref_voting `llull` (`copeland_scores(scores=(1, 1, 0))`): score = wins + ties. */
export function llull(mm: MarginMatrix): RuleResult {
  return copelandLike(mm, "llull", 1, 1, 0);
}

/**
 * Minimax (Simpson-Kramer), pref_voting `minimax` with its default margin strength: each
 * alternative's worst defeat is the largest margin by which another beats it (0 when unbeaten);
 * winners have the smallest. `scores` are pref_voting's `minimax_scores`: -1 x the worst defeat.
 */
export function minimax(mm: MarginMatrix): RuleResult {
  const { m, M } = prepare(mm, "minimax");
  const scores = new Array<number>(m).fill(0);
  for (let a = 0; a < m; a++) {
    let worst = 0;
    for (let b = 0; b < m; b++) if (M[b * m + a]! > worst) worst = M[b * m + a]!;
    scores[a] = worst === 0 ? 0 : -worst;
  }
  return { winners: argMax(scores, 0), scores };
}
