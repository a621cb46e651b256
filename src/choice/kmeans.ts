/**
 * k-means (Lloyd), weighted, started from the first distinct points (as Polis) or from seeded
 * k-means++ starts.
 */
import { CivitasError } from "../errors.js";
import { seededRng, type Rng } from "../metrics/index.js";
import { columnCount, dist2, type Rows } from "./vectors.js";

export interface KMeansOptions {
  /** Weight of each point (Polis weighs base clusters by their sizes). Default 1 each. */
  readonly weights?: ArrayLike<number>;
  /**
   * "first-distinct": the first k distinct points in order (Polis' `init-clusters`); deterministic.
   * "kmeans++": seeded k-means++ (probability proportional to weight x squared distance), best of
   * `nInit` runs by weighted inertia. Default "kmeans++".
   */
  readonly init?: "first-distinct" | "kmeans++";
  readonly seed?: number;
  /** k-means++ restarts. Default 10. */
  readonly nInit?: number;
  /** Lloyd iterations at most. Default 100. */
  readonly maxIters?: number;
}

export interface KMeans {
  /** Cluster centres; clusters left empty are dropped, so there may be fewer than k. */
  readonly centers: Float64Array[];
  /** labels[i]: index into `centers` of point i's cluster. */
  readonly labels: Int32Array;
  /** Weighted sum of squared distances to the assigned centres. */
  readonly inertia: number;
}

function lloyd(points: Rows, weights: ArrayLike<number>, start: Float64Array[], maxIters: number): KMeans {
  const d = points[0]?.length ?? 0;
  let centers = start.map((c) => Float64Array.from(c));
  let labels = new Int32Array(points.length).fill(-1);
  for (let it = 0; it < maxIters; it++) {
    // Assign each point to its nearest centre (ties: the first), as Polis' `add-to-closest`.
    const next = new Int32Array(points.length);
    points.forEach((p, i) => {
      let best = 0;
      let bd = Infinity;
      centers.forEach((c, k) => {
        const dd = dist2(p, c);
        if (dd < bd) {
          bd = dd;
          best = k;
        }
      });
      next[i] = best;
    });
    // Weighted means; empty clusters are dropped (`cluster-step`) and labels renumbered.
    const sums = centers.map(() => new Float64Array(d));
    const mass = new Float64Array(centers.length);
    const count = new Int32Array(centers.length);
    points.forEach((p, i) => {
      const k = next[i]!;
      const w = weights[i]!;
      mass[k]! += w;
      count[k]!++;
      for (let j = 0; j < d; j++) sums[k]![j]! += w * p[j]!;
    });
    const keep: number[] = [];
    const renumber = new Int32Array(centers.length).fill(-1);
    centers.forEach((_, k) => {
      if (count[k]! > 0) {
        renumber[k] = keep.length;
        keep.push(k);
      }
    });
    const newCenters = keep.map((k) => (mass[k]! > 0 ? sums[k]!.map((s) => s / mass[k]!) : Float64Array.from(centers[k]!)));
    const newLabels = next.map((k) => renumber[k]!);
    const same = keep.length === centers.length && newLabels.every((l, i) => l === labels[i]);
    centers = newCenters;
    labels = newLabels;
    if (same) break;
  }
  let inertia = 0;
  points.forEach((p, i) => {
    inertia += weights[i]! * dist2(p, centers[labels[i]!]!);
  });
  return { centers, labels, inertia };
}

/**
 * k-means (Lloyd) as Polis' `kmeans` (math/clusters.clj): assign to the nearest centre, move each
 * centre to the weighted mean of its points, drop empty clusters; until no assignment changes.
 */
export function kmeans(points: Rows, k: number, options: KMeansOptions = {}): KMeans {
  if (!Number.isInteger(k) || k < 1) throw new CivitasError("usage", `kmeans: k must be a positive integer, got ${k}`);
  const n = points.length;
  if (n === 0) return { centers: [], labels: new Int32Array(0), inertia: 0 };
  columnCount(points);
  const weights = options.weights ?? new Float64Array(n).fill(1);
  if (weights.length !== n) throw new CivitasError("usage", `kmeans: ${weights.length} weights for ${n} points`);
  for (let i = 0; i < n; i++) {
    if (!(weights[i]! >= 0) || !Number.isFinite(weights[i]!)) throw new CivitasError("usage", `kmeans: weight ${i} is ${weights[i]}, not a finite non-negative number`);
  }
  const maxIters = options.maxIters ?? 100;
  // distinct points, in order
  const distinct: number[] = [];
  const keys = new Set<string>();
  points.forEach((p, i) => {
    const key = Array.from(p).join(",");
    if (!keys.has(key)) {
      keys.add(key);
      distinct.push(i);
    }
  });
  if ((options.init ?? "kmeans++") === "first-distinct") {
    return lloyd(points, weights, distinct.slice(0, k).map((i) => Float64Array.from(points[i]!)), maxIters);
  }
  const rng = seededRng(options.seed ?? 0);
  const nInit = options.nInit ?? 10;
  let best: KMeans | null = null;
  for (let run = 0; run < nInit; run++) {
    const start = kmeansPlusPlus(points, weights, Math.min(k, distinct.length), rng);
    const result = lloyd(points, weights, start, maxIters);
    if (best === null || result.inertia < best.inertia) best = result;
  }
  return best!;
}

function pickWeighted(p: ArrayLike<number>, rng: Rng): number {
  let total = 0;
  for (let i = 0; i < p.length; i++) total += p[i]!;
  let u = rng.float() * total;
  for (let i = 0; i < p.length; i++) {
    u -= p[i]!;
    if (u < 0 && p[i]! > 0) return i;
  }
  for (let i = p.length - 1; i >= 0; i--) if (p[i]! > 0) return i;
  return 0;
}

function kmeansPlusPlus(points: Rows, weights: ArrayLike<number>, k: number, rng: Rng): Float64Array[] {
  const n = points.length;
  const anyWeight = Array.from(weights).some((w) => w > 0);
  const w = anyWeight ? weights : new Float64Array(n).fill(1);
  const centers = [Float64Array.from(points[pickWeighted(w, rng)]!)];
  const d2 = new Float64Array(n).fill(Infinity);
  while (centers.length < k) {
    const last = centers[centers.length - 1]!;
    const p = new Float64Array(n);
    points.forEach((x, i) => {
      d2[i] = Math.min(d2[i]!, dist2(x, last));
      p[i] = w[i]! * d2[i]!;
    });
    if (!p.some((v) => v > 0)) break; // every point sits on a centre
    centers.push(Float64Array.from(points[pickWeighted(p, rng)]!));
  }
  return centers;
}
