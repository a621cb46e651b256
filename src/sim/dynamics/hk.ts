/**
 * Hegselmann-Krause bounded confidence (R. Hegselmann and U. Krause, "Opinion dynamics and bounded
 * confidence: models, analysis and simulation", JASSS 5(3), 2002). Synchronous: every agent moves
 * to the mean opinion of the agents it hears, itself and those of its neighbours within
 * `epsilon` (|x_j - x_i| <= epsilon), all computed from the previous state.
 *
 * On a complete graph the update runs on sorted opinions in O(N) a step (O(N log N) once to
 * sort): each agent's confidence window is a contiguous range of the sorted opinions, found with
 * two pointers, and its mean comes from prefix sums. The update keeps the order (the window's
 * both ends only move right), so the array stays sorted; `order[k]` is the agent holding `x[k]`.
 * On other graphs it is O(edges) a step.
 *
 * Parameters: `epsilon` (required), `tolerance` (consensus and clusters, default 1e-3),
 * `threshold` (converged when no opinion moved by more than it in a step, default 1e-12).
 * Opinions start uniform on [0, 1).
 */
import { numberParam, summarizeOpinions, uniformOpinions } from "../engine.js";
import type { Dynamics } from "../types.js";

export interface HkState {
  /** Opinions: sorted ascending on a complete graph (`order[k]` is the agent of x[k]), else by agent. */
  x: Float64Array;
  next: Float64Array;
  /** Complete graph only: sorted position -> agent. */
  order: Int32Array | undefined;
  /** Complete graph only: prefix sums of x. */
  prefix: Float64Array | undefined;
  readonly epsilon: number;
  readonly tolerance: number;
  readonly threshold: number;
}

/** Each agent's opinion, by agent. */
export function hkOpinions(s: HkState): Float64Array {
  if (s.order === undefined) return s.x;
  const out = new Float64Array(s.x.length);
  for (let k = 0; k < s.x.length; k++) out[s.order[k]!] = s.x[k]!;
  return out;
}

/**
 * One sorted HK step on a complete graph: next[i] = mean of x[lo..hi], the window of sorted
 * opinions within epsilon of x[i]. Returns the largest move. Exported for the benchmark.
 */
export function hkSortedStep(x: Float64Array, next: Float64Array, prefix: Float64Array, epsilon: number): number {
  const n = x.length;
  prefix[0] = 0;
  for (let i = 0; i < n; i++) prefix[i + 1] = prefix[i]! + x[i]!;
  let lo = 0;
  let hi = 0;
  let moved = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[i]!;
    while (xi - x[lo]! > epsilon) lo++;
    if (hi < i) hi = i;
    while (hi + 1 < n && x[hi + 1]! - xi <= epsilon) hi++;
    // a window of equal opinions is a fixed point: keep it exact (prefix sums would jitter)
    const v = x[lo] === x[hi] ? xi : (prefix[hi + 1]! - prefix[lo]!) / (hi + 1 - lo);
    const d = v > xi ? v - xi : xi - v;
    if (d > moved) moved = d;
    next[i] = v;
  }
  return moved;
}

export const hegselmannKrause: Dynamics<HkState> = {
  name: "hk",
  update: "synchronous",
  init({ graph, params, rng }) {
    const epsilon = numberParam(params, "epsilon", { min: 0 });
    const tolerance = numberParam(params, "tolerance", { default: 1e-3, min: 0 });
    const threshold = numberParam(params, "threshold", { default: 1e-12, min: 0 });
    const n = graph.n;
    const x0 = uniformOpinions(n, rng);
    if (graph.kind !== "complete") {
      return { x: x0, next: new Float64Array(n), order: undefined, prefix: undefined, epsilon, tolerance, threshold };
    }
    const order = new Int32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    order.sort((a, b) => x0[a]! - x0[b]! || a - b);
    const x = new Float64Array(n);
    for (let k = 0; k < n; k++) x[k] = x0[order[k]!]!;
    return { x, next: new Float64Array(n), order, prefix: new Float64Array(n + 1), epsilon, tolerance, threshold };
  },
  step(s, { graph }) {
    const { x, next, epsilon } = s;
    const n = graph.n;
    let moved: number;
    if (s.order !== undefined) {
      moved = hkSortedStep(x, next, s.prefix!, epsilon);
      // Exact arithmetic keeps the order; rounding may swap neighbours by an ulp: repair in O(N).
      const order = s.order;
      for (let i = 1; i < n; i++) {
        if (next[i]! >= next[i - 1]!) continue;
        const v = next[i]!;
        const a = order[i]!;
        let j = i - 1;
        while (j >= 0 && next[j]! > v) {
          next[j + 1] = next[j]!;
          order[j + 1] = order[j]!;
          j--;
        }
        next[j + 1] = v;
        order[j + 1] = a;
      }
    } else {
      moved = 0;
      const off = graph.offsets;
      const nb = graph.neighbors;
      for (let i = 0; i < n; i++) {
        const xi = x[i]!;
        let sum = xi;
        let count = 1;
        for (let k = off[i]!, b = off[i + 1]!; k < b; k++) {
          const j = nb[k]!;
          if (j === i) continue;
          const xj = x[j]!;
          if (Math.abs(xj - xi) <= epsilon) {
            sum += xj;
            count++;
          }
        }
        const v = sum / count;
        const d = Math.abs(v - xi);
        if (d > moved) moved = d;
        next[i] = v;
      }
    }
    s.x = next;
    s.next = x;
    return moved <= s.threshold;
  },
  metrics(s) {
    return { ...summarizeOpinions(s.x, s.tolerance, { sorted: s.order !== undefined }) };
  },
};
