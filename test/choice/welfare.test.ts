import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ballotTiers, profileFromRankings, type Profile, type Ranking } from "../../src/choice/profile.js";
import { borda } from "../../src/choice/index.js";
import { bordaUtilities, groupWelfare, kendallTauB, type RuleOutcome } from "../../src/choice/welfare.js";
import { CivitasError } from "../../src/errors.js";

const close = (a: number | null, b: number, eps = 1e-12) => assert.ok(a !== null && Math.abs(a - b) <= eps, `${a} vs ${b}`);

/** Plurality for the tests (rules.ts is separate): first-tier weight, split among tied firsts. */
function plurality(p: Profile): RuleOutcome {
  const scores = p.alternatives.map(() => 0);
  for (let b = 0; b < p.size; b++) {
    const top = ballotTiers(p, b)[0] ?? [];
    for (const a of top) scores[a]! += p.counts[b]! / top.length;
  }
  const best = Math.max(...scores);
  return { winners: scores.flatMap((s, a) => (s === best ? [a] : [])), scores };
}
const winnersOnly = (p: Profile): RuleOutcome => ({ winners: plurality(p).winners });

const alts = ["a", "b", "c"];
const abc: Ranking = [[0], [1], [2]];
const cba: Ranking = [[2], [1], [0]];

describe("per-group outcomes and welfare", () => {
  // X: 3 voters a > b > c; Y: 2 voters c > b > a.
  const X = profileFromRankings(alts, [abc], [3]);
  const Y = profileFromRankings(alts, [cba], [2]);
  const pooled = profileFromRankings(alts, [abc, cba], [3, 2]);
  const groups = [
    { name: "X", profile: X },
    { name: "Y", profile: Y },
  ];

  it("gives each group's outcome, utilities, and the utilitarian and egalitarian choices", () => {
    const r = groupWelfare(pooled, groups, plurality);
    assert.deepEqual(r.pooled.outcome.winners, [0]);
    assert.deepEqual(r.groups.map((g) => [g.name, g.voters, g.outcome.winners, g.sameWinners]), [
      ["X", 3, [0], true],
      ["Y", 2, [2], false],
    ]);
    assert.deepEqual(r.groups[0]!.utilities, [1, 0.5, 0]);
    assert.deepEqual(r.groups[1]!.utilities, [0, 0.5, 1]);
    // utilitarian (3:2): a 0.6, b 0.5, c 0.4; egalitarian: a 0, b 0.5, c 0
    r.utilitarian.values.forEach((v, i) => close(v, [0.6, 0.5, 0.4][i]!));
    assert.deepEqual(r.utilitarian.winners, [0]);
    assert.deepEqual(r.egalitarian.values, [0, 0.5, 0]);
    assert.deepEqual(r.egalitarian.winners, [1]);
    // pooled utilities are the voter-weighted mean here (the groups partition the pool)
    r.pooled.utilities.forEach((v, i) => close(v, r.utilitarian.values[i]!));
    assert.deepEqual(
      r.outcomes.map((o) => [o.label, o.winners, o.welfare, +o.mean.toFixed(12), o.min]),
      [
        ["pooled", [0], [1, 0], 0.6, 0],
        ["X", [0], [1, 0], 0.6, 0],
        ["Y", [2], [0, 1], 0.4, 0],
        ["utilitarian", [0], [1, 0], 0.6, 0],
        ["egalitarian", [1], [0.5, 0.5], 0.5, 0.5],
      ],
    );
  });

  it("measures agreement by Kendall's tau-b between scores, or between Borda utilities when the rule has none", () => {
    const r = groupWelfare(pooled, groups, plurality);
    // pooled plurality scores (3, 0, 2); X (3, 0, 0): 2 concordant, 1 pair tied in X: 2 / sqrt(3 * 2)
    assert.equal(r.groups[0]!.agreement.basis, "scores");
    close(r.groups[0]!.agreement.tau, 2 / Math.sqrt(6));
    // Y (0, 0, 2): (a,c) discordant, (b,c) concordant, (a,b) tied in Y: 0
    close(r.groups[1]!.agreement.tau, 0);
    const w = groupWelfare(pooled, groups, winnersOnly);
    assert.deepEqual(w.groups.map((g) => [g.agreement.basis, g.agreement.tau]), [
      ["borda", 1],
      ["borda", -1],
    ]);
  });

  it("handles ties and truncation as margin-sum Borda", () => {
    // {a, b} > c: a and b get (1/2 + 1)/2 = 0.75, c 0
    assert.deepEqual(bordaUtilities(profileFromRankings(alts, [[[0, 1], [2]]])), [0.75, 0.75, 0]);
    // a > b, c unranked: c goes last, as in rules.ts's Borda (pref_voting's extended_strict_pref)
    const trunc = profileFromRankings(alts, [[[0], [1]]]);
    assert.deepEqual(bordaUtilities(trunc), [1, 0.5, 0]);
    // ... unless unranked alternatives stay incomparable: such pairs count half:
    // a (1 + 1/2)/2, b (0 + 1/2)/2, c (1/2 + 1/2)/2
    assert.deepEqual(bordaUtilities(trunc, { extendTruncated: false }), [0.75, 0.25, 0.5]);
    // a strict complete ballot: (m - 1 - rank) / (m - 1), weighted by counts
    const four = profileFromRankings(["w", "x", "y", "z"], [[[3], [0], [2], [1]], [[0], [1], [2], [3]]], [1, 3]);
    const u = bordaUtilities(four);
    [(2 / 3 + 3) / 4, (0 + 3 * (2 / 3)) / 4, (1 / 3 + 3 * (1 / 3)) / 4, (1 + 0) / 4].forEach((v, i) => close(u[i]!, v));
    assert.deepEqual(bordaUtilities(profileFromRankings(["only"], [[[0]]])), [1]);
    const r = groupWelfare(trunc, [{ name: "t", profile: trunc }], winnersOnly, { extendTruncated: false });
    assert.deepEqual(r.groups[0]!.utilities, [0.75, 0.25, 0.5]);
  });

  it("is an affine function of rules.ts's Borda score, ties and truncation included", () => {
    const p = profileFromRankings(["a", "b", "c", "d"], [[[0], [1, 2], [3]], [[3], [0]], [[2, 1, 0, 3]], [[1], [3], [0], [2]]], [2, 3, 1, 0.5]);
    const scores = borda(p).scores!;
    const u = bordaUtilities(p);
    const w = 6.5;
    scores.forEach((sc, a) => close(u[a]!, 0.5 + sc / (2 * 3 * w)));
    // and the welfare report's agreement then uses Borda's scores
    const r = groupWelfare(p, [{ name: "all", profile: p }], borda);
    assert.deepEqual(r.groups[0]!.agreement, { tau: 1, basis: "scores" });
    assert.deepEqual(r.utilitarian.winners, borda(p).winners);
  });

  it("keeps tied choices as sets", () => {
    // two equal groups with opposite rankings: utilitarian a, b, c all 0.5; egalitarian b alone
    const Y3 = profileFromRankings(alts, [cba], [3]);
    const r = groupWelfare(profileFromRankings(alts, [abc, cba], [3, 3]), [groups[0]!, { name: "Y", profile: Y3 }], plurality);
    assert.deepEqual(r.utilitarian.winners, [0, 1, 2]);
    assert.deepEqual(r.egalitarian.winners, [1]);
    assert.deepEqual(r.pooled.outcome.winners, [0, 2]);
    // the pooled tie is a lottery: X's welfare 1/2 (1 + 0)
    assert.deepEqual(r.outcomes[0]!.welfare, [0.5, 0.5]);
  });

  it("computes Kendall's tau-b", () => {
    assert.equal(kendallTauB([1, 2, 3], [1, 2, 3]), 1);
    assert.equal(kendallTauB([1, 2, 3], [3, 2, 1]), -1);
    assert.equal(kendallTauB([1, 1, 1], [1, 2, 3]), null);
    // scipy.stats.kendalltau([1, 2, 2, 3], [1, 3, 2, 2]) (tau-b): 3 concordant, 1 discordant, one
    // pair tied in each, 6 pairs: (3 - 1) / sqrt(5 * 5) = 0.4
    close(kendallTauB([1, 2, 2, 3], [1, 3, 2, 2]), 0.4);
  });

  it("rejects groups over other alternatives, empty groups and bad rule outcomes", () => {
    const other = profileFromRankings(["a", "c", "b"], [abc]);
    assert.throws(() => groupWelfare(pooled, [{ name: "o", profile: other }], plurality), (e: unknown) => e instanceof CivitasError && /group "o" has alternatives/u.test(e.message));
    const empty = profileFromRankings(alts, [abc], [0]);
    assert.throws(() => groupWelfare(pooled, [{ name: "e", profile: empty }], plurality), /group "e" has no voters/u);
    assert.throws(() => groupWelfare(pooled, groups, () => ({ winners: [3] })), /winner 3 for the pooled profile/u);
    assert.throws(() => groupWelfare(pooled, groups, () => ({ winners: [] })), /elected nobody/u);
  });
});
