/**
 * A run killed at any moment (SIGKILL) and started again with the same command resumes: nothing
 * already answered is asked again and the final numbers equal those of an uninterrupted run.
 * Meanwhile the killed run is reported as interrupted, never as running for ever.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { before, describe, it } from "node:test";
import { Store } from "../../src/store/store.js";
import { runCli, spawnCli } from "../helpers/cli.js";
import { MODEL, OPINIONQA, tempDir } from "../helpers/paths.js";

// Enough questions that the run is still going when its first batch is stored (batches are written
// every 500 ms or more).
const QUESTIONS = 300;
const args = (store: string) => [
  "eval", "opinionqa", "--model", `llama:${MODEL}`, "--data", OPINIONQA,
  "--populations", "POLPARTY,SEX", "--limit", String(QUESTIONS), "--store", store, "--json", "--progress", "lines",
];

interface Result {
  run: string;
  overall: unknown;
  populations: unknown;
  baselines: unknown;
  set_aside: unknown;
  questions: { planned: number; scored: number };
  answers: { total: number; model_calls: number; cache_hits: number; resumed: number };
}

describe("resume after SIGKILL", () => {
  let dir: string;
  let uninterrupted: Result;
  before(async () => {
    dir = tempDir();
    const r = await runCli(args(path.join(dir, "whole.duckdb")));
    assert.equal(r.code, 0, r.stderr);
    uninterrupted = JSON.parse(r.stdout) as Result;
  });

  it("asks only for what was missing and ends with the same numbers", async () => {
    const store = path.join(dir, "killed.duckdb");
    const child = spawnCli(args(store), { env: { CIVITAS_PROGRESS_INTERVAL_MS: "0" } });
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    let ended = false;
    child.on("close", () => (ended = true));
    // Kill it as soon as some answers are stored: read by this process while the run writes.
    for (;;) {
      await new Promise((r) => setTimeout(r, 50));
      assert.ok(!ended, `the run ended before it could be killed:\n${stderr}`);
      let n = 0;
      try {
        const s = await Store.open(store, { readOnly: true });
        n = Number((await s.query("SELECT count(*) AS n FROM answers"))[0]!.n);
        await s.close();
      } catch {
        // not created yet
      }
      if (n > 0) break;
    }
    child.kill("SIGKILL");
    await new Promise((r) => child.once("close", r));

    // What survived the kill: whatever was committed, all of it intact.
    const s = await Store.open(store, { readOnly: true });
    const runs = await s.listRuns();
    assert.equal(runs.length, 1);
    assert.equal(runs[0]!.status, "interrupted", "a killed run is seen as interrupted, not running");
    const stored = await s.countAnswers(runs[0]!.id);
    const requestsBefore = Number((await s.query("SELECT count(*) AS n FROM requests"))[0]!.n);
    await s.close();
    assert.ok(stored > 0 && stored < QUESTIONS, `stored ${stored}`);
    const shown = await runCli(["runs", "list", "--store", store]);
    assert.match(shown.stdout, /interrupted/u);

    const r = await runCli(args(store));
    assert.equal(r.code, 0, r.stderr);
    const resumed = JSON.parse(r.stdout) as Result;
    assert.match(r.stderr, new RegExp(`resuming run ${resumed.run}: ${stored} of ${QUESTIONS} answers already stored`));
    assert.equal(resumed.run, uninterrupted.run);
    assert.equal(resumed.answers.resumed, stored);
    // Every model call stores one request; none was asked twice, and none already stored was asked.
    const after = await Store.open(store, { readOnly: true });
    const requestsAfter = Number((await after.query("SELECT count(*) AS n FROM requests"))[0]!.n);
    await after.close();
    assert.equal(resumed.answers.model_calls, requestsAfter - requestsBefore, "only the missing answers were asked");
    assert.equal(requestsAfter, uninterrupted.answers.model_calls, "as many distinct requests as the uninterrupted run asked");
    assert.equal(resumed.answers.total, QUESTIONS);
    for (const k of ["overall", "populations", "baselines", "set_aside", "questions"] as const) {
      assert.deepEqual(resumed[k], uninterrupted[k], k);
    }

    // And a third run answers everything from the store.
    const third = JSON.parse((await runCli(args(store))).stdout) as Result;
    assert.equal(third.answers.model_calls, 0);
    assert.deepEqual(third.populations, uninterrupted.populations);

    // The run keeps the result of the invocation that completed it; each invocation is recorded.
    const check = await Store.open(store, { readOnly: true });
    try {
      const run = await check.getRun(resumed.run);
      assert.equal(run!.status, "done");
      assert.equal((run!.summary as Result).answers.model_calls, resumed.answers.model_calls, "the stored result is the completing invocation's, not the rerun's");
      const inv = await check.invocations(resumed.run);
      assert.deepEqual(inv.map((i) => i.status), ["interrupted", "done", "done"]);
      assert.deepEqual(inv.map((i) => (i.counts as { model_calls?: number } | null)?.model_calls ?? null), [null, resumed.answers.model_calls, 0]);
    } finally {
      await check.close();
    }
  });
});
