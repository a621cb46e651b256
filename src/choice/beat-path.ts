/**
 * Strongest paths in the majority graph and the rules built on them: Schulze (Beat Path) and
 * Split Cycle.
 */
import { prepare, type Margins } from "./margins.js";
import type { MarginMatrix } from "./profile.js";
import type { RuleResult } from "./rule-result.js";

/**
 * Strongest paths by margin: P[i * m + j] = the largest s such that a path of majority edges
 * (positive margins) from i to j has every margin >= s; 0 when there is no path (and on the
 * diagonal). Floyd-Warshall over the bottleneck semiring, as pref_voting's `beat_path` (Floyd-
 * Warshall algorithm, which starts from -inf for absent edges; 0 orders the same, since margins on
 * edges are positive).
 */
export function strongestPaths(mm: MarginMatrix): Float64Array {
  return widest(prepare(mm, "strongest paths"));
}

function widest({ m, M }: Margins): Float64Array {
  const P = new Float64Array(m * m);
  for (let k = 0; k < m * m; k++) P[k] = M[k]! > 0 ? M[k]! : 0;
  for (let k = 0; k < m; k++) {
    for (let i = 0; i < m; i++) {
      if (i === k) continue;
      const pik = P[i * m + k]!;
      if (pik === 0) continue;
      const ri = i * m;
      const rk = k * m;
      for (let j = 0; j < m; j++) {
        if (j === i || j === k) continue;
        const v = pik < P[rk + j]! ? pik : P[rk + j]!;
        if (v > P[ri + j]!) P[ri + j] = v;
      }
    }
  }
  return P;
}

/**
 * Schulze / Beat Path (pref_voting `beat_path`, margin strength): a defeats b when the strongest
 * path from a to b is stronger than the strongest path from b to a; winners are the undefeated.
 */
export function schulze(mm: MarginMatrix): RuleResult {
  const g = prepare(mm, "schulze");
  const { m } = g;
  const P = widest(g);
  const winners: number[] = [];
  for (let a = 0; a < m; a++) {
    let ok = true;
    for (let b = 0; b < m && ok; b++) if (b !== a && P[b * m + a]! > P[a * m + b]!) ok = false;
    if (ok) winners.push(a);
  }
  return { winners };
}

/**
 * Split Cycle (Holliday & Pacuit 2023, "Split Cycle: a new Condorcet-consistent voting method
 * independent of clones and immune to spoilers", Public Choice; pref_voting `split_cycle`): b
 * defeats a when margin(b, a) > 0 and there is no path of majority edges from a back to b whose
 * every margin is >= margin(b, a), i.e. margin(b, a) > strongest path(a -> b). Winners are the
 * undefeated.
 */
export function splitCycle(mm: MarginMatrix): RuleResult {
  const g = prepare(mm, "split cycle");
  const { m, M } = g;
  const P = widest(g);
  const winners: number[] = [];
  for (let a = 0; a < m; a++) {
    let defeated = false;
    for (let b = 0; b < m && !defeated; b++) {
      const x = M[b * m + a]!;
      if (x > 0 && x > P[a * m + b]!) defeated = true;
    }
    if (!defeated) winners.push(a);
  }
  return { winners };
}
