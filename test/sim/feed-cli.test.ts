/**
 * `civitas simulate examples/feed.yaml` end to end with the real tiny model (threads: 1, 12
 * agents of which 3 model-driven, 2 steps): the same seed in two fresh stores gives the same
 * numbers, and `--replay` of the run gives them again without a model.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { describe, it } from "node:test";
import { runCli } from "../helpers/cli.js";
import { REPO, tempDir } from "../helpers/paths.js";

interface SimJson {
  run: string;
  model: string;
  model_calls: number;
  cache_hits: number;
  points: { metrics: Record<string, { mean: number | null }> }[];
}

describe("civitas simulate examples/feed.yaml", () => {
  it("same seed, same numbers; --replay equal without a model", async () => {
    const dir = tempDir();
    const run = async (store: string, ...extra: string[]): Promise<SimJson> => {
      const r = await runCli(["simulate", "examples/feed.yaml", "--store", path.join(dir, store), "--json", "--progress", "none", ...extra], { cwd: REPO });
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout) as SimJson;
    };
    // two fresh stores, side by side (two processes): nothing cached, the same seed
    const [a, b] = await Promise.all([run("a.duckdb"), run("b.duckdb")]);
    assert.ok(b.model_calls > 0, "the second run asked the model too (its own store)");
    assert.ok(a.model_calls > 0, "the first run asked the model");
    assert.equal(b.run, a.run);
    assert.deepEqual(b.points, a.points);
    const m = a.points[0]!.metrics;
    for (const k of ["polarization", "echo_chamber", "cascade_mean", "posts", "exposures"]) assert.equal(typeof m[k]?.mean, "number", k);
    assert.equal(m.exposures!.mean, 24, "12 active agents x 2 posts shown at step 2");
    const r = await run("a.duckdb", "--replay", a.run);
    assert.match(r.model, /\(replay of /u);
    assert.equal(r.model_calls, 0);
    assert.deepEqual(r.points, a.points);
  });
});
