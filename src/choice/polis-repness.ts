/**
 * Polis' statistics (math/stats.clj) and its representative comments of a group (math/repness.clj).
 */
import type { PolisComment } from "./polis-export.js";

/** `prop-test`: one-proportion z statistic with a +1 pseudo-count on successes and trials. */
export function propTest(successes: number, trials: number): number {
  const s = successes + 1;
  const n = trials + 1;
  return 2 * Math.sqrt(n) * (s / n - 0.5);
}

/** `two-prop-test`: two-proportion z statistic, +1 on each of the four counts; 0 when the pooled share is 1. */
export function twoPropTest(succIn: number, succOut: number, popIn: number, popOut: number): number {
  const s1 = succIn + 1;
  const s2 = succOut + 1;
  const n1 = popIn + 1;
  const n2 = popOut + 1;
  const pHat = (s1 + s2) / (n1 + n2);
  if (pHat === 1) return 0;
  return (s1 / n1 - s2 / n2) / Math.sqrt(pHat * (1 - pHat) * (1 / n1 + 1 / n2));
}

/** `z-sig-90?`: significant at 90%, one-sided. */
export const Z90 = 1.2816;

export interface PolisRepComment {
  /** Comment id. */
  readonly comment: number;
  readonly text: string;
  /** Whether the group is distinguished by agreeing or disagreeing more than the others. */
  readonly repfulFor: "agree" | "disagree";
  /** Agrees (or disagrees) in the group, and the group's votes seen. */
  readonly nSuccess: number;
  readonly nTrials: number;
  /** (1 + nSuccess) / (2 + nTrials). */
  readonly pSuccess: number;
  /** `prop-test` of the share. */
  readonly pTest: number;
  /** The share over the same share among everyone else (ra or rd). */
  readonly repness: number;
  /** `two-prop-test` group against everyone else. */
  readonly repnessTest: number;
  /** Polis' sort key: repness x repnessTest x pSuccess x pTest. */
  readonly metric: number;
  /** The comment Polis shows first as the group's best agreed comment. */
  readonly bestAgree: boolean;
}

export interface CommentStats {
  na: number;
  nd: number;
  ns: number;
  pa: number;
  pd: number;
  pat: number;
  pdt: number;
  ra: number;
  rd: number;
  rat: number;
  rdt: number;
}

export function commentStats(na: number, nd: number, ns: number, restA: number, restD: number, restS: number): CommentStats {
  const pa = (1 + na) / (2 + ns);
  const pd = (1 + nd) / (2 + ns);
  return {
    na,
    nd,
    ns,
    pa,
    pd,
    pat: propTest(na, ns),
    pdt: propTest(nd, ns),
    ra: pa / ((1 + restA) / (2 + restS)),
    rd: pd / ((1 + restD) / (2 + restS)),
    rat: twoPropTest(na, restA, ns, restS),
    rdt: twoPropTest(nd, restD, ns, restS),
  };
}

function finalizeStats(comment: number, text: string, s: CommentStats, bestAgree: boolean): PolisRepComment {
  const agree = s.rat > s.rdt;
  const r = agree
    ? { repfulFor: "agree" as const, nSuccess: s.na, pSuccess: s.pa, pTest: s.pat, repness: s.ra, repnessTest: s.rat }
    : { repfulFor: "disagree" as const, nSuccess: s.nd, pSuccess: s.pd, pTest: s.pdt, repness: s.rd, repnessTest: s.rdt };
  return { comment, text, nTrials: s.ns, ...r, metric: r.repness * r.repnessTest * r.pSuccess * r.pTest, bestAgree };
}

/**
 * Polis' `select-rep-comments` (math/repness.clj) for one group: the comments passing both tests
 * (agree or disagree) at 90%, sorted by the repness metric, the best agreed comment first, at most
 * 5, agrees before disagrees; when none passes, the best agreed comment, or else the comment with
 * the best test. `candidates` are the comment indices to consider (moderated-out left out).
 */
export function selectRepComments(stats: CommentStats[], candidates: readonly number[], comments: readonly PolisComment[]): PolisRepComment[] {
  const sufficient: number[] = [];
  let best: PolisRepComment | null = null;
  let bestAgree: number | null = null;
  for (const c of candidates) {
    const s = stats[c]!;
    if ((s.rat > Z90 && s.pat > Z90) || (s.rdt > Z90 && s.pdt > Z90)) sufficient.push(c);
    if (sufficient.length === 0 && (best === null || Math.max(s.rat, s.rdt) > best.repnessTest)) {
      best = finalizeStats(comments[c]!.id, comments[c]!.text, s, false);
    }
    // beats-best-agr?
    let beats: boolean;
    const cur = bestAgree === null ? null : stats[bestAgree]!;
    if (s.na === 0 && s.nd === 0) beats = false;
    else if (cur !== null && cur.ra > 1.0) beats = s.ra * s.rat * s.pa * s.pat > cur.ra * cur.rat * cur.pa * cur.pat;
    else if (cur !== null) beats = s.pa * s.pat > cur.pa * cur.pat;
    else beats = s.pat > Z90 || (s.ra > 1.0 && s.pa > 0.5);
    if (beats) bestAgree = c;
  }
  const agreeHead = bestAgree === null ? null : finalizeStats(comments[bestAgree]!.id, comments[bestAgree]!.text, stats[bestAgree]!, true);
  if (sufficient.length === 0) return agreeHead ? [agreeHead] : best ? [best] : [];
  const sorted = sufficient
    .filter((c) => c !== bestAgree)
    .map((c) => finalizeStats(comments[c]!.id, comments[c]!.text, stats[c]!, false))
    .sort((x, y) => y.metric - x.metric);
  const top = [...(agreeHead ? [agreeHead] : []), ...sorted].slice(0, 5);
  return [...top.filter((r) => r.repfulFor === "agree"), ...top.filter((r) => r.repfulFor === "disagree")];
}
