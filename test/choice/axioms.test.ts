import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CivitasError } from "../../src/errors.js";
import { bradleyTerry } from "../../src/choice/bradley-terry.js";
import { readPrefLib } from "../../src/choice/preflib.js";
import { marginMatrix, profileFromRankings, type Profile } from "../../src/choice/profile.js";
import { AXIOMS, auditRules, checkAxioms, majorityRanking, paretoDominations, type AxiomCheck, type AxiomId } from "../../src/choice/axioms.js";
import { borda, copeland, instantRunoff, kemenyYoung, plurality, schulze } from "../../src/choice/index.js";

const DATA = new URL("../../../shared/data/preflib/", import.meta.url).pathname;

function linear(names: readonly string[], rows: readonly (readonly [number, string])[]): Profile {
  return profileFromRankings(
    names,
    rows.map(([, r]) => r.split(">").map((s) => [names.indexOf(s)])),
    rows.map(([c]) => c),
  );
}

const pick = (checks: AxiomCheck[], rule: string, axiom: AxiomId) => {
  const c = checks.find((x) => x.rule === rule && x.axiom === axiom);
  assert.ok(c, `no check ${rule}/${axiom}`);
  return c;
};

// The Tennessee capital example (Wikipedia, "Condorcet method" / "Instant-runoff voting"): Nashville
// is the Condorcet winner, Memphis the Condorcet loser; plurality elects Memphis, IRV Knoxville.
const tennessee = linear(["Memphis", "Nashville", "Chattanooga", "Knoxville"], [
  [42, "Memphis>Nashville>Chattanooga>Knoxville"],
  [26, "Nashville>Chattanooga>Knoxville>Memphis"],
  [15, "Chattanooga>Knoxville>Nashville>Memphis"],
  [17, "Knoxville>Chattanooga>Nashville>Memphis"],
]);

describe("Condorcet winner criterion (pref_voting dominance_axioms.condorcet_winner: the Condorcet winner must win alone)", () => {
  it("Tennessee: plurality and IRV violate it, Borda and Schulze do not", () => {
    const mm = marginMatrix(tennessee);
    const checks = checkAxioms(tennessee, [
      { rule: "plurality", ...plurality(tennessee) },
      { rule: "irv", ...instantRunoff(tennessee) },
      { rule: "borda", ...borda(tennessee) },
      { rule: "schulze", ...schulze(mm) },
    ], { axioms: ["condorcet-winner"] });
    assert.deepEqual(checks.map((c) => [c.rule, c.applicable, c.violated]), [
      ["plurality", true, true],
      ["irv", true, true],
      ["borda", true, false],
      ["schulze", true, false],
    ]);
    assert.equal(checks[0]!.detail, "Nashville is the Condorcet winner but plurality elects Memphis");
  });

  it("sharing the win with the Condorcet winner is a violation; without a Condorcet winner the axiom does not apply", async () => {
    const [shared] = checkAxioms(tennessee, [{ rule: "hand-made", winners: [1, 2] }], { axioms: ["condorcet-winner"] });
    assert.equal(shared!.violated, true);
    assert.match(shared!.detail, /elects Nashville, Chattanooga/);
    const cycle = await readPrefLib(DATA + "condorcet-paradox-3.soc");
    const [na] = checkAxioms(cycle, [{ rule: "hand-made", winners: [0] }], { axioms: ["condorcet-winner"] });
    assert.deepEqual([na!.applicable, na!.violated, na!.detail], [false, false, "there is no Condorcet winner"]);
  });
});

describe("Condorcet loser criterion (pref_voting dominance_axioms.condorcet_loser)", () => {
  it("Tennessee: plurality elects Memphis, the Condorcet loser; IRV does not", () => {
    const checks = checkAxioms(tennessee, [
      { rule: "plurality", ...plurality(tennessee) },
      { rule: "irv", ...instantRunoff(tennessee) },
    ], { axioms: ["condorcet-loser"] });
    assert.deepEqual(checks.map((c) => [c.rule, c.applicable, c.violated]), [
      ["plurality", true, true],
      ["irv", true, false],
    ]);
    assert.equal(checks[0]!.detail, "plurality elects Memphis, including the Condorcet loser Memphis");
  });

  it("a hand-made tie that includes the loser is a violation; the 3-cycle has no loser", async () => {
    const [c] = checkAxioms(tennessee, [{ rule: "hand-made", winners: [0, 1] }], { axioms: ["condorcet-loser"] });
    assert.equal(c!.violated, true);
    const cycle = await readPrefLib(DATA + "condorcet-paradox-3.soc");
    const [na] = checkAxioms(cycle, [{ rule: "hand-made", winners: [0, 1, 2] }], { axioms: ["condorcet-loser"] });
    assert.equal(na!.applicable, false);
  });
});

describe("Pareto (pref_voting dominance_axioms.pareto_dominance: support(c, w) = all voters)", () => {
  it("a hand-made rule electing a dominated alternative is caught, naming the dominating one", () => {
    // everyone ranks a above b; nobody's ranking puts c above a
    const p = linear(["a", "b", "c"], [
      [2, "a>b>c"],
      [1, "a>c>b"],
      [1, "c>a>b"],
    ]);
    assert.deepEqual(paretoDominations(p), [[0, 1]]);
    const checks = checkAxioms(p, [
      { rule: "bad", winners: [1] },
      { rule: "borda", ...borda(p) },
    ], { axioms: ["pareto"] });
    assert.deepEqual(checks.map((c) => [c.rule, c.applicable, c.violated]), [
      ["bad", true, true],
      ["borda", true, false],
    ]);
    assert.equal(checks[0]!.detail, "bad elects b, but every voter prefers a to b");
  });

  it("truncated ballots: a voter who leaves w unranked prefers c to w only with extendTruncated", () => {
    // 2 voters c > w, 1 voter ranks only c
    const p = profileFromRankings(["c", "w"], [[[0], [1]], [[0]]], [2, 1]);
    assert.deepEqual(paretoDominations(p), []);
    assert.deepEqual(paretoDominations(p, { extendTruncated: true }), [[0, 1]]);
    const outcome = [{ rule: "bad", winners: [1] }];
    assert.equal(checkAxioms(p, outcome, { axioms: ["pareto"] })[0]!.applicable, false);
    assert.equal(checkAxioms(p, outcome, { axioms: ["pareto"], extendTruncated: true })[0]!.violated, true);
    // a voter who ranks neither blocks the domination even when extended
    const q = profileFromRankings(["c", "w", "x"], [[[0], [1]], [[2]]], [2, 1]);
    assert.deepEqual(paretoDominations(q, { extendTruncated: true }), []);
  });
});

describe("pairwise majority consistency (Ge et al. 2024, 'Axioms for AI Alignment from Human Feedback', NeurIPS)", () => {
  // 3 voters a > b > c, 2 voters b > c > a: the majority ranks a > b (3-2), b > c (5-0), a > c (3-2).
  // Borda (positional 6, 7, 2) puts b first; Bradley-Terry, fitted to the same pairwise counts, too
  // (b wins 7 of its 10 comparisons, a 6): both break PMC, as Ge et al. show for Borda and BT in general.
  const p = linear(["a", "b", "c"], [
    [3, "a>b>c"],
    [2, "b>c>a"],
  ]);
  const mm = marginMatrix(p);

  it("the majority ranking is a > b > c", () => {
    assert.deepEqual(majorityRanking(mm), [0, 1, 2]);
  });

  it("Bradley-Terry's ranking (b > a > c) breaks it; Copeland's scores and the Kemeny ranking keep it", () => {
    const bt = bradleyTerry(mm, 3);
    assert.deepEqual(bt.ranking, [[1], [0], [2]]);
    const checks = checkAxioms(p, [
      { rule: "bradley-terry", winners: bt.winners, scores: bt.scores, output: "scores" },
      { rule: "borda", ...borda(p), output: "scores" },
      { rule: "copeland", ...copeland(mm), output: "scores" },
      { rule: "kemeny-young", ...kemenyYoung(mm) },
    ], { axioms: ["pairwise-majority-consistency"] });
    assert.deepEqual(checks.map((c) => [c.rule, c.applicable, c.violated]), [
      ["bradley-terry", true, true],
      ["borda", true, true],
      ["copeland", true, false],
      ["kemeny-young", true, false],
    ]);
    assert.equal(checks[0]!.detail, "the majority ranking is a > b > c but bradley-terry scores rank b > a > c");
    assert.equal(checks[3]!.detail, "kemeny-young ranks a > b > c, the majority ranking");
  });

  it("auditRules judges each registered rule by its output: only Borda and Bradley-Terry fail here", () => {
    const { runs, checks } = auditRules(p, { axioms: ["pairwise-majority-consistency"] });
    assert.equal(runs.length, 15);
    assert.deepEqual(checks.filter((c) => c.violated).map((c) => c.rule), ["borda", "bradley-terry"]);
    // Bradley-Terry also fails the Condorcet winner criterion on this profile: a is the Condorcet winner
    const cw = auditRules(p, { axioms: ["condorcet-winner"], rules: ["bradley-terry", "borda", "copeland"] }).checks;
    assert.deepEqual(cw.map((c) => [c.rule, c.violated]), [["bradley-terry", true], ["borda", true], ["copeland", false]]);
  });

  it("tied scores are a violation; a winner-set rule is judged by its winners", () => {
    const checks = checkAxioms(p, [
      { rule: "flat", winners: [0, 1, 2], scores: [1, 1, 1], output: "scores" },
      { rule: "top-only", winners: [0] },
      { rule: "two-winners", winners: [0, 1] },
    ], { axioms: ["pairwise-majority-consistency"] });
    assert.deepEqual(checks.map((c) => c.violated), [true, false, true]);
    assert.equal(checks[0]!.detail, "the majority ranking is a > b > c but flat scores rank {a, b, c}");
  });

  it("does not apply when the majority relation has a cycle or a tie", async () => {
    const cycle = await readPrefLib(DATA + "condorcet-paradox-3.soc");
    const [c] = checkAxioms(cycle, [{ rule: "x", winners: [0] }], { axioms: ["pairwise-majority-consistency"] });
    assert.deepEqual([c!.applicable, c!.detail], [false, "the majority relation is not a complete ranking (the majority relation has a cycle)"]);
    const tie = linear(["a", "b"], [[1, "a>b"], [1, "b>a"]]);
    const [t] = checkAxioms(tie, [{ rule: "x", winners: [0] }], { axioms: ["pairwise-majority-consistency"] });
    assert.deepEqual([t!.applicable, t!.detail], [false, "the majority relation is not a complete ranking (a and b are tied by majority)"]);
  });

  it("real data: on the Debian 2010 election (PrefLib 00002-00000006) the plurality ranking breaks it, the Borda ranking keeps it", async () => {
    const debian = await readPrefLib(DATA + "00002-00000006.toc");
    const { checks } = auditRules(debian, { rules: ["plurality", "borda", "copeland", "kemeny-young"] });
    assert.deepEqual(checks.filter((c) => c.violated).map((c) => `${c.rule}/${c.axiom}`), ["plurality/pairwise-majority-consistency"]);
    assert.match(pick(checks, "plurality", "pairwise-majority-consistency").detail, /Zacchiroli > Margarita Manterola > Wouter Verhelst/);
  });
});

describe("auditing real elections and input checks", () => {
  it("Debian 2002 (PrefLib 00002-00000001): every rule elects Garbee, the Condorcet winner, and violates nothing", async () => {
    const p = await readPrefLib(DATA + "00002-00000001.soi");
    for (const extendTruncated of [false, true]) {
      const { runs, checks } = auditRules(p, { extendTruncated });
      assert.ok(runs.every((r) => "result" in r));
      assert.equal(checks.length, runs.length * AXIOMS.length);
      assert.deepEqual(checks.filter((c) => c.violated), []);
      assert.ok(checks.filter((c) => c.axiom === "condorcet-winner").every((c) => c.applicable));
    }
  });

  it("rules that refuse the profile are reported by auditRules and not checked", async () => {
    const p = await readPrefLib(DATA + "cycle-weighted-4.toi");
    const { runs, checks } = auditRules(p);
    const refused: string[] = runs.filter((r) => "error" in r).map((r) => r.rule.id);
    assert.deepEqual(refused, ["plurality", "irv"]);
    assert.ok(!checks.some((c) => refused.includes(c.rule)));
    // d is the Condorcet loser; no rule elects it
    assert.ok(checks.filter((c) => c.axiom === "condorcet-loser").every((c) => c.applicable && !c.violated));
  });

  it("bad outcomes and unknown axioms are usage errors", () => {
    assert.throws(() => checkAxioms(tennessee, [{ rule: "x", winners: [7] }]), (e: unknown) => e instanceof CivitasError && e.kind === "usage" && /winner 7/.test(e.message));
    assert.throws(() => checkAxioms(tennessee, [{ rule: "x", winners: [0], scores: [1] }]), (e: unknown) => e instanceof CivitasError && e.kind === "usage");
    assert.throws(() => checkAxioms(tennessee, [], { axioms: ["monotonicity" as AxiomId] }), (e: unknown) => e instanceof CivitasError && e.kind === "usage" && /pareto/.test(e.hint ?? ""));
  });
});
