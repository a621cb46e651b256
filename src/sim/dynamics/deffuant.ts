/**
 * Deffuant-Weisbuch bounded confidence (G. Deffuant, D. Neau, F. Amblard, G. Weisbuch, "Mixing
 * beliefs among interacting agents", Advances in Complex Systems 3, 2000). Asynchronous random
 * pairwise encounters: draw an agent i uniformly, then one of its neighbours j uniformly (on a
 * complete graph, any other agent); if |x_i - x_j| < epsilon both move towards each other,
 * x_i += mu (x_j - x_i), x_j += mu (x_i - x_j) (from the values before the encounter). An agent
 * without neighbours does nothing. One step is a sweep of N encounters.
 *
 * Converged when no opinion changed by more than `threshold` (default 1e-6) during a sweep.
 * Parameters: `epsilon` (required), `mu` (default 0.5, in (0, 0.5]), `tolerance` (consensus and
 * clusters, default 1e-3), `threshold`. Opinions start uniform on [0, 1).
 */
import { numberParam, summarizeOpinions, uniformOpinions } from "../engine.js";
import type { Dynamics } from "../types.js";

export interface DeffuantState {
  /** Opinions by agent. */
  readonly x: Float64Array;
  readonly epsilon: number;
  readonly mu: number;
  readonly tolerance: number;
  readonly threshold: number;
}

export const deffuant: Dynamics<DeffuantState> = {
  name: "deffuant",
  update: "asynchronous",
  init({ graph, params, rng }) {
    return {
      epsilon: numberParam(params, "epsilon", { min: 0 }),
      mu: numberParam(params, "mu", { default: 0.5, min: 0, exclusiveMin: true, max: 0.5 }),
      tolerance: numberParam(params, "tolerance", { default: 1e-3, min: 0 }),
      threshold: numberParam(params, "threshold", { default: 1e-6, min: 0 }),
      x: uniformOpinions(graph.n, rng),
    };
  },
  step(s, { graph, rng }) {
    const { x, epsilon, mu } = s;
    const n = graph.n;
    let moved = 0;
    if (graph.kind === "complete") {
      if (n < 2) return true;
      for (let t = 0; t < n; t++) {
        const i = rng.int(0, n - 1);
        let j = rng.int(0, n - 2);
        if (j >= i) j++;
        const xi = x[i]!;
        const xj = x[j]!;
        const diff = xj - xi;
        if (diff < epsilon && diff > -epsilon) {
          const dx = mu * diff;
          x[i] = xi + dx;
          x[j] = xj - dx;
          const a = dx < 0 ? -dx : dx;
          if (a > moved) moved = a;
        }
      }
    } else {
      const off = graph.offsets;
      const nb = graph.neighbors;
      for (let t = 0; t < n; t++) {
        const i = rng.int(0, n - 1);
        const a0 = off[i]!;
        const d = off[i + 1]! - a0;
        if (d === 0) continue;
        const j = nb[a0 + rng.int(0, d - 1)]!;
        const xi = x[i]!;
        const xj = x[j]!;
        const diff = xj - xi;
        if (diff < epsilon && diff > -epsilon) {
          const dx = mu * diff;
          x[i] = xi + dx;
          x[j] = xj - dx;
          const a = dx < 0 ? -dx : dx;
          if (a > moved) moved = a;
        }
      }
    }
    return moved <= s.threshold;
  },
  metrics(s) {
    return { ...summarizeOpinions(s.x, s.tolerance) };
  },
};
