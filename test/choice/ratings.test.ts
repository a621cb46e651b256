import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { CivitasError, type ErrorKind } from "../../src/errors.js";
import { parseRanking, parseRatings, readRatings, type RatingsOptions } from "../../src/choice/ratings.js";
import { ballotTiers, marginMatrix, totalVoters, type Profile } from "../../src/choice/profile.js";
import { parsePrefLib, writePrefLib } from "../../src/choice/preflib.js";
import { rejectsCivitas } from "../helpers/errors.js";
import { REPO, tempDir } from "../helpers/paths.js";

const csv = (...lines: string[]): string => lines.join("\n") + "\n";

/** Every ballot as [tiers with names, count], in profile order. */
function ballots(p: Profile): [string[][], number][] {
  const out: [string[][], number][] = [];
  for (let b = 0; b < p.size; b++) out.push([ballotTiers(p, b).map((t) => t.map((a) => p.alternatives[a]!)), p.counts[b]!]);
  return out;
}

function margin(p: Profile, x: string, y: string): number {
  const m = p.alternatives.length;
  return marginMatrix(p).margin[p.alternatives.indexOf(x) * m + p.alternatives.indexOf(y)]!;
}

function throwsWith(f: () => unknown, kind: ErrorKind, ...parts: string[]): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof CivitasError, `expected a CivitasError, got ${String(e)}`);
    assert.equal(e.kind, kind, e.message);
    for (const p of parts) assert.ok(e.message.includes(p), `"${e.message}" should mention "${p}"`);
    return true;
  });
}

describe("ratings form", () => {
  it("higher is better, equal ratings are tied, empty cells are unranked", () => {
    const r = parseRatings(csv("annotator,x,y,z", "u1,5,3,3", "u2,1,,2", "u3,2,2,2"), "r.csv");
    assert.equal(r.form, "ratings");
    assert.deepEqual(r.profile.alternatives, ["x", "y", "z"]);
    assert.deepEqual(ballots(r.profile), [
      [[["x"], ["y", "z"]], 1],
      [[["z"], ["x"]], 1],
      [[["x", "y", "z"]], 1],
    ]);
    assert.equal(r.groups, null);
    assert.equal(r.groupColumn, null);
    assert.deepEqual(r.warnings, []);
    assert.equal(r.annotators, 3);
  });

  it("lowerIsBetter reads ranks (1 = best); decimals, signs and exponents are numbers", () => {
    const r = parseRatings(csv("voter,x,y,z", "u1,1,2,3", "u2,-1.5,2e0,.5"), "r.csv", { lowerIsBetter: true });
    assert.deepEqual(ballots(r.profile), [
      [[["x"], ["y"], ["z"]], 1],
      [[["x"], ["z"], ["y"]], 1],
    ]);
  });

  it("identical ballots are merged with their weights added", () => {
    const r = parseRatings(csv("annotator,weight,x,y", "a,0.5,2,1", "b,1.5,9,3", "c,2,1,2"), "w.csv");
    assert.deepEqual(ballots(r.profile), [
      [[["x"], ["y"]], 2],
      [[["y"], ["x"]], 2],
    ]);
    assert.equal(totalVoters(r.profile), 4);
  });

  it("options.alternatives picks the alternative columns and ignores the others", () => {
    const text = csv("annotator,age,x,y", "a,18-29,1,2", "b,65+,2,1");
    throwsWith(() => parseRatings(text, "a.csv"), "input", 'a.csv line 2, column "age"', '"18-29" is not a number');
    const r = parseRatings(text, "a.csv", { alternatives: ["y", "x"] });
    assert.deepEqual(r.profile.alternatives, ["y", "x"]);
    assert.equal(margin(r.profile, "y", "x"), 0);
    const g = parseRatings(text, "a.csv", { alternatives: ["x", "y"], groups: "age" });
    assert.deepEqual([...g.groups!.keys()], ["18-29", "65+"]);
    throwsWith(() => parseRatings(text, "a.csv", { alternatives: ["x", "nope"] }), "usage", 'no column "nope"');
  });

  it("the example file: three groups, weights, and the pooled winner none of them shares", async () => {
    const r = await readRatings(path.join(REPO, "examples/choice/ratings.csv"));
    assert.deepEqual(r.warnings, []);
    assert.equal(r.annotators, 12);
    assert.equal(r.groupColumn, "group");
    assert.deepEqual(r.profile.alternatives, ["answer_a", "answer_b", "answer_c", "answer_d"]);
    assert.ok(Math.abs(totalVoters(r.profile) - 12.5) < 1e-12);
    assert.deepEqual([...r.groups!.keys()], ["resident", "commuter", "shop owner"]);
    for (const [label, g] of r.groups!) {
      assert.deepEqual(g.alternatives, r.profile.alternatives, label);
      assert.equal(g.metadata["GROUP"], `group=${label}`);
    }
    const groupVoters = [...r.groups!.values()].reduce((s, g) => s + totalVoters(g), 0);
    assert.ok(Math.abs(groupVoters - totalVoters(r.profile)) < 1e-12, "groups partition the annotators");
    const winner = (p: Profile): string | undefined => p.alternatives.find((x) => p.alternatives.every((y) => y === x || margin(p, x, y) > 0));
    assert.equal(winner(r.groups!.get("resident")!), "answer_a");
    assert.equal(winner(r.groups!.get("commuter")!), "answer_c");
    assert.equal(winner(r.groups!.get("shop owner")!), "answer_b");
    assert.equal(winner(r.profile), "answer_b");
    // c04 leaves answer_a unrated: it says nothing about a against the others.
    const commuters = r.groups!.get("commuter")!;
    assert.equal(margin(commuters, "answer_b", "answer_a"), 1 - 1 + 1);
  });

  it("a group column named by the caller; rows without a label count in the pool only", () => {
    const r = parseRatings(csv("annotator,Party,x,y", "a,red,1,2", "b,,2,1", "c,blue,2,1", "d,red,2,1"), "g.csv", { groups: "party" });
    assert.equal(r.groupColumn, "Party");
    assert.equal(r.annotators, 4);
    assert.deepEqual([...r.groups!.keys()], ["red", "blue"]);
    assert.equal(totalVoters(r.groups!.get("red")!), 2);
    assert.deepEqual(r.warnings, ['g.csv line 3, column "Party": annotator "b" has no group; counted in the pooled profile only']);
    throwsWith(() => parseRatings(csv("annotator,x", "a,1"), "g.csv", { groups: "region" }), "usage", 'no column "region"', "columns: annotator, x");
  });

  it("rows that rate nothing are left out, alternatives nobody rates are kept, with warnings", () => {
    const r = parseRatings(csv("annotator,x,y,z", "a,1,2,", "b,,,"), "e.csv");
    assert.equal(r.annotators, 1);
    assert.deepEqual(r.profile.alternatives, ["x", "y", "z"]);
    assert.deepEqual(r.warnings, ['e.csv line 3: annotator "b" ranks no alternative; left out', 'e.csv: no annotator ranks "z"']);
  });

  it("a profile from ratings with whole weights writes as PrefLib and reads back", () => {
    const r = parseRatings(csv("annotator,x,y,z", "a,3,2,", "b,3,3,1", "c,3,2,"), "p.csv");
    const t = writePrefLib(r.profile);
    assert.match(t, /# DATA TYPE: toi\n/);
    assert.match(t, /\n2: 1,2\n1: \{1,2\},3\n$/);
    assert.deepEqual(ballots(parsePrefLib(t, "p.toi")), ballots(r.profile));
  });
});

describe("ranking form", () => {
  it("PrefLib-style orders of numbers: alternatives 1..m in numeric order", () => {
    const r = parseRatings(csv("annotator,group,ranking", 'a,g1,"3,1,{2,4}"', 'b,g2,"10,2"', "c,g1,1"), "k.csv");
    assert.equal(r.form, "ranking");
    assert.deepEqual(r.profile.alternatives, ["1", "2", "3", "4", "10"]);
    assert.deepEqual(ballots(r.profile)[0], [[["3"], ["1"], ["2", "4"]], 1]);
    assert.equal(r.groups!.get("g1")!.size, 2);
  });

  it("names in order of first appearance, spaces trimmed, other columns ignored", () => {
    const r = parseRatings(csv("voter,age,ranking,weight", 'v1,30,"b, {a, c}",2', 'v2,40," c ,b",1'), "n.csv");
    assert.deepEqual(r.profile.alternatives, ["b", "a", "c"]);
    assert.deepEqual(ballots(r.profile), [
      [[["b"], ["a", "c"]], 2],
      [[["c"], ["b"]], 1],
    ]);
  });

  it("options.alternatives fixes the set and the order", () => {
    const text = csv("annotator,ranking", 'a,"b,a"');
    const r = parseRatings(text, "o.csv", { alternatives: ["a", "b", "c"] });
    assert.deepEqual(r.profile.alternatives, ["a", "b", "c"]);
    assert.deepEqual(r.warnings, ['o.csv: no annotator ranks "c"']);
    throwsWith(() => parseRatings(text, "o.csv", { alternatives: ["a", "c"] }), "input", 'o.csv line 2, column "ranking"', '"b" is not one of the alternatives (a, c)');
  });

  it("malformed rankings name the line and column", () => {
    const bad = (cell: string, ...parts: string[]): void =>
      throwsWith(() => parseRatings(csv("annotator,ranking", "ok,a", `x,"${cell}"`), "b.csv"), "input", 'b.csv line 3, column "ranking"', ...parts);
    bad("a,a", '"a" appears twice');
    bad("a,{b,a}", '"a" appears twice');
    bad("a,,b", "expected an alternative's name at position 3");
    bad("a,{b,c", "is not closed");
    bad("a,{}", "expected an alternative's name");
    bad("{a}b", 'expected ","');
  });

  it("parseRanking on its own", () => {
    assert.deepEqual(parseRanking(" x , {y,z} ,w ", "here"), [["x"], ["y", "z"], ["w"]]);
    assert.deepEqual(parseRanking("", "here"), []);
  });
});

describe("errors name the file, line and column", () => {
  const cases: [string, string, RatingsOptions, ErrorKind, string[]][] = [
    ["no annotator column", csv("id,x", "a,1"), {}, "input", ["e.csv line 1", 'no "annotator" (or "voter") column', "columns: id, x"]],
    ["both id columns", csv("annotator,voter,x", "a,b,1"), {}, "input", ["e.csv line 1", "both"]],
    ["a column twice", csv("annotator,x,X", "a,1,2"), {}, "input", ["e.csv line 1", 'column "X" appears twice (columns 2 and 3)']],
    ["an empty id", csv("annotator,x", "a,1", ",2"), {}, "input", ['e.csv line 3, column "annotator": empty']],
    ["an annotator twice", csv("annotator,x", "a,1", "b,1", "a,2"), {}, "input", ['e.csv line 4, column "annotator"', 'annotator "a" also has line 2']],
    ["a bad rating", csv("annotator,x,y", "a,1,2", "b,1,good"), {}, "input", ['e.csv line 3, column "y"', '"good" is not a number']],
    ["NaN is not a rating", csv("annotator,x", "a,NaN"), {}, "input", ['column "x"', '"NaN" is not a number']],
    ["a negative weight", csv("annotator,weight,x", "a,-1,1"), {}, "input", ['e.csv line 2, column "weight"', '"-1", expected a weight']],
    ["an empty weight", csv("annotator,weight,x", "a,,1"), {}, "input", ['column "weight": empty']],
    ["too many cells (unquoted ranking)", csv("annotator,ranking", "a,b,c"), {}, "input", ["e.csv line 2", "3 cells, but the header has 2 columns", ]],
    ["a value under no column name", csv("annotator,,x", "a,5,1"), {}, "input", ["e.csv line 2", 'value "5" in column 2']],
    ["no rows", csv("annotator,x"), {}, "input", ["has a header but no rows"]],
    ["no alternatives", csv("annotator,group", "a,g"), {}, "input", ["no alternative columns"]],
    ["an unclosed quote", 'annotator,x\n"a,1\n', {}, "input", ["not a valid CSV file"]],
  ];
  for (const [what, text, options, kind, parts] of cases) it(what, () => throwsWith(() => parseRatings(text, "e.csv", options), kind, ...parts));

  it("line numbers count line breaks inside quoted cells, CRLF and a BOM are fine", () => {
    const text = '\uFEFFannotator,note,x\r\na,"two\r\nlines",1\r\nb,ok,zz\r\n';
    throwsWith(() => parseRatings(text, "q.csv", { alternatives: ["x"] }), "input", 'q.csv line 4, column "x"');
  });

  it("a missing file; a file read from disk (TSV)", async () => {
    // A path that does not exist is a usage error (exit 2), as in every command.
    const e = await rejectsCivitas(readRatings("/nonexistent/r.csv"), "usage");
    assert.match(e.message, /\/nonexistent\/r\.csv/);
    const f = path.join(tempDir("civitas-ratings-"), "r.tsv");
    writeFileSync(f, "annotator\tx\ty\na\t1\t2\n");
    const r = await readRatings(f);
    assert.deepEqual(ballots(r.profile), [[[["y"], ["x"]], 1]]);
    assert.equal(r.profile.metadata["FILE NAME"], "r.tsv");
  });
});
