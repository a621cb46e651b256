/**
 * DeGroot (DeGroot, "Reaching a consensus", JASA 69, 1974): with W row-stochastic, irreducible and
 * aperiodic, x(t) = W^t x(0) -> 1 pi^T x(0), pi the left eigenvector of W for eigenvalue 1 (the
 * stationary distribution of the Markov chain W; e.g. Golub and Jackson, AEJ: Micro 2, 2010,
 * Proposition 1). Checked exactly: pi by power iteration on W^T, computed here from the edge
 * weights, independently of the dynamics.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { seededRng } from "../../src/metrics/index.js";
import { createDeGroot, degroot } from "../../src/sim/dynamics/index.js";
import { simulate } from "../../src/sim/engine.js";
import { barabasiAlbert, completeGraph, degree, parseEdgeList } from "../../src/sim/graph.js";
import type { Graph } from "../../src/sim/types.js";

async function runFrom(graph: Graph, seed: number, steps = 100_000) {
  let x0: Float64Array | undefined;
  let x: Float64Array | undefined;
  const r = await simulate(degroot, {
    graph,
    params: {},
    seed,
    steps,
    onStep: (e) => {
      if (e.step === 0) x0 = Float64Array.from(e.state.x);
      x = e.state.x;
    },
  });
  return { r, x0: x0!, x: x! };
}

describe("DeGroot averaging", () => {
  it("converges to pi . x(0) on a weighted, strongly connected, aperiodic digraph", async () => {
    // A directed ring (strongly connected) plus random extra arcs and a few self-loops
    // (aperiodic), with random trust weights, written as an edge list.
    const n = 40;
    const rng = seededRng(12);
    const lines: string[] = [];
    for (let i = 0; i < n; i++) lines.push(`${i} ${(i + 1) % n} ${(0.1 + rng.float()).toFixed(3)}`);
    for (let e = 0; e < 80; e++) {
      const u = rng.int(0, n - 1);
      const v = rng.int(0, n - 1);
      if (v !== (u + 1) % n) lines.push(`${u} ${v} ${(0.1 + 2 * rng.float()).toFixed(3)}`);
    }
    for (const i of [0, 7, 19]) lines.push(`${i} ${i} 0.500`);
    // repeated (u, v) pairs would conflict in weight: keep the first of each
    const seen = new Set<string>();
    const text = lines.filter((l) => {
      const key = l.split(" ").slice(0, 2).join(" ");
      return !seen.has(key) && seen.add(key) !== undefined;
    }).join("\n");
    const g = parseEdgeList(text, { directed: true });

    // W_ij = w_ij / sum_k w_ik; pi by power iteration pi <- pi W (= W^T pi)
    const W: number[][] = Array.from({ length: n }, () => new Array<number>(n).fill(0));
    for (const line of text.split("\n")) {
      const [u, v, w] = line.split(" ").map(Number) as [number, number, number];
      W[u]![v]! += w;
    }
    for (const row of W) {
      const s = row.reduce((a, b) => a + b, 0);
      for (let j = 0; j < n; j++) row[j]! /= s;
    }
    let pi = new Array<number>(n).fill(1 / n);
    for (let it = 0; it < 200_000; it++) {
      const next = new Array<number>(n).fill(0);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) next[j]! += pi[i]! * W[i]![j]!;
      const diff = next.reduce((m, v, j) => Math.max(m, Math.abs(v - pi[j]!)), 0);
      pi = next;
      if (diff < 1e-16) break;
    }
    assert.ok(Math.abs(pi.reduce((a, b) => a + b, 0) - 1) < 1e-12);

    const { r, x0, x } = await runFrom(g, 3);
    assert.equal(r.converged, true);
    const limit = pi.reduce((a, p, i) => a + p * x0[i]!, 0);
    for (let i = 0; i < n; i++) assert.ok(Math.abs(x[i]! - limit) < 1e-9, `agent ${i}: ${x[i]} vs pi . x(0) = ${limit}`);
    // not simply the mean: the weights matter
    const mean = x0.reduce((a, b) => a + b, 0) / n;
    assert.ok(Math.abs(limit - mean) > 1e-3);
    assert.equal(r.final.consensus, 1);
    assert.equal(r.final.clusters, 1);
  });

  it("with uniform trust over neighbours and self on an undirected graph, pi_i is proportional to degree + 1", async () => {
    // W = (D + I)^-1 (A + I) is a reversible random walk: pi_i = (d_i + 1) / sum_j (d_j + 1).
    const g = barabasiAlbert(300, 2, 5);
    const { r, x0, x } = await runFrom(g, 8);
    assert.equal(r.converged, true);
    let num = 0;
    let den = 0;
    for (let i = 0; i < g.n; i++) {
      num += (degree(g, i) + 1) * x0[i]!;
      den += degree(g, i) + 1;
    }
    for (let i = 0; i < g.n; i++) assert.ok(Math.abs(x[i]! - num / den) < 1e-9);
  });

  it("reaches the mean in one step on a complete graph", async () => {
    const { r, x0, x } = await runFrom(completeGraph(1000), 2);
    const mean = x0.reduce((a, b) => a + b, 0) / 1000;
    assert.equal(r.steps, 2); // step 1 averages, step 2 sees no change
    for (const v of x) assert.ok(Math.abs(v - mean) < 1e-12);
  });

  it("keeps two groups apart on a disconnected graph and leaves isolated agents alone", async () => {
    const g = parseEdgeList("0 1\n1 2\n2 0\n3 4\n4 5\n5 3\n", { n: 7 });
    const d = createDeGroot({ initial: Float64Array.from([0, 0.3, 0.6, 1, 1, 0.7, 0.42]) });
    let x: Float64Array | undefined;
    const r = await simulate(d, { graph: g, params: {}, seed: 0, steps: 1000, onStep: (e) => void (x = e.state.x) });
    assert.equal(r.converged, true);
    assert.equal(r.final.consensus, 0);
    assert.equal(r.final.clusters, 3); // {0,1,2} -> 0.3, {3,4,5} -> 0.9, agent 6 at 0.42 (1/7 >= 5%)
    assert.ok(Math.abs(x![0]! - 0.3) < 1e-12 && Math.abs(x![3]! - 0.9) < 1e-12);
    assert.equal(x![6], 0.42);
  });

  it("rejects negative trust weights", async () => {
    const g = parseEdgeList("0 1 1\n1 0 -0.5\n", { directed: true });
    await assert.rejects(simulate(degroot, { graph: g, params: {}, seed: 0, steps: 5 }), /weight -0.5 on edge 1 -> 0 is negative/);
  });
});
