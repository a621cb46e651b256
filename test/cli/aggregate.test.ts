/** `civitas aggregate` as a user runs it, on the real PrefLib and Polis data and the shipped examples. */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { runCli } from "../helpers/cli.js";
import { REPO, SHARED, tempDir } from "../helpers/paths.js";

const PREFLIB = path.join(SHARED, "data/preflib");
const json = <T>(s: string) => JSON.parse(s) as T;

interface Report {
  alternatives: Record<string, string>;
  margin: Record<string, Record<string, number>>;
  rules: Record<string, { winners: number[]; scores?: Record<string, number>; error?: string }>;
  axioms?: Record<string, Record<string, { applicable: boolean; violated: boolean }>>;
}

describe("civitas aggregate", () => {
  it("elects the Debian 2002 winner under every Condorcet method, in the documented JSON shape", async () => {
    const r = await runCli(["aggregate", path.join(PREFLIB, "00002-00000001.soi"), "--json", "--axioms"]);
    assert.equal(r.code, 0, r.stderr);
    const j = json<Report>(r.stdout);
    assert.deepEqual(j.alternatives, { "1": "Branden Robinson", "2": "Raphael Hertzog", "3": "Bdale Garbee", "4": "None Of The Above" });
    for (const rule of ["condorcet", "copeland", "llull", "minimax", "schulze", "ranked-pairs", "smith", "schwartz", "split-cycle", "kemeny-young"]) {
      assert.deepEqual(j.rules[rule]!.winners, [3], rule);
    }
    assert.deepEqual(Object.keys(j.rules), ["plurality", "borda", "copeland", "llull", "minimax", "schulze", "ranked-pairs", "irv", "kemeny-young", "condorcet", "weak-condorcet", "smith", "schwartz", "split-cycle", "bradley-terry"]);
    assert.equal(j.margin["3"]!["1"], -j.margin["1"]!["3"]!);
    assert.ok(j.axioms && j.axioms["condorcet-winner"]!["schulze"]!.violated === false);
  });

  it("gives one object per file, keyed by path, and takes a rule list", async () => {
    const files = ["00002-00000006.toc", "00002-00000007.toc"].map((f) => path.join(PREFLIB, f));
    const r = await runCli(["aggregate", ...files, "--rules", "schulze,ranked-pairs", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const j = json<Record<string, Report>>(r.stdout);
    assert.deepEqual(j[files[0]!]!.rules["schulze"]!.winners, [1]);
    assert.deepEqual(j[files[1]!]!.rules["ranked-pairs"]!.winners, [3]);
    assert.deepEqual(Object.keys(j[files[0]!]!.rules), ["schulze", "ranked-pairs"]);
  });

  it("returns all three alternatives of the 3-cycle under Condorcet-consistent rules", async () => {
    const r = await runCli(["aggregate", path.join(PREFLIB, "condorcet-paradox-3.soc"), "--json", "--rules", "copeland,schulze,ranked-pairs,smith,split-cycle,condorcet"]);
    const j = json<Report>(r.stdout);
    for (const rule of ["copeland", "schulze", "ranked-pairs", "smith", "split-cycle"]) assert.deepEqual(j.rules[rule]!.winners, [1, 2, 3], rule);
    assert.deepEqual(j.rules["condorcet"]!.winners, []);
  });

  it("shows Bradley-Terry breaking pairwise majority consistency where Copeland keeps it (docs/aggregate.md)", async () => {
    const r = await runCli(["aggregate", path.join(REPO, "examples/choice/bt-majority.soc"), "--json", "--axioms", "--rules", "copeland,kemeny-young,bradley-terry"]);
    const j = json<Report>(r.stdout);
    const pmc = j.axioms!["pairwise-majority-consistency"]!;
    assert.equal(pmc["bradley-terry"]!.violated, true);
    assert.equal(pmc["copeland"]!.violated, false);
    assert.equal(pmc["kemeny-young"]!.violated, false);
    assert.deepEqual(j.rules["bradley-terry"]!.winners, [2]);
    assert.deepEqual(j.rules["copeland"]!.winners, [1]);
  });

  it("reports group outcomes and welfare from ratings with group labels", async () => {
    const r = await runCli(["aggregate", path.join(REPO, "examples/choice/ratings.csv"), "--groups", "group", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const j = json<{ groups: { groups: { name: string; winners: number[] }[]; utilitarian: number[]; egalitarian: number[] } }>(r.stdout);
    assert.deepEqual(j.groups.groups.map((g) => [g.name, g.winners]), [["resident", [1]], ["commuter", [3]], ["shop owner", [2]]]);
    assert.deepEqual(j.groups.utilitarian, [2]);
    assert.deepEqual(j.groups.egalitarian, [3]);
  });

  it("finds the minority cluster in comparisons, chooses max-min, and exports preference pairs", async () => {
    const out = path.join(tempDir(), "pairs.jsonl");
    const r = await runCli(["aggregate", path.join(REPO, "examples/choice/comparisons.jsonl"), "--clusters", "auto", "--json", "--export", out]);
    assert.equal(r.code, 0, r.stderr);
    const j = json<{ profiles: Report[]; clusters: { k: number; clusters: { size: number }[]; choices: { maxmin: number[]; utilitarian: number[] }[] } }>(r.stdout);
    assert.equal(j.clusters.k, 2);
    assert.deepEqual(j.clusters.clusters.map((c) => c.size), [8, 3]);
    // The library question: the majority's favourite, and the compromise the minority can live with.
    assert.deepEqual(j.clusters.choices[0]!.utilitarian, [1]);
    assert.deepEqual(j.clusters.choices[0]!.maxmin, [2]);
    // Pairwise comparisons give margins only: rules that need full rankings are left out.
    assert.equal(j.profiles[0]!.rules["plurality"], undefined);
    assert.deepEqual(j.profiles[0]!.rules["copeland"]!.winners, [1]);
    const pairs = readFileSync(out, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { prompt: string; chosen: string; rejected: string; weight: number });
    assert.equal(pairs.length, 4);
    assert.deepEqual(Object.keys(pairs[0]!), ["prompt", "chosen", "rejected", "weight"]);
    assert.match(r.stderr, /wrote 4 preference pairs/);
  });

  it("counts annotators as the voters of comparisons, not their comparisons", async () => {
    const file = path.join(REPO, "examples/choice/comparisons.jsonl");
    // Known answer from the file itself: per prompt, its distinct annotators (and per group), and its lines.
    const lines = readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { annotator: string; group: string; prompt: string });
    const prompts = [...new Set(lines.map((l) => l.prompt))];
    const of = (prompt: string, group?: string) => new Set(lines.filter((l) => l.prompt === prompt && (group === undefined || l.group === group)).map((l) => l.annotator)).size;
    assert.deepEqual(prompts.map((p) => of(p)), [11, 11]);
    const r = await runCli(["aggregate", file, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const j = json<{ profiles: (Report & { prompt: string; voters: number; comparisons: number; groups: { groups: { name: string; voters: number }[] } })[] }>(r.stdout);
    for (const p of j.profiles) {
      assert.equal(p.voters, of(p.prompt), p.prompt);
      assert.equal(p.comparisons, lines.filter((l) => l.prompt === p.prompt).length);
      assert.deepEqual(p.groups.groups.map((g) => [g.name, g.voters]), [["majority", of(p.prompt, "majority")], ["minority", of(p.prompt, "minority")]]);
    }
    assert.deepEqual(j.profiles[0]!.groups.groups.map((g) => g.voters), [8, 3]);
    const text = await runCli(["aggregate", file]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^3 alternatives, 11 voters \(annotators\), 33 comparisons · prompt: How should the town library/mu);
  });

  it("finds Polis opinion groups that match the conversation's own", async () => {
    const r = await runCli(["aggregate", path.join(SHARED, "data/polis/15-per-hour-seattle"), "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const j = json<{ polis: { k: number; ari: number; groups: { size: number }[]; consensus: unknown[] } }>(r.stdout);
    assert.equal(j.polis.k, 2);
    assert.ok(j.polis.ari > 0.8, String(j.polis.ari));
    assert.ok(j.polis.consensus.length > 0);
  });

  it("one bad file among several: the others' results, each error on stderr, and a non-zero exit at the end", async () => {
    const dir = tempDir();
    const bad = path.join(dir, "bad.soc");
    writeFileSync(bad, "# NUMBER ALTERNATIVES: 3\n# NUMBER VOTERS: 2\n2: 1,2,7\n");
    const empty = path.join(dir, "empty.soc");
    writeFileSync(empty, "# NUMBER ALTERNATIVES: 3\n# NUMBER VOTERS: 0\n0: 1,2,3\n");
    const good = [path.join(PREFLIB, "condorcet-paradox-3.soc"), path.join(PREFLIB, "00002-00000007.toc")];
    const files = [good[0]!, bad, empty, good[1]!];
    const text = await runCli(["aggregate", ...files, "--rules", "copeland,irv", "--no-store"]);
    assert.equal(text.code, 1);
    assert.match(text.stdout, /condorcet-paradox-3\.soc · Condorcet paradox/u);
    assert.match(text.stdout, /Debian 2012 Leader[\s\S]*irv +3 Stefano Zacchiroli/u);
    assert.match(text.stderr, /bad\.soc line 3: alternative 7 is not one of the 3/u);
    assert.match(text.stderr, /empty\.soc: no voters \(the count of its one ballot is 0\)/u);
    const j = await runCli(["aggregate", ...files, "--rules", "copeland", "--json", "--no-store"]);
    assert.equal(j.code, 1);
    assert.deepEqual(Object.keys(json<Record<string, unknown>>(j.stdout)), good);
    const errors = j.stderr.trim().split("\n").map((l) => json<{ error: { kind: string; message: string } }>(l).error);
    assert.deepEqual(errors.map((e) => e.kind), ["input", "input"]);
    assert.match(errors[0]!.message, /bad\.soc line 3/u);
  });

  it("refuses --rules '', a profile without voters, and names the flags that count tied ballots", async () => {
    const paradox = path.join(PREFLIB, "condorcet-paradox-3.soc");
    for (const rules of ["", " , "]) {
      const r = await runCli(["aggregate", paradox, "--rules", rules, "--no-store"]);
      assert.equal(r.code, 2, rules);
      assert.match(r.stderr, /--rules .* names no rule/u);
    }
    const dir = tempDir();
    const none = path.join(dir, "none.soi");
    writeFileSync(none, "# NUMBER ALTERNATIVES: 2\n# NUMBER VOTERS: 0\n");
    const z = await runCli(["aggregate", none, "--no-store"]);
    assert.equal(z.code, 1);
    assert.match(z.stderr, /none\.soi: no voters \(no ballots\)/u);
    // cycle-weighted-4.toi line 20 is "3: {1,2},3": tied first, so plurality and IRV (round 1) refuse it.
    const toi = path.join(PREFLIB, "cycle-weighted-4.toi");
    const r = await runCli(["aggregate", toi, "--rules", "plurality,irv", "--json", "--no-store"]);
    assert.equal(r.code, 0, r.stderr);
    const rules = json<Report>(r.stdout).rules;
    assert.match(rules["plurality"]!.error!, /cycle-weighted-4\.toi line 20 ranks 2 alternatives tied first .*--top-ties ignore, split or approval/u);
    assert.match(rules["irv"]!.error!, /in round 1, .*cycle-weighted-4\.toi line 20 ranks a and b tied first.*--overvotes truncate/u);
    assert.doesNotMatch(rules["irv"]!.error! + rules["plurality"]!.error!, /overvotes:|topTies|\{/u);
    const t = await runCli(["aggregate", toi, "--rules", "plurality,irv", "--json", "--no-store", "--top-ties", "split", "--overvotes", "truncate"]);
    assert.equal(t.code, 0, t.stderr);
    // split: a 6 + 3/2 = 7.5, b 5 + 1.5 = 6.5; truncated IRV: c wins 11 of 18 (test/choice/rules.test.ts)
    assert.deepEqual(json<Report>(t.stdout).rules["plurality"]!.winners, [1]);
    assert.deepEqual(json<Report>(t.stdout).rules["irv"]!.winners, [3]);
  });

  it("names the file and line of a bad ballot, and refuses unknown rules", async () => {
    const dir = tempDir();
    const bad = path.join(dir, "bad.soc");
    writeFileSync(bad, "# NUMBER ALTERNATIVES: 3\n# NUMBER VOTERS: 2\n2: 1,2,7\n");
    const r = await runCli(["aggregate", bad]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /bad\.soc.*line 3/);
    const u = await runCli(["aggregate", path.join(PREFLIB, "condorcet-paradox-3.soc"), "--rules", "approval"]);
    assert.equal(u.code, 2);
    assert.match(u.stderr, /unknown voting rule "approval"/);
  });
});
