/**
 * The posts of a `feed` world (src/sim/agents/feed.ts), stored as growable typed arrays (no object
 * per post), and the follow graph as fixed-capacity rows. Post ids are 0, 1, 2, ... in creation
 * order, so `created` never decreases with the id and the posts still in the feed window are one
 * id range.
 */

/** Every post so far, column by column; entries at ids >= `count` are unused capacity. */
export interface PostLog {
  count: number;
  /** Who wrote (or reposted) it. */
  author: Int32Array;
  /** The step it was written in (readable from the next step on). */
  created: Int32Array;
  /** Likes shown with it: its initial (seeded) likes plus the likes agents gave it. */
  likes: Int32Array;
  /** Its initial likes, given at creation (the herd-effect treatment; 0 for reposts). */
  seed: Int32Array;
  /** How many times it was shown in a feed. */
  exposures: Int32Array;
  /** The original post it carries: itself for an original, the original's id for a repost (of a repost too). */
  root: Int32Array;
  /** The attitude (a position on [0, 1]) its content expresses: its author's when an original was written; a repost carries its original's. */
  stance: Float64Array;
  /** The author's previous post (-1 for none): with `lastByAuthor` a list of each author's posts, newest first. */
  prevByAuthor: Int32Array;
}

export function createPostLog(capacity = 1024): PostLog {
  const c = Math.max(16, capacity);
  return {
    count: 0,
    author: new Int32Array(c),
    created: new Int32Array(c),
    likes: new Int32Array(c),
    seed: new Int32Array(c),
    exposures: new Int32Array(c),
    root: new Int32Array(c),
    stance: new Float64Array(c),
    prevByAuthor: new Int32Array(c),
  };
}

function grown<T extends Int32Array | Float64Array>(a: T, size: number): T {
  const b = new (a.constructor as new (n: number) => T)(size);
  b.set(a);
  return b;
}

/**
 * Appends a post and returns its id. `root` -1 makes it an original (its own root); `lastByAuthor`
 * (one entry per agent, -1 for none) is updated.
 */
export function addPost(
  log: PostLog,
  lastByAuthor: Int32Array,
  post: { readonly author: number; readonly created: number; readonly stance: number; readonly root: number; readonly seed: number },
): number {
  if (log.count === log.author.length) {
    const size = log.author.length * 2;
    log.author = grown(log.author, size);
    log.created = grown(log.created, size);
    log.likes = grown(log.likes, size);
    log.seed = grown(log.seed, size);
    log.exposures = grown(log.exposures, size);
    log.root = grown(log.root, size);
    log.stance = grown(log.stance, size);
    log.prevByAuthor = grown(log.prevByAuthor, size);
  }
  const p = log.count++;
  log.author[p] = post.author;
  log.created[p] = post.created;
  log.likes[p] = post.seed;
  log.seed[p] = post.seed;
  log.exposures[p] = 0;
  log.root[p] = post.root < 0 ? p : post.root;
  log.stance[p] = post.stance;
  log.prevByAuthor[p] = lastByAuthor[post.author]!;
  lastByAuthor[post.author] = p;
  return p;
}

/**
 * Who follows whom: agent i follows `list[i * cap .. i * cap + count[i])` (its followees, in the
 * order they were followed; an unfollow moves the last one into the gap). A row holds at most `cap`
 * followees: a follow beyond it is refused (`follow` returns false).
 */
export interface FollowGraph {
  readonly n: number;
  readonly cap: number;
  readonly list: Int32Array;
  readonly count: Int32Array;
}

export function createFollowGraph(n: number, cap: number): FollowGraph {
  return { n, cap, list: new Int32Array(n * cap), count: new Int32Array(n) };
}

export function follows(g: FollowGraph, i: number, j: number): boolean {
  const a = i * g.cap;
  const e = a + g.count[i]!;
  for (let k = a; k < e; k++) if (g.list[k] === j) return true;
  return false;
}

/** i follows j; false when it already does, j is i, or i's row is full. */
export function follow(g: FollowGraph, i: number, j: number): boolean {
  if (i === j || g.count[i]! >= g.cap || follows(g, i, j)) return false;
  g.list[i * g.cap + g.count[i]!] = j;
  g.count[i]!++;
  return true;
}

/** i stops following j; false when it did not. */
export function unfollow(g: FollowGraph, i: number, j: number): boolean {
  const a = i * g.cap;
  const c = g.count[i]!;
  for (let k = a; k < a + c; k++) {
    if (g.list[k] === j) {
      g.list[k] = g.list[a + c - 1]!;
      g.count[i] = c - 1;
      return true;
    }
  }
  return false;
}
