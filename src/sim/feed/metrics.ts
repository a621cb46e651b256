/**
 * The metrics of a `feed` world, as pure functions on typed arrays.
 *
 * - Cascades (`cascades`): an original post and all its reposts (reposts of reposts included:
 *   every repost carries its original as `root`) form one cascade; its size is the number of
 *   posts in it, the original included (1: never reposted). Reported over every original so far:
 *   the mean size, the largest, and the share of cascades of size >= 2 (reposted at least once).
 * - Echo chamber (`likeMinded`, `echoChamberIndex`): an exposure (a reader shown a post) is
 *   like-minded when |x_reader - stance_post| <= c (c = `like_minded`, on the [0, 1] scale of the
 *   question's options; the reader's attitude when it read, the post's stance when it was
 *   written). The index is the share of like-minded exposures. `likeMindedBaseline` is the
 *   share of like-minded pairs of distinct agents: what the index would be if every agent read
 *   every other agent's current attitude, the level a feed that ignores attitudes would give.
 * - Herd effect (`herdEffect`), as OASIS replicated Muchnik, Aral and Taylor (2013, "Social
 *   influence bias: a randomized experiment", Science 341:647): every original post is given, at
 *   creation, `seed` initial likes, high (> 0) or low (0) at random. Likes per exposure of a
 *   group of posts = the likes agents gave them (likes - seed) over their exposures, pooled over
 *   the originals of the group (reposts are left out). The effect is high - low: > 0 when agents
 *   like what already looks liked.
 */
import type { PostLog } from "./posts.js";

export interface CascadeSummary {
  /** Originals (cascades). */
  readonly cascades: number;
  readonly mean: number;
  readonly max: number;
  /** Share of cascades of size >= 2. */
  readonly share2: number;
}

/** Size of each cascade by its original's id (0 at a repost's id). */
export function cascadeSizes(root: ArrayLike<number>, count: number): Int32Array {
  const size = new Int32Array(count);
  for (let p = 0; p < count; p++) size[root[p]!]!++;
  return size;
}

export function cascades(root: ArrayLike<number>, count: number): CascadeSummary {
  const size = cascadeSizes(root, count);
  let n = 0;
  let sum = 0;
  let max = 0;
  let two = 0;
  for (let p = 0; p < count; p++) {
    if (root[p] !== p) continue;
    const s = size[p]!;
    n++;
    sum += s;
    if (s > max) max = s;
    if (s >= 2) two++;
  }
  return { cascades: n, mean: n > 0 ? sum / n : Number.NaN, max, share2: n > 0 ? two / n : Number.NaN };
}

/** Whether a reader at attitude x finds a post of stance s like-minded (|x - s| <= c). */
export function likeMinded(x: number, s: number, c: number): boolean {
  return Math.abs(x - s) <= c;
}

/** Share of like-minded exposures: reader k at attitude readerX[k] shown a post of stance postX[k]. NaN when none. */
export function echoChamberIndex(readerX: ArrayLike<number>, postX: ArrayLike<number>, c: number): number {
  let like = 0;
  for (let k = 0; k < readerX.length; k++) if (likeMinded(readerX[k]!, postX[k]!, c)) like++;
  return readerX.length > 0 ? like / readerX.length : Number.NaN;
}

/** Share of pairs of distinct agents within c of each other (sorted, two pointers: O(n log n)). NaN below 2 agents. */
export function likeMindedBaseline(x: ArrayLike<number>, c: number): number {
  const n = x.length;
  if (n < 2) return Number.NaN;
  const s = Float64Array.from(x).sort();
  let pairs = 0;
  let j = 0;
  for (let i = 0; i < n; i++) {
    if (j < i + 1) j = i + 1;
    while (j < n && s[j]! - s[i]! <= c) j++;
    pairs += j - i - 1;
  }
  return pairs / ((n * (n - 1)) / 2);
}

export interface HerdSummary {
  /** Likes given per exposure of the originals seeded high (NaN when never shown). */
  readonly high: number;
  /** Likes given per exposure of the originals seeded low. */
  readonly low: number;
  /** high - low. */
  readonly effect: number;
}

export function herdEffect(log: Pick<PostLog, "count" | "root" | "seed" | "likes" | "exposures">): HerdSummary {
  let likesHigh = 0;
  let expHigh = 0;
  let likesLow = 0;
  let expLow = 0;
  for (let p = 0; p < log.count; p++) {
    if (log.root[p] !== p) continue;
    const given = log.likes[p]! - log.seed[p]!;
    if (log.seed[p]! > 0) {
      likesHigh += given;
      expHigh += log.exposures[p]!;
    } else {
      likesLow += given;
      expLow += log.exposures[p]!;
    }
  }
  const high = expHigh > 0 ? likesHigh / expHigh : Number.NaN;
  const low = expLow > 0 ? likesLow / expLow : Number.NaN;
  return { high, low, effect: high - low };
}

/**
 * The option an attitude x reads as: the scored option whose position (on [0, 1]) is nearest,
 * the lower one on a tie. How a rule-based agent answers when its attitudes are measured.
 */
export function nearestOption(x: number, positions: ArrayLike<number>): number {
  let best = 0;
  let bestD = Infinity;
  for (let k = 0; k < positions.length; k++) {
    const d = Math.abs(positions[k]! - x);
    if (d < bestD || (d === bestD && positions[k]! < positions[best]!)) {
      best = k;
      bestD = d;
    }
  }
  return best;
}
