import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CivitasError } from "../../src/errors.js";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { readPrefLib } from "../../src/choice/preflib.js";
import { tempDir } from "../helpers/paths.js";
import { marginMatrix, profileFromRankings, type MarginMatrix, type Profile, type Ranking } from "../../src/choice/profile.js";
import {
  KEMENY_MAX_ALTERNATIVES,
  RULES,
  borda,
  condorcetLoser,
  condorcetWinner,
  copeland,
  getRule,
  instantRunoff,
  kemenyYoung,
  llull,
  marginGraph,
  minimax,
  plurality,
  rankedPairs,
  rankingByScores,
  runRule,
  runRules,
  schulze,
  schwartzSet,
  smithSet,
  splitCycle,
  strongestPaths,
  weakCondorcetWinners,
  type RuleId,
} from "../../src/choice/index.js";

const DATA = new URL("../../../shared/data/preflib/", import.meta.url).pathname;

/** A profile of linear ballots written as "A>C>B" over single-letter alternatives. */
function linear(names: readonly string[], rows: readonly (readonly [number, string])[]): Profile {
  const index = (s: string) => {
    const i = names.indexOf(s);
    if (i < 0) throw new Error(`no alternative ${s}`);
    return i;
  };
  return profileFromRankings(
    names,
    rows.map(([, r]) => r.split(">").map((s) => [index(s.trim())])),
    rows.map(([c]) => c),
  );
}

/** pref_voting-style ranks ({candidate: rank}, lower is better) to a Ranking. */
function fromRanks(m: number, r: Readonly<Record<number, number>>): Ranking {
  const tiers = new Map<number, number[]>();
  for (let a = 0; a < m; a++) if (r[a] !== undefined) tiers.set(r[a]!, [...(tiers.get(r[a]!) ?? []), a]);
  return [...tiers.entries()].sort((x, y) => x[0] - y[0]).map(([, t]) => t);
}

const CONDORCET_RULES: RuleId[] = ["condorcet", "copeland", "llull", "minimax", "schulze", "ranked-pairs", "smith", "schwartz", "split-cycle", "kemeny-young"];

describe("Debian leader elections (PrefLib 00002; winners from PrefLib/Debian, see shared/data/README.md)", () => {
  // 2002: Bdale Garbee (alternative 3); 2010: Stefano Zacchiroli (1); 2012: Stefano Zacchiroli (3).
  // Debian elects by the Schulze method; every Condorcet method agrees on these three elections,
  // whichever way truncated ballots are read.
  const cases: [string, number, string][] = [
    ["00002-00000001.soi", 2, "Bdale Garbee"],
    ["00002-00000006.toc", 0, "Stefano Zacchiroli"],
    ["00002-00000007.toc", 2, "Stefano Zacchiroli"],
  ];
  for (const [file, winner, name] of cases) {
    for (const extendTruncated of [false, true]) {
      it(`${file}: every Condorcet method elects ${name} (extendTruncated ${extendTruncated})`, async () => {
        const p = await readPrefLib(DATA + file);
        assert.equal(p.alternatives[winner], name);
        const runs = runRules(p, { rules: CONDORCET_RULES, extendTruncated });
        for (const r of runs) {
          assert.ok("result" in r, `${r.rule.id} failed`);
          assert.deepEqual(r.result.winners, [winner], r.rule.id);
        }
      });
    }
  }

  it("2002 (.soi, truncated, no ties): plurality, Borda and IRV also elect Garbee", async () => {
    const p = await readPrefLib(DATA + "00002-00000001.soi");
    assert.deepEqual(plurality(p).winners, [2]);
    assert.deepEqual(borda(p).winners, [2]);
    assert.deepEqual(instantRunoff(p).winners, [2]);
  });

  it("2010 and 2012 (.toc, unranked alternatives tied last): IRV counts them, the ties never being reached", async () => {
    // Both have a first-round majority (2010: 1 Zacchiroli, 2012: 3 Zacchiroli), so the ties at the
    // bottom of the ballots are never read; pref_voting's IRV for ProfileWithTies refuses both files.
    const p = await readPrefLib(DATA + "00002-00000006.toc");
    assert.deepEqual(instantRunoff(p), { winners: [0], eliminated: [] });
    assert.deepEqual(instantRunoff(p, { overvotes: "truncate" }).winners, [0]);
    // 2012: 3 is first on 167 + 49 + 25 + 23 + 20 + 14 + 12 + 7 + 7 + ... of 403 ballots.
    const q = await readPrefLib(DATA + "00002-00000007.toc");
    assert.deepEqual(instantRunoff(q), { winners: [2], eliminated: [] });
  });
});

describe("the Condorcet paradox (condorcet-paradox-3.soc: a>b>c, b>c>a, c>a>b)", () => {
  it("every neutral rule returns all three; there is no (weak) Condorcet winner", async () => {
    const p = await readPrefLib(DATA + "condorcet-paradox-3.soc");
    for (const r of runRules(p)) {
      assert.ok("result" in r, r.rule.id);
      const expected = r.rule.id === "condorcet" || r.rule.id === "weak-condorcet" ? [] : [0, 1, 2];
      assert.deepEqual(r.result.winners, expected, r.rule.id);
    }
    assert.equal(condorcetLoser(marginMatrix(p)), null);
  });
});

describe("Tennessee capital (Wikipedia: 'Condorcet method', 'Instant-runoff voting', 'Borda count', 'Ranked pairs', 'Kemeny-Young method', 'Minimax Condorcet method')", () => {
  // 42% Memphis > Nashville > Chattanooga > Knoxville, 26% Nashville > Chattanooga > Knoxville > Memphis,
  // 15% Chattanooga > Knoxville > Nashville > Memphis, 17% Knoxville > Chattanooga > Nashville > Memphis.
  const names = ["M", "N", "C", "K"];
  const p = linear(names, [
    [42, "M>N>C>K"],
    [26, "N>C>K>M"],
    [15, "C>K>N>M"],
    [17, "K>C>N>M"],
  ]);
  const mm = marginMatrix(p);
  const [M, N, C, K] = [0, 1, 2, 3];

  it("plurality elects Memphis", () => {
    assert.deepEqual(plurality(p), { winners: [M], scores: [42, 26, 15, 17] });
  });
  it("IRV elects Knoxville (Chattanooga out, then Nashville)", () => {
    assert.deepEqual(instantRunoff(p), { winners: [K], eliminated: [[C], [N]] });
  });
  it("Borda elects Nashville: positional 194, 173, 126, 107 (Wikipedia 'Borda count')", () => {
    const b = borda(p);
    assert.deepEqual(b.winners, [N]);
    // symmetric (margin-sum) scores; positional = (score + n (m - 1)) / 2 with n = 100, m = 4
    assert.deepEqual(b.scores!.map((s) => (s + 100 * 3) / 2), [126, 194, 173, 107]);
  });
  it("every Condorcet method elects Nashville, the Condorcet winner; Memphis is the Condorcet loser", () => {
    for (const id of CONDORCET_RULES) assert.deepEqual(runRule(id, p).winners, [N], id);
    assert.equal(condorcetLoser(mm), M);
  });
  it("Kemeny-Young: the unique ranking Nashville > Chattanooga > Knoxville > Memphis, score 393 in supports", () => {
    const k = kemenyYoung(mm);
    assert.deepEqual(k.ranking, [[N], [C], [K], [M]]);
    // sum of supports 393 of 600 compared pairs -> sum of margins 2 * 393 - 600
    assert.equal(k.scores![N], 2 * 393 - 600);
  });
  it("Copeland scores wins - losses; Minimax scores -1 x worst defeat", () => {
    assert.deepEqual(copeland(mm).scores, [-3, 3, 1, -1]);
    // worst defeats: Memphis 16 (58-42), Nashville 0, Chattanooga 36 (68-32), Knoxville 66 (83-17)
    assert.deepEqual(minimax(mm).scores, [-16, 0, -36, -66]);
  });
});

describe("Schulze's 45-voter example (Schulze 2011, Soc. Choice Welf. 36:267; Wikipedia 'Schulze method')", () => {
  const names = ["A", "B", "C", "D", "E"];
  const p = linear(names, [
    [5, "A>C>B>E>D"],
    [5, "A>D>E>C>B"],
    [8, "B>E>D>A>C"],
    [3, "C>A>B>E>D"],
    [7, "C>A>E>B>D"],
    [2, "C>B>A>D>E"],
    [7, "D>C>E>B>A"],
    [8, "E>B>A>D>C"],
  ]);
  const mm = marginMatrix(p);

  it("the pairwise preferences d[X,Y] match the published table", () => {
    const d = [
      [0, 20, 26, 30, 22],
      [25, 0, 16, 33, 18],
      [19, 29, 0, 17, 24],
      [15, 12, 28, 0, 14],
      [23, 27, 21, 31, 0],
    ];
    assert.deepEqual(Array.from(mm.support), d.flat());
  });
  it("strongest paths match the published p[X,Y] (winning votes; margins are 2p - 45 with 45 complete ballots)", () => {
    const pw = [
      [0, 28, 28, 30, 24],
      [25, 0, 28, 33, 24],
      [25, 29, 0, 29, 24],
      [25, 28, 28, 0, 24],
      [25, 28, 28, 31, 0],
    ];
    const P = strongestPaths(mm);
    for (let i = 0; i < 5; i++) for (let j = 0; j < 5; j++) if (i !== j) assert.equal(P[i * 5 + j], 2 * pw[i]![j]! - 45, `p[${names[i]},${names[j]}]`);
  });
  it("E wins", () => {
    assert.deepEqual(schulze(mm).winners, [4]);
  });
});

describe("Holliday & Pacuit, 'Split Cycle' (Public Choice 2023; arXiv 2004.02350), examples as run in epacuit/splitcycle 02-SplitCycleExamples.ipynb", () => {
  it("Example 1.1: Bush wins plurality; without Nader, Gore does", () => {
    const p = linear(["Bush", "Gore", "Nader"], [
      [2912790, "Bush>Gore>Nader"],
      [2912253, "Gore>Nader>Bush"],
      [97488, "Nader>Gore>Bush"],
    ]);
    assert.deepEqual(plurality(p).winners, [0]);
    const q = linear(["Bush", "Gore"], [
      [2912790, "Bush>Gore"],
      [2912253, "Gore>Bush"],
      [97488, "Gore>Bush"],
    ]);
    assert.deepEqual(plurality(q).winners, [1]);
  });
  it("Example 1.2: Ranked Choice elects d, the Condorcet winner; margin(d, p) = 22, margin(d, r) = 36", () => {
    const p = linear(["d", "r", "p"], [
      [27, "r>d>p"],
      [29, "d>p>r"],
      [34, "p>d>r"],
    ]);
    const mm = marginMatrix(p);
    assert.deepEqual(instantRunoff(p).winners, [0]);
    assert.deepEqual(condorcetWinner(mm).winners, [0]);
    assert.equal(mm.margin[0 * 3 + 2], 22);
    assert.equal(mm.margin[0 * 3 + 1], 36);
  });
  it("item 3 of section 3: Split Cycle winners {a, b, c, d, e}, Beat Path winners {a, b, c}", () => {
    const names = ["a", "b", "c", "d", "e", "f"];
    const p = linear(names, [
      [2, "b>a>c>e>d>f"],
      [2, "e>d>f>b>a>c"],
      [2, "a>c>b>d>f>e"],
      [2, "d>f>e>a>c>b"],
      [2, "c>b>a>f>e>d"],
      [2, "f>e>d>c>b>a"],
      [2, "a>f>b>c>d>e"],
      [2, "e>d>c>b>a>f"],
      [1, "d>a>b>c>e>f"],
      [1, "f>e>c>b>d>a"],
    ]);
    const mm = marginMatrix(p);
    assert.deepEqual(splitCycle(mm).winners, [0, 1, 2, 3, 4]);
    assert.deepEqual(schulze(mm).winners, [0, 1, 2]);
  });
});

describe("pref_voting's own documented results and test suite (voting-tools/pref_voting)", () => {
  it("scoring_methods.py docstrings: plurality(prof2) = [0, 1]; borda(prof1) = [0, 1]; borda(prof2) = [1]", () => {
    // prof1 = Profile([[0, 1, 2], [1, 0, 2], [2, 1, 0]], [3, 1, 2]); prof2 = Profile([[0, 1, 2], [1, 0, 2], [1, 2, 0]], [3, 1, 2])
    const prof1 = profileFromRankings(["0", "1", "2"], [[[0], [1], [2]], [[1], [0], [2]], [[2], [1], [0]]], [3, 1, 2]);
    const prof2 = profileFromRankings(["0", "1", "2"], [[[0], [1], [2]], [[1], [0], [2]], [[1], [2], [0]]], [3, 1, 2]);
    assert.deepEqual(plurality(prof2).winners, [0, 1]);
    assert.deepEqual(borda(prof1).winners, [0, 1]);
    assert.deepEqual(borda(prof2).winners, [1]);
  });
  it("tests/test_scoring_rules.py: plurality refuses a tie at the top; symmetric Borda handles ties", () => {
    // profile_with_ties = ProfileWithTies([{0: 1, 1: 1, 2: 2}, {0: 2, 1: 2, 2: 1}], rcounts=[2, 1])
    const withTies = profileFromRankings(["0", "1", "2"], [fromRanks(3, { 0: 1, 1: 1, 2: 2 }), fromRanks(3, { 0: 2, 1: 2, 2: 1 })], [2, 1]);
    const linear0 = profileFromRankings(["0", "1", "2"], [fromRanks(3, { 0: 1, 1: 2, 2: 3 }), fromRanks(3, { 0: 3, 1: 2, 2: 1 })], [2, 1]);
    assert.throws(() => plurality(withTies), (e: unknown) => e instanceof CivitasError && e.kind === "input" && /tied first/.test(e.message));
    assert.deepEqual(borda(withTies).winners, [0, 1]);
    assert.deepEqual(plurality(linear0).winners, [0]);
    assert.deepEqual(borda(linear0).winners, [0]);
  });
  it("tests/test_iterative_methods.py: IRV on truncated ballots, and all tied-last eliminated together", () => {
    // ProfileWithTies([{0:1, 1:2}, {1:1, 0:3}, {0:2, 1:1, 2:0}], candidates=[0, 1, 2]) -> [0, 1, 2]
    const t = profileFromRankings(["0", "1", "2"], [fromRanks(3, { 0: 1, 1: 2 }), fromRanks(3, { 1: 1, 0: 3 }), fromRanks(3, { 0: 2, 1: 1, 2: 0 })]);
    assert.deepEqual(instantRunoff(t).winners, [0, 1, 2]);
    // instant_runoff_with_explanation(Profile([[0,1,2],[0,1,2],[1,2,0],[2,1,0]])) -> [0], [[1, 2]]
    const e = profileFromRankings(["0", "1", "2"], [[[0], [1], [2]], [[0], [1], [2]], [[1], [2], [0]], [[2], [1], [0]]]);
    assert.deepEqual(instantRunoff(e), { winners: [0], eliminated: [[1, 2]] });
  });
  it("tests/test_all_vms.py: with one voter 0 > 1 and two voters 1 > 0 every method elects 1", () => {
    const p = profileFromRankings(["0", "1"], [[[0], [1]], [[1], [0]]], [1, 2]);
    for (const r of runRules(p)) {
      assert.ok("result" in r, r.rule.id);
      assert.deepEqual(r.result.winners, [1], r.rule.id);
    }
  });
  it("tests/test_c1_methods.py: the cyclic profile with ties and the cyclic margin graph give all three", () => {
    const cyc = profileFromRankings(["0", "1", "2"], [fromRanks(3, { 0: 0, 1: 1, 2: 2 }), fromRanks(3, { 0: 1, 1: 2, 2: 0 }), fromRanks(3, { 0: 2, 1: 0, 2: 1 })]);
    const mg = marginGraph(3, [[0, 1, 1], [1, 2, 5], [2, 0, 3]]);
    for (const mm of [marginMatrix(cyc), mg]) {
      for (const rule of [copeland, llull, smithSet, schwartzSet]) assert.deepEqual(rule(mm).winners, [0, 1, 2]);
    }
    const lin = marginGraph(3, [[0, 1, 1], [1, 2, 1], [0, 2, 1]]); // MajorityGraph([0,1,2], [(0,1),(1,2),(0,2)])
    for (const rule of [copeland, llull, smithSet, schwartzSet]) assert.deepEqual(rule(lin).winners, [0]);
  });
  it("margin_based_methods.py example graph (mg_ex_bp_rp), traced by hand from the definitions", () => {
    // MarginGraph([0,1,2,3], [(0,2,3), (1,0,5), (2,1,5), (2,3,1), (3,0,3), (3,1,1)]).
    // Split Cycle: 1 defeats 0 (0->2->1 has strength 3 < 5), 2 defeats 1 (1->0->2: 3 < 5), 3 defeats 0
    //   (0->2->3: 1 < 3); 0 over 2 is not a defeat (2->1->0: 5 >= 3), nor 2 over 3 (3->0->2: 3 >= 1),
    //   nor 3 over 1 (1->0->2->3: 1 >= 1). Undefeated: {2, 3}.
    // Beat Path: p[3][x] = 3 > p[x][3] = 1 for x = 0, 1, 2 -> {3}. Ranked Pairs locks 1>0, 2>1,
    //   skips 0>2, locks 3>0, 2>3, 3>1 in every order -> {2}. Minimax worst defeats 5, 5, 3, 1 -> {3}.
    const mg = marginGraph(4, [[0, 2, 3], [1, 0, 5], [2, 1, 5], [2, 3, 1], [3, 0, 3], [3, 1, 1]]);
    assert.deepEqual(splitCycle(mg).winners, [2, 3]);
    assert.deepEqual(schulze(mg).winners, [3]);
    assert.deepEqual(rankedPairs(mg).winners, [2]);
    assert.deepEqual(minimax(mg), { winners: [3], scores: [-5, -5, -3, -1] });
  });
});

describe("ties and truncated ballots", () => {
  // cycle-weighted-4.toi: 6 a>b>c>d, 5 b>c>a>d, 4 c>a>b>d, 3 {a,b}>c, 2 c>{a,b,d}, 1 d.
  // Margins (unranked incomparable): a>b 5, b>c 8, c>a 2, and a, b, c beat d by 15, 15, 17.
  it("the weighted 3-cycle with a Condorcet loser: each rule by hand", async () => {
    const p = await readPrefLib(DATA + "cycle-weighted-4.toi");
    const mm = marginMatrix(p);
    assert.deepEqual(Array.from(mm.margin), [0, 5, -2, 15, -5, 0, 8, 15, 2, -8, 0, 17, -15, -15, -17, 0]);
    assert.equal(condorcetLoser(mm), 3);
    assert.deepEqual(condorcetWinner(mm).winners, []);
    assert.deepEqual(weakCondorcetWinners(mm).winners, []);
    assert.deepEqual(copeland(mm), { winners: [0, 1, 2], scores: [1, 1, 1, -3] });
    assert.deepEqual(smithSet(mm).winners, [0, 1, 2]);
    assert.deepEqual(schwartzSet(mm).winners, [0, 1, 2]);
    // the weakest edge c>a (2) is split; a>b and b>c stand
    assert.deepEqual(splitCycle(mm).winners, [0]);
    assert.deepEqual(schulze(mm).winners, [0]);
    assert.deepEqual(rankedPairs(mm).winners, [0]);
    assert.deepEqual(minimax(mm).winners, [0]);
    assert.deepEqual(kemenyYoung(mm).ranking, [[0], [1], [2], [3]]);
  });

  it("plurality: tied-first ballots refused, ignored, split or approved (pref_voting plurality_scores / _ignoring_overvotes / tops_scores)", async () => {
    const p = await readPrefLib(DATA + "cycle-weighted-4.toi");
    // The ballot {a,b},c is the file's line 20 (16 header lines, then 6: 1,2,3,4 ...).
    assert.throws(() => plurality(p), (e: unknown) => e instanceof CivitasError && e.kind === "input" && /cycle-weighted-4\.toi line 20 ranks 2 alternatives tied first/.test(e.message) && /\(a, b\)/.test(e.message));
    assert.deepEqual(plurality(p, { topTies: "ignore" }), { winners: [0, 2], scores: [6, 5, 6, 1] });
    assert.deepEqual(plurality(p, { topTies: "split" }), { winners: [0], scores: [7.5, 6.5, 6, 1] });
    assert.deepEqual(plurality(p, { topTies: "approval" }), { winners: [0], scores: [9, 8, 6, 1] });
  });

  it("Borda: ties and truncation through the symmetric score, here a tie a = b = 20", async () => {
    // per ballot: (ranked below) - (ranked above), unranked below every ranked alternative:
    // a: 6*3 - 5*1 + 4*1 + 3*2 - 2*1 - 1*1 = 20; b: 6*1 + 5*3 - 4*1 + 3*2 - 2*1 - 1*1 = 20;
    // c: -6 + 5 + 12 - 3 + 6 - 1 = 13; d: -18 - 15 - 12 - 9 - 2 + 3 = -53
    const p = await readPrefLib(DATA + "cycle-weighted-4.toi");
    assert.deepEqual(borda(p), { winners: [0, 1], scores: [20, 20, 13, -53] });
  });

  it("IRV with overvotes truncated: {a,b}>c becomes empty, c>{a,b,d} becomes c; d then b go, c wins 11 of 18", async () => {
    const p = await readPrefLib(DATA + "cycle-weighted-4.toi");
    assert.throws(() => instantRunoff(p), (e: unknown) => e instanceof CivitasError && e.kind === "input");
    assert.deepEqual(instantRunoff(p, { overvotes: "truncate" }), { winners: [2], eliminated: [[3], [1]] });
  });

  it("IRV refuses a tie only when a round reaches it, naming the round and the ballots", async () => {
    // pref_voting instant_runoff elects 1 here: 2 of 3 first choices.
    const first = profileFromRankings(["1", "2", "3"], [[[0], [1], [2]], [[1], [0, 2]]], [2, 1]);
    assert.deepEqual(instantRunoff(first), { winners: [0], eliminated: [] });
    // 4 a, 3 b, 2 c, 1 d>{a,b}: no majority of 10; d (1) goes; in round 2 the last ballot's top is {a, b}.
    const reached = profileFromRankings(["a", "b", "c", "d"], [[[0]], [[1]], [[2]], [[3], [0, 1]]], [4, 3, 2, 1]);
    assert.throws(
      () => instantRunoff(reached),
      (e: unknown) => e instanceof CivitasError && e.kind === "input" && /in round 2 \(after eliminating d\), ballot 4 ranks a and b tied first/.test(e.message) && /truncate/.test(e.hint ?? ""),
    );
    // Truncated, that ballot is d alone, exhausted in round 2: c goes, then b (a 4, b 3): a wins.
    assert.deepEqual(instantRunoff(reached, { overvotes: "truncate" }), { winners: [0], eliminated: [[3], [2], [1]] });
    // A tie whose other members are eliminated is no tie: 5 a, 4 b, 2 c>{d,b}; d (0) then c go, and
    // c>{d,b} counts for b: b 6 of 11 wins (truncated, the ballot is exhausted and a wins).
    const broken = profileFromRankings(["a", "b", "c", "d"], [[[0]], [[1]], [[2], [3, 1]]], [5, 4, 2]);
    assert.deepEqual(instantRunoff(broken), { winners: [1], eliminated: [[3], [2]] });
    assert.deepEqual(instantRunoff(broken, { overvotes: "truncate" }), { winners: [0], eliminated: [[3], [2], [1]] });
    // Read from a file, the ballots are named by their lines.
    const dir = tempDir("irv-lines");
    const f = path.join(dir, "reached.toi");
    // 5 for 1, 4 for 2, 3 for 3, and on lines 7 and 8 two ballots 4 > {1, 2}: 4 (2 votes) goes first.
    writeFileSync(f, ["# DATA TYPE: toi", "# NUMBER ALTERNATIVES: 4", "# NUMBER VOTERS: 14", "5: 1", "4: 2", "3: 3", "1: 4,{1,2}", "1: 4,{2,1},3"].join("\n") + "\n");
    const fromFile = await readPrefLib(f);
    assert.throws(
      () => instantRunoff(fromFile),
      (e: unknown) => e instanceof CivitasError && e.message.includes(`in round 2 (after eliminating Alternative 4), ${f} lines 7 and 8 rank alternatives tied first (${f} line 7: Alternative 1 and Alternative 2)`),
    );
  });

  it("IRV: exhausted ballots, zero-vote alternatives eliminated first, a tie among the last two", () => {
    // 2 a, 2 b>c, 1 c>a; d is nobody's first choice. Round 1: d (0) out. Round 2: c (1) out, its
    // ballot goes to a: a 3 of 5 > 2.5 wins.
    const p = profileFromRankings(["a", "b", "c", "d"], [[[0]], [[1], [2]], [[2], [0]]], [2, 2, 1]);
    assert.deepEqual(instantRunoff(p), { winners: [0], eliminated: [[3], [2]] });
    // 2 a, 2 b, 1 c (truncated): c out, its ballot is exhausted, a and b tie at 2 < 2.5: both win
    const q = profileFromRankings(["a", "b", "c"], [[[0]], [[1]], [[2]]], [2, 2, 1]);
    assert.deepEqual(instantRunoff(q), { winners: [0, 1], eliminated: [[2]] });
  });

  it("extendTruncated changes the margins: 3 voters rank only a, 2 rank b > a", () => {
    const p = profileFromRankings(["a", "b"], [[[0]], [[1], [0]]], [3, 2]);
    // unranked incomparable: only the b > a voters compare a and b -> b; ranked above unranked -> a (3 to 2)
    assert.deepEqual(condorcetWinner(marginMatrix(p)).winners, [1]);
    assert.deepEqual(condorcetWinner(marginMatrix(p, { extendTruncated: true })).winners, [0]);
  });

  it("Minimax by margins with truncated ballots (Ossipoff, election-methods list, 19 Sep 1998: 'With Margins ... A wins')", () => {
    // 41 A>C, 39 B, 20 C>B, unranked below ranked: B>A by 18, A>C by 21, C>B by 22 -> A's worst defeat is smallest
    const p = profileFromRankings(["A", "B", "C"], [[[0], [2]], [[1]], [[2], [1]]], [41, 39, 20]);
    const mm = marginMatrix(p, { extendTruncated: true });
    assert.deepEqual(minimax(mm), { winners: [0], scores: [-18, -22, -21] });
  });

  it("Ranked Pairs with tied margins: a winner for each order of the tied edges", () => {
    // a>b 4, b>c 2, c>a 2: a>b is locked; then b>c first elects a, c>a first elects c.
    const mg = marginGraph(3, [[0, 1, 4], [1, 2, 2], [2, 0, 2]]);
    assert.deepEqual(rankedPairs(mg).winners, [0, 2]);
    // Split Cycle splits both weakest edges, Schulze ties a with c: the same two
    assert.deepEqual(splitCycle(mg).winners, [0, 2]);
    assert.deepEqual(schulze(mg).winners, [0, 2]);
    // a 3-cycle of equal margins with a Condorcet loser below: the three
    const eq = marginGraph(4, [[0, 1, 2], [1, 2, 2], [2, 0, 2], [0, 3, 2], [1, 3, 2], [2, 3, 2]]);
    assert.deepEqual(rankedPairs(eq).winners, [0, 1, 2]);
    // an unranked pair (margin 0) leaves both ends unlocked: pref_voting orders them both ways
    assert.deepEqual(rankedPairs(marginGraph(3, [[0, 2, 1], [1, 2, 1]])).winners, [0, 1]);
  });

  it("Kemeny-Young: several optimal rankings give several winners and no ranking", () => {
    const k = kemenyYoung(marginGraph(3, [[0, 1, 2], [1, 2, 2], [2, 0, 2]]));
    assert.deepEqual(k.winners, [0, 1, 2]);
    assert.equal(k.ranking, undefined);
    assert.deepEqual(k.scores, [2, 2, 2]);
  });
});

describe("against brute-force definitions on random margin graphs with many ties", () => {
  // a small seeded generator (mulberry32)
  function rng(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }
  function randomGraph(r: () => number, m: number): MarginMatrix {
    const edges: [number, number, number][] = [];
    for (let i = 0; i < m; i++) {
      for (let j = i + 1; j < m; j++) {
        const w = [-4, -2, 0, 2, 2, 4][Math.floor(r() * 6)]!;
        if (w > 0) edges.push([i, j, w]);
        if (w < 0) edges.push([j, i, -w]);
      }
    }
    return marginGraph(m, edges);
  }
  const mg = (mm: MarginMatrix, i: number, j: number) => mm.margin[i * mm.m + j]!;
  function* permutations<T>(xs: readonly T[]): Generator<T[]> {
    if (xs.length <= 1) {
      yield [...xs];
      return;
    }
    for (let i = 0; i < xs.length; i++) for (const rest of permutations([...xs.slice(0, i), ...xs.slice(i + 1)])) yield [xs[i]!, ...rest];
  }
  function* product<T>(lists: readonly T[][][]): Generator<T[][]> {
    if (lists.length === 0) {
      yield [];
      return;
    }
    for (const head of lists[0]!) for (const tail of product(lists.slice(1))) yield [head, ...tail];
  }
  const fact = (n: number): number => (n <= 1 ? 1 : n * fact(n - 1));

  /** pref_voting `_ranked_pairs_basic`, literally: majority AND tied edges, every permutation of every group. */
  function rankedPairsReference(mm: MarginMatrix): number[] | null {
    const m = mm.m;
    const cw = condorcetWinner(mm).winners;
    if (cw.length === 1) return cw;
    const edges: [number, number, number][] = [];
    for (let a = 0; a < m; a++) for (let b = 0; b < m; b++) if (a !== b && mg(mm, a, b) >= 0) edges.push([a, b, mg(mm, a, b)]);
    const strengths = [...new Set(edges.map((e) => e[2]))].sort((x, y) => y - x);
    const groups = strengths.map((s) => edges.filter((e) => e[2] === s));
    if (groups.reduce((n, g) => n * fact(g.length), 1) > 5000) return null;
    const winners = new Set<number>();
    for (const tb of product(groups.map((g) => [...permutations(g)]))) {
      const P = Array.from({ length: m }, () => new Array<boolean>(m).fill(false)); // P[x][y]: x above y, transitive
      for (const [a, b] of tb.flat()) {
        if (P[b]![a]) continue;
        for (let x = 0; x < m; x++) {
          if (x !== a && !P[x]![a]) continue;
          P[x]![b] = true;
          for (let y = 0; y < m; y++) if (P[b]![y]) P[x]![y] = true;
        }
      }
      const initial = [...Array(m).keys()].filter((y) => ![...Array(m).keys()].some((x) => P[x]![y]));
      winners.add(initial[0]!);
    }
    return [...winners].sort((x, y) => x - y);
  }
  /** Every distinct locked relation reachable by some order of each group of equal margins (no pruning). */
  function rankedPairsExhaustive(mm: MarginMatrix): number[] {
    const m = mm.m;
    const cw = condorcetWinner(mm).winners;
    if (cw.length === 1) return cw;
    const edges: [number, number, number][] = [];
    for (let a = 0; a < m; a++) for (let b = 0; b < m; b++) if (mg(mm, a, b) > 0) edges.push([a, b, mg(mm, a, b)]);
    const strengths = [...new Set(edges.map((e) => e[2]))].sort((x, y) => y - x);
    const has = (s: Uint8Array, i: number, j: number) => s[i * m + j] === 1;
    const lock = (s: Uint8Array, a: number, b: number) => {
      for (let x = 0; x < m; x++) {
        if (x !== a && !has(s, x, a)) continue;
        s[x * m + b] = 1;
        for (let y = 0; y < m; y++) if (has(s, b, y)) s[x * m + y] = 1;
      }
    };
    let states = new Map<string, Uint8Array>([["", new Uint8Array(m * m)]]);
    for (const w of strengths) {
      const group = edges.filter((e) => e[2] === w);
      const next = new Map<string, Uint8Array>();
      const seen = new Set<string>();
      const expand = (s: Uint8Array) => {
        const k = s.join("");
        if (seen.has(k)) return;
        seen.add(k);
        const open = group.filter(([a, b]) => !has(s, a, b) && !has(s, b, a));
        if (open.length === 0) next.set(k, s);
        for (const [a, b] of open) {
          const t = s.slice();
          lock(t, a, b);
          expand(t);
        }
      };
      for (const s of states.values()) expand(s);
      states = next;
    }
    const win = new Set<number>();
    for (const s of states.values()) for (let y = 0; y < m; y++) if (![...Array(m).keys()].some((x) => x !== y && has(s, x, y))) win.add(y);
    return [...win].sort((x, y) => x - y);
  }
  function simplePathStrengths(mm: MarginMatrix): number[][] {
    const m = mm.m;
    const best = Array.from({ length: m }, () => new Array<number>(m).fill(0));
    const dfs = (start: number, at: number, strength: number, seen: Set<number>) => {
      for (let n = 0; n < m; n++) {
        if (seen.has(n) || !(mg(mm, at, n) > 0)) continue;
        const s = Math.min(strength, mg(mm, at, n));
        best[start]![n] = Math.max(best[start]![n]!, s);
        seen.add(n);
        dfs(start, n, s, seen);
        seen.delete(n);
      }
    };
    for (let a = 0; a < m; a++) dfs(a, a, Infinity, new Set([a]));
    return best;
  }
  function subsets(m: number): number[][] {
    const out: number[][] = [];
    for (let mask = 1; mask < 1 << m; mask++) out.push([...Array(m).keys()].filter((i) => (mask >> i) & 1));
    return out;
  }

  it("Ranked Pairs = pref_voting's permutation algorithm (m <= 4) and every reachable locked relation (m = 5); Schulze and Split Cycle = their path definitions; Kemeny = all permutations; Smith and Schwartz = their set definitions", () => {
    const r = rng(20250101);
    let rpChecked = 0;
    for (let trial = 0; trial < 400; trial++) {
      const m = 3 + Math.floor(r() * 3); // 3..5
      const mm = randomGraph(r, m);
      const all = [...Array(m).keys()];
      if (m <= 4) {
        const ref = rankedPairsReference(mm);
        if (ref !== null) {
          assert.deepEqual(rankedPairs(mm).winners, ref, `ranked pairs, trial ${trial}`);
          rpChecked++;
        }
      } else assert.deepEqual(rankedPairs(mm).winners, rankedPairsExhaustive(mm), `ranked pairs (exhaustive), trial ${trial}`);
      const P = simplePathStrengths(mm);
      const beatPath = all.filter((a) => all.every((b) => b === a || P[a]![b]! >= P[b]![a]!));
      assert.deepEqual(schulze(mm).winners, beatPath, `schulze, trial ${trial}`);
      const sc = all.filter((a) => !all.some((b) => mg(mm, b, a) > 0 && !(P[a]![b]! >= mg(mm, b, a))));
      assert.deepEqual(splitCycle(mm).winners, sc, `split cycle, trial ${trial}`);
      let bestScore = -Infinity;
      let tops = new Set<number>();
      for (const order of permutations(all)) {
        let s = 0;
        for (let i = 0; i < m; i++) for (let j = i + 1; j < m; j++) s += mg(mm, order[i]!, order[j]!);
        if (s > bestScore) {
          bestScore = s;
          tops = new Set([order[0]!]);
        } else if (s === bestScore) tops.add(order[0]!);
      }
      const ky = kemenyYoung(mm);
      assert.deepEqual(ky.winners, [...tops].sort((x, y) => x - y), `kemeny, trial ${trial}`);
      assert.equal(Math.max(...ky.scores!), bestScore);
      // Smith: the smallest set whose members beat every outsider; Schwartz: union of the minimal sets nobody outside beats
      const sets = subsets(m);
      const dominant = sets.filter((S) => S.every((x) => all.every((y) => S.includes(y) || mg(mm, x, y) > 0)));
      const smith = dominant.reduce((a, b) => (b.length < a.length ? b : a));
      assert.deepEqual(smithSet(mm).winners, smith, `smith, trial ${trial}`);
      const undominated = sets.filter((S) => S.every((x) => all.every((y) => S.includes(y) || !(mg(mm, y, x) > 0))));
      const minimal = undominated.filter((S) => !undominated.some((T) => T.length < S.length && T.every((x) => S.includes(x))));
      assert.deepEqual(schwartzSet(mm).winners, [...new Set(minimal.flat())].sort((x, y) => x - y), `schwartz, trial ${trial}`);
    }
    assert.ok(rpChecked > 100, `only ${rpChecked} Ranked Pairs cases were small enough to enumerate`);
  });
});

describe("limits, errors and the registry", () => {
  it(`Kemeny-Young refuses more than ${KEMENY_MAX_ALTERNATIVES} alternatives, saying why`, () => {
    const m = KEMENY_MAX_ALTERNATIVES + 1;
    assert.throws(
      () => kemenyYoung(marginGraph(m, [])),
      (e: unknown) => e instanceof CivitasError && e.kind === "usage" && e.message.includes(`${KEMENY_MAX_ALTERNATIVES}`) && /2\^m subsets/.test(e.message),
    );
  });

  it("Kemeny-Young at the limit is exact: a transitive tournament of 20 gives its order", () => {
    const m = KEMENY_MAX_ALTERNATIVES;
    const edges: [number, number, number][] = [];
    for (let i = 0; i < m; i++) for (let j = i + 1; j < m; j++) edges.push([(i * 7) % m, (j * 7) % m, 1 + ((i + j) % 3)]);
    const k = kemenyYoung(marginGraph(m, edges));
    assert.deepEqual(k.ranking, [...Array(m).keys()].map((i) => [(i * 7) % m]));
  });

  it("Ranked Pairs decides a Split Cycle winner that is not a Ranked Pairs winner, and stops with a usage error past its budget", () => {
    // 10 alternatives, margins 1 and 3 in a random tournament: Split Cycle elects {6, 8}; an
    // independent enumeration of all 10! orders finds that only 6 tops a Zavist-Tideman stack.
    const edges: [number, number, number][] = [
      [0, 1, 3], [0, 2, 3], [0, 3, 1], [0, 4, 3], [5, 0, 3], [6, 0, 1], [7, 0, 3], [8, 0, 3], [9, 0, 1], [2, 1, 3], [3, 1, 1], [4, 1, 3],
      [1, 5, 3], [1, 6, 1], [7, 1, 3], [8, 1, 1], [9, 1, 3], [2, 3, 3], [4, 2, 1], [2, 5, 3], [6, 2, 1], [7, 2, 3], [2, 8, 1], [9, 2, 1],
      [4, 3, 1], [5, 3, 3], [6, 3, 1], [3, 7, 1], [8, 3, 3], [3, 9, 1], [4, 5, 1], [4, 6, 1], [7, 4, 3], [4, 8, 1], [4, 9, 1], [6, 5, 1],
      [5, 7, 1], [8, 5, 3], [5, 9, 3], [6, 7, 3], [6, 8, 1], [6, 9, 1], [8, 7, 3], [7, 9, 1], [8, 9, 3],
    ];
    const mg = marginGraph(10, edges);
    assert.deepEqual(splitCycle(mg).winners, [6, 8]);
    assert.deepEqual(rankedPairs(mg).winners, [6]);
    assert.throws(() => rankedPairs(mg, { maxStates: 5 }), (e: unknown) => e instanceof CivitasError && e.kind === "usage" && /NP-hard/.test(e.message) && /maxStates/.test(e.hint ?? ""));
  });

  it("margin rules reject a matrix that is not antisymmetric, naming the entries", () => {
    const bad: MarginMatrix = { m: 2, support: new Float64Array(4), margin: Float64Array.from([0, 3, 1, 0]) };
    assert.throws(() => copeland(bad), (e: unknown) => e instanceof CivitasError && e.kind === "input" && /margin\[0\]\[1\] = 3 but margin\[1\]\[0\] = 1/.test(e.message));
  });

  it("fractional weights: rounding noise in the margins is a tie, not a majority", () => {
    // 0.1 + 0.2 voters a > b against 0.3 voters b > a: the sums differ in the last bit
    const p = profileFromRankings(["a", "b"], [[[0], [1]], [[0], [1]], [[1], [0]]], [0.1, 0.2, 0.3]);
    const q = profileFromRankings(["a", "b"], [[[0], [1]], [[1], [0]]], [0.1 + 0.2, 0.3]);
    for (const x of [p, q]) {
      const mm = marginMatrix(x);
      assert.deepEqual(condorcetWinner(mm).winners, []);
      assert.deepEqual(weakCondorcetWinners(mm).winners, [0, 1]);
    }
  });

  it("RULES has every id once, and getRule names the ids on a typo", () => {
    const ids = RULES.map((r) => r.id);
    assert.deepEqual(ids, ["plurality", "borda", "copeland", "llull", "minimax", "schulze", "ranked-pairs", "irv", "kemeny-young", "condorcet", "weak-condorcet", "smith", "schwartz", "split-cycle", "bradley-terry"]);
    assert.throws(() => getRule("schultze"), (e: unknown) => e instanceof CivitasError && e.kind === "usage" && /split-cycle/.test(e.hint ?? ""));
  });

  it("runRules reports the rules that refuse a profile and runs the others", async () => {
    const p = await readPrefLib(DATA + "cycle-weighted-4.toi");
    const runs = runRules(p);
    const failed = runs.filter((r) => "error" in r).map((r) => r.rule.id);
    assert.deepEqual(failed, ["plurality", "irv"]);
    const bt = runs.find((r) => r.rule.id === "bradley-terry");
    assert.ok(bt !== undefined && "result" in bt && bt.result.scores!.length === 4);
  });

  it("rankingByScores groups equal scores into tiers", () => {
    assert.deepEqual(rankingByScores([1, 3, 3, -2]), [[1, 2], [0], [3]]);
  });
});
