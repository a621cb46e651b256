/**
 * Kemeny-Young: the rankings closest to the voters' in total Kendall tau distance, exactly.
 */
import { CivitasError } from "../errors.js";
import { prepare } from "./margins.js";
import type { MarginMatrix } from "./profile.js";
import { argMax, REL_TOL, type RuleResult } from "./rule-result.js";

/**
 * Most alternatives Kemeny-Young accepts. The exact search is dynamic programming over subsets:
 * O(2^m x m) time and two 2^m arrays of doubles (16 MB at m = 20); each further alternative doubles
 * both, and exact Kemeny is NP-hard in general (Bartholdi, Tovey & Trick 1989).
 */
export const KEMENY_MAX_ALTERNATIVES = 20;

/**
 * Kemeny-Young (pref_voting `kemeny_young`, its default "marginal" algorithm): a Kemeny ranking
 * maximises the sum of margin(x, y) over the pairs it puts x above y (equivalently minimises the
 * total Kendall tau distance to the voters' rankings); the winners are the alternatives some Kemeny
 * ranking puts first. Exact, by dynamic programming over subsets (the best ordering of a set is its
 * best first element followed by the best ordering of the rest).
 *
 * `scores[x]` is the score of the best ranking that puts x first, so the winners have the maximum
 * (the Kemeny score). `ranking` is given only when the Kemeny ranking is unique.
 */
export function kemenyYoung(mm: MarginMatrix): RuleResult {
  const { m, M } = prepare(mm, "kemeny-young");
  if (m > KEMENY_MAX_ALTERNATIVES) {
    throw new CivitasError("usage", `kemeny-young: ${m} alternatives is more than the ${KEMENY_MAX_ALTERNATIVES} the exact computation accepts; it is dynamic programming over all 2^m subsets (time and memory double with each alternative; exact Kemeny is NP-hard)`, {
      hint: "use a polynomial rule (schulze, ranked-pairs, split-cycle, copeland), or restrict to fewer alternatives",
    });
  }
  const full = (1 << m) - 1;
  const lo = m >>> 1;
  const hi = m - lo;
  const loMask = (1 << lo) - 1;
  // L[x << lo | s] = sum of M[x][y] over y in the low-bit set s; H likewise for the high bits
  const L = new Float64Array(m << lo);
  const H = new Float64Array(m << hi);
  for (let x = 0; x < m; x++) {
    for (let s = 1; s < 1 << lo; s++) {
      const y = 31 - Math.clz32(s & -s);
      L[(x << lo) | s] = L[(x << lo) | (s & (s - 1))]! + M[x * m + y]!;
    }
    for (let t = 1; t < 1 << hi; t++) {
      const y = 31 - Math.clz32(t & -t);
      H[(x << hi) | t] = H[(x << hi) | (t & (t - 1))]! + M[x * m + lo + y]!;
    }
  }
  const gain = (x: number, rest: number) => L[(x << lo) | (rest & loMask)]! + H[(x << hi) | (rest >>> lo)]!;
  let absSum = 0;
  for (let k = 0; k < m * m; k++) absSum += Math.abs(M[k]!);
  const tol = REL_TOL * Math.max(1, absSum);
  const size = full + 1;
  const best = new Float64Array(size); // best[S]: the best score of an ordering of S
  const ways = new Float64Array(size); // ways[S]: how many orderings of S reach it
  ways[0] = 1;
  for (let S = 1; S < size; S++) {
    let b = -Infinity;
    let c = 0;
    for (let T = S; T !== 0; T &= T - 1) {
      const x = 31 - Math.clz32(T & -T);
      const rest = S & ~(1 << x);
      const v = best[rest]! + gain(x, rest);
      if (v > b + tol) {
        b = v;
        c = ways[rest]!;
      } else if (v >= b - tol) c += ways[rest]!;
    }
    best[S] = b;
    ways[S] = c;
  }
  const scores = new Array<number>(m);
  for (let x = 0; x < m; x++) {
    const rest = full & ~(1 << x);
    scores[x] = best[rest]! + gain(x, rest);
  }
  const winners = argMax(scores, tol);
  if (ways[full] !== 1) return { winners, scores };
  const ranking: number[][] = [];
  let S = full;
  while (S !== 0) {
    for (let T = S; T !== 0; T &= T - 1) {
      const x = 31 - Math.clz32(T & -T);
      const rest = S & ~(1 << x);
      if (Math.abs(best[rest]! + gain(x, rest) - best[S]!) <= tol) {
        ranking.push([x]);
        S = rest;
        break;
      }
    }
  }
  return { winners, scores, ranking };
}
