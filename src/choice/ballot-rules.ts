/**
 * The rules that read ballots: plurality, Borda and instant runoff (see rules.ts for the
 * conventions every rule follows).
 */
import { CivitasError } from "../errors.js";
import { ballotPlace, ballotPlaces, marginMatrix, type MarginMatrix, type Profile } from "./profile.js";
import { argMax, REL_TOL, scoreTol, type RuleResult } from "./rule-result.js";

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
      throw new CivitasError("input", `plurality: ${ballotPlace(p, b)} ranks ${k} alternatives tied first (${tied.join(", ")}); plurality needs a single first choice`, {
        hint: 'choose how to count such ballots: the option topTies, "ignore", "split" or "approval"',
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
 * - "error" (default): count the ballot while its top remaining alternative is unique, and refuse
 *   only when a round reaches a ballot whose highest-ranked remaining alternatives are tied (see
 *   `instantRunoff`);
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
 * Instant Runoff (pref_voting `instant_runoff`; for truncated ballots
 * `_instant_runoff_for_truncated_linear_orders`): each round every ballot counts for its
 * highest-ranked remaining alternative; an alternative with a strict majority (more than half) of
 * the non-empty ballots wins; otherwise ALL alternatives with the fewest first-place votes are
 * eliminated together (alternatives nobody ranks first included). A ballot whose ranked
 * alternatives are all eliminated is exhausted. When every remaining alternative has the same
 * count (e.g. all ballots exhausted), they are all winners.
 *
 * Ties within a ballot matter only where counting reads them: a ballot counts for its top
 * remaining alternative whenever that one is unique, whatever ties it has further down or among
 * alternatives already eliminated (`2: 1,2,3 / 1: 2,{1,3}` elects 1 in the first round, as
 * pref_voting's `instant_runoff` does). A round that reaches a ballot whose highest-ranked
 * remaining alternatives are tied cannot tell whom it counts for: that is an error naming the
 * round and the ballots (their file lines when read from a file), unless `overvotes: "truncate"`.
 * (pref_voting refuses a profile with ties anywhere in its ProfileWithTies IRV: "Instant Runoff is
 * only defined when all the ballots are truncated linear orders".)
 *
 * The majority threshold is fixed at the start (a strict majority of the ballots that rank
 * anything), as in pref_voting; a strict majority of the still-active ballots would elect the same
 * alternative, since it stays ahead of every other however the rest transfer.
 */
export function instantRunoff(p: Profile, options: InstantRunoffOptions = {}): InstantRunoffResult {
  const overvotes = options.overvotes ?? "error";
  const m = p.alternatives.length;
  if (m < 1) throw new CivitasError("input", "instant runoff: the profile has no alternatives");
  // Each ballot's ranked alternatives in order and their tiers, flat: seq[start[k] .. start[k+1]).
  const seq = new Int32Array(p.size * m);
  const seqTier = new Int32Array(p.size * m);
  const start = new Int32Array(p.size + 1);
  const weight = new Float64Array(p.size);
  const source = new Int32Array(p.size);
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
    if (overvotes === "truncate") {
      for (let i = 1; i < k; i++) {
        if (tier[i] === tier[i - 1]) {
          keep = i - 1; // the first tie: everything before it is strictly ordered
          break;
        }
      }
    }
    if (keep === 0) continue; // empty (or empty once truncated): removed, as pref_voting's remove_empty_rankings
    start[ballots] = len;
    for (let i = 0; i < keep; i++) {
      seq[len] = alt[i]!;
      seqTier[len++] = tier[i]!;
    }
    weight[ballots] = w;
    source[ballots] = b;
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
  for (let round = 1; ; round++) {
    scores.fill(0);
    let tied: number[] | undefined;
    for (let k = 0; k < ballots; k++) {
      let q = ptr[k]!;
      const end = start[k + 1]!;
      while (q < end && alive[seq[q]!] === 0) q++;
      ptr[k] = q;
      if (q === end) continue;
      // Another remaining alternative in the same tier: the ballot's top is not unique this round.
      const t = seqTier[q]!;
      for (let r = q + 1; r < end && seqTier[r] === t; r++) {
        if (alive[seq[r]!] === 1) {
          (tied ??= []).push(k);
          break;
        }
      }
      scores[seq[q]!] = scores[seq[q]!]! + weight[k]!;
    }
    if (tied !== undefined) {
      const first = tied[0]!;
      const q = ptr[first]!;
      const names: string[] = [];
      for (let r = q; r < start[first + 1]! && seqTier[r] === seqTier[q]; r++) if (alive[seq[r]!] === 1) names.push(p.alternatives[seq[r]!] ?? String(seq[r]! + 1));
      const after = eliminated.length === 0 ? "" : ` (after eliminating ${eliminated.flat().map((a) => p.alternatives[a] ?? String(a + 1)).join(", ")})`;
      const which = tied.length === 1 ? `ranks ${names.join(" and ")} tied first` : `rank alternatives tied first (${ballotPlace(p, source[first]!)}: ${names.join(" and ")})`;
      throw new CivitasError(
        "input",
        `instant runoff: in round ${round}${after}, ${ballotPlaces(p, tied.map((k) => source[k]!))} ${which} among the remaining alternatives; instant runoff cannot tell which one such a ballot counts for`,
        { hint: 'count such ballots up to their first tie: the option overvotes, "truncate" (pref_voting truncate_overvotes)' },
      );
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
