/**
 * Hegselmann-Krause on the complete graph, opinions uniform on [0, 1], synchronous updates.
 *
 * Published: S. Fortunato, "On the consensus threshold for the opinion dynamics of
 * Krause-Hegselmann", Int. J. Mod. Phys. C 16 (2005) 259: the probability that all agents end in
 * one cluster jumps from 0 to 1 around epsilon ~ 0.2 on the complete graph (see also J. Lorenz,
 * "Consensus strikes back in the Hegselmann-Krause model of continuous opinion dynamics under
 * bounded confidence", JASSS 9(1) 8, 2006). For N = 1000 it is near 0 at epsilon 0.19 and near 1
 * at 0.25. Asserted over 20 seeds at each of 0.15, 0.19, 0.25, 0.3 (seeds 0..19; measured
 * consensus shares 0, 0, 1, 1), with a binomial tolerance: <= 0.2 below, >= 0.8 above.
 *
 * The fast sorted update (and the sparse one) are also checked step by step against the
 * definition computed naively in O(N^2).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { hegselmannKrause, hkOpinions, type HkState } from "../../src/sim/dynamics/index.js";
import { simulate } from "../../src/sim/engine.js";
import { completeGraph, csrFromEdges, erdosRenyi } from "../../src/sim/graph.js";
import type { Graph } from "../../src/sim/types.js";

/** x_i <- mean { x_j : j = i or (j ~ i and |x_j - x_i| <= eps) }, by the definition. */
function naiveStep(x: Float64Array, eps: number, adjacent: (i: number, j: number) => boolean): Float64Array {
  const n = x.length;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    let c = 0;
    for (let j = 0; j < n; j++) {
      if ((j === i || adjacent(i, j)) && Math.abs(x[j]! - x[i]!) <= eps) {
        s += x[j]!;
        c++;
      }
    }
    out[i] = s / c;
  }
  return out;
}

async function trajectory(graph: Graph, epsilon: number, seed: number, steps: number): Promise<Float64Array[]> {
  const states: Float64Array[] = [];
  await simulate(hegselmannKrause, {
    graph,
    params: { epsilon },
    seed,
    steps,
    onStep: (e: { state: HkState }) => void states.push(hkOpinions(e.state).slice()),
  });
  return states;
}

describe("Hegselmann-Krause", () => {
  it("the sorted O(N) update on a complete graph follows the definition step by step", async () => {
    for (const [epsilon, seed] of [[0.05, 1], [0.2, 2], [0.35, 3]] as const) {
      const states = await trajectory(completeGraph(300), epsilon, seed, 60);
      for (let t = 1; t < states.length; t++) {
        const expected = naiveStep(states[t - 1]!, epsilon, () => true);
        for (let i = 0; i < 300; i++) assert.ok(Math.abs(states[t]![i]! - expected[i]!) < 1e-12, `eps ${epsilon} step ${t} agent ${i}`);
      }
      assert.ok(states.length > 2);
    }
  });

  it("the O(edges) update on a sparse graph follows the definition, and an explicit complete graph without the kind gives the same run", async () => {
    const g = erdosRenyi(200, { meanDegree: 8 }, 4);
    const adj = new Set<number>();
    for (let v = 0; v < g.n; v++) for (let k = g.offsets[v]!; k < g.offsets[v + 1]!; k++) adj.add(v * g.n + g.neighbors[k]!);
    const states = await trajectory(g, 0.3, 5, 40);
    for (let t = 1; t < states.length; t++) {
      const expected = naiveStep(states[t - 1]!, 0.3, (i, j) => adj.has(i * g.n + j));
      for (let i = 0; i < g.n; i++) assert.ok(Math.abs(states[t]![i]! - expected[i]!) < 1e-12);
    }
    // the generic sparse path on K_150 against the sorted path
    const n = 150;
    const src: number[] = [];
    const dst: number[] = [];
    for (let u = 0; u < n; u++) for (let v = u + 1; v < n; v++) (src.push(u), dst.push(v));
    const sparseK = csrFromEdges(n, Int32Array.from(src), Int32Array.from(dst), src.length);
    const a = await trajectory(sparseK, 0.22, 6, 200);
    const b = await trajectory(completeGraph(n), 0.22, 6, 200);
    assert.equal(a.length, b.length);
    for (let i = 0; i < n; i++) assert.ok(Math.abs(a.at(-1)![i]! - b.at(-1)![i]!) < 1e-9);
  });

  it("consensus probability on the complete graph, N = 1000: ~0 at epsilon 0.15 and 0.19, ~1 at 0.25 and 0.3 (Fortunato 2005)", async (t) => {
    const graph = completeGraph(1000);
    const seeds = 20;
    const share = async (epsilon: number) => {
      let consensus = 0;
      for (let seed = 0; seed < seeds; seed++) {
        const r = await simulate(hegselmannKrause, { graph, params: { epsilon }, seed, steps: 5000 });
        assert.equal(r.converged, true, `epsilon ${epsilon} seed ${seed} did not converge in 5000 steps`);
        assert.equal(r.final.consensus, r.final.clusters === 1 && r.final.largest === 1 ? 1 : 0);
        consensus += r.final.consensus!;
      }
      return consensus / seeds;
    };
    const p = { 0.15: await share(0.15), 0.19: await share(0.19), 0.25: await share(0.25), 0.3: await share(0.3) };
    t.diagnostic(`consensus share over ${seeds} seeds: ${JSON.stringify(p)}`);
    assert.ok(p[0.15] <= 0.1, `epsilon 0.15: ${p[0.15]}`);
    assert.ok(p[0.19] <= 0.2, `epsilon 0.19: ${p[0.19]}`);
    assert.ok(p[0.25] >= 0.8, `epsilon 0.25: ${p[0.25]}`);
    assert.ok(p[0.3] >= 0.9, `epsilon 0.3: ${p[0.3]}`);
  });

  it("ends in clusters more than epsilon apart, each of identical opinions", async () => {
    let x: Float64Array | undefined;
    const r = await simulate(hegselmannKrause, { graph: completeGraph(1000), params: { epsilon: 0.1 }, seed: 7, steps: 5000, onStep: (e) => void (x = e.state.x) });
    assert.equal(r.converged, true);
    assert.ok(r.final.clusters! >= 3, `clusters ${r.final.clusters}`);
    const values = [...new Set(x!)].sort((a, b) => a - b);
    for (let i = 1; i < values.length; i++) assert.ok(values[i]! - values[i - 1]! > 0.1);
  });
});
