import assert from "node:assert/strict";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { CivitasError } from "../../src/errors.js";
import {
  parsePrefLib,
  parsePrefLibWithWarnings,
  prefLibKind,
  readPrefLib,
  readPrefLibWithWarnings,
  writePrefLib,
  type PrefLibKind,
} from "../../src/choice/preflib.js";
import { ballotTiers, marginMatrix, profileFromRankings, totalVoters, type Profile } from "../../src/choice/profile.js";
import { rejectsCivitas } from "../helpers/errors.js";
import { SHARED, tempDir } from "../helpers/paths.js";

const DIR = path.join(SHARED, "data/preflib");
const CRLF = path.join(DIR, "crlf");
const files = (dir: string): string[] =>
  readdirSync(dir)
    .filter((f) => /\.(soc|soi|toc|toi)$/.test(f))
    .sort()
    .map((f) => path.join(dir, f));

/** The header a test file needs (PrefLib's keys); `extra` lines go after it. */
function text(kind: string, m: number, voters: number, unique: number, orders: string[], extra: string[] = []): string {
  return [
    `# FILE NAME: test.${kind}`,
    "# TITLE: test",
    "# DESCRIPTION: ",
    `# DATA TYPE: ${kind}`,
    "# MODIFICATION TYPE: synthetic",
    "# RELATES TO: ",
    "# RELATED FILES: ",
    "# PUBLICATION DATE: 2025-01-01",
    "# MODIFICATION DATE: 2025-01-01",
    `# NUMBER ALTERNATIVES: ${m}`,
    `# NUMBER VOTERS: ${voters}`,
    `# NUMBER UNIQUE ORDERS: ${unique}`,
    ...Array.from({ length: m }, (_, i) => `# ALTERNATIVE NAME ${i + 1}: alt${i + 1}`),
    ...extra,
    ...orders,
  ].join("\n") + "\n";
}

/** The ballot whose tiers (1-based, as PrefLib writes them) are given, and its count. */
function countOf(p: Profile, tiers: number[][]): number | undefined {
  const want = JSON.stringify(tiers.map((t) => t.map((a) => a - 1).sort((x, y) => x - y)));
  for (let b = 0; b < p.size; b++) if (JSON.stringify(ballotTiers(p, b)) === want) return p.counts[b];
  return undefined;
}

function assertSameProfile(a: Profile, b: Profile, what: string): void {
  assert.deepEqual(a.alternatives, b.alternatives, `${what}: alternatives`);
  assert.equal(a.size, b.size, `${what}: size`);
  assert.deepEqual(Array.from(a.ranks), Array.from(b.ranks), `${what}: ranks`);
  assert.deepEqual(Array.from(a.counts), Array.from(b.counts), `${what}: counts`);
  assert.deepEqual(a.metadata, b.metadata, `${what}: metadata`);
}

function throwsInput(f: () => unknown, ...parts: (string | RegExp)[]): CivitasError {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof CivitasError, `expected a CivitasError, got ${String(e)}`);
    assert.equal(e.kind, "input", e.message);
    for (const p of parts) {
      if (typeof p === "string") assert.ok(e.message.includes(p), `"${e.message}" should mention "${p}"`);
      else assert.match(e.message, p);
    }
    return e;
  }
  assert.fail("expected an error");
}

const m = (p: Profile, i: number, j: number): number => marginMatrix(p).margin[i * p.alternatives.length + j]!;

describe("PrefLib files of the shared data", () => {
  const known: { file: string; kind: PrefLibKind; title: string; m: number; voters: number; unique: number; first: string; zeros?: number }[] = [
    { file: "00002-00000001.soi", kind: "soi", title: "Debian 2002 Leader", m: 4, voters: 475, unique: 41, first: "Branden Robinson" },
    { file: "00002-00000006.toc", kind: "toc", title: "Debian 2010 Leader", m: 5, voters: 436, unique: 82, first: "Stefano Zacchiroli" },
    { file: "00002-00000007.toc", kind: "toc", title: "Debian 2012 Leader", m: 4, voters: 403, unique: 29, first: "Wouter Verhelst" },
    { file: "00004-00000006.soc", kind: "soc", title: "Netflix Prize Data", m: 3, voters: 940, unique: 6, first: "National Lampoon's Vacation" },
    { file: "00004-00000150.soc", kind: "soc", title: "Netflix Prize Data", m: 4, voters: 408, unique: 24, first: "Mean Girls", zeros: 4 },
    { file: "condorcet-paradox-3.soc", kind: "soc", title: "Condorcet paradox", m: 3, voters: 3, unique: 3, first: "a" },
    { file: "cycle-weighted-4.toi", kind: "toi", title: "weighted 3-cycle plus a Condorcet loser, with ties and truncation", m: 4, voters: 21, unique: 6, first: "a" },
  ];

  it("covers every file in the folder", () => {
    assert.deepEqual(files(DIR).map((f) => path.basename(f)), known.map((k) => k.file).sort());
  });

  for (const k of known) {
    it(`${k.file}: ${k.kind}, ${k.m} alternatives, ${k.voters} voters, ${k.unique} unique orders, no warnings`, async () => {
      const r = await readPrefLibWithWarnings(path.join(DIR, k.file));
      assert.deepEqual(r.warnings, []);
      assert.equal(r.kind, k.kind);
      assert.equal(prefLibKind(r.profile), k.kind, "the file uses the most restrictive type");
      assert.equal(r.profile.alternatives.length, k.m);
      assert.equal(r.profile.alternatives[0], k.first);
      assert.equal(totalVoters(r.profile), k.voters);
      assert.equal(r.profile.size, k.unique);
      assert.equal(r.profile.metadata["TITLE"], k.title);
      assert.equal(r.profile.metadata["FILE NAME"], k.file);
      assert.equal(r.profile.metadata["DATA TYPE"], k.kind);
      assert.equal(r.profile.metadata["NUMBER VOTERS"], undefined, "derived keys are not metadata");
      assert.equal(Array.from(r.profile.counts).filter((c) => c === 0).length, k.zeros ?? 0);
    });
  }

  it("Debian 2002: the first and last orders, truncated ballots, names; Garbee (3) is the Condorcet winner", async () => {
    const p = await readPrefLib(path.join(DIR, "00002-00000001.soi"));
    assert.deepEqual(p.alternatives, ["Branden Robinson", "Raphael Hertzog", "Bdale Garbee", "None Of The Above"]);
    assert.deepEqual(ballotTiers(p, 0), [[2], [0], [1], [3]]);
    assert.equal(p.counts[0], 60);
    assert.equal(countOf(p, [[3]]), 9, "9: 3 ranks one alternative");
    assert.deepEqual(Array.from(p.ranks.subarray((p.size - 1) * 4, p.size * 4)), [-1, -1, -1, 0], "last line 1: 4");
    for (const j of [0, 1, 3]) assert.ok(m(p, 2, j) > 0, `Garbee beats ${p.alternatives[j]}`);
    assert.equal(m(p, 2, 0), 90);
  });

  it("Debian 2010 and 2012 (.toc with ties): Zacchiroli wins, alternatives 1 and 3", async () => {
    const p10 = await readPrefLib(path.join(DIR, "00002-00000006.toc"));
    assert.equal(countOf(p10, [[1], [2, 3, 4, 5]]), 7, "7: 1,{2,3,4,5}");
    for (let j = 1; j < 5; j++) assert.ok(m(p10, 0, j) > 0);
    const p12 = await readPrefLib(path.join(DIR, "00002-00000007.toc"));
    assert.equal(p12.alternatives[2], "Stefano Zacchiroli");
    assert.equal(countOf(p12, [[3], [1, 2, 4]]), 23);
    for (const j of [0, 1, 3]) assert.ok(m(p12, 2, j) > 0);
  });

  it("cycle-weighted-4.toi: ties, truncation, the weighted cycle a>b>c>a and d below all three", async () => {
    const p = await readPrefLib(path.join(DIR, "cycle-weighted-4.toi"));
    assert.equal(countOf(p, [[1, 2], [3]]), 3, "3: {1,2},3 leaves d unranked");
    assert.equal(countOf(p, [[3], [1, 2, 4]]), 2);
    assert.equal(countOf(p, [[4]]), 1);
    // a>b: 6+4 vs 5; b>c: 6+5+3 vs 4+2; c>a: 5+4+2 vs 6+3; unranked is incomparable.
    assert.equal(m(p, 0, 1), 5);
    assert.equal(m(p, 1, 2), 8);
    assert.equal(m(p, 2, 0), 2);
    assert.equal(m(p, 0, 3), 15, "the lone '1: 4' ballot and the truncated ones say nothing about d");
    const ext = marginMatrix(p, { extendTruncated: true });
    assert.equal(ext.margin[0 * 4 + 3], 17, "extended: a>d gains the 3 truncated ballots, d>a gains the 1");
  });

  it("condorcet-paradox-3.soc: every pairwise margin is 1 around the cycle", async () => {
    const p = await readPrefLib(path.join(DIR, "condorcet-paradox-3.soc"));
    assert.equal(m(p, 0, 1), 1);
    assert.equal(m(p, 1, 2), 1);
    assert.equal(m(p, 2, 0), 1);
  });

  it("the CRLF copies read as the LF files", async () => {
    const copies = files(CRLF);
    assert.ok(copies.length > 0);
    for (const f of copies) {
      assert.ok(readFileSync(f, "utf8").includes("\r\n"), `${f} has CRLF line endings`);
      const r = await readPrefLibWithWarnings(f);
      assert.deepEqual(r.warnings, []);
      assertSameProfile(r.profile, await readPrefLib(path.join(DIR, path.basename(f))), path.basename(f));
    }
  });

  it("round trip: read, write, read gives the same profile, and the text PrefLib wrote (LF)", async () => {
    for (const f of [...files(DIR), ...files(CRLF)]) {
      const p = await readPrefLib(f);
      const written = writePrefLib(p);
      const again = parsePrefLibWithWarnings(written, path.basename(f));
      assert.deepEqual(again.warnings, [], f);
      assertSameProfile(again.profile, p, f);
      assert.equal(written, readFileSync(f, "utf8").replace(/\r\n/g, "\n"), `${f}: canonical text`);
    }
  });
});

describe("parsePrefLib: format details", () => {
  it("the spec's examples: spaces, ties in braces, and empty lines", () => {
    const t = text("toc", 4, 14, 2, ["1: 1, 4, 3, 2", "", "13: 1, {4, 3}, 2", ""]);
    const p = parsePrefLib(t, "x.toc");
    assert.equal(countOf(p, [[1], [4], [3], [2]]), 1);
    assert.equal(countOf(p, [[1], [3, 4], [2]]), 13);
    assert.deepEqual(Array.from(p.ranks.subarray(4, 8)), [0, 2, 1, 1]);
  });

  it("CRLF, a lone CR, a byte-order mark and no final newline", () => {
    const t = "\uFEFF" + text("soi", 3, 3, 2, ["2: 1,2", "1: 3"]).trimEnd();
    const lf = parsePrefLib(t, "x.soi");
    assertSameProfile(parsePrefLib(t.replace(/\n/g, "\r\n"), "x.soi"), lf, "CRLF");
    assertSameProfile(parsePrefLib(t.replace(/\n/g, "\r"), "x.soi"), lf, "CR");
    assert.equal(lf.metadata["FILE NAME"], "test.soi", "the BOM is not part of the first key");
  });

  it("reads a file in chunks of any size as it parses the whole text (lines, CRLF and a BOM cut across chunks)", async () => {
    const dir = tempDir("preflib-chunks");
    const orders = ["3: 1,{2,3},4", "", "2 :  4 , 3,{ 1 ,2 }", "1: 2,1,3,4", "5: 3"];
    const t = "\uFEFF" + text("toi", 4, 11, 4, orders);
    for (const [label, body] of [["LF", t], ["CRLF", t.replace(/\n/g, "\r\n")], ["CR", t.replace(/\n/g, "\r")]] as const) {
      const f = path.join(dir, `x-${label}.toi`);
      writeFileSync(f, body);
      const whole = parsePrefLibWithWarnings(body, f);
      for (const chunkSize of [1, 2, 3, 5, 7, 64]) {
        const r = await readPrefLibWithWarnings(f, { chunkSize });
        assertSameProfile(r.profile, whole.profile, `${label}, chunks of ${chunkSize}`);
        assert.deepEqual(Array.from(r.profile.origin!.lines), [17, 19, 20, 21], `${label}, chunks of ${chunkSize}: lines`);
        assert.deepEqual(r.warnings, whole.warnings);
      }
    }
    for (const f of [...files(DIR), ...files(CRLF)]) assertSameProfile((await readPrefLibWithWarnings(f, { chunkSize: 5 })).profile, await readPrefLib(f), f);
  });

  it("keeps each unique ballot's line; orders given on several lines (even far apart) merge into the first", () => {
    const orders = ["1: 1,2,3", "2: 2,1,3", "4: 1,2,3", "8: 3,2,1", "16: 2,1,3", "32: 1,2,3"];
    const r = parsePrefLibWithWarnings(text("soc", 3, 63, 6, orders), "d.soc");
    assert.deepEqual(Array.from(r.profile.counts), [1 + 4 + 32, 2 + 16, 8]);
    // text() writes 15 header lines for 3 alternatives: the orders are lines 16 to 21.
    assert.deepEqual(Array.from(r.profile.origin!.lines), [16, 17, 19]);
    assert.deepEqual(r.warnings, [
      "d.soc line 18: the same order as line 16; counts added (PrefLib lists each order once)",
      "d.soc line 20: the same order as line 17; counts added (PrefLib lists each order once)",
      "d.soc line 21: the same order as line 16; counts added (PrefLib lists each order once)",
    ]);
  });

  it("a line the byte reader gives up on partway is read as text, and the ballots around it are intact", async () => {
    // "\u00a0" (a no-break space) is whitespace to the text reader, not to the byte reader, which
    // has written 2 and 1 into the row before it meets it; "\v" likewise at the end of a line.
    const orders = ["1: 1,2,3", "2: 2,1,\u00a03", "4: 3,1,2", "8: 1,3,2\u000b", "16: 3,2,1", "", "32: 2,3,1"];
    const t = text("soc", 3, 63, 6, orders);
    const dir = tempDir("preflib-partway");
    const f = path.join(dir, "p.soc");
    writeFileSync(f, t);
    const expected = [
      [0, 1, 2],
      [1, 0, 2],
      [1, 2, 0],
      [0, 2, 1],
      [2, 1, 0],
      [2, 0, 1],
    ];
    for (const r of [parsePrefLibWithWarnings(t, "p.soc"), ...(await Promise.all([1, 4, 9, 16, 4096].map((chunkSize) => readPrefLibWithWarnings(f, { chunkSize }))))]) {
      assert.equal(r.profile.size, 6);
      assert.deepEqual(Array.from(r.profile.counts), [1, 2, 4, 8, 16, 32]);
      // ranks: the tier (0 = first) of each alternative, ballot by ballot.
      assert.deepEqual(Array.from(r.profile.ranks), expected.flat());
      assert.deepEqual(Array.from(r.profile.origin!.lines), [16, 17, 18, 19, 20, 22]);
      assert.deepEqual(r.warnings, []);
    }
  });

  it("thousands of orders, some given twice far apart: each copy merged into its first line, and no other", () => {
    // Every strict order of 7 alternatives once (5,040 lines, count 1), in lexicographic order; then
    // the orders numbered 0, 7, 4999 and 2521 again (counts 10, 20, 30, 40), and order 7 a third time (50).
    const perms: number[][] = [];
    const build = (prefix: number[]): void => {
      if (prefix.length === 7) perms.push(prefix);
      for (let a = 1; a <= 7; a++) if (!prefix.includes(a)) build([...prefix, a]);
    };
    build([]);
    assert.equal(perms.length, 5040);
    const again: [number, number][] = [
      [0, 10],
      [7, 20],
      [4999, 30],
      [2521, 40],
      [7, 50],
    ];
    const lines = [...perms.map((p) => `1: ${p.join(",")}`), ...again.map(([k, c]) => `${c}: ${perms[k]!.join(",")}`)];
    const voters = 5040 + 10 + 20 + 30 + 40 + 50;
    const r = parsePrefLibWithWarnings(text("soc", 7, voters, lines.length, lines), "many.soc");
    assert.equal(r.profile.size, 5040);
    const counts = Array.from(r.profile.counts);
    const expected = perms.map(() => 1);
    for (const [k, c] of again) expected[k]! += c;
    assert.deepEqual(counts, expected);
    for (const [b, p] of perms.entries()) {
      // Ballot b is order b: alternative p[t] in tier t.
      for (const [t, a] of p.entries()) assert.equal(r.profile.ranks[b * 7 + a - 1], t);
    }
    // 19 header lines for 7 alternatives: order k on line 20 + k; the copies on lines 5060 to 5064.
    assert.deepEqual(r.warnings.filter((w) => w.includes("the same order")), [
      "many.soc line 5060: the same order as line 20; counts added (PrefLib lists each order once)",
      "many.soc line 5061: the same order as line 27; counts added (PrefLib lists each order once)",
      "many.soc line 5062: the same order as line 5019; counts added (PrefLib lists each order once)",
      "many.soc line 5063: the same order as line 2541; counts added (PrefLib lists each order once)",
      "many.soc line 5064: the same order as line 27; counts added (PrefLib lists each order once)",
    ]);
  });

  it("counts too large to add exactly are errors naming the line", () => {
    throwsInput(() => parsePrefLib(text("soc", 2, 1, 1, ["99999999999999999999: 1,2"]), "big.soc"), "big.soc line 15", "99999999999999999999", "9007199254740991");
    const half = 2 ** 52;
    throwsInput(() => parsePrefLib(text("soc", 2, 1, 2, [`${half}: 1,2`, `${half}: 2,1`]), "sum.soc"), "sum.soc line 16", "add up to", "9007199254740991");
  });

  it("counts of 0 are kept as ballots; an order with nothing ranked is allowed in .soi/.toi", () => {
    const p = parsePrefLib(text("soi", 3, 2, 3, ["2: 1,2,3", "0: 3,2", "0: "]), "x.soi");
    assert.equal(p.size, 3);
    assert.deepEqual(Array.from(p.counts), [2, 0, 0]);
    assert.deepEqual(Array.from(p.ranks.subarray(6, 9)), [-1, -1, -1]);
    assertSameProfile(parsePrefLib(writePrefLib(p), "y.soi"), p, "round trip");
  });

  it("the data type comes from the header, else from the extension", () => {
    const body = ["# NUMBER ALTERNATIVES: 2", "# NUMBER VOTERS: 1", "# NUMBER UNIQUE ORDERS: 1", "# ALTERNATIVE NAME 1: x", "# ALTERNATIVE NAME 2: y", "1: {1,2}"].join("\n");
    const r = parsePrefLibWithWarnings(body, "dir/ties.toc");
    assert.equal(r.kind, "toc");
    assert.ok(!r.warnings.some((w) => w.includes('"# TITLE:"')), "descriptive keys are optional in a user's own file");
    throwsInput(() => parsePrefLib(body, "dir/ties.soc"), "dir/ties.soc line 6", "tie ({1,2})", ".soc", "strict complete orders");
    throwsInput(() => parsePrefLib(body, "ties.txt"), "ties.txt", "DATA TYPE", ".soc, .soi, .toc or .toi");
    const declared = parsePrefLibWithWarnings(`# DATA TYPE: toi\n${body}`, "ties.soc");
    assert.equal(declared.kind, "toi");
    assert.ok(declared.warnings.some((w) => w.includes("ties.soc line 1: DATA TYPE is toi but the file name ends in .soc")), declared.warnings.join("\n"));
    assert.ok(declared.warnings.some((w) => w.includes("fits a .toc file")), "a more restrictive type fits");
  });

  it("header details: RELATED FILES without a space, names with colons, extra keys kept, alternatives without names", () => {
    const t = [
      "# DATA TYPE: soc",
      "# RELATED FILES:",
      "# NUMBER ALTERNATIVES: 3",
      "# NUMBER VOTERS: 1",
      "# NUMBER UNIQUE ORDERS: 1",
      "# ALTERNATIVE NAME 1: Star Wars: Episode IV",
      "# ALTERNATIVE NAME 3: Alien",
      "# SOURCE URL: https://example.org/x",
      "1: 3,1,2",
    ].join("\n");
    const r = parsePrefLibWithWarnings(t, "x.soc");
    assert.deepEqual(r.profile.alternatives, ["Star Wars: Episode IV", "Alternative 2", "Alien"]);
    assert.equal(r.profile.metadata["RELATED FILES"], undefined, "an empty value is no metadata");
    assert.equal(r.profile.metadata["SOURCE URL"], "https://example.org/x");
    assert.ok(r.warnings.some((w) => w.includes("alternative 2;")), r.warnings.join("\n"));
    const written = writePrefLib(r.profile);
    assert.match(written, /# ALTERNATIVE NAME 3: Alien\n# SOURCE URL: https:\/\/example.org\/x\n1: 3,1,2\n$/);
    assertSameProfile(parsePrefLib(written, "y.soc"), r.profile, "round trip");
  });
});

describe("parsePrefLib: errors name the file, the line and what was expected", () => {
  const soc = (orders: string[], voters = 1, unique = orders.length): string => text("soc", 4, voters, unique, orders);
  const ORDER_LINE = 17; // the first order line after text()'s 16 header lines

  it("a line that is not COUNT: ORDER", () => {
    throwsInput(() => parsePrefLib(soc(["1 1,2,3,4"]), "bad.soc"), `bad.soc line ${ORDER_LINE}`, 'expected "COUNT: ORDER"');
  });
  it("a count that is not a whole number", () => {
    throwsInput(() => parsePrefLib(soc(["-1: 1,2,3,4"]), "bad.soc"), `line ${ORDER_LINE}`, '"-1"', "whole number");
    throwsInput(() => parsePrefLib(soc(["2.5: 1,2,3,4"]), "bad.soc"), "whole number");
    throwsInput(() => parsePrefLib(soc([": 1,2,3,4"]), "bad.soc"), "whole number");
  });
  it("alternatives out of range or not numbers", () => {
    throwsInput(() => parsePrefLib(soc(["1: 1,2,3,5"]), "bad.soc"), `line ${ORDER_LINE}`, "alternative 5 is not one of the 4");
    throwsInput(() => parsePrefLib(soc(["1: 0,1,2,3"]), "bad.soc"), "alternative 0 is not one of the 4");
    throwsInput(() => parsePrefLib(soc(["1: 1,2,x,4"]), "bad.soc"), "expected an alternative number (1 to 4)", 'found "x"');
    throwsInput(() => parsePrefLib(soc(["1: 1,2,3,"]), "bad.soc"), "found the end of the line");
    throwsInput(() => parsePrefLib(soc(["1: 1,2 3,4"]), "bad.soc"), "alternative 23 is not one of the 4");
  });
  it("an alternative repeated in one order", () => {
    throwsInput(() => parsePrefLib(soc(["1: 1,2,3,4", "1: 1,2,2,4"], 2), "bad.soc"), `line ${ORDER_LINE + 1}`, "alternative 2 appears twice");
    throwsInput(() => parsePrefLib(text("toi", 4, 1, 1, ["1: {1,2},1"]), "bad.toi"), "alternative 1 appears twice");
  });
  it("empty or unclosed braces", () => {
    throwsInput(() => parsePrefLib(text("toi", 4, 1, 1, ["1: 1,{}"]), "bad.toi"), 'empty tie "{}"');
    throwsInput(() => parsePrefLib(text("toi", 4, 1, 1, ["1: 1,{2,3"]), "bad.toi"), 'expected "," or "}"');
    throwsInput(() => parsePrefLib(text("toi", 4, 1, 1, ["1: 1}"]), "bad.toi"), 'expected ","');
  });
  it("an incomplete order in .soc and .toc", () => {
    throwsInput(() => parsePrefLib(soc(["1: 1,2,3"]), "bad.soc"), `bad.soc line ${ORDER_LINE}`, "ranks 3 of the 4 alternatives (missing 4)", "strict complete orders");
    throwsInput(() => parsePrefLib(text("toc", 4, 1, 1, ["1: {1,2},3"]), "bad.toc"), "missing 4", "complete orders with ties");
  });
  it("a tie in .soc and .soi", () => {
    throwsInput(() => parsePrefLib(soc(["1: 1,{2,3},4"]), "bad.soc"), `line ${ORDER_LINE}`, "a tie ({2,3})");
    throwsInput(() => parsePrefLib(text("soi", 4, 1, 1, ["1: {1,2}"]), "bad.soi"), "a tie ({1,2})", "strict, possibly incomplete orders");
    // A brace around one alternative is not a tie.
    assert.equal(parsePrefLib(text("soi", 4, 1, 1, ["1: {1},2"]), "ok.soi").size, 1);
  });
  it("NUMBER VOTERS that differs from the counts is an error; NUMBER UNIQUE ORDERS a warning", () => {
    throwsInput(() => parsePrefLib(soc(["2: 1,2,3,4", "1: 4,3,2,1"], 4), "bad.soc"), "bad.soc line 11", "NUMBER VOTERS is 4, but the counts of the orders add up to 3");
    const r = parsePrefLibWithWarnings(soc(["2: 1,2,3,4", "1: 4,3,2,1"], 3, 5), "w.soc");
    assert.deepEqual(r.warnings, ["w.soc line 12: NUMBER UNIQUE ORDERS is 5, but the file has 2 order lines"]);
    throwsInput(() => parsePrefLib(soc(["1: 1,2,3,4"]).replace("# NUMBER VOTERS: 1", "# NUMBER VOTERS: many"), "bad.soc"), "line 11", 'NUMBER VOTERS is "many", expected a whole number');
  });
  it("an order given twice is merged with a warning", () => {
    const r = parsePrefLibWithWarnings(text("toi", 4, 5, 2, ["2: 1,{2,3}", "3: 1,{3,2}"]), "d.toi");
    assert.equal(r.profile.size, 1);
    assert.equal(r.profile.counts[0], 5);
    assert.ok(r.warnings.some((w) => w.startsWith(`d.toi line ${ORDER_LINE + 1}: the same order as line ${ORDER_LINE}`)), r.warnings.join("\n"));
  });
  it("alternative names: numbered outside 1..N, given twice, or the same name twice", () => {
    const t = soc(["1: 1,2,3,4"]);
    throwsInput(() => parsePrefLib(t.replace("# ALTERNATIVE NAME 4: alt4", "# ALTERNATIVE NAME 5: alt4"), "n.soc"), "n.soc line 16", "ALTERNATIVE NAME 5", "numbered 1 to 4");
    throwsInput(() => parsePrefLib(t.replace("# ALTERNATIVE NAME 4: alt4", "# ALTERNATIVE NAME 3: alt4"), "n.soc"), "line 16", "ALTERNATIVE NAME 3 is given twice (also on line 15)");
    throwsInput(() => parsePrefLib(t.replace("alt4", "alt1"), "n.soc"), "line 16", 'alternatives 1 and 4 are both named "alt1"');
  });
  it("a DATA TYPE that is not ordinal; a header after the data", () => {
    throwsInput(() => parsePrefLib(text("cat", 4, 1, 1, ["1: 1,2,3,4"]), "c.cat"), "c.cat line 4", 'DATA TYPE is "cat"', "soc, soi, toc, toi");
    throwsInput(() => parsePrefLib(soc(["1: 1,2,3,4", "# NOTE: late"]), "h.soc"), `h.soc line ${ORDER_LINE + 1}`, "metadata line after the preferences");
  });
  it("a missing file is a usage error naming it (exit 2, as a missing path is in every command)", async () => {
    const e = await rejectsCivitas(readPrefLib("/nonexistent/dir/x.soc"), "usage");
    assert.match(e.message, /\/nonexistent\/dir\/x\.soc/);
  });
});

describe("writePrefLib", () => {
  const names = ["a", "b", "c"];

  it("chooses the most restrictive type, writes the header in PrefLib's order and sorts orders by count", () => {
    const p = profileFromRankings(names, [[[0], [1]], [[2], [1], [0]], [[1], [0]]], [1, 5, 2]);
    assert.equal(prefLibKind(p), "soi");
    const t = writePrefLib(p);
    assert.equal(
      t,
      [
        "# FILE NAME: ",
        "# TITLE: ",
        "# DESCRIPTION: ",
        "# DATA TYPE: soi",
        "# MODIFICATION TYPE: ",
        "# RELATES TO: ",
        "# RELATED FILES: ",
        "# PUBLICATION DATE: ",
        "# MODIFICATION DATE: ",
        "# NUMBER ALTERNATIVES: 3",
        "# NUMBER VOTERS: 8",
        "# NUMBER UNIQUE ORDERS: 3",
        "# ALTERNATIVE NAME 1: a",
        "# ALTERNATIVE NAME 2: b",
        "# ALTERNATIVE NAME 3: c",
        "5: 3,2,1",
        "2: 2,1",
        "1: 1,2",
        "",
      ].join("\n"),
    );
    const back = parsePrefLibWithWarnings(t, "p.soi");
    assert.deepEqual(back.warnings, []);
    assert.equal(countOf(back.profile, [[3], [2], [1]]), 5);
  });

  it("equal counts: more tiers first, then profile order", () => {
    const p = profileFromRankings(names, [[[0]], [[1], [0, 2]], [[2], [0], [1]], [[1]]], [1, 1, 1, 1]);
    const orders = writePrefLib(p).trimEnd().split("\n").slice(-4);
    assert.deepEqual(orders, ["1: 3,1,2", "1: 2,{1,3}", "1: 1", "1: 2"]);
  });

  it("writes a larger type when asked, refuses a smaller one", () => {
    const p = profileFromRankings(names, [[[0], [1, 2]]]);
    assert.equal(prefLibKind(p), "toc");
    const t = writePrefLib(p, "toi");
    assert.match(t, /# DATA TYPE: toi\n/);
    assert.equal(parsePrefLibWithWarnings(t, "p.toi").kind, "toi");
    for (const k of ["soc", "soi"] as const) {
      assert.throws(() => writePrefLib(p, k), (e: unknown) => e instanceof CivitasError && e.kind === "usage" && e.message.includes("ties") && e.message.includes(".toc"));
    }
    const trunc = profileFromRankings(names, [[[0]]]);
    assert.throws(() => writePrefLib(trunc, "toc"), (e: unknown) => e instanceof CivitasError && e.message.includes("unranked"));
  });

  it("refuses weights that are not whole numbers", () => {
    const p = profileFromRankings(names, [[[0], [1], [2]]], [1.5]);
    assert.throws(() => writePrefLib(p), (e: unknown) => e instanceof CivitasError && e.message.includes("ballot 1 has count 1.5"));
  });

  it("keeps names and metadata on one line", () => {
    const p = profileFromRankings(["x\ny", "z"], [[[0], [1]]], [1], { TITLE: "two\r\nlines" });
    const t = writePrefLib(p);
    assert.match(t, /# TITLE: two lines\n/);
    assert.match(t, /# ALTERNATIVE NAME 1: x y\n/);
  });

  it("a written file reads back from disk", async () => {
    const dir = tempDir("civitas-preflib-");
    const p = await readPrefLib(path.join(DIR, "cycle-weighted-4.toi"));
    const f = path.join(dir, "copy.toi");
    writeFileSync(f, writePrefLib(p));
    assertSameProfile(await readPrefLib(f), p, "copy");
  });
});
