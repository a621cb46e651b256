/**
 * The adjusted Rand index: the agreement of two partitions of the same items, corrected for chance.
 */
import { CivitasError } from "../errors.js";

/**
 * Adjusted Rand index (Hubert & Arabie 1985), computed as sklearn's `adjusted_rand_score` from the
 * pair confusion matrix: 2 (tp tn - fn fp) / ((tp + fn)(fn + tn) + (tp + fp)(fp + tn)), and 1 when
 * there is no disagreeing pair (identical partitions, including fewer than 2 items). Labels are
 * compared by identity only (the names do not matter).
 */
export function adjustedRandIndex(a: readonly (number | string)[], b: readonly (number | string)[]): number {
  if (a.length !== b.length) throw new CivitasError("usage", `adjustedRandIndex: ${a.length} labels against ${b.length}`);
  const n = a.length;
  const cells = new Map<string, number>();
  const rows = new Map<number | string, number>();
  const cols = new Map<number | string, number>();
  for (let i = 0; i < n; i++) {
    const key = JSON.stringify([a[i], b[i]]);
    cells.set(key, (cells.get(key) ?? 0) + 1);
    rows.set(a[i]!, (rows.get(a[i]!) ?? 0) + 1);
    cols.set(b[i]!, (cols.get(b[i]!) ?? 0) + 1);
  }
  let sumSquares = 0;
  for (const v of cells.values()) sumSquares += v * v;
  let rowSq = 0;
  for (const v of rows.values()) rowSq += v * v;
  let colSq = 0;
  for (const v of cols.values()) colSq += v * v;
  const tp = sumSquares - n;
  const fp = colSq - sumSquares; // same cluster in b, different in a
  const fn = rowSq - sumSquares; // same class in a, different in b
  const tn = n * n - fp - fn - sumSquares;
  if (fn === 0 && fp === 0) return 1;
  return (2 * (tp * tn - fn * fp)) / ((tp + fn) * (fn + tn) + (tp + fp) * (fp + tn));
}
