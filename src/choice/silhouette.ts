/**
 * The silhouette of a clustering (Rousseeuw 1987): how much closer each point is to its own
 * cluster than to the nearest other.
 */
import { CivitasError } from "../errors.js";
import { dist2, type Rows } from "./vectors.js";

/**
 * Silhouette of each point (Rousseeuw 1987), as Polis' `silhouette` (math/clusters.clj) and
 * sklearn's `silhouette_samples`: a = mean distance to the other members of its cluster, b = the
 * smallest mean distance to the members of another cluster, s = (b - a) / max(a, b); a point alone
 * in its cluster scores 0 (and 0 when a = b = 0). Needs at least 2 clusters.
 */
export function silhouetteSamples(points: Rows, labels: ArrayLike<number>): Float64Array {
  const n = points.length;
  if (labels.length !== n) throw new CivitasError("usage", `silhouette: ${labels.length} labels for ${n} points`);
  const ids = [...new Set(Array.from(labels))];
  if (ids.length < 2) throw new CivitasError("usage", `silhouette needs at least 2 clusters, got ${ids.length}`);
  const index = new Map(ids.map((id, k) => [id, k]));
  const size = new Int32Array(ids.length);
  for (let i = 0; i < n; i++) size[index.get(labels[i]!)!]!++;
  const out = new Float64Array(n);
  const sums = new Float64Array(ids.length);
  for (let i = 0; i < n; i++) {
    sums.fill(0);
    for (let j = 0; j < n; j++) if (j !== i) sums[index.get(labels[j]!)!]! += Math.sqrt(dist2(points[i]!, points[j]!));
    const own = index.get(labels[i]!)!;
    if (size[own]! === 1) {
      out[i] = 0;
      continue;
    }
    const a = sums[own]! / (size[own]! - 1);
    let b = Infinity;
    for (let k = 0; k < ids.length; k++) if (k !== own && size[k]! > 0) b = Math.min(b, sums[k]! / size[k]!);
    const mx = Math.max(a, b);
    out[i] = mx === 0 ? 0 : (b - a) / mx;
  }
  return out;
}

/** Mean silhouette over the points (sklearn's `silhouette_score`, Polis' clustering silhouette). */
export function silhouette(points: Rows, labels: ArrayLike<number>): number {
  const s = silhouetteSamples(points, labels);
  let t = 0;
  for (const v of s) t += v;
  return t / s.length;
}
