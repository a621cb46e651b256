/**
 * Voting rules. Every rule returns its winners as a set (0-based alternative indices, ascending;
 * ties are kept, never broken silently) and, where the rule has a natural one, a score per
 * alternative (higher is better) or a social ranking.
 *
 * Semantics follow pref_voting (Holliday & Pacuit, github.com/voting-tools/pref_voting), the de
 * facto reference, so results can be compared; each function names the pref_voting function it
 * follows and says where civitas differs. Two kinds of input:
 *
 * - ballot rules (plurality, borda, instantRunoff) read the Profile;
 * - margin rules read a MarginMatrix (`marginMatrix(profile, { extendTruncated })` in profile.ts).
 *   With truncated ballots the margins depend on that option: by default an unranked alternative is
 *   incomparable with everything (pref_voting's ProfileWithTies default, `strict_pref`), with
 *   `extendTruncated` it is ranked below every ranked one (`use_extended_strict_preference`).
 *
 * Margins are differences of sums of voter weights. With fractional weights two sums that should be
 * equal can differ in the last bits, so margin rules treat |margin| <= 1e-12 x the largest support
 * as 0 (a tie), and score rules treat scores within 1e-12 x the largest |score| as equal. Integer
 * counts are exact either way.
 */
import { CivitasError } from "../errors.js";
import { bradleyTerry } from "./bradley-terry.js";
import { marginMatrix, rankingFromScores, type MarginMatrix, type MarginOptions, type Profile } from "./profile.js";

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

// ---------------------------------------------------------------------------------------------
// helpers

const REL_TOL = 1e-12;

/** The arg max of `values` as a set, with values within `tol` of the best tied. */
function argMax(values: ArrayLike<number>, tol: number): number[] {
  let best = -Infinity;
  for (let i = 0; i < values.length; i++) if (values[i]! > best) best = values[i]!;
  const out: number[] = [];
  for (let i = 0; i < values.length; i++) if (best - values[i]! <= tol) out.push(i);
  return out;
}

/** Tolerance for comparing scores: REL_TOL x the largest |score| (at least REL_TOL). */
function scoreTol(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s = Math.max(s, Math.abs(values[i]!));
  return REL_TOL * Math.max(1, s);
}

/** Tiers by descending score, scores within `tol` of the tier's first tied; indices ascending in a tier. */
export function rankingByScores(scores: ArrayLike<number>, tol = scoreTol(scores)): number[][] {
  return rankingFromScores(scores, tol);
}

/** The size of the numbers behind the margins (the largest support or |margin|), for the tie tolerance. */
export function marginScale(mm: MarginMatrix): number {
  let scale = 0;
  const { m, margin, support } = mm;
  for (let k = 0; k < margin.length; k++) {
    const x = margin[k]!;
    if (!Number.isFinite(x)) throw new CivitasError("input", `margin[${Math.floor(k / m)}][${k % m}] is ${x}; margins must be finite numbers`);
    scale = Math.max(scale, Math.abs(x));
  }
  for (let k = 0; k < support.length; k++) if (Number.isFinite(support[k]!)) scale = Math.max(scale, Math.abs(support[k]!));
  return scale;
}

interface Margins {
  readonly m: number;
  /** Cleaned margins: antisymmetric, zero diagonal, |x| <= tolerance set to 0. */
  readonly M: Float64Array;
}

/** Checks a MarginMatrix and returns its margins with rounding noise zeroed. */
function prepare(mm: MarginMatrix, rule: string): Margins {
  const { m, margin } = mm;
  if (!Number.isInteger(m) || m < 1) throw new CivitasError("input", `${rule}: the margin matrix must have at least one alternative, got m = ${m}`);
  if (margin.length !== m * m) throw new CivitasError("input", `${rule}: the margin matrix has ${margin.length} entries, expected m x m = ${m * m}`);
  const tol = REL_TOL * marginScale(mm);
  const M = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < m; j++) {
      const x = margin[i * m + j]!;
      if (i === j) {
        if (Math.abs(x) > tol) throw new CivitasError("input", `${rule}: margin[${i}][${i}] is ${x}; an alternative's margin over itself must be 0`);
        continue;
      }
      if (Math.abs(x + margin[j * m + i]!) > tol) {
        throw new CivitasError("input", `${rule}: margin[${i}][${j}] = ${x} but margin[${j}][${i}] = ${margin[j * m + i]}; margins must be antisymmetric`, {
          hint: "margin[i][j] = support[i][j] - support[j][i]; build it with marginMatrix(profile) or marginGraph(m, edges)",
        });
      }
      M[i * m + j] = Math.abs(x) <= tol ? 0 : x;
    }
  }
  return { m, M };
}

/**
 * A MarginMatrix from the edges of a margin graph, pref_voting's `MarginGraph(candidates, edges)`:
 * each edge [i, j, w] (w > 0) says i beats j by margin w; pairs without an edge are tied. Support is
 * set to the positive margins (a margin graph does not know the supports).
 */
export function marginGraph(m: number, edges: readonly (readonly [number, number, number])[]): MarginMatrix {
  if (!Number.isInteger(m) || m < 1) throw new CivitasError("usage", `marginGraph: m must be a whole number >= 1, got ${m}`);
  const margin = new Float64Array(m * m);
  const support = new Float64Array(m * m);
  edges.forEach(([i, j, w], k) => {
    const ok = (a: number) => Number.isInteger(a) && a >= 0 && a < m;
    if (!ok(i) || !ok(j) || i === j) throw new CivitasError("usage", `marginGraph: edge ${k + 1} [${i}, ${j}] must join two different alternatives 0..${m - 1}`);
    if (!(Number.isFinite(w) && w > 0)) throw new CivitasError("usage", `marginGraph: edge ${k + 1} [${i}, ${j}] has margin ${w}; margins of edges must be > 0`);
    if (margin[i * m + j] !== 0) throw new CivitasError("usage", `marginGraph: edge ${k + 1} [${i}, ${j}] repeats a pair already given`);
    margin[i * m + j] = w;
    margin[j * m + i] = -w;
    support[i * m + j] = w;
  });
  return { m, support, margin };
}

// ---------------------------------------------------------------------------------------------
// ballot rules

/**
 * How plurality treats a ballot that ranks several alternatives tied first:
 * - "error" (default): refuse, as pref_voting's `ProfileWithTies.plurality_scores` does ("Cannot
 *   find the plurality scores unless all voters rank a unique candidate in first place");
 * - "ignore": the ballot counts for nobody (`plurality_scores_ignoring_overvotes`);
 * - "split": each tied-first alternative gets 1/k of the ballot (`tops_scores(score_type="split")`);
 * - "approval": each tied-first alternative gets the whole ballot (`tops_scores(score_type="approval")`).
 */
export type TopTies = "error" | "ignore" | "split" | "approval";

export interface PluralityOptions {
  readonly topTies?: TopTies;
}

/**
 * Plurality (pref_voting `plurality`): score = the weight of voters ranking the alternative
 * (uniquely) first; winners = the highest scores. Empty ballots count for nobody.
 */
export function plurality(p: Profile, options: PluralityOptions = {}): RuleResult {
  const topTies = options.topTies ?? "error";
  const m = p.alternatives.length;
  if (m < 1) throw new CivitasError("input", "plurality: the profile has no alternatives");
  const scores = new Float64Array(m);
  for (let b = 0; b < p.size; b++) {
    const w = p.counts[b]!;
    if (w === 0) continue;
    const base = b * m;
    let top = -1;
    let k = 0;
    let first = -1;
    for (let a = 0; a < m; a++) {
      const t = p.ranks[base + a]!;
      if (t < 0) continue;
      if (top < 0 || t < top) {
        top = t;
        k = 1;
        first = a;
      } else if (t === top) k++;
    }
    if (k === 0) continue;
    if (k === 1) {
      scores[first] = scores[first]! + w;
      continue;
    }
    if (topTies === "error") {
      const tied: string[] = [];
      for (let a = 0; a < m; a++) if (p.ranks[base + a] === top) tied.push(p.alternatives[a] ?? String(a + 1));
      throw new CivitasError("input", `plurality: ballot ${b + 1} ranks ${k} alternatives tied first (${tied.join(", ")}); plurality needs a single first choice`, {
        hint: 'choose how to count such ballots: { topTies: "ignore" | "split" | "approval" }',
      });
    }
    if (topTies === "ignore") continue;
    const share = topTies === "split" ? w / k : w;
    for (let a = 0; a < m; a++) if (p.ranks[base + a] === top) scores[a] = scores[a]! + share;
  }
  return { winners: argMax(scores, scoreTol(scores)), scores: Array.from(scores) };
}

/**
 * Borda, as pref_voting's `borda` on a ProfileWithTies (`symmetric_borda_scores`, Terzopoulou &
 * Endriss 2021): per ballot an alternative scores (number of alternatives it is ranked strictly
 * above) - (number ranked strictly above it), unranked alternatives counting as below every ranked
 * one (pref_voting's `extended_strict_pref`). Summed over voters this is
 *
 *   score(a) = sum over b of margin(a, b), with margins from extendTruncated: true,
 *
 * pref_voting's "marginal" Borda, which its docs note is affinely equivalent to the positional
 * count: for complete linear ballots, positional Borda (m-1 points for first ... 0 for last) =
 * (score + n (m-1)) / 2 with n voters.
 */
export function borda(p: Profile, extended?: MarginMatrix): RuleResult {
  if (p.alternatives.length < 1) throw new CivitasError("input", "borda: the profile has no alternatives");
  // `extended`: the margins with unranked alternatives last, when the caller has them already.
  const { m, margin } = extended ?? marginMatrix(p, { extendTruncated: true });
  const scores = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    let s = 0;
    for (let j = 0; j < m; j++) s += margin[i * m + j]!;
    scores[i] = s;
  }
  return { winners: argMax(scores, scoreTol(scores)), scores: Array.from(scores) };
}

/**
 * How instant runoff treats a ballot with tied alternatives (an "overvote"):
 * - "error" (default): refuse, as pref_voting does (its IRV for ProfileWithTies asserts "Instant
 *   Runoff is only defined when all the ballots are truncated linear orders");
 * - "truncate": cut the ballot just before its first tie, pref_voting's `truncate_overvotes()`.
 */
export type Overvotes = "error" | "truncate";

export interface InstantRunoffOptions {
  readonly overvotes?: Overvotes;
}

export interface InstantRunoffResult extends RuleResult {
  /** The alternatives eliminated in each round, in order (several when tied last). */
  readonly eliminated: number[][];
}

/**
 * Instant Runoff (pref_voting `instant_runoff`, and for truncated ballots
 * `_instant_runoff_for_truncated_linear_orders`): each round every ballot counts for its
 * highest-ranked remaining alternative; an alternative with a strict majority (more than half) of
 * the non-empty ballots wins; otherwise ALL alternatives with the fewest first-place votes are
 * eliminated together (alternatives nobody ranks first included). A ballot whose ranked
 * alternatives are all eliminated is exhausted. When every remaining alternative has the same
 * count (e.g. all ballots exhausted), they are all winners.
 *
 * The majority threshold is fixed at the start (a strict majority of the ballots that rank
 * anything), as in pref_voting; a strict majority of the still-active ballots would elect the same
 * alternative, since it stays ahead of every other however the rest transfer.
 */
export function instantRunoff(p: Profile, options: InstantRunoffOptions = {}): InstantRunoffResult {
  const overvotes = options.overvotes ?? "error";
  const m = p.alternatives.length;
  if (m < 1) throw new CivitasError("input", "instant runoff: the profile has no alternatives");
  // Each ballot's ranked alternatives in order, flat: seq[start[k] .. start[k+1]).
  const seq = new Int32Array(p.size * m);
  const start = new Int32Array(p.size + 1);
  const weight = new Float64Array(p.size);
  const alt = new Int32Array(m);
  const tier = new Int32Array(m);
  let ballots = 0;
  let len = 0;
  let total = 0;
  for (let b = 0; b < p.size; b++) {
    const w = p.counts[b]!;
    if (w === 0) continue;
    const base = b * m;
    let k = 0;
    for (let a = 0; a < m; a++) {
      const t = p.ranks[base + a]!;
      if (t < 0) continue;
      // insertion sort by tier (stable; m is small)
      let i = k++;
      while (i > 0 && tier[i - 1]! > t) {
        tier[i] = tier[i - 1]!;
        alt[i] = alt[i - 1]!;
        i--;
      }
      tier[i] = t;
      alt[i] = a;
    }
    let keep = k;
    for (let i = 1; i < k; i++) {
      if (tier[i] === tier[i - 1]) {
        if (overvotes === "error") {
          throw new CivitasError("input", `instant runoff: ballot ${b + 1} ranks ${p.alternatives[alt[i - 1]!]} and ${p.alternatives[alt[i]!]} tied; instant runoff needs ballots without ties`, {
            hint: 'pass { overvotes: "truncate" } to cut each ballot before its first tie (pref_voting truncate_overvotes)',
          });
        }
        keep = i - 1; // the first tie: everything before it is strictly ordered
        break;
      }
    }
    if (keep === 0) continue; // empty (or empty once truncated): removed, as pref_voting's remove_empty_rankings
    start[ballots] = len;
    for (let i = 0; i < keep; i++) seq[len++] = alt[i]!;
    weight[ballots] = w;
    total += w;
    ballots++;
  }
  start[ballots] = len;

  const alive = new Uint8Array(m).fill(1);
  let remaining = m;
  const ptr = start.slice(0, ballots);
  const scores = new Float64Array(m);
  const eliminated: number[][] = [];
  const tol = REL_TOL * Math.max(1, total);
  for (;;) {
    scores.fill(0);
    for (let k = 0; k < ballots; k++) {
      let q = ptr[k]!;
      const end = start[k + 1]!;
      while (q < end && alive[seq[q]!] === 0) q++;
      ptr[k] = q;
      if (q < end) scores[seq[q]!] = scores[seq[q]!]! + weight[k]!;
    }
    let max = -Infinity;
    let min = Infinity;
    for (let a = 0; a < m; a++) {
      if (alive[a] === 0) continue;
      max = Math.max(max, scores[a]!);
      min = Math.min(min, scores[a]!);
    }
    if (max - total / 2 > tol) {
      const winners: number[] = [];
      for (let a = 0; a < m; a++) if (alive[a] === 1 && max - scores[a]! <= tol) winners.push(a);
      return { winners, eliminated };
    }
    const lowest: number[] = [];
    for (let a = 0; a < m; a++) if (alive[a] === 1 && scores[a]! - min <= tol) lowest.push(a);
    if (lowest.length === remaining) return { winners: lowest, eliminated };
    for (const a of lowest) alive[a] = 0;
    remaining -= lowest.length;
    eliminated.push(lowest);
  }
}

// ---------------------------------------------------------------------------------------------
// margin rules

function condorcetIndex({ m, M }: Margins): number {
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

/** Weak Condorcet winners: alternatives no other beats by a positive margin (pref_voting `weak_condorcet_winner`); may be []. */
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

export interface RankedPairsOptions {
  /**
   * Most search states to visit before giving up (default 200,000; each is remembered, a few
   * hundred bytes). Only approached with many equal margins that interlock in cycles (random
   * tournaments of 10 to 30 alternatives with margins 1 and 3 needed at most 256): deciding
   * whether an alternative is a Ranked Pairs winner
   * over all tie-breakings is NP-complete (Brill & Fischer 2012, "The Price of Neutrality for the
   * Ranked Pairs Method", AAAI).
   */
  readonly maxStates?: number;
}

/**
 * Ranked Pairs (Tideman 1987; pref_voting `ranked_pairs`): lock in majority edges from the largest
 * margin down, skipping an edge that would close a cycle with edges already locked; the winner is
 * the alternative nothing locked points to. Edges with equal margins can be taken in any order, and
 * an alternative wins if it wins under SOME order of each group of equal margins (pref_voting takes
 * every permutation of every group; "parallel universes" tie-breaking).
 *
 * pref_voting also locks the zero-margin pairs, in both directions, after all majority edges; that
 * only orders the alternatives the majority edges leave unordered, so it adds exactly the other
 * maximal elements of the locked order: civitas returns every alternative no locked edge points to,
 * over all tie-breakings.
 *
 * Algorithm (exact, without enumerating tie-breakings):
 * 1. a Condorcet winner wins; every Ranked Pairs winner is a Split Cycle winner (an edge x -> c that
 *    c cannot block by a path back of margins >= its own is locked in every order), so a unique
 *    Split Cycle winner wins;
 * 2. if no group of equal margins ever closes a cycle, every order gives the same locked relation:
 *    lock and read it off (the usual case, and always when margins are distinct);
 * 3. otherwise, for each Split Cycle winner, a greedy completion that locks the edges leaving its
 *    reach first; every alternative a completion leaves unbeaten is a winner;
 * 4. each Split Cycle winner still undecided is decided exactly with Zavist & Tideman's (1989)
 *    characterisation, which pref_voting also implements (`is_stack`): c is a Ranked Pairs winner
 *    iff c tops a "stack", a linear order in which whenever a is above b some path from a down to b
 *    in the order has every margin >= margin(b, a). The stack is searched top-down from c: for each
 *    placed a and margin level w it keeps the placed alternatives reachable from a downwards by
 *    margins >= w, which decides whether the next alternative may be placed; a branch is dropped
 *    when some unplaced alternative could no longer be placed whatever follows (reachability through
 *    the unplaced ones), and failed states are remembered.
 */
export function rankedPairs(mm: MarginMatrix, options: RankedPairsOptions = {}): RuleResult {
  const g = prepare(mm, "ranked pairs");
  const { m, M } = g;
  const maxStates = options.maxStates ?? 200_000;
  if (!(Number.isInteger(maxStates) && maxStates >= 1)) throw new CivitasError("usage", `ranked pairs: maxStates must be a whole number >= 1, got ${maxStates}`);
  const cw = condorcetIndex(g);
  if (cw >= 0) return { winners: [cw] }; // every tie-breaking elects the Condorcet winner (pref_voting shortcut)
  const sc = splitCycle(mm).winners;
  if (sc.length === 1) return { winners: sc };

  // majority edges sorted by margin, descending; group q is edges gStart[q] .. gStart[q + 1] - 1
  const list: { a: number; b: number; w: number }[] = [];
  for (let a = 0; a < m; a++) for (let b = 0; b < m; b++) if (M[a * m + b]! > 0) list.push({ a, b, w: M[a * m + b]! });
  list.sort((x, y) => y.w - x.w);
  const E = list.length;
  const ea = Int32Array.from(list, (e) => e.a);
  const eb = Int32Array.from(list, (e) => e.b);
  const gStart: number[] = [];
  for (let k = 0; k < E; k++) if (k === 0 || list[k]!.w !== list[k - 1]!.w) gStart.push(k);
  gStart.push(E);
  const G = gStart.length - 1;

  const W = (m + 31) >>> 5; // words per bitset
  const bit = (set: Uint32Array, at: number, j: number) => (set[at + (j >>> 5)]! & (1 << (j & 31))) !== 0;
  const setBit = (set: Uint32Array, at: number, j: number) => {
    set[at + (j >>> 5)] = set[at + (j >>> 5)]! | (1 << (j & 31));
  };
  // a locked relation, transitively closed: bit j of row i (at i * W) when i reaches j
  const has = (s: Uint32Array, i: number, j: number) => bit(s, i * W, j);
  const lock = (s: Uint32Array, a: number, b: number) => {
    for (let x = 0; x < m; x++) {
      if (x !== a && !has(s, x, a)) continue;
      setBit(s, x * W, b);
      for (let k = 0; k < W; k++) s[x * W + k] = s[x * W + k]! | s[b * W + k]!;
    }
  };
  const isOpen = (s: Uint32Array, k: number) => !has(s, eb[k]!, ea[k]!) && !has(s, ea[k]!, eb[k]!);
  const found = new Uint8Array(m);
  const pointed = new Uint32Array(W);
  const record = (s: Uint32Array) => {
    pointed.fill(0);
    for (let x = 0; x < m; x++) for (let k = 0; k < W; k++) pointed[k] = pointed[k]! | s[x * W + k]!;
    for (let y = 0; y < m; y++) if (!bit(pointed, 0, y)) found[y] = 1;
  };
  const winnersOf = () => {
    const winners: number[] = [];
    for (let y = 0; y < m; y++) if (found[y] === 1) winners.push(y);
    return { winners };
  };

  // 2. one pass while no group of equal margins closes a cycle
  let s = new Uint32Array(m * W);
  let q = 0;
  for (; q < G; q++) {
    const all = s.slice();
    for (let k = gStart[q]!; k < gStart[q + 1]!; k++) if (isOpen(s, k)) lock(all, ea[k]!, eb[k]!);
    let cyclic = false;
    for (let x = 0; x < m && !cyclic; x++) if (has(all, x, x)) cyclic = true;
    if (cyclic) break;
    s = all;
  }
  if (q === G) {
    record(s);
    return winnersOf();
  }

  // 3. greedy completions, each favouring one Split Cycle winner
  for (const c of sc) {
    if (found[c] === 1) continue;
    const t = s.slice();
    for (let r = q; r < G; r++) {
      for (;;) {
        let pick = -1;
        let rank = 3;
        for (let k = gStart[r]!; k < gStart[r + 1]! && rank > 0; k++) {
          if (!isOpen(t, k)) continue;
          const v = ea[k] === c || has(t, c, ea[k]!) ? 0 : eb[k] === c ? 2 : 1;
          if (v < rank) {
            rank = v;
            pick = k;
          }
        }
        if (pick < 0) break;
        lock(t, ea[pick]!, eb[pick]!);
      }
    }
    record(t);
  }
  if (sc.every((c) => found[c] === 1)) return winnersOf();

  // 4. stacks. Margin levels: the distinct positive margins; atLeast[(d * m + v) * W]: {u : margin(u, v) >= level d};
  // from[(d * m + u) * W]: {v : margin(u, v) >= level d}
  const levels = [...new Set(list.map((e) => e.w))].sort((x, y) => x - y);
  const D = levels.length;
  const levelOf = new Map(levels.map((w, d) => [w, d]));
  const atLeast = new Uint32Array(D * m * W);
  const from = new Uint32Array(D * m * W);
  for (let d = 0; d < D; d++) {
    for (let u = 0; u < m; u++) {
      for (let v = 0; v < m; v++) {
        if (u !== v && M[u * m + v]! >= levels[d]!) {
          setBit(atLeast, (d * m + v) * W, u);
          setBit(from, (d * m + u) * W, v);
        }
      }
    }
  }
  // try to place strong alternatives (many majority wins) first
  const wins = new Array<number>(m).fill(0);
  for (let a = 0; a < m; a++) for (let b = 0; b < m; b++) if (M[a * m + b]! > 0) wins[a]!++;
  const tryOrder = [...Array(m).keys()].sort((x, y) => wins[y]! - wins[x]! || x - y);
  let states = 0;
  const reach = new Uint32Array(W);
  const next = new Uint32Array(W);

  /** Whether a stack topped by c exists. T[(a * D + d) * W]: the placed alternatives below a reachable from a downwards by margins >= level d. */
  const stackTop = (c: number): boolean => {
    const failed = new Set<string>();
    const canPlace = (T: Uint32Array, placed: Uint32Array, b: number): boolean => {
      for (let a = 0; a < m; a++) {
        if (!bit(placed, 0, a) || !(M[b * m + a]! > 0)) continue;
        const d = levelOf.get(M[b * m + a]!)!;
        // some y in {a} + T[a][d] with margin(y, b) >= margin(b, a)
        if (bit(atLeast, (d * m + b) * W, a)) continue;
        let ok = false;
        for (let k = 0; k < W && !ok; k++) if ((T[(a * D + d) * W + k]! & atLeast[(d * m + b) * W + k]!) !== 0) ok = true;
        if (!ok) return false;
      }
      return true;
    };
    const place = (T: Uint32Array, placed: Uint32Array, b: number) => {
      for (let a = 0; a < m; a++) {
        if (!bit(placed, 0, a)) continue;
        for (let d = 0; d < D; d++) {
          const at = (a * D + d) * W;
          let ok = bit(atLeast, (d * m + b) * W, a);
          for (let k = 0; k < W && !ok; k++) if ((T[at + k]! & atLeast[(d * m + b) * W + k]!) !== 0) ok = true;
          if (ok) setBit(T, at, b);
        }
      }
      setBit(placed, 0, b);
    };
    /** Whether every unplaced alternative could still be placed below every placed one it beats, whatever follows. */
    const lookahead = (T: Uint32Array, placed: Uint32Array): boolean => {
      for (let a = 0; a < m; a++) {
        if (!bit(placed, 0, a)) continue;
        for (let d = 0; d < D; d++) {
          // unplaced alternatives that beat a by exactly level d must be reachable from a by margins >= d
          let needed = false;
          for (let b = 0; b < m && !needed; b++) if (!bit(placed, 0, b) && M[b * m + a] === levels[d]) needed = true;
          if (!needed) continue;
          const at = (a * D + d) * W;
          for (let k = 0; k < W; k++) reach[k] = T[at + k]!;
          setBit(reach, 0, a);
          for (let grew = true; grew; ) {
            next.set(reach);
            for (let u = 0; u < m; u++) {
              if (!bit(reach, 0, u)) continue;
              for (let k = 0; k < W; k++) next[k] = next[k]! | (from[(d * m + u) * W + k]! & ~placed[k]!);
            }
            grew = false;
            for (let k = 0; k < W; k++) if (next[k] !== reach[k]) grew = true;
            reach.set(next);
          }
          for (let b = 0; b < m; b++) if (!bit(placed, 0, b) && M[b * m + a] === levels[d] && !bit(reach, 0, b)) return false;
        }
      }
      return true;
    };
    const search = (T: Uint32Array, placed: Uint32Array, count: number): boolean => {
      if (count === m) return true;
      const id = `${placed.join(",")}|${T.join(",")}`;
      if (failed.has(id)) return false;
      if (++states > maxStates) {
        throw new CivitasError("usage", `ranked pairs: more than ${maxStates} search states over the tie-breakings of equal margins; finding every Ranked Pairs winner with many tied margins is NP-hard (Brill & Fischer 2012)`, {
          hint: "raise { maxStates }, or use schulze or split-cycle, which handle tied margins in polynomial time",
        });
      }
      if (lookahead(T, placed)) {
        for (const b of tryOrder) {
          if (bit(placed, 0, b) || !canPlace(T, placed, b)) continue;
          const T2 = T.slice();
          const placed2 = placed.slice();
          place(T2, placed2, b);
          if (search(T2, placed2, count + 1)) return true;
        }
      }
      failed.add(id);
      return false;
    };
    const T = new Uint32Array(m * D * W);
    const placed = new Uint32Array(W);
    setBit(placed, 0, c);
    return search(T, placed, 1);
  };
  for (const c of sc) if (found[c] === 0 && stackTop(c)) found[c] = 1;
  return winnersOf();
}

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

// ---------------------------------------------------------------------------------------------
// registry

export type RuleId =
  | "plurality"
  | "borda"
  | "copeland"
  | "llull"
  | "minimax"
  | "schulze"
  | "ranked-pairs"
  | "irv"
  | "kemeny-young"
  | "condorcet"
  | "weak-condorcet"
  | "smith"
  | "schwartz"
  | "split-cycle"
  | "bradley-terry";

/**
 * What a rule's output is, for axioms that look at more than the winners (pairwise majority
 * consistency): "winners" (a winner set), "scores" (the ranking the scores induce is the rule's
 * output), "ranking" (the rule outputs a ranking).
 */
export type RuleOutput = "winners" | "scores" | "ranking";

interface RuleBase {
  readonly id: RuleId;
  readonly name: string;
  readonly output: RuleOutput;
}
export interface BallotRule extends RuleBase {
  readonly kind: "ballots";
  run(profile: Profile): RuleResult;
}
export interface MarginRule extends RuleBase {
  readonly kind: "margins";
  run(margins: MarginMatrix): RuleResult;
}
export type Rule = BallotRule | MarginRule;

function fromBradleyTerry(mm: MarginMatrix): RuleResult {
  const r = bradleyTerry(mm, mm.m);
  return { winners: r.winners, scores: r.scores, ranking: r.ranking, warnings: r.warnings };
}

/** Every rule, by id. Ballot rules run with their default options (plurality and IRV refuse ballots with ties). */
export const RULES: readonly Rule[] = [
  { id: "plurality", name: "Plurality", kind: "ballots", output: "scores", run: (p) => plurality(p) },
  { id: "borda", name: "Borda", kind: "ballots", output: "scores", run: borda },
  { id: "copeland", name: "Copeland", kind: "margins", output: "scores", run: copeland },
  { id: "llull", name: "Llull", kind: "margins", output: "scores", run: llull },
  { id: "minimax", name: "Minimax", kind: "margins", output: "winners", run: minimax },
  { id: "schulze", name: "Schulze (Beat Path)", kind: "margins", output: "winners", run: schulze },
  { id: "ranked-pairs", name: "Ranked Pairs", kind: "margins", output: "winners", run: (mm) => rankedPairs(mm) },
  { id: "irv", name: "Instant Runoff", kind: "ballots", output: "winners", run: (p) => instantRunoff(p) },
  { id: "kemeny-young", name: "Kemeny-Young", kind: "margins", output: "ranking", run: kemenyYoung },
  { id: "condorcet", name: "Condorcet winner", kind: "margins", output: "winners", run: condorcetWinner },
  { id: "weak-condorcet", name: "Weak Condorcet winners", kind: "margins", output: "winners", run: weakCondorcetWinners },
  { id: "smith", name: "Smith set", kind: "margins", output: "winners", run: smithSet },
  { id: "schwartz", name: "Schwartz set", kind: "margins", output: "winners", run: schwartzSet },
  { id: "split-cycle", name: "Split Cycle", kind: "margins", output: "winners", run: splitCycle },
  { id: "bradley-terry", name: "Bradley-Terry", kind: "margins", output: "scores", run: fromBradleyTerry },
];

/** The rule with this id; a usage error listing the ids otherwise. */
export function getRule(id: string): Rule {
  const r = RULES.find((x) => x.id === id);
  if (r === undefined) throw new CivitasError("usage", `unknown voting rule "${id}"`, { hint: `one of: ${RULES.map((x) => x.id).join(", ")}` });
  return r;
}

/** Runs one rule on a profile; margin rules get `marginMatrix(profile, options)`. */
export function runRule(rule: Rule | RuleId, profile: Profile, options: MarginOptions = {}): RuleResult {
  const r = typeof rule === "string" ? getRule(rule) : rule;
  return r.kind === "ballots" ? r.run(profile) : r.run(marginMatrix(profile, options));
}

/** One rule's outcome in `runRules`: its result, or the CivitasError it refused with. */
export type RuleRun = { readonly rule: Rule; readonly result: RuleResult } | { readonly rule: Rule; readonly error: CivitasError };

export interface RunRulesOptions extends MarginOptions {
  /** Rule ids to run (default: all of RULES). */
  readonly rules?: readonly string[];
}

/**
 * Runs several rules on one profile, computing the margins once. A rule that refuses the input
 * (plurality or IRV on ballots with ties, Kemeny-Young above its size limit...) is reported with
 * its CivitasError instead of stopping the others; any other error propagates.
 */
export function runRules(profile: Profile, options: RunRulesOptions = {}): RuleRun[] {
  const rules = options.rules === undefined ? RULES : options.rules.map(getRule);
  let mm: MarginMatrix | undefined;
  // Borda needs the margins with unranked alternatives last: the same matrix when nothing is unranked or when extending anyway.
  const complete = options.extendTruncated === true || !profile.ranks.includes(-1);
  return rules.map((rule): RuleRun => {
    try {
      if (rule.id === "borda" && complete) {
        mm ??= marginMatrix(profile, options);
        return { rule, result: borda(profile, mm) };
      }
      if (rule.kind === "ballots") return { rule, result: rule.run(profile) };
      mm ??= marginMatrix(profile, options);
      return { rule, result: rule.run(mm) };
    } catch (e) {
      if (e instanceof CivitasError) return { rule, error: e };
      throw e;
    }
  });
}
