/**
 * The voter model.
 *
 * Published: V. Sood and S. Redner, "Voter model on heterogeneous graphs", Phys. Rev. Lett. 94
 * (2005) 178701: on the complete graph the mean time to consensus from a share x of one opinion
 * is T_N(x) = -N [x ln x + (1 - x) ln(1 - x)], in units where each update takes 1/N (so in sweeps
 * of N updates); from an even split T_N = N ln 2. The exit probability (ending at all 1) equals
 * the initial share x on the complete graph, and the degree-weighted share sum_i k_i s_i / sum_i
 * k_i on a heterogeneous graph (the conserved quantity of the node-update voter model; same paper).
 *
 * Asserted: mean consensus time (exact, fractional sweeps) within 3 standard errors of N ln 2 for
 * N = 100 (1000 runs, seeds 0..999; standard error ~2.3%) and N = 400 (600 runs, ~3.1%), and of
 * the exact finite-N expectation of the same chain (solved below); the
 * share of runs ending at all 1 from x = 0.25 within 3 binomial standard errors of 0.25 (N = 100,
 * 600 runs); and on a Barabasi-Albert graph the outcome minus the initial degree-weighted share
 * averaging to 0 within 3 standard errors (400 runs).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { voter, type VoterState } from "../../src/sim/dynamics/index.js";
import { simulate } from "../../src/sim/engine.js";
import { barabasiAlbert, completeGraph, degree, lattice2d } from "../../src/sim/graph.js";

function meanAndSe(values: number[]): { mean: number; se: number } {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / (values.length - 1);
  return { mean, se: Math.sqrt(variance / values.length) };
}

/**
 * Exact mean consensus time in sweeps for finite N from k = N/2: the number of 1s is a birth-death
 * chain moving +-1 with probability p_k = k (N - k) / (N (N - 1)) each per update, so
 * T(k+1) - 2 T(k) + T(k-1) = -1 / p_k with T(0) = T(N) = 0. (Tends to N ln 2 for large N.)
 */
function exactSweeps(n: number, k0: number): number {
  const d = new Float64Array(n + 1); // d[k] = T(k) - T(k-1), with d[1] = T(1) unknown: solve linearly
  const c = new Float64Array(n + 1);
  d[1] = 1;
  c[1] = 0; // d[k] = d1 * 1 + c[k]
  for (let k = 1; k < n; k++) {
    const p = (k * (n - k)) / (n * (n - 1));
    c[k + 1] = c[k]! - 1 / p;
  }
  let sumC = 0;
  for (let k = 1; k <= n; k++) sumC += c[k]!;
  const d1 = -sumC / n; // T(N) = n d1 + sum c = 0
  let t = 0;
  for (let k = 1; k <= k0; k++) t += d1 + c[k]!;
  return t / n;
}

describe("voter model", () => {
  for (const [n, runs] of [[100, 1000], [400, 600]] as const) {
    it(`reaches consensus on the complete graph of ${n} in N ln 2 sweeps from an even split (Sood and Redner 2005)`, async (t) => {
      const graph = completeGraph(n);
      const times: number[] = [];
      for (let seed = 0; seed < runs; seed++) {
        const r = await simulate(voter, { graph, params: { agents: n, x0: 0.5 }, seed, steps: 100 * n });
        assert.equal(r.converged, true);
        assert.equal(r.final.consensus, 1);
        assert.equal(r.final.clusters, 1);
        assert.equal(r.steps, Math.ceil(r.final.time!));
        times.push(r.final.time!);
      }
      const { mean, se } = meanAndSe(times);
      const expected = n * Math.LN2;
      t.diagnostic(`N = ${n}: mean ${mean.toFixed(2)} sweeps, se ${se.toFixed(2)} (${((100 * se) / mean).toFixed(1)}%), N ln 2 = ${expected.toFixed(2)}, exact finite-N ${exactSweeps(n, n / 2).toFixed(2)}`);
      assert.ok(se / mean < 0.04, `standard error ${se} too large for the check`);
      assert.ok(Math.abs(mean - expected) < 3 * se, `mean ${mean} vs N ln 2 = ${expected} (se ${se})`);
      const exact = exactSweeps(n, n / 2);
      assert.ok(Math.abs(exact - expected) / expected < 2 / n, "the exact finite-N time tends to N ln 2");
      assert.ok(Math.abs(mean - exact) < 3 * se, `mean ${mean} vs exact ${exact} (se ${se})`);
    });
  }

  it("ends at all 1 with probability equal to the initial share on the complete graph", async (t) => {
    const graph = completeGraph(100);
    const runs = 600;
    let ones = 0;
    for (let seed = 0; seed < runs; seed++) {
      const r = await simulate(voter, { graph, params: { x0: 0.25 }, seed, steps: 100_000 });
      assert.equal(r.converged, true);
      ones += r.final.fraction!;
    }
    const se = Math.sqrt((0.25 * 0.75) / runs);
    t.diagnostic(`share ending at 1: ${ones / runs} (expected 0.25 +- ${(3 * se).toFixed(3)})`);
    assert.ok(Math.abs(ones / runs - 0.25) < 3 * se);
  });

  it("ends at all 1 with probability equal to the degree-weighted initial share on a heterogeneous graph", async (t) => {
    const graph = barabasiAlbert(100, 2, 1);
    let totalDegree = 0;
    for (let v = 0; v < graph.n; v++) totalDegree += degree(graph, v);
    const diffs: number[] = [];
    for (let seed = 0; seed < 400; seed++) {
      let omega = 0;
      const r = await simulate(voter, {
        graph,
        params: {},
        seed,
        steps: 1_000_000,
        onStep: (e: { step: number; state: VoterState }) => {
          if (e.step !== 0) return;
          for (let v = 0; v < graph.n; v++) omega += e.state.s[v]! * degree(graph, v);
          omega /= totalDegree;
        },
      });
      assert.equal(r.converged, true);
      diffs.push(r.final.fraction! - omega);
    }
    const { mean, se } = meanAndSe(diffs);
    t.diagnostic(`mean outcome - degree-weighted share: ${mean.toFixed(4)} (se ${se.toFixed(4)})`);
    assert.ok(Math.abs(mean) < 3 * se);
  });

  it("starts from exactly round(x0 N) agents holding 1 and keeps that count in step with the state", async () => {
    const graph = lattice2d(10, 10);
    await simulate(voter, {
      graph,
      params: { x0: 0.3 },
      seed: 2,
      steps: 50,
      onStep: (e: { step: number; state: VoterState }) => {
        const ones = e.state.s.reduce((a, b) => a + b, 0);
        if (e.step === 0) assert.equal(ones, 30);
        assert.equal(e.state.ones, ones);
      },
    });
  });
});
