import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { bradleyTerry } from "../../src/choice/bradley-terry.js";
import { parseComparisons } from "../../src/choice/comparisons.js";
import { formatPreferencePairs, preferencePairsFromBradleyTerry, toPreferencePairs, writePreferencePairs } from "../../src/choice/export.js";
import { marginMatrix, profileFromRankings } from "../../src/choice/profile.js";
import { rejectsCivitas } from "../helpers/errors.js";

const texts = ["alpha", "beta", "gamma", "delta"];

describe("DPO preference pairs", () => {
  it("makes one pair per two alternatives ranked strictly apart, in ranking order", () => {
    // {gamma} > {alpha, delta} > {beta}
    const pairs = toPreferencePairs(texts, [[2], [0, 3], [1]], { prompt: "Q?" });
    assert.deepEqual(
      pairs.map((p) => [p.chosen, p.rejected, p.weight]),
      [
        ["gamma", "alpha", 1],
        ["gamma", "delta", 1],
        ["gamma", "beta", 1],
        ["alpha", "beta", 1],
        ["delta", "beta", 1],
      ],
    );
    assert.ok(pairs.every((p) => p.prompt === "Q?"));
    // unranked alternatives make no pair; no prompt gives ""
    assert.deepEqual(toPreferencePairs(texts, [[1], [3]]), [{ prompt: "", chosen: "beta", rejected: "delta", weight: 1 }]);
    assert.deepEqual(toPreferencePairs(texts, [[0, 1, 2, 3]]), []);
  });

  it("weights by the voters' support share, leaving out pairs without support", () => {
    // 3 voters alpha > beta > gamma, 1 voter gamma > alpha (beta, delta unranked)
    const p = profileFromRankings(texts, [[[0], [1], [2]], [[2], [0]]], [3, 1]);
    const mm = marginMatrix(p);
    const pairs = toPreferencePairs(texts, [[0], [1], [2], [3]], { weight: { kind: "support", support: mm } });
    assert.deepEqual(
      pairs.map((x) => [x.chosen, x.rejected, x.weight]),
      [
        ["alpha", "beta", 1], // 3 of 3
        ["alpha", "gamma", 0.75], // 3 of 4
        ["beta", "gamma", 1], // 3 of 3: beta is unranked on the gamma voter's ballot
      ], // delta is never compared: no pairs with it
    );
    // the reverse ranking keeps only gamma > alpha (1 of 4): no voter puts gamma over beta or beta over alpha
    assert.deepEqual(
      toPreferencePairs(texts, [[3], [2], [1], [0]], { weight: { kind: "support", support: mm.support } }).map((x) => [x.chosen, x.rejected, x.weight]),
      [["gamma", "alpha", 0.25]],
    );
  });

  it("weights by Bradley-Terry win probabilities", () => {
    const s = new Float64Array([0, 3, 1, 0]); // 0 beat 1 three times, lost once: p = (0.75, 0.25)
    const fit = bradleyTerry(s, 2);
    const pairs = preferencePairsFromBradleyTerry(["x", "y"], fit, "P");
    assert.equal(pairs.length, 1);
    assert.equal(pairs[0]!.chosen, "x");
    assert.ok(Math.abs(pairs[0]!.weight - 0.75) < 1e-12);
    assert.equal(pairs[0]!.prompt, "P");
  });

  it("round-trips through the comparisons loader", () => {
    const pairs = toPreferencePairs(texts, [[3], [2], [0]], { prompt: "Q" });
    const back = parseComparisons(
      formatPreferencePairs(pairs)
        .trim()
        .split("\n")
        .map((l) => JSON.stringify({ annotator: "agg", ...JSON.parse(l) }))
        .join("\n"),
      "pairs.jsonl",
    );
    assert.equal(back.lines, 3);
    assert.deepEqual(back.problems[0]!.alternatives, ["delta", "gamma", "alpha"]);
    assert.deepEqual(bradleyTerry(back.problems[0]!.matrix, 3).ranking, [[0], [1], [2]]);
  });

  it("writes JSONL, replacing the file whole, and names a file it cannot write", async () => {
    const dir = await mkdtemp(join(tmpdir(), "civitas-pairs-"));
    try {
      const f = join(dir, "pairs.jsonl");
      const pairs = toPreferencePairs(texts, [[0], [1]], { prompt: 'say "hi"\n' });
      assert.equal(await writePreferencePairs(f, pairs), 1);
      const text = await readFile(f, "utf8");
      assert.equal(text, '{"prompt":"say \\"hi\\"\\n","chosen":"alpha","rejected":"beta","weight":1}\n');
      assert.equal(await writePreferencePairs(f, []), 0);
      assert.equal(await readFile(f, "utf8"), "");
      assert.deepEqual(await readdir(dir), ["pairs.jsonl"]);
      const e = await rejectsCivitas(writePreferencePairs(join(dir, "no", "such", "dir.jsonl"), pairs), "usage");
      assert.match(e.message, /cannot write .*dir\.jsonl/u);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("rejects bad rankings and weights", () => {
    assert.throws(() => toPreferencePairs(texts, [[0], [4]]), /alternative 4, not one of the 4/u);
    assert.throws(() => toPreferencePairs(texts, [[0], [0]]), /alternative 0 twice/u);
    assert.throws(() => toPreferencePairs(["x", "x"], [[0], [1]]), /same text/u);
    assert.throws(() => toPreferencePairs(texts, [[0], [1]], { weight: { kind: "bradley-terry", strengths: [1, 0, 1, 1] } }), /strength 1 is 0/u);
    assert.throws(() => toPreferencePairs(texts, [[0], [1]], { weight: { kind: "support", support: new Float64Array(4) } }), /16 entries/u);
  });
});
