/**
 * DeGroot averaging (M. H. DeGroot, "Reaching a consensus", JASA 69, 1974): x(t+1) = W x(t), W
 * row-stochastic. Row i of W is agent i's trust in the agents it listens to (its out-neighbours
 * in a directed graph): the graph's edge weights normalised to sum 1 (self-trust only through a
 * self-loop), or, without weights, uniform over the neighbours and the agent itself. An agent with
 * no one to listen to keeps its opinion. When W is irreducible and aperiodic, every opinion tends
 * to pi . x(0), pi the left eigenvector of W for eigenvalue 1 summing to 1.
 *
 * Synchronous. Parameters: `tolerance` (consensus and clusters, default 1e-3), `threshold`
 * (converged when no opinion moved by more than it in a step, default 1e-12).
 * Opinions start uniform on [0, 1), or at `initial` when given.
 */
import { CivitasError } from "../../errors.js";
import { numberParam, summarizeOpinions, uniformOpinions } from "../engine.js";
import type { Dynamics, Graph } from "../types.js";

export interface DeGrootState {
  /** Opinions by agent. */
  x: Float64Array;
  next: Float64Array;
  /** W's entries aligned with graph.neighbors, and each agent's weight on itself. */
  w: Float64Array;
  self: Float64Array;
  readonly tolerance: number;
  readonly threshold: number;
}

/** The row-stochastic trust matrix of a graph, as (entries aligned with `neighbors`, self-weights). */
export function trustMatrix(g: Graph): { w: Float64Array; self: Float64Array } {
  const w = new Float64Array(g.neighbors.length);
  const self = new Float64Array(g.n);
  for (let i = 0; i < g.n; i++) {
    const a = g.offsets[i]!;
    const b = g.offsets[i + 1]!;
    if (g.weights !== undefined) {
      let sum = 0;
      for (let k = a; k < b; k++) {
        const v = g.weights[k]!;
        if (!(v >= 0)) throw new CivitasError("input", `DeGroot: weight ${v} on edge ${i} -> ${g.neighbors[k]} is negative; trust weights must be >= 0`);
        sum += v;
      }
      if (sum === 0) {
        self[i] = 1;
        continue;
      }
      for (let k = a; k < b; k++) {
        if (g.neighbors[k] === i) self[i]! += g.weights[k]! / sum;
        else w[k] = g.weights[k]! / sum;
      }
    } else {
      let others = 0;
      for (let k = a; k < b; k++) if (g.neighbors[k] !== i) others++;
      const share = 1 / (others + 1);
      self[i] = share;
      for (let k = a; k < b; k++) if (g.neighbors[k] !== i) w[k] = share;
    }
  }
  return { w, self };
}

export function createDeGroot(options: { initial?: Float64Array } = {}): Dynamics<DeGrootState> {
  return {
    name: "degroot",
    update: "synchronous",
    init({ graph, params, rng }) {
      const tolerance = numberParam(params, "tolerance", { default: 1e-3, min: 0 });
      const threshold = numberParam(params, "threshold", { default: 1e-12, min: 0 });
      let x: Float64Array;
      if (options.initial !== undefined) {
        if (options.initial.length !== graph.n) {
          throw new CivitasError("usage", `DeGroot: ${options.initial.length} initial opinions for ${graph.n} agents`);
        }
        x = Float64Array.from(options.initial);
      } else x = uniformOpinions(graph.n, rng);
      const implicit = graph.kind === "complete" && graph.neighbors.length === 0;
      const { w, self } = implicit ? { w: new Float64Array(0), self: new Float64Array(0) } : trustMatrix(graph);
      return { x, next: new Float64Array(graph.n), w, self, tolerance, threshold };
    },
    step(s, { graph }) {
      const { x, next, w, self } = s;
      const n = graph.n;
      let moved = 0;
      if (graph.kind === "complete" && graph.neighbors.length === 0) {
        // uniform over everyone (self included): everyone takes the mean
        let sum = 0;
        for (let i = 0; i < n; i++) sum += x[i]!;
        const mean = sum / n;
        for (let i = 0; i < n; i++) {
          moved = Math.max(moved, Math.abs(mean - x[i]!));
          next[i] = mean;
        }
      } else {
        const off = graph.offsets;
        const nb = graph.neighbors;
        for (let i = 0; i < n; i++) {
          let v = self[i]! * x[i]!;
          for (let k = off[i]!, b = off[i + 1]!; k < b; k++) v += w[k]! * x[nb[k]!]!;
          const d = Math.abs(v - x[i]!);
          if (d > moved) moved = d;
          next[i] = v;
        }
      }
      s.x = next;
      s.next = x;
      return moved <= s.threshold;
    },
    metrics(s) {
      return { ...summarizeOpinions(s.x, s.tolerance) };
    },
  };
}

/** DeGroot with opinions starting uniform on [0, 1). */
export const degroot: Dynamics<DeGrootState> = createDeGroot();
