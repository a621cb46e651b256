/**
 * Feed ranking: which posts an agent sees when it opens its feed at step `now`.
 *
 * Candidates. The posts written in the last `window` steps before `now` (age = now - created in
 * 1 .. window; a post is readable from the step after it was written), except the reader's own
 * posts and reposts.
 *
 * Order. Every ranking gives a post p a score; the feed is the `size` candidates of highest score,
 * ties broken by the newer post (higher id) first: a total order, so a feed is exactly determined.
 *   - recency:    created(p)                                   (newest first)
 *   - popularity: likes(p)                                     (most liked first; likes include the seeded ones)
 *   - follows:    F(p) * (now + 1) + created(p)                (posts by those the reader follows first, then the others; newest first in each)
 *   - mix:        w_follows * F(p) + w_popularity * log10(max(likes(p), 1)) - w_recency * age(p)
 * F(p) is 1 when the reader follows p's author (for a repost: the reposter), else 0.
 *
 * `mix` with w_follows = 0 is Reddit's "hot" score as OASIS's Reddit recommender computes it
 * (camel-ai/oasis, oasis/social_platform/recsys.py, `calculate_hot_score`: h = sign(s) *
 * log10(max(|s|, 1)) + (t - t0) / 45000, s = likes - dislikes, t the creation time in seconds;
 * here there are no dislikes, so s = likes >= 0, and t - t0 counts steps, 1 / w_recency steps
 * weighing as much as a factor of 10 in likes, as 45,000 s do in Reddit's). The follows term
 * stands for OASIS's Twitter refresh, which adds the followees' posts ("in network") to the
 * recommended ones; `follows` is that refresh with the in-network posts put first.
 *
 * How it is computed without looking at every post for every reader: the score is
 * g(p) + c * F(p), g(p) the part every reader shares and c >= 0 (c = 0 for recency and popularity).
 * The live posts are sorted once per step by g (`globalOrder`); a reader's feed is the best `size`
 * (by the full score) of the union of (a) the first `size` posts of that order not its own and (b)
 * the live posts of those it follows. Any other post has g no higher than the size-th post of (a)
 * and F = 0, so it cannot beat the `size` posts of (a). Cost per reader: O(size + followees' live
 * posts), not O(posts).
 */
import type { FollowGraph, PostLog } from "./posts.js";
import { follows } from "./posts.js";

export const RANKINGS = ["recency", "popularity", "follows", "mix"] as const;
export type Ranking = (typeof RANKINGS)[number];

export interface RankingSpec {
  readonly ranking: Ranking;
  /** mix weights (ignored by the other rankings). */
  readonly wFollows: number;
  readonly wPopularity: number;
  readonly wRecency: number;
  /** Posts stay candidates for this many steps after the step they were written in. */
  readonly window: number;
}

/** The score every reader shares (without the follows term). */
export function globalScore(spec: RankingSpec, log: PostLog, p: number, now: number): number {
  switch (spec.ranking) {
    case "recency":
    case "follows":
      return log.created[p]!;
    case "popularity":
      return log.likes[p]!;
    case "mix":
      return spec.wPopularity * Math.log10(Math.max(log.likes[p]!, 1)) - spec.wRecency * (now - log.created[p]!);
  }
}

/** The weight of the follows term (c >= 0). */
export function followWeight(spec: RankingSpec, now: number): number {
  switch (spec.ranking) {
    case "follows":
      return now + 1;
    case "mix":
      return spec.wFollows;
    default:
      return 0;
  }
}

/** The full score of post p for a reader (F = `followed`). */
export function postScore(spec: RankingSpec, log: PostLog, p: number, now: number, followed: boolean): number {
  return globalScore(spec, log, p, now) + (followed ? followWeight(spec, now) : 0);
}

/** The first id of the posts still candidates at step `now` (created >= now - window). */
export function firstLive(log: PostLog, now: number, window: number): number {
  // binary search: created is non-decreasing in the id
  let lo = 0;
  let hi = log.count;
  const from = now - window;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (log.created[mid]! < from) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The candidate posts at step `now` (written before it, within the window), by g descending, ties newer first. */
export function globalOrder(spec: RankingSpec, log: PostLog, now: number): RankedPosts {
  const a = firstLive(log, now, spec.window);
  let b = log.count;
  while (b > a && log.created[b - 1]! >= now) b--;
  const order = new Int32Array(b - a);
  const score = new Float64Array(b - a);
  for (let p = a; p < b; p++) {
    order[p - a] = p;
    score[p - a] = globalScore(spec, log, p, now);
  }
  order.sort((x, y) => score[y - a]! - score[x - a]! || y - x);
  return { order, score, base: a };
}

/** The candidates of a step: ids by g descending (ties newer first), and g of post p at score[p - base]. */
export interface RankedPosts {
  readonly order: Int32Array;
  readonly score: Float64Array;
  readonly base: number;
}

/**
 * The feed of `reader` at step `now`: writes up to `size` post ids, best first, into `out` (from
 * `at`) and returns how many. `ranked` is `globalOrder` of this step.
 */
export function rankFeed(
  spec: RankingSpec,
  log: PostLog,
  lastByAuthor: Int32Array,
  graph: FollowGraph,
  ranked: RankedPosts,
  reader: number,
  now: number,
  size: number,
  out: Int32Array,
  at = 0,
): number {
  const c = followWeight(spec, now);
  const { order, score, base: first } = ranked;
  const oldest = now - spec.window;
  // the best `size` so far, kept sorted (insertion): ids in out[at..at+k), their scores in best[]
  const best = new Float64Array(size);
  let k = 0;
  const offer = (p: number, s: number): void => {
    for (let m = 0; m < k; m++) if (out[at + m] === p) return;
    if (k === size && !(s > best[k - 1]! || (s === best[k - 1]! && p > out[at + k - 1]!))) return;
    let m = k < size ? k++ : k - 1;
    while (m > 0 && (best[m - 1]! < s || (best[m - 1]! === s && out[at + m - 1]! < p))) {
      best[m] = best[m - 1]!;
      out[at + m] = out[at + m - 1]!;
      m--;
    }
    best[m] = s;
    out[at + m] = p;
  };
  // (a) the first `size` candidates by g that are not the reader's
  for (let r = 0, taken = 0; r < order.length && taken < size; r++) {
    const p = order[r]!;
    const author = log.author[p]!;
    if (author === reader) continue;
    taken++;
    offer(p, score[p - first]! + (c > 0 && follows(graph, reader, author) ? c : 0));
  }
  // (b) the live posts of those it follows
  if (c > 0) {
    const base = reader * graph.cap;
    for (let f = 0; f < graph.count[reader]!; f++) {
      const author = graph.list[base + f]!;
      if (author === reader) continue;
      for (let p = lastByAuthor[author]!; p >= 0 && log.created[p]! >= oldest; p = log.prevByAuthor[p]!) {
        if (log.created[p]! >= now) continue;
        offer(p, score[p - first]! + c);
      }
    }
  }
  return k;
}
