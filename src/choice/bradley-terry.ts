/**
 * The Bradley-Terry model from pairwise win counts: P(i beats j) = p_i / (p_i + p_j), strengths
 * p_i > 0 (Bradley & Terry 1952), fitted by maximum likelihood with the MM algorithm of Hunter
 * (2004, "MM algorithms for generalized Bradley-Terry models", Ann. Statist. 32(1), eq. 3):
 *
 *   p_i <- W_i / sum_{j != i} n_ij / (p_i + p_j),   then p <- p / sum(p)
 *
 * where W_i is the weight of i's wins and n_ij = w_ij + w_ji the weight of comparisons between i and
 * j. Each step raises the log-likelihood; it converges to the MLE when that exists.
 *
 * When the MLE exists. Hunter's Assumption 1: for every split of the alternatives into two
 * non-empty sets, some alternative of the first beats some alternative of the second, i.e. the
 * directed "i beat j" graph is strongly connected. Otherwise (an alternative never wins, never
 * loses, is never compared, or a group of alternatives only ever beats the rest) the likelihood has
 * no maximum: some strengths run to 0 or infinity.
 *
 * What civitas does then (a choice; pref_voting has no Bradley-Terry): a prior in the form of
 * pseudo-comparisons against a virtual opponent. Every alternative gets `prior` virtual wins and
 * `prior` virtual losses against a virtual alternative whose strength is held at 1, and the MM
 * algorithm runs on the augmented data (the virtual opponent links every alternative in both
 * directions, so the augmented MLE always exists; holding its strength fixed replaces the
 * normalisation, and the step is still a minorise-maximise step because Hunter's surrogate
 * separates over the parameters). This shrinks every log-strength towards the same value, keeps the
 * order the data imply, and gives alternatives nobody compared the middle strength. It is the
 * virtual-game prior of Elo-style ratings (Coulom 2008, Whole-History Rating) and a cousin of choix's
 * `alpha` and of the Gamma prior of Caron & Doucet (2012). The prior is in the units of the counts:
 * `prior: 1` is one virtual win and one virtual loss per alternative, negligible beside thousands
 * of voters and strong beside three comparisons.
 *
 * `prior: "auto"` (the default) fits the plain MLE when it exists, and otherwise uses
 * `AUTO_PRIOR` and says why in `warnings`. `prior: 0` insists on the MLE and throws when it does
 * not exist; `prior > 0` always regularises (the estimate then depends on the scale of the counts,
 * which the MLE does not).
 */
import { CivitasError } from "../errors.js";
import { rankingFromScores as tiersByScore, type MarginMatrix } from "./profile.js";

/** One comparison between alternatives (0-based indices): `chosen` was preferred to `rejected`. */
export interface PairwiseComparison {
  readonly chosen: number;
  readonly rejected: number;
  /** Defaults to 1; must be > 0. */
  readonly weight?: number;
}

export interface BradleyTerryOptions {
  /**
   * Pseudo-count of virtual wins and of virtual losses per alternative against a virtual opponent
   * of strength 1 (see the module comment). "auto" (default): 0 when the MLE exists, else AUTO_PRIOR.
   */
  readonly prior?: number | "auto";
  /** Stop when no log-strength moves by more than this in one step. Default 1e-10. */
  readonly tolerance?: number;
  /** Default 10,000. Not converging is reported (`converged: false` and a warning), not thrown. */
  readonly maxIterations?: number;
  /** Starting strengths (> 0), e.g. a previous fit (warm start). Default: all equal. */
  readonly initial?: ArrayLike<number>;
  /** Scores (log-strengths) closer than this are tied in the ranking and the winners. Default 1e-9. */
  readonly tieTolerance?: number;
  /** Alternative names, for warnings (default "alternative <index>"). */
  readonly names?: readonly string[];
}

export interface BradleyTerryResult {
  readonly m: number;
  /** Strengths p_i, summing to 1: P(i beats j) = p_i / (p_i + p_j). */
  readonly strengths: number[];
  /** Log-strengths (natural log) centred at mean 0; higher is better. */
  readonly scores: number[];
  /** Tiers of alternatives, best first (scores within `tieTolerance` tied). */
  readonly ranking: number[][];
  /** The alternatives with the highest score (ties kept). */
  readonly winners: number[];
  readonly iterations: number;
  readonly converged: boolean;
  /** The pseudo-count actually used (0: the plain MLE). */
  readonly prior: number;
  /** Whether the plain MLE exists for these counts (Hunter's Assumption 1). */
  readonly mleExists: boolean;
  /** Log-likelihood of the real comparisons (the virtual ones excluded) at the estimate. */
  readonly logLikelihood: number;
  /** Total weight of the real comparisons. */
  readonly comparisons: number;
  readonly warnings: string[];
}

/** The pseudo-count `prior: "auto"` uses when the MLE does not exist. */
export const AUTO_PRIOR = 1;

const DEFAULTS = { tolerance: 1e-10, maxIterations: 10_000, tieTolerance: 1e-9 };

/** Tiers of indices by score, best first; scores within `tolerance` of a tier's best are tied. */
export function rankingFromScores(scores: ArrayLike<number>, tolerance = DEFAULTS.tieTolerance): number[][] {
  return tiersByScore(scores, tolerance);
}

/** Indices whose value is within `tolerance` of the maximum (the arg max as a set). */
export function argMaxSet(values: ArrayLike<number>, tolerance = 1e-12): number[] {
  let best = -Infinity;
  for (let i = 0; i < values.length; i++) if (values[i]! > best) best = values[i]!;
  const out: number[] = [];
  for (let i = 0; i < values.length; i++) if (best - values[i]! <= tolerance) out.push(i);
  return out;
}

/** Sparse form of a support matrix: the compared unordered pairs, and each alternative's wins. */
interface Pairs {
  readonly a: Int32Array;
  readonly b: Int32Array;
  /** n_ab = w_ab + w_ba */
  readonly n: Float64Array;
  /** w_ab, for the log-likelihood */
  readonly wab: Float64Array;
  readonly wba: Float64Array;
  readonly wins: Float64Array;
  readonly losses: Float64Array;
  readonly total: number;
}

function toPairs(support: Float64Array, m: number): Pairs {
  const a: number[] = [];
  const b: number[] = [];
  const n: number[] = [];
  const wab: number[] = [];
  const wba: number[] = [];
  const wins = new Float64Array(m);
  const losses = new Float64Array(m);
  let total = 0;
  for (let i = 0; i < m; i++) {
    for (let j = i + 1; j < m; j++) {
      const x = support[i * m + j]!;
      const y = support[j * m + i]!;
      if (x + y <= 0) continue;
      a.push(i);
      b.push(j);
      n.push(x + y);
      wab.push(x);
      wba.push(y);
      wins[i]! += x;
      losses[j]! += x;
      wins[j]! += y;
      losses[i]! += y;
      total += x + y;
    }
  }
  return { a: Int32Array.from(a), b: Int32Array.from(b), n: Float64Array.from(n), wab: Float64Array.from(wab), wba: Float64Array.from(wba), wins, losses, total };
}

/** Whether the "i beat j" graph is strongly connected (Hunter 2004, Assumption 1). */
function stronglyConnected(pairs: Pairs, m: number): boolean {
  if (m <= 1) return true;
  const fwd: number[][] = Array.from({ length: m }, () => []);
  const bwd: number[][] = Array.from({ length: m }, () => []);
  for (let k = 0; k < pairs.a.length; k++) {
    const i = pairs.a[k]!;
    const j = pairs.b[k]!;
    if (pairs.wab[k]! > 0) {
      fwd[i]!.push(j);
      bwd[j]!.push(i);
    }
    if (pairs.wba[k]! > 0) {
      fwd[j]!.push(i);
      bwd[i]!.push(j);
    }
  }
  const reachesAll = (adj: number[][]): boolean => {
    const seen = new Uint8Array(m);
    const stack = [0];
    seen[0] = 1;
    let count = 1;
    while (stack.length > 0) {
      const v = stack.pop()!;
      for (const w of adj[v]!) {
        if (seen[w]) continue;
        seen[w] = 1;
        count++;
        stack.push(w);
      }
    }
    return count === m;
  };
  return reachesAll(fwd) && reachesAll(bwd);
}

function describeDegenerate(pairs: Pairs, m: number, names: (i: number) => string): string {
  const never = (pred: (i: number) => boolean) => Array.from({ length: m }, (_, i) => i).filter(pred).map(names);
  const uncompared = never((i) => pairs.wins[i]! + pairs.losses[i]! === 0);
  const noWin = never((i) => pairs.wins[i] === 0 && pairs.losses[i]! > 0);
  const noLoss = never((i) => pairs.losses[i] === 0 && pairs.wins[i]! > 0);
  const parts: string[] = [];
  if (uncompared.length > 0) parts.push(`never compared: ${uncompared.join(", ")}`);
  if (noWin.length > 0) parts.push(`never win: ${noWin.join(", ")}`);
  if (noLoss.length > 0) parts.push(`never lose: ${noLoss.join(", ")}`);
  if (parts.length === 0) parts.push("some group of alternatives is never beaten by the rest");
  return parts.join("; ");
}

function checkSupport(support: Float64Array | MarginMatrix, m: number): Float64Array {
  if (!Number.isInteger(m) || m < 0) throw new CivitasError("usage", `Bradley-Terry: the number of alternatives must be a whole number >= 0, got ${m}`);
  let s: Float64Array;
  if (support instanceof Float64Array) s = support;
  else {
    if (support.m !== m) throw new CivitasError("usage", `Bradley-Terry: the margin matrix is for ${support.m} alternatives, not ${m}`);
    s = support.support;
  }
  if (s.length !== m * m) throw new CivitasError("usage", `Bradley-Terry: a support matrix for ${m} alternatives has ${m * m} entries, got ${s.length}`);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < m; j++) {
      const v = s[i * m + j]!;
      if (i !== j && !(Number.isFinite(v) && v >= 0)) {
        throw new CivitasError("usage", `Bradley-Terry: support[${i}][${j}] = ${v}: win counts must be finite and >= 0`);
      }
    }
  }
  return s;
}

/**
 * Fits the Bradley-Terry model to a support matrix (support[i * m + j] = weight of comparisons
 * where i beat j; the diagonal is ignored), by Hunter's MM algorithm. See the module comment for
 * the prior used when the MLE does not exist.
 */
export function bradleyTerry(support: Float64Array | MarginMatrix, m: number, options: BradleyTerryOptions = {}): BradleyTerryResult {
  const s = checkSupport(support, m);
  const tolerance = options.tolerance ?? DEFAULTS.tolerance;
  const maxIterations = options.maxIterations ?? DEFAULTS.maxIterations;
  const tieTolerance = options.tieTolerance ?? DEFAULTS.tieTolerance;
  if (!(tolerance > 0)) throw new CivitasError("usage", `Bradley-Terry: tolerance must be > 0, got ${tolerance}`);
  if (!(Number.isInteger(maxIterations) && maxIterations >= 1)) throw new CivitasError("usage", `Bradley-Terry: maxIterations must be a whole number >= 1, got ${maxIterations}`);
  const pairs = toPairs(s, m);
  const mleExists = stronglyConnected(pairs, m);
  const warnings: string[] = [];
  const name = (i: number) => (options.names?.[i] !== undefined ? JSON.stringify(options.names[i]) : `alternative ${i}`);
  let prior: number;
  if (options.prior === undefined || options.prior === "auto") {
    prior = mleExists ? 0 : AUTO_PRIOR;
    if (!mleExists) {
      warnings.push(
        `the maximum-likelihood estimate does not exist (${describeDegenerate(pairs, m, name)}): fitted with ${AUTO_PRIOR} virtual win and loss per alternative against a virtual opponent`,
      );
    }
  } else {
    prior = options.prior;
    if (!(Number.isFinite(prior) && prior >= 0)) throw new CivitasError("usage", `Bradley-Terry: prior must be a number >= 0 or "auto", got ${prior}`);
    if (prior === 0 && !mleExists) {
      throw new CivitasError("usage", `Bradley-Terry: the maximum-likelihood estimate does not exist (${describeDegenerate(pairs, m, name)})`, {
        hint: 'give a prior > 0 (pseudo-comparisons against a virtual opponent), or prior "auto"',
      });
    }
  }

  const p = new Float64Array(m);
  if (options.initial !== undefined) {
    if (options.initial.length !== m) throw new CivitasError("usage", `Bradley-Terry: ${options.initial.length} initial strengths for ${m} alternatives`);
    for (let i = 0; i < m; i++) {
      const v = options.initial[i]!;
      if (!(Number.isFinite(v) && v > 0)) throw new CivitasError("usage", `Bradley-Terry: initial strength ${i} is ${v}, must be > 0`);
      p[i] = v;
    }
  } else p.fill(1);
  if (prior === 0) normalise(p);

  const denom = new Float64Array(m);
  let iterations = 0;
  let converged = m <= 1;
  while (!converged && iterations < maxIterations) {
    iterations++;
    denom.fill(0);
    for (let k = 0; k < pairs.a.length; k++) {
      const i = pairs.a[k]!;
      const j = pairs.b[k]!;
      const t = pairs.n[k]! / (p[i]! + p[j]!);
      denom[i]! += t;
      denom[j]! += t;
    }
    let change = 0;
    if (prior === 0) {
      // Hunter's update, then normalisation (the likelihood does not see the scale).
      let sum = 0;
      for (let i = 0; i < m; i++) sum += pairs.wins[i]! / denom[i]!;
      for (let i = 0; i < m; i++) {
        const next = pairs.wins[i]! / denom[i]! / sum;
        change = Math.max(change, Math.abs(Math.log(next / p[i]!)));
        p[i] = next;
      }
    } else {
      // The virtual opponent (strength 1) adds `prior` wins and 2 * prior comparisons.
      for (let i = 0; i < m; i++) {
        const next = (pairs.wins[i]! + prior) / (denom[i]! + (2 * prior) / (p[i]! + 1));
        change = Math.max(change, Math.abs(Math.log(next / p[i]!)));
        p[i] = next;
      }
    }
    converged = change <= tolerance;
  }
  if (!converged) warnings.push(`the MM algorithm stopped after ${iterations} iterations without converging to ${tolerance}`);

  const logLikelihood = logLikelihoodOf(pairs, p);
  const strengths = Array.from(p);
  normaliseArray(strengths);
  const logs = strengths.map((x) => Math.log(x));
  const mean = m > 0 ? logs.reduce((x, y) => x + y, 0) / m : 0;
  const scores = logs.map((x) => x - mean);
  const ranking = rankingFromScores(scores, tieTolerance);
  return {
    m,
    strengths,
    scores,
    ranking,
    winners: ranking[0] ? [...ranking[0]] : [],
    iterations,
    converged,
    prior,
    mleExists,
    logLikelihood,
    comparisons: pairs.total,
    warnings,
  };
}

function normalise(p: Float64Array): void {
  let sum = 0;
  for (const x of p) sum += x;
  for (let i = 0; i < p.length; i++) p[i] = p[i]! / sum;
}

function normaliseArray(p: number[]): void {
  const sum = p.reduce((x, y) => x + y, 0);
  for (let i = 0; i < p.length; i++) p[i] = p[i]! / sum;
}

function logLikelihoodOf(pairs: Pairs, p: ArrayLike<number>): number {
  let ll = 0;
  for (let k = 0; k < pairs.a.length; k++) {
    const pi = p[pairs.a[k]!]!;
    const pj = p[pairs.b[k]!]!;
    const lsum = Math.log(pi + pj);
    if (pairs.wab[k]! > 0) ll += pairs.wab[k]! * (Math.log(pi) - lsum);
    if (pairs.wba[k]! > 0) ll += pairs.wba[k]! * (Math.log(pj) - lsum);
  }
  return ll;
}

/** Log-likelihood of a support matrix under given strengths (any scale): sum_{i != j} w_ij log(p_i / (p_i + p_j)). */
export function bradleyTerryLogLikelihood(support: Float64Array | MarginMatrix, m: number, strengths: ArrayLike<number>): number {
  const s = checkSupport(support, m);
  if (strengths.length !== m) throw new CivitasError("usage", `Bradley-Terry: ${strengths.length} strengths for ${m} alternatives`);
  return logLikelihoodOf(toPairs(s, m), strengths);
}

/** log P(chosen beats rejected) = log(p_c / (p_c + p_r)). */
export function logWinProbability(strengths: ArrayLike<number>, chosen: number, rejected: number): number {
  const pc = strengths[chosen]!;
  return Math.log(pc) - Math.log(pc + strengths[rejected]!);
}

/**
 * The support matrix of a list of comparisons: support[c * m + r] += weight. Errors name the
 * comparison (1-based) when an index is out of range, chosen equals rejected, or a weight is not > 0.
 */
export function supportFromComparisons(comparisons: readonly PairwiseComparison[], m: number): Float64Array {
  const s = new Float64Array(m * m);
  comparisons.forEach((c, k) => {
    const at = `comparison ${k + 1}`;
    for (const [field, v] of [["chosen", c.chosen], ["rejected", c.rejected]] as const) {
      if (!Number.isInteger(v) || v < 0 || v >= m) throw new CivitasError("usage", `${at}: ${field} = ${v} is not one of the ${m} alternatives (0-based)`);
    }
    if (c.chosen === c.rejected) throw new CivitasError("usage", `${at}: chosen and rejected are the same alternative (${c.chosen})`);
    const w = c.weight ?? 1;
    if (!(Number.isFinite(w) && w > 0)) throw new CivitasError("usage", `${at}: weight must be > 0, got ${w}`);
    s[c.chosen * m + c.rejected]! += w;
  });
  return s;
}

/** Bradley-Terry from a list of comparisons over m alternatives (0-based indices). */
export function bradleyTerryFromComparisons(comparisons: readonly PairwiseComparison[], m: number, options: BradleyTerryOptions = {}): BradleyTerryResult {
  return bradleyTerry(supportFromComparisons(comparisons, m), m, options);
}
