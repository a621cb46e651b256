import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { annotatorComparisons, comparisonProfile, parseComparisons, readComparisons } from "../../src/choice/comparisons.js";
import { marginMatrix } from "../../src/choice/profile.js";
import { CivitasError } from "../../src/errors.js";
import { rejectsCivitas } from "../helpers/errors.js";

const jsonl = (rows: object[]) => rows.map((r) => JSON.stringify(r)).join("\n") + "\n";

const throwsAt = (text: string, pattern: RegExp) =>
  assert.throws(
    () => parseComparisons(text, "c.jsonl"),
    (e: unknown) => e instanceof CivitasError && e.kind === "input" && pattern.test(e.message),
  );

describe("comparisons JSONL", () => {
  const rows = [
    { annotator: "u1", group: "north", prompt: "p1", chosen: "A", rejected: "B" },
    { annotator: "u1", group: "north", prompt: "p1", chosen: "A", rejected: "C", weight: 2 },
    { annotator: 7, group: "south", prompt: "p1", chosen: "C", rejected: "A" },
    { annotator: 7, group: "south", prompt: "p2", chosen: "X", rejected: "Y", extra: "ignored" },
    { annotator: "u3", group: "north", prompt: "p2", chosen: "Y", rejected: "X", weight: 0.5 },
  ];

  it("partitions by prompt, with weighted support, per-annotator lists and per-group matrices", () => {
    const d = parseComparisons(jsonl(rows), "c.jsonl");
    assert.equal(d.lines, 5);
    assert.deepEqual(d.warnings, []);
    assert.deepEqual(d.groups, ["north", "south"]);
    assert.deepEqual(
      d.problems.map((p) => [p.prompt, p.alternatives]),
      [
        ["p1", ["A", "B", "C"]],
        ["p2", ["X", "Y"]],
      ],
    );
    const p1 = d.problems[0]!;
    // support[c * 3 + r]: A>B 1, A>C 2, C>A 1
    assert.deepEqual(Array.from(p1.matrix.support), [0, 1, 2, 0, 0, 0, 1, 0, 0]);
    assert.equal(p1.matrix.margin[0 * 3 + 2], 1); // A vs C: 2 - 1
    assert.equal(p1.weight, 4);
    assert.deepEqual(Array.from(p1.groups.get("north")!.support), [0, 1, 2, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual(Array.from(p1.groups.get("south")!.support), [0, 0, 0, 0, 0, 0, 1, 0, 0]);
    const p2 = d.problems[1]!;
    assert.deepEqual(Array.from(p2.matrix.support), [0, 1, 0.5, 0]);
    assert.deepEqual([...p2.groups.keys()], ["north", "south"]); // the file's group order
    assert.deepEqual(Array.from(p2.groups.get("north")!.support), [0, 0, 0.5, 0]);

    // annotators span prompts; numbers become strings
    assert.deepEqual(
      d.annotators.map((a) => [a.id, a.groups, a.comparisons.map((c) => [c.problem, c.chosen, c.rejected, c.weight, c.line])]),
      [
        ["u1", ["north"], [[0, 0, 1, 1, 1], [0, 0, 2, 2, 2]]],
        ["7", ["south"], [[0, 2, 0, 1, 3], [1, 0, 1, 1, 4]]],
        ["u3", ["north"], [[1, 1, 0, 0.5, 5]]],
      ],
    );
    assert.deepEqual(annotatorComparisons(d, 1, 1), [{ chosen: 0, rejected: 1, weight: 1 }]);
  });

  it("makes a profile whose margin matrix is the support matrix", () => {
    const d = parseComparisons(jsonl(rows), "c.jsonl");
    const p1 = d.problems[0]!;
    const prof = comparisonProfile(p1);
    assert.deepEqual(prof.alternatives, ["A", "B", "C"]);
    assert.deepEqual(Array.from(marginMatrix(prof).support), Array.from(p1.matrix.support));
    assert.equal(prof.metadata.prompt, "p1");
    const north = comparisonProfile(p1, "north");
    assert.deepEqual(Array.from(marginMatrix(north).support), Array.from(p1.groups.get("north")!.support));
  });

  it("is one problem when no line has a prompt, and warns about missing and multiple groups", () => {
    const d = parseComparisons(
      jsonl([
        { annotator: "a", group: "g1", chosen: "x", rejected: "y" },
        { annotator: "a", group: "g2", chosen: "y", rejected: "z" },
        { annotator: "b", chosen: "x", rejected: "z" },
      ]),
      "c.jsonl",
    );
    assert.equal(d.problems.length, 1);
    assert.equal(d.problems[0]!.prompt, null);
    assert.equal(d.warnings.length, 2);
    assert.match(d.warnings[0]!, /1 of 3 lines name no group/u);
    assert.match(d.warnings[1]!, /a \(g1, g2\)/u);
  });

  it("names the line and the field of every error", () => {
    throwsAt('{"annotator": "a", "chosen": "x", "rejected": "y"}\n{"annotator": "a", "chosen": "x"}\n', /c\.jsonl line 2, field rejected/u);
    throwsAt('{"annotator": "a", "chosen": "x", "rejected": "x"}\n', /line 1, field rejected: the same response as chosen/u);
    throwsAt('{"annotator": "a", "chosen": "x", "rejected": "y", "weight": 0}\n', /line 1, field weight/u);
    throwsAt('{"annotator": "a", "chosen": "x", "rejected": "y", "weight": -1}\n', /line 1, field weight/u);
    throwsAt('{"chosen": "x", "rejected": "y"}\n', /line 1, field annotator/u);
    throwsAt('{"annotator": "a", "chosen": 3, "rejected": "y"}\n', /line 1, field chosen/u);
    throwsAt('\n{"annotator": "a", "chosen": "x", "rejected": "y"\n', /line 2: not valid JSON/u);
    throwsAt('{"annotator": "a", "prompt": "p", "chosen": "x", "rejected": "y"}\n{"annotator": "a", "chosen": "x", "rejected": "y"}\n', /line 2: line 1 has a prompt and line 2 has none/u);
    throwsAt("\n\n", /holds no comparisons/u);
  });

  it("reads a file, and says which file it cannot read", async () => {
    const dir = await mkdtemp(join(tmpdir(), "civitas-cmp-"));
    try {
      const f = join(dir, "c.jsonl");
      await writeFile(f, jsonl(rows));
      const d = await readComparisons(f);
      assert.equal(d.lines, 5);
      // A path that does not exist is a usage error (exit 2), as in every command.
      const e = await rejectsCivitas(readComparisons(join(dir, "missing.jsonl")), "usage");
      assert.match(e.message, /missing\.jsonl/u);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
