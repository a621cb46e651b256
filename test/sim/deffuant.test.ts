/**
 * Deffuant-Weisbuch bounded confidence with random pairwise encounters (complete mixing).
 *
 * Published: G. Deffuant, D. Neau, F. Amblard, G. Weisbuch, "Mixing beliefs among interacting
 * agents", Adv. Complex Syst. 3 (2000) 87, with N = 1000 agents, mu = 0.5, opinions uniform on
 * [0, 1]: the number of major clusters "varies as the integer part of 1/(2d)"; for d = 0.3 a single
 * cluster, for d = 0.2 two; for d > 1/2 every agent ends at one opinion (any two agents are then
 * within d of the centre). The integer-part rule is approximate: E. Ben-Naim, P. L. Krapivsky,
 * S. Redner, "Bifurcations and patterns in compromise processes", Physica D 183 (2003) 190, find
 * the number of major clusters changing through a periodic sequence of bifurcations, the clusters
 * a little more than 2 d apart, so at d = 0.1 finite runs end with 4 or 5 major clusters.
 *
 * Asserted over 20 seeds (0..19) each, N = 1000, mu = 0.5, major cluster = at least 5% of agents:
 * d = 0.1: every run 4 or 5 major clusters (floor(1/(2d)) = 5, minus at most one), mean in [4, 5]
 * (measured 4.4); d = 0.2: every run 2; d = 0.3: every run 1; d = 0.6: every run consensus (all
 * agents within 1e-3).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { deffuant } from "../../src/sim/dynamics/index.js";
import { simulate } from "../../src/sim/engine.js";
import { completeGraph, erdosRenyi } from "../../src/sim/graph.js";
import type { Graph } from "../../src/sim/types.js";

const N = 1000;
const SEEDS = 20;

async function runs(graph: Graph, epsilon: number) {
  const out = [];
  for (let seed = 0; seed < SEEDS; seed++) {
    const r = await simulate(deffuant, { graph, params: { agents: N, epsilon, mu: 0.5 }, seed, steps: 10_000 });
    assert.equal(r.converged, true, `epsilon ${epsilon} seed ${seed} did not converge`);
    out.push(r.final);
  }
  return out;
}

describe("Deffuant-Weisbuch", () => {
  const graph = completeGraph(N);

  it("ends with about floor(1/(2 epsilon)) major clusters (Deffuant et al. 2000)", async (t) => {
    const c1 = (await runs(graph, 0.1)).map((m) => m.clusters!);
    const c2 = (await runs(graph, 0.2)).map((m) => m.clusters!);
    const c3 = (await runs(graph, 0.3)).map((m) => m.clusters!);
    t.diagnostic(`major clusters at epsilon 0.1: ${c1.join(",")}; 0.2: ${c2.join(",")}; 0.3: ${c3.join(",")}`);
    for (const c of c1) assert.ok(c === 4 || c === 5, `epsilon 0.1: ${c} clusters`);
    const mean = c1.reduce((a, b) => a + b, 0) / SEEDS;
    assert.ok(mean >= 4 && mean <= 5, `epsilon 0.1: mean ${mean}`);
    assert.deepEqual(c2, new Array(SEEDS).fill(2));
    assert.deepEqual(c3, new Array(SEEDS).fill(1));
  });

  it("reaches complete consensus for epsilon > 1/2", async () => {
    for (const m of await runs(graph, 0.6)) {
      assert.equal(m.consensus, 1);
      assert.equal(m.largest, 1);
    }
  });

  it("conserves the mean opinion (encounters are symmetric) and runs on sparse graphs", async () => {
    const g = erdosRenyi(2000, { meanDegree: 10 }, 3);
    let x0 = 0;
    let x: Float64Array | undefined;
    const r = await simulate(deffuant, {
      graph: g,
      params: { epsilon: 0.3 },
      seed: 1,
      steps: 10_000,
      onStep: (e) => {
        if (e.step === 0) x0 = e.state.x.reduce((a, b) => a + b, 0) / g.n;
        x = e.state.x;
      },
    });
    assert.equal(r.converged, true);
    assert.ok(Math.abs(r.final.mean! - x0) < 1e-12);
    assert.ok(Math.abs(x!.reduce((a, b) => a + b, 0) / g.n - x0) < 1e-12);
    assert.equal(r.final.clusters, 1);
  });

  it("does nothing when no two agents are within epsilon", async () => {
    const r = await simulate(deffuant, { graph, params: { epsilon: 0 }, seed: 1, steps: 100 });
    assert.equal(r.steps, 1);
    assert.equal(r.converged, true);
    await assert.rejects(simulate(deffuant, { graph, params: { epsilon: 0.2, mu: 0.8 }, seed: 1, steps: 1 }), /parameter mu must be a number > 0 and <= 0.5/);
  });
});
