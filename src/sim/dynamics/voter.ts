/**
 * The voter model (P. Clifford and A. Sudbury, Biometrika 60, 1973; R. Holley and T. Liggett,
 * Ann. Probab. 3, 1975). Two opinions, 0 and 1. Asynchronous: draw an agent i uniformly and one of
 * its neighbours j uniformly (on a complete graph, any other agent); i adopts j's opinion. One step
 * is a sweep of N such updates; the run stops at consensus (all agents share one opinion), in the
 * middle of a sweep if that is when it happens.
 *
 * Parameters: `x0`, the initial share of opinion 1 (default 0.5; exactly round(x0 N) agents,
 * placed at random). Metrics: `consensus`, `clusters` (opinions held by >= 5% of agents),
 * `fraction` (share holding 1), `time` (updates / N: the exact consensus time in sweeps once
 * consensus is reached, as in Sood and Redner 2005).
 */
import { numberParam } from "../engine.js";
import type { Dynamics } from "../types.js";

export interface VoterState {
  /** Opinion (0 or 1) by agent. */
  readonly s: Uint8Array;
  /** Agents holding 1. */
  ones: number;
  /** Single-agent updates done. */
  updates: number;
}

export const voter: Dynamics<VoterState> = {
  name: "voter",
  update: "asynchronous",
  init({ graph, params, rng }) {
    const x0 = numberParam(params, "x0", { default: 0.5, min: 0, max: 1 });
    const n = graph.n;
    const ones = Math.round(x0 * n);
    // a random set of `ones` agents: partial Fisher-Yates shuffle of 0..n-1
    const perm = new Int32Array(n);
    for (let i = 0; i < n; i++) perm[i] = i;
    const s = new Uint8Array(n);
    for (let k = 0; k < ones; k++) {
      const r = rng.int(k, n - 1);
      const t = perm[r]!;
      perm[r] = perm[k]!;
      perm[k] = t;
      s[t] = 1;
    }
    return { s, ones, updates: 0 };
  },
  step(st, { graph, rng }) {
    const s = st.s;
    const n = graph.n;
    let ones = st.ones;
    if (ones === 0 || ones === n) return true;
    let t = 0;
    if (graph.kind === "complete") {
      for (; t < n; t++) {
        const i = rng.int(0, n - 1);
        let j = rng.int(0, n - 2);
        if (j >= i) j++;
        const sj = s[j]!;
        ones += sj - s[i]!;
        s[i] = sj;
        if (ones === 0 || ones === n) {
          t++;
          break;
        }
      }
    } else {
      const off = graph.offsets;
      const nb = graph.neighbors;
      for (; t < n; t++) {
        const i = rng.int(0, n - 1);
        const a = off[i]!;
        const d = off[i + 1]! - a;
        if (d === 0) continue;
        const sj = s[nb[a + rng.int(0, d - 1)]!]!;
        ones += sj - s[i]!;
        s[i] = sj;
        if (ones === 0 || ones === n) {
          t++;
          break;
        }
      }
    }
    st.ones = ones;
    st.updates += t;
    return ones === 0 || ones === n;
  },
  metrics(st, { graph }) {
    const n = graph.n;
    const share = n === 0 ? 0 : st.ones / n;
    return {
      consensus: st.ones === 0 || st.ones === n ? 1 : 0,
      clusters: (share >= 0.05 ? 1 : 0) + (1 - share >= 0.05 ? 1 : 0),
      fraction: share,
      time: n === 0 ? 0 : st.updates / n,
    };
  },
};
