/**
 * Small dense vectors and matrices as rows of numbers, for PCA, k-means and the silhouette
 * (written out, as Polis does).
 */
import { CivitasError } from "../errors.js";

/** A matrix as its rows. */
export type Rows = readonly ArrayLike<number>[];

/** Dot product. */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** Squared Euclidean distance. */
export function dist2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    s += d * d;
  }
  return s;
}

/** The number of columns, checked to be the same in every row. */
export function columnCount(rows: Rows): number {
  const m = rows[0]?.length ?? 0;
  rows.forEach((r, i) => {
    if (r.length !== m) throw new CivitasError("usage", `row ${i} has ${r.length} columns, row 0 has ${m}`);
  });
  return m;
}
