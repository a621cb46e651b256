/**
 * One way to read a file the user named (src/files.ts), through every reader that reads one whole:
 * a path that does not exist is a usage error (exit 2) saying `no <what> <path>`; a path that
 * exists but cannot be read is an input error saying `cannot read the <what> <path>: <reason>`.
 */
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { readComparisons, readPolis, readPrefLib, readRatings } from "../../src/choice/index.js";
import { readText } from "../../src/files.js";
import { readPredictions } from "../../src/runs/predictions.js";
import { loadEdgeList, loadScenario } from "../../src/sim/index.js";
import { loadCustom } from "../../src/surveys/index.js";
import { rejectsCivitas } from "../helpers/errors.js";
import { tempDir } from "../helpers/paths.js";

const EXAMPLE_SURVEY = new URL("../../examples/custom/town-aggregated.csv", import.meta.url).pathname;

describe("readText", () => {
  it("returns the text without a leading byte order mark, and keeps one further in", async () => {
    const file = path.join(tempDir(), "bom.txt");
    writeFileSync(file, "\uFEFFa,b\n\uFEFFc\n");
    assert.equal(await readText(file, "test file"), "a,b\n\uFEFFc\n");
    writeFileSync(file, "plain");
    assert.equal(await readText(file, "test file"), "plain");
  });

  it("says a missing path is a usage error naming what and where, a part of the path being a file included", async () => {
    const dir = tempDir();
    const missing = path.join(dir, "none.csv");
    const e = await rejectsCivitas(readText(missing, "ratings file", { hint: "give a CSV" }), "usage");
    assert.equal(e.message, `no ratings file ${missing}`);
    assert.equal(e.hint, "give a CSV");
    const file = path.join(dir, "a.csv");
    writeFileSync(file, "x");
    const under = path.join(file, "b.csv");
    assert.equal((await rejectsCivitas(readText(under, "ratings file"), "usage")).message, `no ratings file ${under}`);
  });

  it("says a path that cannot be read is an input error with the reason", async () => {
    const dir = tempDir();
    const e = await rejectsCivitas(readText(dir, "scenario file"), "input");
    assert.match(e.message, new RegExp(`^cannot read the scenario file ${dir.replace(/[.*+?^${}()|[\]\\]/gu, "\\$&")}: EISDIR`, "u"));
  });
});

describe("every reader of a whole file reads it the same way", () => {
  const readers: [what: string, read: (file: string) => Promise<unknown>][] = [
    ["scenario file", (f) => loadScenario(f)],
    ["edge list file", (f) => loadEdgeList(f)],
    ["ratings file", (f) => readRatings(f)],
    ["PrefLib file", (f) => readPrefLib(f)],
    ["comparisons file", (f) => readComparisons(f)],
    ["predictions file", async (f) => readPredictions(f, await loadCustom({ data: EXAMPLE_SURVEY }))],
  ];
  for (const [what, read] of readers) {
    it(`the ${what}: missing is "no ${what} <path>" (usage), a folder is "cannot read the ${what} <path>" (input)`, async () => {
      const dir = tempDir();
      const missing = path.join(dir, "missing.txt");
      assert.equal((await rejectsCivitas(read(missing), "usage")).message, `no ${what} ${missing}`);
      const folder = path.join(dir, "a-folder");
      mkdirSync(folder);
      assert.ok((await rejectsCivitas(read(folder), "input")).message.startsWith(`cannot read the ${what} ${folder}: `));
    });
  }

  it("a Polis export whose comments.csv cannot be read names it as the Polis comments file", async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, "participants-votes.csv"), "participant,group-id,n-comments,n-votes,n-agree,n-disagree,0\n0,,0,1,1,0,1\n");
    mkdirSync(path.join(dir, "comments.csv"));
    const e = await rejectsCivitas(readPolis(dir), "input");
    assert.ok(e.message.startsWith(`cannot read the Polis comments file ${path.join(dir, "comments.csv")}: `), e.message);
  });
});
