import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  AUTO_PRIOR,
  bradleyTerry,
  bradleyTerryFromComparisons,
  bradleyTerryLogLikelihood,
  rankingFromScores,
  supportFromComparisons,
} from "../../src/choice/bradley-terry.js";
import { marginMatrix, profileFromRankings } from "../../src/choice/profile.js";
import { seededRng } from "../../src/metrics/rng.js";
import { CivitasError } from "../../src/errors.js";

const close = (a: number, b: number, eps: number, what = "") => assert.ok(Math.abs(a - b) <= eps, `${what} ${a} vs ${b} (eps ${eps})`);

/** A support matrix from a list of [i, j, w]: i beat j w times. */
function support(m: number, wins: [number, number, number][]): Float64Array {
  const s = new Float64Array(m * m);
  for (const [i, j, w] of wins) s[i * m + j]! += w;
  return s;
}

/**
 * An independent maximiser of the Bradley-Terry log-likelihood: Newton's method on the
 * log-strengths theta (theta_0 fixed at 0), with the exact gradient and Hessian
 *   g_i = W_i - sum_j n_ij sigma(theta_i - theta_j),  H_ij = n_ij sigma_ij (1 - sigma_ij) (i != j), H_ii = -sum_j H_ij.
 */
function newtonBT(s: Float64Array, m: number): number[] {
  const theta = new Array<number>(m).fill(0);
  for (let it = 0; it < 200; it++) {
    const g = new Array<number>(m).fill(0);
    const H = Array.from({ length: m }, () => new Array<number>(m).fill(0));
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < m; j++) {
        if (i === j) continue;
        const n = s[i * m + j]! + s[j * m + i]!;
        if (n === 0) continue;
        const sig = 1 / (1 + Math.exp(theta[j]! - theta[i]!));
        g[i]! += s[i * m + j]! - n * sig;
        const h = n * sig * (1 - sig);
        H[i]![j]! += h;
        H[i]![i]! -= h;
      }
    }
    // Solve H' d = -g' on the coordinates 1..m-1 (Gaussian elimination with partial pivoting).
    const k = m - 1;
    const A = Array.from({ length: k }, (_, r) => [...H[r + 1]!.slice(1), -g[r + 1]!]);
    for (let c = 0; c < k; c++) {
      let piv = c;
      for (let r = c + 1; r < k; r++) if (Math.abs(A[r]![c]!) > Math.abs(A[piv]![c]!)) piv = r;
      [A[c], A[piv]] = [A[piv]!, A[c]!];
      for (let r = 0; r < k; r++) {
        if (r === c) continue;
        const f = A[r]![c]! / A[c]![c]!;
        for (let q = c; q <= k; q++) A[r]![q]! -= f * A[c]![q]!;
      }
    }
    let step = 0;
    for (let r = 0; r < k; r++) {
      const d = A[r]![k]! / A[r]![r]!;
      theta[r + 1]! += d;
      step = Math.max(step, Math.abs(d));
    }
    if (step < 1e-14) break;
  }
  const mean = theta.reduce((a, b) => a + b, 0) / m;
  return theta.map((t) => t - mean);
}

describe("Bradley-Terry by Newton's method", () => {
  it("has the closed form p1/p2 = w12/w21 for two alternatives", () => {
    const r = bradleyTerry(support(2, [[0, 1, 3], [1, 0, 1]]), 2);
    close(r.strengths[0]!, 0.75, 1e-12);
    close(r.strengths[1]!, 0.25, 1e-12);
    close(r.scores[0]!, Math.log(3) / 2, 1e-10);
    close(r.scores[1]!, -Math.log(3) / 2, 1e-10);
    assert.deepEqual(r.winners, [0]);
    assert.deepEqual(r.ranking, [[0], [1]]);
    assert.equal(r.prior, 0);
    assert.ok(r.mleExists && r.converged);
    // log-likelihood 3 log(3/4) + log(1/4)
    close(r.logLikelihood, 3 * Math.log(0.75) + Math.log(0.25), 1e-12);
  });

  it("solves a hand-computed 3-alternative case with inconsistent pairs", () => {
    // 1 beats 2 three times to one, 2 beats 3 three times to one, 1 and 3 split 1-1. The data are
    // symmetric under (1 <-> 3, wins <-> losses), so with p2 = 1, p1 = x, p3 = 1/x, and 1's
    // likelihood equation W_1 = sum_j n_1j p_1 / (p_1 + p_j) reads
    //   4 = 4x/(x+1) + 2x^2/(x^2+1)   <=>   x^3 - x^2 - 2 = 0.
    let lo = 1;
    let hi = 2;
    for (let k = 0; k < 200; k++) {
      const mid = (lo + hi) / 2;
      if (mid ** 3 - mid ** 2 - 2 > 0) hi = mid;
      else lo = mid;
    }
    const x = (lo + hi) / 2; // 1.69562...
    close(x, 1.6956, 1e-4);
    const r = bradleyTerry(support(3, [[0, 1, 3], [1, 0, 1], [1, 2, 3], [2, 1, 1], [0, 2, 1], [2, 0, 1]]), 3);
    const z = x + 1 + 1 / x;
    close(r.strengths[0]!, x / z, 1e-10);
    close(r.strengths[1]!, 1 / z, 1e-10);
    close(r.strengths[2]!, 1 / x / z, 1e-10);
    close(r.scores[0]!, Math.log(x), 1e-9);
    close(r.scores[1]!, 0, 1e-9);
    assert.deepEqual(r.ranking, [[0], [1], [2]]);
  });

  it("factorises along a chain of compared pairs", () => {
    // Only 1-2 (2:1) and 2-3 (3:1) compared: p1:p2:p3 = 6:3:1.
    const r = bradleyTerry(support(3, [[0, 1, 2], [1, 0, 1], [1, 2, 3], [2, 1, 1]]), 3);
    close(r.strengths[0]!, 0.6, 1e-10);
    close(r.strengths[1]!, 0.3, 1e-10);
    close(r.strengths[2]!, 0.1, 1e-10);
  });

  it("reaches the maximum a direct Newton maximisation of the log-likelihood finds", () => {
    const rng = seededRng(11);
    const m = 6;
    const truth = [2.0, 1.2, 0.5, 0, -0.7, -1.5];
    const s = new Float64Array(m * m);
    for (let n = 0; n < 400; n++) {
      const i = rng.int(0, m - 1);
      let j = rng.int(0, m - 2);
      if (j >= i) j++;
      const pi = 1 / (1 + Math.exp(truth[j]! - truth[i]!));
      if (rng.float() < pi) s[i * m + j]! += 1;
      else s[j * m + i]! += 1;
    }
    const r = bradleyTerry(s, m);
    assert.ok(r.mleExists && r.converged);
    const newton = newtonBT(s, m);
    for (let i = 0; i < m; i++) close(r.scores[i]!, newton[i]!, 1e-7, `score ${i}`);
    // and the log-likelihood there beats every nearby point
    const ll = bradleyTerryLogLikelihood(s, m, r.strengths);
    close(ll, r.logLikelihood, 1e-9);
    for (let i = 0; i < m; i++) {
      for (const d of [1e-3, -1e-3]) {
        const q = r.strengths.map((p, k) => (k === i ? p * Math.exp(d) : p));
        assert.ok(bradleyTerryLogLikelihood(s, m, q) < ll);
      }
    }
    // the truth's order is recovered from 400 comparisons
    assert.deepEqual(r.ranking.flat(), [0, 1, 2, 3, 4, 5]);
  });

  it("is invariant to scaling all counts", () => {
    const s = support(4, [[0, 1, 5], [1, 0, 2], [1, 2, 4], [2, 1, 3], [2, 3, 6], [3, 2, 1], [3, 0, 2], [0, 3, 3], [0, 2, 1], [2, 0, 1]]);
    const a = bradleyTerry(s, 4);
    const scaled = s.map((x) => x * 7.3);
    const b = bradleyTerry(scaled, 4);
    for (let i = 0; i < 4; i++) close(a.strengths[i]!, b.strengths[i]!, 1e-10);
    close(b.logLikelihood, 7.3 * a.logLikelihood, 1e-8);
  });

  it("reads a margin matrix from a profile", () => {
    // 3 voters a>b>c, 1 voter c>b>a: support a>b 3, b>a 1, a>c 3, c>a 1, b>c 3, c>b 1.
    const p = profileFromRankings(["a", "b", "c"], [[[0], [1], [2]], [[2], [1], [0]]], [3, 1]);
    const r = bradleyTerry(marginMatrix(p), 3);
    // Symmetric under (a <-> c, wins <-> losses): p_a = x, p_b = 1, p_c = 1/x, and a's equation
    // 6 = 4x/(x+1) + 4x^2/(x^2+1) reads x^3 - x^2 - x - 3 = 0.
    const x = Math.exp(r.scores[0]!);
    close(x ** 3 - x ** 2 - x - 3, 0, 1e-8);
    close(r.scores[2]!, -Math.log(x), 1e-9);
    const newton = newtonBT(marginMatrix(p).support, 3);
    for (let i = 0; i < 3; i++) close(r.scores[i]!, newton[i]!, 1e-8);
    close(r.scores[1]!, 0, 1e-9);
    assert.deepEqual(r.winners, [0]);
    assert.throws(() => bradleyTerry(marginMatrix(p), 4), CivitasError);
  });

  it("keeps ties as sets", () => {
    // a 3-cycle with equal counts: every strength 1/3, one tier, three winners
    const r = bradleyTerry(support(3, [[0, 1, 2], [1, 2, 2], [2, 0, 2], [1, 0, 1], [2, 1, 1], [0, 2, 1]]), 3);
    for (const x of r.strengths) close(x, 1 / 3, 1e-12);
    assert.deepEqual(r.winners, [0, 1, 2]);
    assert.deepEqual(r.ranking, [[0, 1, 2]]);
    assert.deepEqual(rankingFromScores([1, 3, 3, 2]), [[1, 2], [3], [0]]);
  });
});

describe("Bradley-Terry when the MLE does not exist", () => {
  // a never loses, d never wins; b and c are in between.
  const s = support(4, [[0, 1, 3], [0, 2, 2], [1, 2, 2], [2, 1, 1], [1, 3, 2], [2, 3, 1]]);

  it("regularises with virtual comparisons under prior auto, and says why", () => {
    const r = bradleyTerry(s, 4, { names: ["a", "b", "c", "d"] });
    assert.equal(r.mleExists, false);
    assert.equal(r.prior, AUTO_PRIOR);
    assert.ok(r.converged);
    assert.ok(r.strengths.every((x) => x > 0 && Number.isFinite(x)));
    assert.deepEqual(r.ranking, [[0], [1], [2], [3]]);
    assert.equal(r.warnings.length, 1);
    assert.match(r.warnings[0]!, /never win: "d"/u);
    assert.match(r.warnings[0]!, /never lose: "a"/u);
  });

  it("solves the virtual-opponent equations: each alternative's (wins + prior) = expected wins against the data and the opponent", () => {
    const prior = 0.5;
    const r = bradleyTerry(s, 4, { prior, tolerance: 1e-13 });
    // Undo the normalisation: the fitted strengths are relative to the virtual opponent (strength 1).
    // Find the scale c with which the augmented likelihood equations hold, from alternative 0's equation, and check all.
    const eq = (p: number[], i: number) => {
      let expected = (2 * prior * p[i]!) / (p[i]! + 1);
      let wins = prior;
      for (let j = 0; j < 4; j++) {
        if (j === i) continue;
        wins += s[i * 4 + j]!;
        const n = s[i * 4 + j]! + s[j * 4 + i]!;
        expected += (n * p[i]!) / (p[i]! + p[j]!);
      }
      return wins - expected;
    };
    let lo = 1e-3;
    let hi = 1e3;
    for (let k = 0; k < 300; k++) {
      const c = Math.sqrt(lo * hi);
      const total = [0, 1, 2, 3].reduce((acc, i) => acc + eq(r.strengths.map((x) => x * c), i), 0);
      // more scale -> more expected wins against the opponent -> total goes down
      if (total > 0) lo = c;
      else hi = c;
    }
    const p = r.strengths.map((x) => x * lo);
    for (let i = 0; i < 4; i++) close(eq(p, i), 0, 1e-8, `equation ${i}`);
  });

  it("throws with prior 0, and fits an uncompared alternative at the middle", () => {
    assert.throws(() => bradleyTerry(s, 4, { prior: 0 }), (e: unknown) => e instanceof CivitasError && /never win/u.test(e.message) && e.hint !== undefined);
    const r = bradleyTerry(support(3, [[0, 1, 2], [1, 0, 1]]), 3, { prior: 1 });
    assert.match(bradleyTerry(support(3, [[0, 1, 2], [1, 0, 1]]), 3).warnings[0]!, /never compared: alternative 3/u);
    // 2 is compared with nothing: only its virtual win and loss, so its strength is the opponent's (1)
    assert.ok(r.strengths[0]! > r.strengths[2]! && r.strengths[2]! > r.strengths[1]!);
  });

  it("fits the chain 100000: 1,...,8 to an independent 50-digit solution (test/choice/reference/bt-chain.py)", () => {
    // One order, 100,000 voters: i beats j (i < j) 100,000 times; nobody beats 1, 8 beats nobody.
    const m = 8;
    const chain = new Float64Array(m * m);
    for (let i = 0; i < m; i++) for (let j = i + 1; j < m; j++) chain[i * m + j] = 100000;
    const r = bradleyTerry(chain, m);
    assert.equal(r.mleExists, false);
    assert.ok(r.converged);
    // mpmath.findroot on the stationarity equations (not civitas' method), 50 digits.
    const reference = [37.811973794440787314, 26.299038329120590559, 15.479240043610440778, 5.0648968641762185455];
    const expected = [...reference, ...reference.map((x) => -x).reverse()];
    // Newton stops when a step moves no log-strength by more than 1e-10; the objective's flattest
    // curvature here (the virtual games near theta = +-5, about 0.025) turns gradient noise of
    // the counts' rounding (1e5 x 1e-16) into at most ~1e-9. 1e-7 leaves room and still fails the
    // old MM fit (23.5 ... -28.2) by 14.
    r.scores.forEach((x, i) => close(x, expected[i]!, 1e-7, `score of ${i + 1}`));
    // The reversal symmetry: the gaps read the same from both ends (the old fit: 6.6 at the top, 11.5 at the bottom).
    const gaps = r.scores.slice(1).map((x, i) => r.scores[i]! - x);
    for (let k = 0; k < 3; k++) close(gaps[k]!, gaps[6 - k]!, 1e-7, `gap ${k + 1} against gap ${7 - k}`);
    // The hand-derived leading order: gap k = ln(100000 / k) from the top.
    [1, 2, 3].forEach((k, i) => close(gaps[i]!, Math.log(100000 / k), 1e-4, `gap ${k}`));
  });

  it("warns when it stops before converging", () => {
    const r = bradleyTerry(support(3, [[0, 1, 30], [1, 0, 1], [1, 2, 30], [2, 1, 1], [0, 2, 1], [2, 0, 1]]), 3, { maxIterations: 2 });
    assert.equal(r.converged, false);
    assert.equal(r.iterations, 2);
    assert.match(r.warnings[0]!, /without converging/u);
  });
});

describe("Bradley-Terry from comparisons", () => {
  it("equals the fit of the support matrix they make", () => {
    const comps = [
      { chosen: 0, rejected: 1 },
      { chosen: 0, rejected: 1, weight: 2 },
      { chosen: 1, rejected: 0 },
    ];
    const s = supportFromComparisons(comps, 2);
    assert.deepEqual(Array.from(s), [0, 3, 1, 0]);
    const r = bradleyTerryFromComparisons(comps, 2);
    close(r.strengths[0]!, 0.75, 1e-12);
    assert.equal(r.comparisons, 4);
  });

  it("names the bad comparison", () => {
    assert.throws(() => supportFromComparisons([{ chosen: 0, rejected: 1 }, { chosen: 1, rejected: 1 }], 2), /comparison 2: chosen and rejected/u);
    assert.throws(() => supportFromComparisons([{ chosen: 0, rejected: 2 }], 2), /comparison 1: rejected = 2/u);
    assert.throws(() => supportFromComparisons([{ chosen: 0, rejected: 1, weight: 0 }], 2), /weight must be > 0/u);
    assert.throws(() => bradleyTerry(new Float64Array([0, -1, 1, 0]), 2), /finite and >= 0/u);
  });
});
