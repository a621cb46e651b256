/**
 * The Bradley-Terry model from pairwise win counts: P(i beats j) = p_i / (p_i + p_j), strengths
 * p_i > 0 (Bradley & Terry 1952), fitted by maximum likelihood. In the log-strengths
 * theta_i = log p_i the log-likelihood
 *
 *   l(theta) = sum_{i != j} w_ij log sigma(theta_i - theta_j),   sigma(x) = 1 / (1 + e^-x),
 *
 * is concave (a sum of log-sigmoids of linear functions), so civitas maximises it by Newton's
 * method with a backtracking line search (see `newton`), which converges from any start and
 * quadratically near the maximum. (Hunter's MM iteration, 2004, Ann. Statist. 32(1), eq. 3, used
 * before, converges at a rate set by the flattest direction, and stopped after 10,000 steps far
 * from the optimum on long chains of unanimous wins.) W_i is the weight of i's wins and
 * n_ij = w_ij + w_ji the weight of comparisons between i and j.
 *
 * When the MLE exists. Hunter's Assumption 1: for every split of the alternatives into two
 * non-empty sets, some alternative of the first beats some alternative of the second, i.e. the
 * directed "i beat j" graph is strongly connected. Otherwise (an alternative never wins, never
 * loses, is never compared, or a group of alternatives only ever beats the rest) the likelihood has
 * no maximum: some strengths run to 0 or infinity.
 *
 * What civitas does then (a choice; pref_voting has no Bradley-Terry): a prior in the form of
 * pseudo-comparisons against a virtual opponent. Every alternative gets `prior` virtual wins and
 * `prior` virtual losses against a virtual alternative whose strength is held at 1 (theta = 0),
 * and Newton's method maximises the augmented log-likelihood, l(theta) + prior sum_i [log
 * sigma(theta_i) + log sigma(-theta_i)]: strictly concave, so its maximum exists and is unique
 * (holding the opponent fixed replaces the normalisation). This shrinks every log-strength towards the same value, keeps the
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
  /** Newton steps at most; default 200 (a fit takes a few dozen at most). Not converging is reported (`converged: false` and a warning), not thrown. */
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

const DEFAULTS = { tolerance: 1e-10, maxIterations: 200, tieTolerance: 1e-9 };

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
 * where i beat j; the diagonal is ignored), by Newton's method. See the module comment for
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
  const name = (i: number) => (options.names?.[i] !== undefined ? JSON.stringify(options.names[i]) : `alternative ${i + 1}`);
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

  const theta = new Float64Array(m);
  if (options.initial !== undefined) {
    if (options.initial.length !== m) throw new CivitasError("usage", `Bradley-Terry: ${options.initial.length} initial strengths for ${m} alternatives`);
    for (let i = 0; i < m; i++) {
      const v = options.initial[i]!;
      if (!(Number.isFinite(v) && v > 0)) throw new CivitasError("usage", `Bradley-Terry: initial strength ${i + 1} is ${v}, must be > 0`);
      theta[i] = Math.log(v);
    }
  }
  const { iterations, converged } = newton(pairs, m, prior, theta, tolerance, maxIterations);
  if (!converged) warnings.push(`Newton's method stopped after ${iterations} iterations without converging to ${tolerance}`);

  const logLikelihood = objective(pairs, theta, 0);
  let top = -Infinity;
  for (const t of theta) top = Math.max(top, t);
  const strengths = Array.from(theta, (t) => Math.exp(t - top));
  normaliseArray(strengths);
  const mean = m > 0 ? theta.reduce((x, y) => x + y, 0) / m : 0;
  const scores = Array.from(theta, (t) => t - mean);
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

/** log(sigma(x)) = -log(1 + e^-x), without overflow. */
function logSigmoid(x: number): number {
  return x >= 0 ? -Math.log1p(Math.exp(-x)) : x - Math.log1p(Math.exp(x));
}

function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

/**
 * The regularised log-likelihood in the log-strengths theta:
 *   sum over compared pairs of w_ab log sigma(theta_a - theta_b) + w_ba log sigma(theta_b - theta_a)
 *   + prior * sum_i [log sigma(theta_i) + log sigma(-theta_i)]   (a win and a loss against theta = 0).
 */
function objective(pairs: Pairs, theta: ArrayLike<number>, prior: number): number {
  let f = 0;
  for (let k = 0; k < pairs.a.length; k++) {
    const d = theta[pairs.a[k]!]! - theta[pairs.b[k]!]!;
    if (pairs.wab[k]! > 0) f += pairs.wab[k]! * logSigmoid(d);
    if (pairs.wba[k]! > 0) f += pairs.wba[k]! * logSigmoid(-d);
  }
  if (prior > 0) for (let i = 0; i < theta.length; i++) f += prior * (logSigmoid(theta[i]!) + logSigmoid(-theta[i]!));
  return f;
}

/**
 * Newton's method with a backtracking (Armijo) line search on the objective above, which is
 * concave in theta: strictly so with prior > 0 (the virtual games add 2 prior sigma(1 - sigma) to
 * every diagonal entry of -H), and with prior 0 strictly so once theta's last coordinate is held
 * fixed, when the win graph is strongly connected (the MLE exists). A Newton step with a line
 * search converges to the unique maximum of such a function from any start, quadratically near it,
 * however far apart the strengths are (Boyd & Vandenberghe 2004, 9.5.3) — where Hunter's MM step,
 * whose rate is set by the smallest curvature, crawls (10,000 MM steps left the chain
 * `100000: 1,...,8` far from its optimum). Updates theta in place.
 *
 *   g_i  = wins_i - sum_j n_ij sigma(theta_i - theta_j) + prior (1 - 2 sigma(theta_i))
 *   -H_ii = sum_j n_ij s_ij (1 - s_ij) + 2 prior sigma(theta_i)(1 - sigma(theta_i)),  -H_ij = -n_ij s_ij (1 - s_ij)
 */
function newton(pairs: Pairs, m: number, prior: number, theta: Float64Array, tolerance: number, maxIterations: number): { iterations: number; converged: boolean } {
  // With prior 0 the likelihood does not see a common shift: hold the last log-strength fixed.
  const free = prior > 0 ? m : m - 1;
  if (free <= 0) return { iterations: 0, converged: true };
  const g = new Float64Array(m);
  const A = new Float64Array(free * free);
  const step = new Float64Array(free);
  const trial = new Float64Array(m);
  let f = objective(pairs, theta, prior);
  for (let iterations = 1; iterations <= maxIterations; iterations++) {
    g.fill(0);
    A.fill(0);
    for (let k = 0; k < pairs.a.length; k++) {
      const a = pairs.a[k]!;
      const b = pairs.b[k]!;
      const n = pairs.n[k]!;
      const s = sigmoid(theta[a]! - theta[b]!);
      const r = pairs.wab[k]! - n * s;
      g[a]! += r;
      g[b]! -= r;
      const h = n * s * (1 - s);
      if (a < free) A[a * free + a]! += h;
      if (b < free) A[b * free + b]! += h;
      if (a < free && b < free) {
        A[a * free + b]! -= h;
        A[b * free + a]! -= h;
      }
    }
    if (prior > 0) {
      for (let i = 0; i < m; i++) {
        const s = sigmoid(theta[i]!);
        g[i]! += prior * (1 - 2 * s);
        A[i * free + i]! += 2 * prior * s * (1 - s);
      }
    }
    solveSpd(A, free, g, step);
    let decrement = 0;
    let largest = 0;
    for (let i = 0; i < free; i++) {
      decrement += g[i]! * step[i]!;
      largest = Math.max(largest, Math.abs(step[i]!));
    }
    if (!Number.isFinite(largest)) return { iterations, converged: false };
    // Backtracking: halve the step until the objective rises enough (allowing for its rounding
    // error, so that a step inside the last bits near the maximum is still taken).
    const slack = 16 * Number.EPSILON * (1 + Math.abs(f));
    let t = 1;
    let next = f;
    for (;;) {
      trial.set(theta);
      for (let i = 0; i < free; i++) trial[i] = theta[i]! + t * step[i]!;
      next = objective(pairs, trial, prior);
      if (next >= f + 1e-4 * t * decrement - slack) break;
      t /= 2;
      if (t < 1e-12) return { iterations, converged: largest <= tolerance };
    }
    theta.set(trial);
    f = next;
    if (t * largest <= tolerance) return { iterations, converged: true };
  }
  return { iterations: maxIterations, converged: false };
}

/**
 * Solves A x = b for a symmetric positive definite A (n x n, row-major; overwritten by its
 * Cholesky factor) by Cholesky. Should rounding leave A not positive definite (strengths so far
 * apart that some curvature underflows), a small ridge is added to the diagonal, which still
 * gives an ascent direction.
 */
function solveSpd(A: Float64Array, n: number, b: ArrayLike<number>, x: Float64Array): void {
  const original = A.slice();
  let ridge = 0;
  let scale = 0;
  for (let i = 0; i < n; i++) scale = Math.max(scale, Math.abs(A[i * n + i]!));
  for (;;) {
    if (ridge > 0) {
      A.set(original);
      for (let i = 0; i < n; i++) A[i * n + i]! += ridge;
    }
    if (cholesky(A, n)) break;
    ridge = ridge === 0 ? Math.max(scale, 1e-300) * 1e-12 : ridge * 100;
  }
  // L y = b, then L^T x = y.
  for (let i = 0; i < n; i++) {
    let s = b[i]!;
    for (let k = 0; k < i; k++) s -= A[i * n + k]! * x[k]!;
    x[i] = s / A[i * n + i]!;
  }
  for (let i = n - 1; i >= 0; i--) {
    let s = x[i]!;
    for (let k = i + 1; k < n; k++) s -= A[k * n + i]! * x[k]!;
    x[i] = s / A[i * n + i]!;
  }
}

/** In-place Cholesky factor (lower triangle) of a row-major n x n matrix; false when not positive definite. */
function cholesky(A: Float64Array, n: number): boolean {
  for (let j = 0; j < n; j++) {
    let d = A[j * n + j]!;
    for (let k = 0; k < j; k++) d -= A[j * n + k]! * A[j * n + k]!;
    if (!(d > 0)) return false;
    const l = Math.sqrt(d);
    A[j * n + j] = l;
    for (let i = j + 1; i < n; i++) {
      let s = A[i * n + j]!;
      for (let k = 0; k < j; k++) s -= A[i * n + k]! * A[j * n + k]!;
      A[i * n + j] = s / l;
    }
  }
  return true;
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
