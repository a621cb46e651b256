/**
 * Polis conversations: find a conversation's opinion groups the way Polis does. The export is read
 * by polis-export.ts; PCA, k-means, the silhouette and the adjusted Rand index are in their own
 * files (pca.ts, kmeans.ts, silhouette.ts, adjusted-rand.ts), Polis' statistics in polis-repness.ts.
 *
 * The method follows the Polis math worker (compdemocracy/polis, `math/src/polismath/`, Clojure):
 * - `math/conversation.clj` (`base-conv-update-graph`, `small-conv-update-graph`):
 *   - **participants** (`:in-conv`): those with at least min(7, number of comments) votes (passes
 *     count; votes on moderated-out comments count), counted on the raw matrix; if fewer than 15
 *     qualify, the most active others are added until there are 15.
 *   - **moderation** (`:rating-mat`, `named_matrix.clj` `zero-out-columns`, `mod-update`): a
 *     comment with `moderated = -1` is "mod-out"; its whole column is set to 0 (every participant,
 *     shown or not) before PCA and projection. Comments with 0 (unmoderated) or 1 stay in.
 *   - **missing votes** (`:mat`): replaced by the column mean of the votes cast (over every
 *     participant, not only those kept), for PCA only.
 *   - **PCA** (`math/pca.clj` `powerit-pca`): the column-centred imputed matrix of *every*
 *     participant, 2 components by power iteration from a random start vector, the second after
 *     deflating the first (`factor-matrix`).
 *   - **projection** (`sparsity-aware-project-ptpt`): each participant's (vote - centre) . pc over
 *     the comments they voted on (a zeroed mod-out column counts as voted), scaled by
 *     sqrt(comments / max(votes, 1)), pushing sparse voters out from the centre.
 *   - **base clusters** (`:base-clusters`, `clusters.clj` `kmeans`): k-means with k = 100 on the
 *     projections of the kept participants, started from the first 100 distinct points
 *     (`init-clusters`); empty clusters are dropped.
 *   - **groups** (`:group-clusterings`): k-means of the base-cluster centres weighted by their sizes,
 *     for k = 2 .. min(5, 2 + floor(base clusters / 12)) (`max-k-fn`); k is the one with the largest
 *     silhouette (`clusters.clj` `silhouette`: over the base-cluster centres, unweighted; a member
 *     alone in its cluster scores 0). A participant's group is its base cluster's group.
 *   - **group votes** (`:votes-base`, `group-votes`): per group and comment, agrees A, disagrees D
 *     and votes seen S (passes included) over the raw matrix of the group's members.
 *   - **group-aware consensus** (`:group-aware-consensus`): the product over groups of
 *     (A + 1) / (S + 2).
 * - `math/repness.clj`: per group and comment, pa = (1 + A) / (2 + S), pd likewise, their
 *   one-proportion z statistics (`stats.clj` `prop-test`), ra = pa / p-agree of everyone else with
 *   the same pseudo-counts, and the two-proportion z (`two-prop-test`); `select-rep-comments` keeps
 *   up to 5 comments per group that pass both tests at 90% (z > 1.2816), best agree first.
 *
 * Departures (a one-shot computation on a final snapshot, where Polis updates incrementally):
 * - Polis warm-starts every update from the last one (PCA start vectors, base and group clusters
 *   via `clean-start-clusters`, and a k "smoother" that switches k only after 4 consecutive updates
 *   agree). Here everything starts from scratch: PCA from a seeded random vector, run to
 *   convergence (up to 1,000 iterations; Polis does 100 per update, warm-started); group k-means
 *   from seeded k-means++ starts (10 restarts, lowest weighted inertia kept; the Python port
 *   `delphi/polismath/pca_kmeans_rep/clusters.py` also seeds a k-means++ start), k chosen from this
 *   snapshot alone. Polis' `in-conv` set only grows, so a participant let in early (the "top 15"
 *   rule when a conversation starts) stays in; a snapshot cannot know that.
 * - k-means iterates until no assignment changes (at most 100 iterations); Polis stops when every
 *   centre moved less than 0.01 (and the group k-means, given `:cluster-iters` that `kmeans` does
 *   not read, stops after its default 20 iterations).
 * - The sign of each component is fixed: its first entry that is not ~0 is positive (Polis' is arbitrary).
 * - Group ids are 0..k-1 by decreasing size (Polis numbers them by its cluster ids).
 * - Moderated-out comments are left out of every list of comments (consensus, agreed by all,
 *   divisive, representative); Polis leaves them out of repness and consensus selection, and the
 *   client hides them. Their agree shares are still reported (arrays are indexed by comment).
 * - Divisiveness (not a Polis quantity) is the spread max - min over groups of the smoothed agree
 *   share (A + 1) / (S + 2), so a comment seen by one member of a small group is not extreme.
 * - "Agreed by every group": in every group more than half of the votes seen are agrees
 *   (equivalently (A + 1) / (S + 2) > 1/2).
 */
import { CivitasError } from "../errors.js";
import { adjustedRandIndex } from "./adjusted-rand.js";
import { kmeans } from "./kmeans.js";
import { imputeColumnMeans, powerIterationPca, projectSparse, type Pca } from "./pca.js";
import type { PolisComment, PolisData } from "./polis-export.js";
import { commentStats, selectRepComments, type PolisRepComment } from "./polis-repness.js";
import { silhouette } from "./silhouette.js";

export interface PolisGroupsOptions {
  /** Seed of the PCA start vectors and the group k-means starts. Default 0. */
  readonly seed?: number;
  /** Votes a participant needs to be clustered: min(minVotes, comments). Default 7 (Polis). */
  readonly minVotes?: number;
  /** Numbers of groups tried, inclusive; further capped at 2 + floor(base clusters / 12) as Polis does. Default [2, 5]. */
  readonly kRange?: readonly [number, number];
  /** Base clusters. Default 100 (Polis' `:base-k`). */
  readonly baseK?: number;
  /** k-means++ restarts per k for the groups. Default 10. */
  readonly nInit?: number;
  /**
   * How the group k-means starts: "kmeans++" (seeded, `nInit` restarts; default) or "first-distinct"
   * (the first k base-cluster centres, Polis' `init-clusters`, what Polis does on a conversation's
   * very first update).
   */
  readonly groupInit?: "kmeans++" | "first-distinct";
}

export interface PolisParticipantResult {
  readonly id: number;
  /** Votes cast (passes and votes on moderated-out comments included). */
  readonly votes: number;
  /** Clustered (enough votes; Polis' `in-conv`). */
  readonly inConv: boolean;
  /** The group found (its id), null when not clustered. */
  readonly group: number | null;
  /** The `group-id` of the export. */
  readonly shippedGroup: number | null;
  /** Sparsity-aware projection on the two components. */
  readonly x: number;
  readonly y: number;
}

export interface PolisGroup {
  /** 0..k-1, by decreasing size. */
  readonly id: number;
  /** Participant ids. */
  readonly members: number[];
  readonly size: number;
  /** Per comment (index as `comments`): agrees / votes seen in the group (passes count as seen); NaN when nobody in the group saw it. */
  readonly agreeShare: number[];
  /** Per comment: Polis' smoothed p-agree (A + 1) / (S + 2). */
  readonly pAgree: number[];
  readonly agrees: number[];
  readonly disagrees: number[];
  readonly seen: number[];
  /** Polis' representative comments of the group (`select-rep-comments`). */
  readonly representative: PolisRepComment[];
}

export interface PolisGroupsResult {
  readonly participants: PolisParticipantResult[];
  readonly comments: readonly PolisComment[];
  readonly groups: PolisGroup[];
  readonly k: number;
  /** Silhouette of the chosen clustering over the base-cluster centres (Polis' criterion); null when k = 1. */
  readonly silhouette: number | null;
  /** The same over participants (each participant a point); null when k = 1. */
  readonly participantSilhouette: number | null;
  /** Silhouette of every k tried. */
  readonly silhouettes: { k: number; silhouette: number }[];
  readonly baseClusters: number;
  readonly pca: Pca;
  /** Group-aware consensus (product over groups of (A + 1) / (S + 2)), highest first; moderated-out comments left out. */
  readonly consensus: { comment: number; text: string; score: number }[];
  /** Comments more than half of whose votes seen are agrees in every group, by their lowest group share; moderated-out left out. */
  readonly agreedByAll: { comment: number; text: string; minAgreeShare: number }[];
  /** Comments by the spread (max - min over groups) of (A + 1) / (S + 2), largest first; moderated-out left out. */
  readonly divisive: { comment: number; text: string; spread: number; pAgree: number[] }[];
  /** Adjusted Rand index of the groups found against the export's group-id, over participants that have both; null when none has. */
  readonly ari: number | null;
  /** Participants the ARI compares. */
  readonly ariParticipants: number;
  readonly warnings: string[];
}

/** Polis keeps at least this many participants (`greedy-n` in `:in-conv`). */
export const POLIS_GREEDY_N = 15;

/**
 * Opinion groups of a Polis conversation, as the Polis math worker finds them (see the top of this
 * file for the steps, their sources in compdemocracy/polis and the departures).
 */
export function polisGroups(data: PolisData, options: PolisGroupsOptions = {}): PolisGroupsResult {
  const seed = options.seed ?? 0;
  const minVotes = options.minVotes ?? 7;
  const [kLo, kHi] = options.kRange ?? [2, 5];
  const baseK = options.baseK ?? 100;
  if (!Number.isInteger(minVotes) || minVotes < 0) throw new CivitasError("usage", `minVotes must be a non-negative integer, got ${minVotes}`);
  if (!Number.isInteger(kLo) || !Number.isInteger(kHi) || kLo < 2 || kHi < kLo) {
    throw new CivitasError("usage", `kRange must be two integers 2 <= min <= max, got [${kLo}, ${kHi}]`);
  }
  if (!Number.isInteger(baseK) || baseK < 1) throw new CivitasError("usage", `baseK must be a positive integer, got ${baseK}`);
  const warnings = [...data.warnings];
  const n = data.participants.length;
  const m = data.comments.length;
  if (data.votes.length !== n || data.groupIds.length !== n) throw new CivitasError("usage", `polisGroups: ${n} participants but ${data.votes.length} vote rows and ${data.groupIds.length} group ids`);
  data.votes.forEach((r, i) => {
    if (r.length !== m) throw new CivitasError("usage", `polisGroups: vote row ${i} has ${r.length} entries for ${m} comments`);
  });

  // Participants (`:user-vote-counts`, `:in-conv`), on the raw matrix.
  const counts = data.votes.map((r) => r.reduce((s, v) => s + (Number.isNaN(v) ? 0 : 1), 0));
  const threshold = Math.min(minVotes, m);
  const inConv = counts.map((c) => c >= threshold && c > 0);
  const nIn = inConv.filter(Boolean).length;
  if (nIn < POLIS_GREEDY_N) {
    const extra = counts
      .map((c, i) => ({ c, i }))
      .filter(({ c, i }) => c > 0 && !inConv[i])
      .sort((x, y) => y.c - x.c || x.i - y.i)
      .slice(0, POLIS_GREEDY_N - nIn);
    for (const { i } of extra) inConv[i] = true;
    if (extra.length > 0) warnings.push(`only ${nIn} participant(s) have at least ${threshold} votes; the ${extra.length} most active others were added, as Polis does below ${POLIS_GREEDY_N}`);
  }

  // Moderation (`:rating-mat`): mod-out columns zeroed for everyone.
  const modOut = data.comments.map((c) => c.moderated === -1);
  const rating = data.votes.map((r) => Float64Array.from(r, (v, j) => (modOut[j] ? 0 : v)));

  // PCA of every participant (`:mat`, `:pca`) and projection (`:proj`).
  const pca = powerIterationPca(imputeColumnMeans(rating), 2, { seed });
  const proj = projectSparse(rating, pca);

  const members = inConv.flatMap((b, i) => (b ? [i] : []));
  if (members.length === 0) throw new CivitasError("input", `${data.files.votes}: no participant has voted; there is nothing to cluster`);
  const participantsOut = (group: readonly number[]): PolisParticipantResult[] =>
    data.participants.map((id, i) => ({
      id,
      votes: counts[i]!,
      inConv: inConv[i]!,
      group: group[i]! < 0 ? null : group[i]!,
      shippedGroup: data.groupIds[i]!,
      x: proj[i]![0] ?? 0,
      y: proj[i]![1] ?? 0,
    }));

  // Base clusters (`:base-clusters`).
  const inPoints = members.map((i) => proj[i]!);
  const base = kmeans(inPoints, baseK, { init: "first-distinct", maxIters: 100 });
  const nb = base.centers.length;
  const baseWeights = new Float64Array(nb);
  for (const l of base.labels) baseWeights[l]!++;

  // Groups (`:group-clusterings`, silhouettes, k).
  const kCap = 2 + Math.floor(nb / 12);
  const kMax = Math.min(nb, Math.max(kLo, Math.min(kHi, kCap)));
  if (kCap < kHi && kMax < kHi && nb >= 2) warnings.push(`k capped at ${kMax} (Polis: at most 2 + floor(${nb} base clusters / 12))`);
  const silhouettes: { k: number; silhouette: number }[] = [];
  let bestSil: number | null = null;
  let groupOfBase: ArrayLike<number> = new Int32Array(nb); // all in group 0
  if (nb < 2 || kMax < 2) {
    warnings.push(`only ${nb} distinct base cluster(s): one group`);
  } else {
    for (let k = Math.max(2, kLo); k <= kMax; k++) {
      const km = kmeans(base.centers, k, { weights: baseWeights, init: options.groupInit ?? "kmeans++", seed: seed + k, nInit: options.nInit ?? 10, maxIters: 100 });
      if (km.centers.length < 2) continue;
      const s = silhouette(base.centers, km.labels);
      silhouettes.push({ k: km.centers.length, silhouette: s });
      if (bestSil === null || s > bestSil) {
        bestSil = s;
        groupOfBase = km.labels;
      }
    }
  }

  // Participants' groups, renumbered by decreasing size (ties: the group of the earliest row).
  const rawGroup = new Int32Array(n).fill(-1);
  members.forEach((i, t) => {
    rawGroup[i] = groupOfBase[base.labels[t]!]!;
  });
  const sizes = new Map<number, { size: number; first: number }>();
  rawGroup.forEach((g, i) => {
    if (g < 0) return;
    const s = sizes.get(g);
    if (s) s.size++;
    else sizes.set(g, { size: 1, first: i });
  });
  const order = [...sizes.entries()].sort((a, b) => b[1].size - a[1].size || a[1].first - b[1].first).map(([g]) => g);
  const rename = new Map(order.map((g, k) => [g, k]));
  const group = Array.from(rawGroup, (g) => (g < 0 ? -1 : rename.get(g)!));
  const k = order.length;

  // Group votes (`:votes-base`, `group-votes`) on the raw matrix.
  const A = Array.from({ length: k }, () => new Array<number>(m).fill(0));
  const D = Array.from({ length: k }, () => new Array<number>(m).fill(0));
  const S = Array.from({ length: k }, () => new Array<number>(m).fill(0));
  group.forEach((g, i) => {
    if (g < 0) return;
    const r = data.votes[i]!;
    for (let j = 0; j < m; j++) {
      const v = r[j]!;
      if (Number.isNaN(v)) continue;
      S[g]![j]!++;
      if (v === 1) A[g]![j]!++;
      else if (v === -1) D[g]![j]!++;
    }
  });
  const pAgree = A.map((a, g) => a.map((x, j) => (x + 1) / (S[g]![j]! + 2)));
  const candidates = data.comments.flatMap((c, j) => (c.moderated === -1 ? [] : [j]));

  // Representative comments (math/repness.clj), each group against the rest.
  const totA = new Array<number>(m).fill(0);
  const totD = new Array<number>(m).fill(0);
  const totS = new Array<number>(m).fill(0);
  for (let g = 0; g < k; g++) {
    for (let j = 0; j < m; j++) {
      totA[j]! += A[g]![j]!;
      totD[j]! += D[g]![j]!;
      totS[j]! += S[g]![j]!;
    }
  }
  const groups: PolisGroup[] = order.map((_, g) => {
    const stats = data.comments.map((_c, j) =>
      commentStats(A[g]![j]!, D[g]![j]!, S[g]![j]!, totA[j]! - A[g]![j]!, totD[j]! - D[g]![j]!, totS[j]! - S[g]![j]!),
    );
    const ids = group.flatMap((x, i) => (x === g ? [data.participants[i]!] : []));
    return {
      id: g,
      members: ids,
      size: ids.length,
      agreeShare: A[g]!.map((a, j) => (S[g]![j]! > 0 ? a / S[g]![j]! : NaN)),
      pAgree: pAgree[g]!,
      agrees: A[g]!,
      disagrees: D[g]!,
      seen: S[g]!,
      representative: k > 1 ? selectRepComments(stats, candidates, data.comments) : [],
    };
  });

  // Group-aware consensus, agreed by all, divisive.
  const byComment = <T>(f: (j: number) => T): T[] => candidates.map(f);
  const consensus = byComment((j) => ({
    comment: data.comments[j]!.id,
    text: data.comments[j]!.text,
    score: pAgree.reduce((p, g) => p * g[j]!, 1),
  })).sort((a, b) => b.score - a.score || a.comment - b.comment);
  const agreedByAll = candidates
    .filter((j) => k > 0 && groups.every((g) => g.seen[j]! > 0 && 2 * g.agrees[j]! > g.seen[j]!))
    .map((j) => ({ comment: data.comments[j]!.id, text: data.comments[j]!.text, minAgreeShare: Math.min(...groups.map((g) => g.agreeShare[j]!)) }))
    .sort((a, b) => b.minAgreeShare - a.minAgreeShare || a.comment - b.comment);
  const divisive = byComment((j) => {
    const ps = pAgree.map((g) => g[j]!);
    return { comment: data.comments[j]!.id, text: data.comments[j]!.text, spread: k > 1 ? Math.max(...ps) - Math.min(...ps) : 0, pAgree: ps };
  }).sort((a, b) => b.spread - a.spread || a.comment - b.comment);

  // Against the export's groups.
  const both = group.flatMap((g, i) => (g >= 0 && data.groupIds[i] !== null ? [i] : []));
  let ari: number | null = null;
  if (both.length > 0) {
    ari = adjustedRandIndex(
      both.map((i) => group[i]!),
      both.map((i) => data.groupIds[i]!),
    );
  } else {
    warnings.push("no participant has both a group found and a group-id in the export: no ARI");
  }
  const shippedOnly = data.groupIds.filter((g, i) => g !== null && group[i]! < 0).length;
  if (shippedOnly > 0) warnings.push(`${shippedOnly} participant(s) grouped in the export were not clustered here (fewer than ${threshold} votes); the ARI leaves them out`);

  let participantSilhouette: number | null = null;
  if (k > 1) participantSilhouette = silhouette(members.map((i) => proj[i]!), members.map((i) => group[i]!));

  return {
    participants: participantsOut(group),
    comments: data.comments,
    groups,
    k,
    silhouette: k > 1 ? bestSil : null,
    participantSilhouette,
    silhouettes,
    baseClusters: nb,
    pca,
    consensus,
    agreedByAll,
    divisive,
    ari,
    ariParticipants: both.length,
    warnings,
  };
}
