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
  const { ranks, counts, size } = p;
  // limit[b]: ballot b reads only tiers below this one (with "truncate": its first tied tier).
  const limit = new Int32Array(size).fill(0x7fffffff);
  const seen = new Int32Array(m + 1);
  let total = 0;
  // The ballots counting for each alternative: linked lists head[a] -> next[b] -> ... (-1 ends).
  const head = new Int32Array(m).fill(-1);
  const next = new Int32Array(size).fill(-1);
  const alive = new Uint8Array(m).fill(1);
  const scores = new Float64Array(m);
  let tied: number[] | undefined;
  let tiedTop = -1;
  /** Puts ballot b on the list of its top remaining alternative; notes a tie there. False: the ballot is exhausted. */
  const place = (b: number): boolean => {
    const base = b * m;
    const cut = limit[b]!;
    let best = cut;
    let top = -1;
    let twice = false;
    for (let a = 0; a < m; a++) {
      const t = ranks[base + a]!;
      if (t < 0 || t >= best || alive[a] === 0) {
        if (t === best && t < cut && alive[a] === 1) twice = true;
        continue;
      }
      best = t;
      top = a;
      twice = false;
    }
    if (top < 0) return false;
    if (twice) {
      (tied ??= []).push(b);
      if (tiedTop < 0 || b < tiedTop) tiedTop = b;
    }
    scores[top] = scores[top]! + counts[b]!;
    next[b] = head[top]!;
    head[top] = b;
    return true;
  };
  for (let b = 0; b < size; b++) {
    const w = counts[b]!;
    if (w === 0) continue;
    const base = b * m;
    if (overvotes === "truncate") {
      // The first tier with two alternatives: the ballot is cut just before it.
      seen.fill(0);
      let first = 0x7fffffff;
      for (let a = 0; a < m; a++) {
        const t = ranks[base + a]!;
        if (t < 0) continue;
        const k = Math.min(t, m);
        if (++seen[k]! === 2 && t < first) first = t;
      }
      if (first !== 0x7fffffff) {
        // tiers >= m share a slot of `seen`: recount exactly among them when it matters
        if (first >= m) {
          first = 0x7fffffff;
          for (let a = 0; a < m; a++) {
            const t = ranks[base + a]!;
            if (t < m || t >= first) continue;
            for (let c = a + 1; c < m; c++) if (ranks[base + c] === t) first = Math.min(first, t);
          }
        }
        limit[b] = first;
      }
    }
    // An empty ballot (or empty once truncated) is not placed: removed, as pref_voting's remove_empty_rankings.
    if (place(b)) total += w;
  }

  let remaining = m;
  const eliminated: number[][] = [];
  const tol = REL_TOL * Math.max(1, total);
  for (let round = 1; ; round++) {
    if (tied !== undefined) {
      const ballots = tied;
      const first = tiedTop;
      // The remaining alternatives tied first on the first such ballot.
      const base = first * m;
      let best = 0x7fffffff;
      for (let a = 0; a < m; a++) if (alive[a] === 1 && ranks[base + a]! >= 0 && ranks[base + a]! < best) best = ranks[base + a]!;
      const names: string[] = [];
      for (let a = 0; a < m; a++) if (alive[a] === 1 && ranks[base + a] === best) names.push(p.alternatives[a] ?? String(a + 1));
      const after = eliminated.length === 0 ? "" : ` (after eliminating ${eliminated.flat().map((a) => p.alternatives[a] ?? String(a + 1)).join(", ")})`;
      const which = ballots.length === 1 ? `ranks ${names.join(" and ")} tied first` : `rank alternatives tied first (${ballotPlace(p, first)}: ${names.join(" and ")})`;
      throw new CivitasError(
        "input",
        `instant runoff: in round ${round}${after}, ${ballotPlaces(p, ballots)} ${which} among the remaining alternatives; instant runoff cannot tell which one such a ballot counts for`,
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
    // Only the ballots of the eliminated alternatives move, each to its next remaining one.
    for (const a of lowest) {
      let b = head[a]!;
      head[a] = -1;
      scores[a] = 0;
      while (b >= 0) {
        const after = next[b]!;
        place(b);
        b = after;
      }
    }
  }
}
