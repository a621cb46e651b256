/**
 * Principal components by power iteration, as Polis computes them (math/pca.clj), with the
 * column-mean imputation and the sparsity-aware projection Polis applies around it.
 */
import { CivitasError } from "../errors.js";
import { seededRng } from "../metrics/index.js";
import { columnCount, dist2, dot, type Rows } from "./vectors.js";

/** Mean of each column over its non-NaN entries (0 for a column with none). */
export function columnMeans(rows: Rows): Float64Array {
  const m = columnCount(rows);
  const sum = new Float64Array(m);
  const n = new Float64Array(m);
  for (const r of rows) {
    for (let j = 0; j < m; j++) {
      const v = r[j]!;
      if (!Number.isNaN(v)) {
        sum[j]! += v;
        n[j]!++;
      }
    }
  }
  return sum.map((s, j) => (n[j]! > 0 ? s / n[j]! : 0));
}

/** Polis' `:mat`: every NaN replaced by its column's mean over the votes cast. */
export function imputeColumnMeans(rows: Rows): Float64Array[] {
  const means = columnMeans(rows);
  return rows.map((r) => Float64Array.from(r, (v, j) => (Number.isNaN(v) ? means[j]! : v)));
}

export interface Pca {
  /** Column means of the data. */
  readonly center: Float64Array;
  /** Unit-length components, strongest first; the first entry of each that is not ~0 (above 1e-6 x its largest) is positive. */
  readonly comps: Float64Array[];
  /** X'X eigenvalue estimate of each component (the squared length of the data along it). */
  readonly eigenvalues: number[];
}

export interface PcaOptions {
  /** Seed of the random start vectors (Polis: `rand-starting-vec`). Default 0. */
  readonly seed?: number;
  /** Power iterations per component at most. Default 1000. */
  readonly maxIters?: number;
  /** Stop when the component moves less than this (Euclidean). Default 1e-12. */
  readonly tol?: number;
}

/**
 * PCA by power iteration, as Polis' `powerit-pca` (math/pca.clj): centre the columns, find the
 * leading eigenvector of X'X by repeated multiplication (`xtxr`, `power-iteration`) from a random
 * start, then deflate the data (`factor-matrix`: remove each row's projection on the component)
 * and repeat. `nComps` is capped at min(rows, columns). A component of a matrix with no variance
 * left is the zero vector. Rows must be complete (no NaN); impute first.
 */
export function powerIterationPca(rows: Rows, nComps: number, options: PcaOptions = {}): Pca {
  const m = columnCount(rows);
  const n = rows.length;
  const maxIters = options.maxIters ?? 1000;
  const tol = options.tol ?? 1e-12;
  const rng = seededRng(options.seed ?? 0);
  const center = new Float64Array(m);
  for (const r of rows) for (let j = 0; j < m; j++) center[j]! += r[j]!;
  if (n > 0) for (let j = 0; j < m; j++) center[j]! /= n;
  const data = rows.map((r) => Float64Array.from(r, (v, j) => v - center[j]!));
  for (const r of data) for (const v of r) if (!Number.isFinite(v)) throw new CivitasError("usage", "powerIterationPca: the data has NaN or infinite entries; impute missing values first");
  const comps: Float64Array[] = [];
  const eigenvalues: number[] = [];
  const k = Math.min(nComps, n, m);
  for (let c = 0; c < k; c++) {
    let v: Float64Array = Float64Array.from({ length: m }, () => rng.float());
    let eig = 0;
    for (let it = 0; it < maxIters; it++) {
      // X'X v as a sum over rows of (row . v) row
      const next = new Float64Array(m);
      for (const r of data) {
        const s = dot(r, v);
        if (s !== 0) for (let j = 0; j < m; j++) next[j]! += s * r[j]!;
      }
      const len = Math.sqrt(dot(next, next));
      if (len === 0) {
        v = new Float64Array(m);
        eig = 0;
        break;
      }
      for (let j = 0; j < m; j++) next[j]! /= len;
      const moved = Math.sqrt(dist2(next, v));
      v = next;
      eig = len;
      if (moved < tol) break;
    }
    // a fixed sign: the first entry that is not ~0 is positive
    let big = 0;
    for (let j = 0; j < m; j++) big = Math.max(big, Math.abs(v[j]!));
    const lead = v.findIndex((x) => Math.abs(x) > 1e-6 * big);
    if (lead >= 0 && v[lead]! < 0) for (let j = 0; j < m; j++) v[j] = -v[j]!;
    comps.push(v);
    eigenvalues.push(eig);
    // deflate
    if (dot(v, v) > 0) {
      for (const r of data) {
        const s = dot(r, v);
        for (let j = 0; j < m; j++) r[j]! -= s * v[j]!;
      }
    }
  }
  return { center, comps, eigenvalues };
}

/**
 * Polis' `sparsity-aware-project-ptpt` (math/pca.clj): each row's projection on the components over
 * its non-NaN entries only, (x - center) . pc, scaled by sqrt(columns / max(non-NaN entries, 1)).
 */
export function projectSparse(rows: Rows, pca: Pca): Float64Array[] {
  const m = pca.center.length;
  return rows.map((r) => {
    const p = new Float64Array(pca.comps.length);
    let voted = 0;
    for (let j = 0; j < m; j++) {
      const x = r[j]!;
      if (Number.isNaN(x)) continue;
      voted++;
      const d = x - pca.center[j]!;
      for (let c = 0; c < p.length; c++) p[c]! += d * pca.comps[c]![j]!;
    }
    const scale = Math.sqrt(m / Math.max(voted, 1));
    for (let c = 0; c < p.length; c++) p[c]! *= scale;
    return p;
  });
}
