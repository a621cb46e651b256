/**
 * The special functions (src/metrics/distributions.ts) against published tables, closed forms,
 * 40-digit values from mpmath, and the outputs of the @stdlib packages they replace
 * (distributions-reference.json says how each was made).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { logGamma, normalQuantile, tQuantile } from "../../src/metrics/distributions.js";

interface Reference {
  mpmath: { t: [number, number, string][]; normal: [number, string][]; logGamma: [number, string][] };
  stdlib: { t: [number, number, number][]; normal: [number, number | null][]; logGamma: [number, number][] };
}
const REF = JSON.parse(readFileSync(new URL("./distributions-reference.json", import.meta.url), "utf8")) as Reference;

const rel = (a: number, b: number) => (a === b ? 0 : Math.abs(a - b) / Math.abs(b));
function within(actual: number, expected: number, tol: number, what: string): void {
  assert.ok(rel(actual, expected) <= tol, `${what}: ${actual} vs ${expected} (relative ${rel(actual, expected).toExponential(2)} > ${tol})`);
}

describe("Student's t quantile", () => {
  it("matches the published table of t_{0.975, df} for df = 1..30 to its three decimals", () => {
    // NIST/SEMATECH e-Handbook of Statistical Methods, 1.3.6.7.2 (upper critical values of the
    // t distribution), column 0.025; also Fisher & Yates, Statistical Tables, table III.
    const table = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042];
    table.forEach((t, i) => assert.ok(Math.abs(tQuantile(0.975, i + 1) - t) <= 0.0005, `df ${i + 1}: ${tQuantile(0.975, i + 1)} vs ${t}`));
  });

  it("matches closed forms: df 1 (Cauchy), 2, and 4 (a cubic in sin theta, solved by hand)", () => {
    for (const p of [0.6, 0.9, 0.975, 0.999]) {
      within(tQuantile(p, 1), Math.tan(Math.PI * (p - 0.5)), 1e-13, `df 1, p ${p}`);
      within(tQuantile(p, 2), (2 * p - 1) / Math.sqrt(2 * p * (1 - p)), 1e-14, `df 2, p ${p}`);
      // df 4: P(|T| <= t) = s (3 - s^2) / 2 with s = t / sqrt(4 + t^2), so s is the root in (0, 1) of
      // s^3 - 3 s + 2a = 0 (a = 2p - 1): s = 2 cos((arccos(-a) + 4 pi) / 3), and t = 2 s / sqrt(1 - s^2).
      const s = 2 * Math.cos((Math.acos(-(2 * p - 1)) + 4 * Math.PI) / 3);
      within(tQuantile(p, 4), (2 * s) / Math.sqrt(1 - s * s), 1e-13, `df 4, p ${p}`);
    }
  });

  it("is within 2e-14 of 40-digit values (mpmath) for df 1 to 99,999 and p from 0.025 to 0.9995", () => {
    for (const [p, df, v] of REF.mpmath.t) within(tQuantile(p, df), Number(v), 2e-14, `p ${p}, df ${df}`);
  });

  it("gives what @stdlib/stats-base-dists-t-quantile gave, to 1e-13, on the same grid", () => {
    for (const [p, df, v] of REF.stdlib.t) within(tQuantile(p, df), v, 1e-13, `p ${p}, df ${df}`);
  });

  it("is antisymmetric, 0 at 1/2, infinite at 0 and 1, and refuses fractional degrees of freedom", () => {
    for (const df of [1, 3, 10, 57, 5000]) {
      // p and 1 - p both exact in binary (0.975 and 0.025 are not each other's complement there).
      for (const p of [0.75, 0.875, 0.9921875]) assert.equal(tQuantile(1 - p, df), -tQuantile(p, df));
      assert.equal(tQuantile(0.5, df), 0);
    }
    assert.equal(tQuantile(1, 5), Infinity);
    assert.equal(tQuantile(0, 5), -Infinity);
    assert.ok(Number.isNaN(tQuantile(1.5, 5)));
    assert.throws(() => tQuantile(0.975, 2.5), RangeError);
    assert.throws(() => tQuantile(0.975, 0), RangeError);
  });

  it("stays monotone in p and in the degrees of freedom", () => {
    let prev = -Infinity;
    for (let p = 0.501; p < 1; p += 0.0049) {
      const t = tQuantile(p, 7);
      assert.ok(t > prev, `p ${p}`);
      prev = t;
    }
    for (let df = 1; df < 3000; df += df < 40 ? 1 : 97) assert.ok(tQuantile(0.975, df + 1) < tQuantile(0.975, df), `df ${df}`);
  });
});

describe("the standard normal quantile (AS 241)", () => {
  it("matches 40-digit values (mpmath) to 1e-15, from 1e-300 to 1 - 1e-10", () => {
    for (const [p, v] of REF.mpmath.normal) within(normalQuantile(p), Number(v), 1e-15, `p ${p}`);
  });

  it("gives the familiar z values and what @stdlib gave, and is antisymmetric", () => {
    // z_{0.975} = 1.959963984540054, z_{0.95} = 1.644853626951472, z_{0.995} = 2.575829303548901
    within(normalQuantile(0.975), 1.959963984540054, 1e-15, "0.975");
    within(normalQuantile(0.95), 1.644853626951472, 1e-15, "0.95");
    within(normalQuantile(0.995), 2.575829303548901, 1e-15, "0.995");
    // @stdlib's quantile (through erfcinv) loses precision in the lower tail (2e-9 at p = 1e-10,
    // -Infinity at 1e-20; mpmath above is the reference there): compared from p = 0.001 on.
    for (const [p, v] of REF.stdlib.normal) if (p >= 0.001) within(normalQuantile(p), v!, 1e-15, `p ${p}`);
    for (const p of [2 ** -20, 2 ** -9, 0.0625, 0.25, 0.375]) assert.equal(normalQuantile(p), -normalQuantile(1 - p));
    assert.equal(normalQuantile(0.5), 0);
    assert.equal(normalQuantile(0), -Infinity);
    assert.equal(normalQuantile(1), Infinity);
    assert.ok(Number.isNaN(normalQuantile(-0.1)));
  });
});

describe("log-gamma (Lanczos)", () => {
  it("is ln((n-1)!) at whole numbers and ln(sqrt(pi)) at 1/2", () => {
    let factorial = 1;
    for (let n = 1; n <= 30; n++) {
      if (n > 1) factorial *= n - 1;
      const expected = Math.log(factorial);
      assert.ok(Math.abs(logGamma(n) - expected) <= 1e-15 * Math.max(1, expected), `n ${n}: ${logGamma(n)} vs ${expected}`);
    }
    assert.equal(logGamma(1), 0);
    assert.equal(logGamma(2), 0);
    within(logGamma(0.5), 0.5 * Math.log(Math.PI), 1e-15, "1/2");
    within(logGamma(1.5), Math.log(Math.sqrt(Math.PI) / 2), 1e-14, "3/2");
  });

  it("matches Stirling's series for large x and 40-digit values (mpmath) elsewhere", () => {
    for (const x of [1e3, 1e5, 1e7]) {
      const stirling = (x - 0.5) * Math.log(x) - x + 0.5 * Math.log(2 * Math.PI) + 1 / (12 * x) - 1 / (360 * x ** 3);
      within(logGamma(x), stirling, 1e-15, `x ${x}`);
    }
    // Absolute error near the zeros at 1 and 2, relative elsewhere.
    for (const [x, v] of REF.mpmath.logGamma) assert.ok(Math.abs(logGamma(x) - Number(v)) <= 1e-15 * Math.max(1, Math.abs(Number(v))), `x ${x}: ${logGamma(x)} vs ${v}`);
    for (const [x, v] of REF.stdlib.logGamma) assert.ok(Math.abs(logGamma(x) - v) <= 1e-15 * Math.max(1, Math.abs(v)), `x ${x}: ${logGamma(x)} vs @stdlib ${v}`);
    assert.ok(Number.isNaN(logGamma(0)) && Number.isNaN(logGamma(-1)));
  });
});
