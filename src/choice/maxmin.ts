/**
 * MaxMin-RLHF (Chakraborty et al. 2024, "MaxMin-RLHF: Towards Equitable Alignment of Large
 * Language Models with Diverse Human Preferences", ICML): learn a mixture of preference models,
 * one per latent cluster of annotators, by EM, then choose what maximises the utility of the
 * worst-off cluster instead of the average.
 *
 * The model here is nonparametric: each cluster has its own Bradley-Terry strengths over each
 * problem's alternatives (the paper learns a reward network r_phi(x, y) per cluster; with fixed
 * candidate responses a BT model per prompt is the same likelihood without the network).
 *
 * EM, as the paper's Algorithm 1, with hard assignment:
 *   E-step: each annotator joins the cluster whose models give all their comparisons (over every
 *           problem) the highest log-likelihood (ties: the lower cluster).
 *   M-step: each cluster refits its BT models on its members' comparisons (Newton's method, warm
 *           started, with a virtual-opponent prior of `prior` pseudo-wins and losses per
 *           alternative, so that a cluster whose members never saw an alternative lose still has
 *           finite strengths and held-out likelihoods: see bradley-terry.ts).
 *   Stop when no annotator changes cluster (or after maxIterations). Hard EM maximises the
 *   classification likelihood, not the mixture likelihood; it is what the paper does.
 * Initialisation (seeded): K distinct annotators drawn at random, each cluster's first models
 * fitted on one of them alone (k-means-style seeding); `restarts` draws, the one with the highest
 * training log-likelihood kept. A cluster left empty is re-seeded with the annotator its cluster
 * explains worst (per comparison weight).
 *
 * Choosing K (unless `k` is given) by held-out likelihood, cross-validated: each annotator's
 * comparisons are dealt (seeded shuffle) into `folds` parts (default 5, so 20% held out at a time;
 * an annotator with one comparison is never held out). For each fold and each K in 1..maxK the
 * clusters are fitted on the other parts, and each annotator's held-out comparisons are scored under
 * the cluster their training comparisons chose; the held-out log-likelihoods are summed over folds,
 * so every comparison is held out exactly once. A single 20% split was too noisy: on synthetic
 * data with two planted clusters it picked K = 3 or 4 in 7 of 30 draws; 5 folds picked 2 in 20 of
 * 20 (and K = 1 in 20 of 20 without clusters). `rule: "max"` (default) takes the K with the highest
 * held-out log-likelihood (ties: the smaller K); `rule: "one-se"` the smallest K within one
 * standard error (paired over annotators) of it, which prefers fewer clusters. The default leans
 * the other way on purpose: for max-min, merging a real minority into the majority defeats the
 * purpose, while splitting a homogeneous cluster yields near-equal utilities and barely moves the
 * choice. The clusters are then refitted on all comparisons.
 *
 * Utility (a choice): a cluster's utility for alternative i is the BT probability that i beats an
 * alternative drawn uniformly from the others, u_k(i) = 1/(m-1) sum_{j != i} p_i / (p_i + p_j). It is
 * in (0, 1), 0.5 for an average alternative, and comparable across clusters: log-strengths are
 * not (their spread measures how decisive a cluster is, and the BT reward is identified only up to
 * a constant per prompt). Max-min choice: argmax_i min_k u_k(i) over the clusters whose members
 * compared anything in that problem (a cluster with no comparisons has no opinion there). Beside
 * it the utilitarian choice, argmax_i of the mean of u_k(i) weighted by cluster size (one annotator,
 * one vote). Ties are kept as sets.
 */
import { seededRng, type Rng } from "../metrics/index.js";
import { CivitasError } from "../errors.js";
import { argMaxSet, bradleyTerry, type BradleyTerryResult } from "./bradley-terry.js";

/** A comparison tagged with its problem; chosen and rejected index that problem's alternatives. */
export interface LocatedComparison {
  readonly problem: number;
  readonly chosen: number;
  readonly rejected: number;
  readonly weight?: number;
}

/** What MaxMin needs; `ComparisonData` (comparisons.ts) is one. */
export interface MaxMinInput {
  readonly problems: readonly { readonly alternatives: readonly string[] }[];
  readonly annotators: readonly { readonly id: string; readonly comparisons: readonly LocatedComparison[] }[];
}

export interface MaxMinOptions {
  /** Fit exactly this many clusters (no held-out selection). */
  readonly k?: number;
  /** Largest K tried by held-out selection. Default 4 (at most the number of annotators). */
  readonly maxK?: number;
  /** Default 0. */
  readonly seed?: number;
  /** Random initialisations per fit. Default 10. */
  readonly restarts?: number;
  /** EM iterations per initialisation. Default 100. */
  readonly maxIterations?: number;
  /** Cross-validation folds over each annotator's comparisons (each fold holds out 1/folds of them). Default 5. */
  readonly folds?: number;
  /** "max" (default): the K with the best held-out likelihood; "one-se": the smallest K within one standard error of it. */
  readonly rule?: "one-se" | "max";
  /** Pseudo-count of the clusters' Bradley-Terry prior. Default 1. */
  readonly prior?: number;
  /** Utilities closer than this to the best are tied. Default 1e-12. */
  readonly tieTolerance?: number;
}

export interface KSelection {
  readonly k: number;
  /** Log-likelihood of the training comparisons under the fitted clusters, mean over the folds. */
  readonly trainLogLikelihood: number;
  /** Log-likelihood of the held-out comparisons, each annotator under their training cluster, summed over the folds. */
  readonly heldOutLogLikelihood: number;
  /** Standard error of the difference between the best K's held-out log-likelihood and this one's (paired over annotators). */
  readonly standardError: number;
  /** Weight of the held-out comparisons. */
  readonly heldOut: number;
}

export interface MaxMinCluster {
  /** Annotator ids, in input order. */
  readonly members: string[];
  /** Their indices in the input. */
  readonly memberIndices: number[];
  readonly size: number;
  /** Weight of the members' comparisons. */
  readonly weight: number;
  /** The cluster's Bradley-Terry fit per problem (ranking, winners, strengths, scores). */
  readonly models: BradleyTerryResult[];
  /** Per problem, the weight of the members' comparisons there (0: no opinion). */
  readonly comparisonsPerProblem: number[];
}

export interface MaxMinChoice {
  readonly problem: number;
  /** utilities[cluster][alternative]: win probability against a random other alternative. */
  readonly utilities: number[][];
  /** Clusters that compared something in this problem (the others have no say). */
  readonly clusters: number[];
  readonly maxmin: { readonly winners: number[]; readonly values: number[] };
  readonly utilitarian: { readonly winners: number[]; readonly values: number[] };
}

export interface MaxMinResult {
  readonly k: number;
  /** Held-out selection of K, one row per K tried; null when `k` was given. */
  readonly selection: KSelection[] | null;
  /** Largest first (ties: the one with the earliest member). */
  readonly clusters: MaxMinCluster[];
  /** assignment[annotator] = cluster index, or -1 for annotators without comparisons. */
  readonly assignment: number[];
  /** Log-likelihood of all comparisons under the final clusters. */
  readonly logLikelihood: number;
  /** EM iterations of the kept initialisation, and whether its assignment stopped changing. */
  readonly iterations: number;
  readonly converged: boolean;
  readonly choices: MaxMinChoice[];
  readonly warnings: string[];
}

const DEFAULTS = { maxK: 4, seed: 0, restarts: 10, maxIterations: 100, folds: 5, rule: "max" as "one-se" | "max", prior: 1, tieTolerance: 1e-12 };
/** Inner Bradley-Terry fits need less precision than a reported fit. */
const BT_TOLERANCE = 1e-8;

/** u(i) = 1/(m-1) sum_{j != i} p_i / (p_i + p_j): the probability that i beats a random other alternative. */
export function winProbabilityUtilities(strengths: ArrayLike<number>): number[] {
  const m = strengths.length;
  if (m === 1) return [1];
  const u: number[] = [];
  for (let i = 0; i < m; i++) {
    let s = 0;
    const pi = strengths[i]!;
    for (let j = 0; j < m; j++) if (j !== i) s += pi / (pi + strengths[j]!);
    u.push(s / (m - 1));
  }
  return u;
}

/**
 * Max-min and utilitarian choices from utilities[group][alternative] (weights: the groups' sizes,
 * default equal). Ties within `tolerance` are kept.
 */
export function maxMinChoice(
  utilities: readonly (readonly number[])[],
  weights: readonly number[] = utilities.map(() => 1),
  tolerance = DEFAULTS.tieTolerance,
): { maxmin: { winners: number[]; values: number[] }; utilitarian: { winners: number[]; values: number[] } } {
  if (utilities.length === 0) throw new CivitasError("usage", "max-min choice: no groups");
  const m = utilities[0]!.length;
  if (utilities.some((u) => u.length !== m)) throw new CivitasError("usage", "max-min choice: every group needs a utility for each alternative");
  if (weights.length !== utilities.length || weights.some((w) => !(w >= 0))) throw new CivitasError("usage", "max-min choice: one weight >= 0 per group");
  const total = weights.reduce((a, b) => a + b, 0);
  if (!(total > 0)) throw new CivitasError("usage", "max-min choice: the weights sum to 0");
  const min: number[] = [];
  const mean: number[] = [];
  for (let i = 0; i < m; i++) {
    let lo = Infinity;
    let s = 0;
    utilities.forEach((u, g) => {
      lo = Math.min(lo, u[i]!);
      s += weights[g]! * u[i]!;
    });
    min.push(lo);
    mean.push(s / total);
  }
  return { maxmin: { winners: argMaxSet(min, tolerance), values: min }, utilitarian: { winners: argMaxSet(mean, tolerance), values: mean } };
}

/** Flat comparisons of one annotator. */
interface Flat {
  problem: number[];
  chosen: number[];
  rejected: number[];
  weight: number[];
}

const emptyFlat = (): Flat => ({ problem: [], chosen: [], rejected: [], weight: [] });

function pushFlat(f: Flat, c: LocatedComparison): void {
  f.problem.push(c.problem);
  f.chosen.push(c.chosen);
  f.rejected.push(c.rejected);
  f.weight.push(c.weight ?? 1);
}

/** strengths[cluster][problem] */
type Models = Float64Array[][];

function logLik(f: Flat, models: Float64Array[]): number {
  let ll = 0;
  for (let c = 0; c < f.problem.length; c++) {
    const p = models[f.problem[c]!]!;
    const pc = p[f.chosen[c]!]!;
    ll += f.weight[c]! * Math.log(pc / (pc + p[f.rejected[c]!]!));
  }
  return ll;
}

interface Fit {
  assignment: number[];
  models: Models;
  logLikelihood: number;
  iterations: number;
  converged: boolean;
}

class Fitter {
  constructor(
    private readonly sizes: readonly number[],
    private readonly data: readonly Flat[],
    private readonly prior: number,
    private readonly maxIterations: number,
  ) {}

  /** BT models of one cluster fitted on the given annotators. */
  fitCluster(members: readonly number[], warm: Float64Array[] | undefined, tolerance = BT_TOLERANCE): { models: Models[number]; fits: BradleyTerryResult[] } {
    const supports = this.sizes.map((m) => new Float64Array(m * m));
    for (const a of members) {
      const f = this.data[a]!;
      for (let c = 0; c < f.problem.length; c++) {
        const m = this.sizes[f.problem[c]!]!;
        supports[f.problem[c]!]![f.chosen[c]! * m + f.rejected[c]!]! += f.weight[c]!;
      }
    }
    const fits = supports.map((s, p) =>
      bradleyTerry(s, this.sizes[p]!, { prior: this.prior, tolerance, maxIterations: 10_000, ...(warm ? { initial: warm[p]! } : {}) }),
    );
    return { models: fits.map((r) => Float64Array.from(r.strengths)), fits };
  }

  /** One EM run from K seed annotators. */
  run(seeds: readonly number[], annotators: readonly number[]): Fit {
    const K = seeds.length;
    let models: Models = seeds.map((a) => this.fitCluster([a], undefined).models);
    let assignment = new Array<number>(this.data.length).fill(-1);
    let iterations = 0;
    let converged = false;
    let lls = new Map<number, number>();
    while (iterations < this.maxIterations) {
      iterations++;
      // E-step
      const next = new Array<number>(this.data.length).fill(-1);
      lls = new Map();
      for (const a of annotators) {
        let best = 0;
        let bestLl = -Infinity;
        for (let k = 0; k < K; k++) {
          const ll = logLik(this.data[a]!, models[k]!);
          if (ll > bestLl) {
            bestLl = ll;
            best = k;
          }
        }
        next[a] = best;
        lls.set(a, bestLl);
      }
      this.fillEmpty(next, annotators, lls, K);
      if (iterations > 1 && next.every((k, a) => k === assignment[a])) {
        converged = true;
        break;
      }
      assignment = next;
      // M-step
      models = Array.from({ length: K }, (_, k) => this.fitCluster(annotators.filter((a) => assignment[a] === k), models[k]).models);
    }
    let total = 0;
    for (const a of annotators) total += logLik(this.data[a]!, models[assignment[a]!]!);
    return { assignment, models, logLikelihood: total, iterations, converged };
  }

  /** Moves, into each empty cluster, the annotator worst explained (per comparison weight) among clusters of two or more. */
  private fillEmpty(assignment: number[], annotators: readonly number[], lls: Map<number, number>, K: number): void {
    for (let k = 0; k < K; k++) {
      const sizes = new Array<number>(K).fill(0);
      for (const a of annotators) sizes[assignment[a]!]!++;
      if (sizes[k]! > 0) continue;
      let worst = -1;
      let worstScore = Infinity;
      for (const a of annotators) {
        if (sizes[assignment[a]!]! < 2) continue;
        const w = this.data[a]!.weight.reduce((x, y) => x + y, 0);
        const score = lls.get(a)! / w;
        if (score < worstScore) {
          worstScore = score;
          worst = a;
        }
      }
      if (worst >= 0) assignment[worst] = k;
    }
  }

  /** The best of `restarts` seeded EM runs. */
  best(K: number, annotators: readonly number[], rng: Rng, restarts: number): Fit {
    let best: Fit | undefined;
    for (let r = 0; r < restarts; r++) {
      const pool = [...annotators];
      const seeds: number[] = [];
      for (let k = 0; k < K; k++) {
        const j = rng.int(k, pool.length - 1);
        [pool[k], pool[j]] = [pool[j]!, pool[k]!];
        seeds.push(pool[k]!);
      }
      const fit = this.run(seeds, annotators);
      if (best === undefined || fit.logLikelihood > best.logLikelihood) best = fit;
    }
    return best!;
  }
}

function checkInput(input: MaxMinInput): { sizes: number[]; data: Flat[]; active: number[]; warnings: string[] } {
  const sizes = input.problems.map((p) => p.alternatives.length);
  const warnings: string[] = [];
  const data: Flat[] = [];
  const active: number[] = [];
  const empty: string[] = [];
  input.annotators.forEach((a, i) => {
    const f = emptyFlat();
    a.comparisons.forEach((c, n) => {
      const at = `annotator ${a.id}, comparison ${n + 1}`;
      const m = sizes[c.problem];
      if (m === undefined || !Number.isInteger(c.problem)) throw new CivitasError("usage", `${at}: problem ${c.problem} is not one of the ${sizes.length}`);
      for (const [field, v] of [["chosen", c.chosen], ["rejected", c.rejected]] as const) {
        if (!Number.isInteger(v) || v < 0 || v >= m) throw new CivitasError("usage", `${at}: ${field} = ${v} is not one of the ${m} alternatives of problem ${c.problem}`);
      }
      if (c.chosen === c.rejected) throw new CivitasError("usage", `${at}: chosen and rejected are the same alternative`);
      const w = c.weight ?? 1;
      if (!(Number.isFinite(w) && w > 0)) throw new CivitasError("usage", `${at}: weight must be > 0, got ${w}`);
      pushFlat(f, c);
    });
    data.push(f);
    if (f.problem.length > 0) active.push(i);
    else empty.push(a.id);
  });
  if (empty.length > 0) warnings.push(`${empty.length} annotators have no comparisons and are not clustered: ${empty.slice(0, 5).join(", ")}${empty.length > 5 ? ", ..." : ""}`);
  if (active.length === 0) throw new CivitasError("usage", "MaxMin-RLHF: no annotator has any comparison");
  return { sizes, data, active, warnings };
}

/**
 * Deals each annotator's comparisons (in a seeded shuffle) into `folds` held-out parts: the
 * comparison at shuffled position r is held out in fold r mod folds. An annotator with a single
 * comparison is never held out (they would have nothing left to be assigned by).
 */
function crossFolds(data: readonly Flat[], active: readonly number[], folds: number, rng: Rng): { train: Flat[]; test: Flat[] }[] {
  const out = Array.from({ length: folds }, () => ({ train: data.map(() => emptyFlat()), test: data.map(() => emptyFlat()) }));
  for (const a of active) {
    const f = data[a]!;
    const n = f.problem.length;
    const order = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = rng.int(0, i);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    order.forEach((c, r) => {
      const held = n >= 2 ? r % folds : -1;
      const comp = { problem: f.problem[c]!, chosen: f.chosen[c]!, rejected: f.rejected[c]!, weight: f.weight[c]! };
      out.forEach((fold, v) => pushFlat(v === held ? fold.test[a]! : fold.train[a]!, comp));
    });
  }
  return out;
}

/** Derived seeds, so that trying more K does not change the fit of a given K. */
const seedFor = (seed: number, k: number, stage: number) => (seed + 7919 * k + 104_729 * stage) | 0;

/** MaxMin-RLHF: EM clustering of annotators into Bradley-Terry models, K by held-out likelihood, and the max-min choice per problem. */
export function maxMinRlhf(input: MaxMinInput, options: MaxMinOptions = {}): MaxMinResult {
  const seed = options.seed ?? DEFAULTS.seed;
  const restarts = options.restarts ?? DEFAULTS.restarts;
  const maxIterations = options.maxIterations ?? DEFAULTS.maxIterations;
  const folds = options.folds ?? DEFAULTS.folds;
  const rule = options.rule ?? DEFAULTS.rule;
  const prior = options.prior ?? DEFAULTS.prior;
  const tieTolerance = options.tieTolerance ?? DEFAULTS.tieTolerance;
  const whole = (v: number, min: number) => Number.isInteger(v) && v >= min;
  if (!whole(restarts, 1)) throw new CivitasError("usage", `MaxMin-RLHF: restarts must be a whole number >= 1, got ${restarts}`);
  if (!whole(maxIterations, 1)) throw new CivitasError("usage", `MaxMin-RLHF: maxIterations must be a whole number >= 1, got ${maxIterations}`);
  if (!whole(folds, 2)) throw new CivitasError("usage", `MaxMin-RLHF: folds must be a whole number >= 2, got ${folds}`);
  if (!(Number.isFinite(prior) && prior > 0)) throw new CivitasError("usage", `MaxMin-RLHF: prior must be > 0 (held-out likelihoods need finite strengths), got ${prior}`);

  const { sizes, data, active, warnings } = checkInput(input);
  let K: number;
  let selection: KSelection[] | null = null;
  if (options.k !== undefined) {
    K = options.k;
    if (!whole(K, 1)) throw new CivitasError("usage", `MaxMin-RLHF: k must be a whole number >= 1, got ${K}`);
    if (K > active.length) throw new CivitasError("usage", `MaxMin-RLHF: k = ${K} clusters for ${active.length} annotators with comparisons`);
  } else {
    const maxK = options.maxK ?? DEFAULTS.maxK;
    if (!whole(maxK, 1)) throw new CivitasError("usage", `MaxMin-RLHF: maxK must be a whole number >= 1, got ${maxK}`);
    const top = Math.min(maxK, active.length);
    if (top < maxK) warnings.push(`maxK ${maxK} is more than the ${active.length} annotators: tried K up to ${top}`);
    const parts = crossFolds(data, active, folds, seededRng(seedFor(seed, 0, 0)));
    const heldOut = parts.reduce((t, part) => t + active.reduce((u, a) => u + part.test[a]!.weight.reduce((x, y) => x + y, 0), 0), 0);
    if (heldOut === 0) {
      throw new CivitasError("usage", "MaxMin-RLHF: no annotator has two comparisons, so none can be held out and K cannot be chosen by held-out likelihood", {
        hint: "give k",
      });
    }
    // perAnnotator[K - 1][a]: a's held-out log-likelihood summed over the folds.
    const perAnnotator: number[][] = [];
    const train: number[] = [];
    for (let k = 1; k <= top; k++) {
      const h = new Array<number>(data.length).fill(0);
      let t = 0;
      parts.forEach((part, v) => {
        const fit = new Fitter(sizes, part.train, prior, maxIterations).best(k, active, seededRng(seedFor(seed, k, 1 + v)), restarts);
        t += fit.logLikelihood / folds;
        for (const a of active) h[a]! += logLik(part.test[a]!, fit.models[fit.assignment[a]!]!);
      });
      perAnnotator.push(h);
      train.push(t);
    }
    const totals = perAnnotator.map((h) => active.reduce((x, a) => x + h[a]!, 0));
    const best = totals.indexOf(Math.max(...totals));
    // Standard error of the held-out difference to the best K, from the annotators' paired differences.
    const se = perAnnotator.map((h) => {
      const d = active.map((a) => perAnnotator[best]![a]! - h[a]!);
      const mean = d.reduce((x, y) => x + y, 0) / d.length;
      const v = d.length > 1 ? d.reduce((x, y) => x + (y - mean) ** 2, 0) / (d.length - 1) : 0;
      return Math.sqrt(d.length * v);
    });
    selection = totals.map((ll, i) => ({ k: i + 1, trainLogLikelihood: train[i]!, heldOutLogLikelihood: ll, standardError: se[i]!, heldOut }));
    K = rule === "max" ? best + 1 : selection.find((r) => r.heldOutLogLikelihood >= totals[best]! - r.standardError)!.k;
  }

  const fitter = new Fitter(sizes, data, prior, maxIterations);
  const fit = fitter.best(K, active, seededRng(seedFor(seed, K, -1)), restarts);
  if (!fit.converged) warnings.push(`EM stopped after ${fit.iterations} iterations with annotators still changing cluster`);

  // Canonical order: largest cluster first, then by earliest member.
  const membersOf = Array.from({ length: K }, (_, k) => active.filter((a) => fit.assignment[a] === k));
  const order = Array.from({ length: K }, (_, k) => k).sort((x, y) => membersOf[y]!.length - membersOf[x]!.length || (membersOf[x]![0] ?? Infinity) - (membersOf[y]![0] ?? Infinity));
  const rename = new Array<number>(K);
  order.forEach((k, r) => (rename[k] = r));
  const clusters: MaxMinCluster[] = order.map((k) => {
    const members = membersOf[k]!;
    // A precise fit for the report (the EM fits stop at BT_TOLERANCE).
    const { fits } = fitter.fitCluster(members, fit.models[k], 1e-10);
    for (const [p, r] of fits.entries()) if (!r.converged) warnings.push(`cluster ${rename[k]! + 1}, problem ${p}: ${r.warnings.join("; ")}`);
    const perProblem = sizes.map(() => 0);
    let weight = 0;
    for (const a of members) {
      const f = data[a]!;
      for (let c = 0; c < f.problem.length; c++) {
        perProblem[f.problem[c]!]! += f.weight[c]!;
        weight += f.weight[c]!;
      }
    }
    return {
      members: members.map((a) => input.annotators[a]!.id),
      memberIndices: members,
      size: members.length,
      weight,
      models: fits,
      comparisonsPerProblem: perProblem,
    };
  });
  const assignment = data.map((_, a) => (fit.assignment[a]! >= 0 ? rename[fit.assignment[a]!]! : -1));

  const choices: MaxMinChoice[] = sizes.map((_, p) => {
    const utilities = clusters.map((c) => winProbabilityUtilities(c.models[p]!.strengths));
    const having = clusters.map((_, k) => k).filter((k) => clusters[k]!.comparisonsPerProblem[p]! > 0);
    const say = having.length > 0 ? having : clusters.map((_, k) => k);
    const choice = maxMinChoice(
      say.map((k) => utilities[k]!),
      say.map((k) => clusters[k]!.size),
      tieTolerance,
    );
    return { problem: p, utilities, clusters: say, ...choice };
  });

  let logLikelihood = 0;
  for (const a of active) logLikelihood += logLik(data[a]!, clusters[assignment[a]!]!.models.map((r) => Float64Array.from(r.strengths)));

  return { k: K, selection, clusters, assignment, logLikelihood, iterations: fit.iterations, converged: fit.converged, choices, warnings };
}
