/**
 * Margin matrices as the margin rules read them: checked (a zero diagonal, antisymmetric) with
 * margins within 1e-12 x the largest support set to 0 (a tie); and margin graphs, pref_voting's
 * `MarginGraph`.
 */
import { CivitasError } from "../errors.js";
import type { MarginMatrix } from "./profile.js";
import { REL_TOL } from "./rule-result.js";

/** The size of the numbers behind the margins (the largest support or |margin|), for the tie tolerance. */
export function marginScale(mm: MarginMatrix): number {
  let scale = 0;
  const { m, margin, support } = mm;
  for (let k = 0; k < margin.length; k++) {
    const x = margin[k]!;
    if (!Number.isFinite(x)) throw new CivitasError("input", `margin[${Math.floor(k / m)}][${k % m}] is ${x}; margins must be finite numbers`);
    scale = Math.max(scale, Math.abs(x));
  }
  for (let k = 0; k < support.length; k++) if (Number.isFinite(support[k]!)) scale = Math.max(scale, Math.abs(support[k]!));
  return scale;
}

export interface Margins {
  readonly m: number;
  /** Cleaned margins: antisymmetric, zero diagonal, |x| <= tolerance set to 0. */
  readonly M: Float64Array;
}

/** Checks a MarginMatrix and returns its margins with rounding noise zeroed. */
export function prepare(mm: MarginMatrix, rule: string): Margins {
  const { m, margin } = mm;
  if (!Number.isInteger(m) || m < 1) throw new CivitasError("input", `${rule}: the margin matrix must have at least one alternative, got m = ${m}`);
  if (margin.length !== m * m) throw new CivitasError("input", `${rule}: the margin matrix has ${margin.length} entries, expected m x m = ${m * m}`);
  const tol = REL_TOL * marginScale(mm);
  const M = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < m; j++) {
      const x = margin[i * m + j]!;
      if (i === j) {
        if (Math.abs(x) > tol) throw new CivitasError("input", `${rule}: margin[${i}][${i}] is ${x}; an alternative's margin over itself must be 0`);
        continue;
      }
      if (Math.abs(x + margin[j * m + i]!) > tol) {
        throw new CivitasError("input", `${rule}: margin[${i}][${j}] = ${x} but margin[${j}][${i}] = ${margin[j * m + i]}; margins must be antisymmetric`, {
          hint: "margin[i][j] = support[i][j] - support[j][i]; build it with marginMatrix(profile) or marginGraph(m, edges)",
        });
      }
      M[i * m + j] = Math.abs(x) <= tol ? 0 : x;
    }
  }
  return { m, M };
}

/**
 * A MarginMatrix from the edges of a margin graph, pref_voting's `MarginGraph(candidates, edges)`:
 * each edge [i, j, w] (w > 0) says i beats j by margin w; pairs without an edge are tied. Support is
 * set to the positive margins (a margin graph does not know the supports).
 */
export function marginGraph(m: number, edges: readonly (readonly [number, number, number])[]): MarginMatrix {
  if (!Number.isInteger(m) || m < 1) throw new CivitasError("usage", `marginGraph: m must be a whole number >= 1, got ${m}`);
  const margin = new Float64Array(m * m);
  const support = new Float64Array(m * m);
  edges.forEach(([i, j, w], k) => {
    const ok = (a: number) => Number.isInteger(a) && a >= 0 && a < m;
    if (!ok(i) || !ok(j) || i === j) throw new CivitasError("usage", `marginGraph: edge ${k + 1} [${i}, ${j}] must join two different alternatives 0..${m - 1}`);
    if (!(Number.isFinite(w) && w > 0)) throw new CivitasError("usage", `marginGraph: edge ${k + 1} [${i}, ${j}] has margin ${w}; margins of edges must be > 0`);
    if (margin[i * m + j] !== 0) throw new CivitasError("usage", `marginGraph: edge ${k + 1} [${i}, ${j}] repeats a pair already given`);
    margin[i * m + j] = w;
    margin[j * m + i] = -w;
    support[i * m + j] = w;
  });
  return { m, support, margin };
}
