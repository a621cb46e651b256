/**
 * A run killed at any moment (SIGKILL) and started again with the same command resumes: nothing
 * already answered is asked again and the final numbers equal those of an uninterrupted run.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { before, describe, it } from "node:test";
import { Store } from "../../src/store/store.js";
import { runCli, spawnCli } from "../helpers/cli.js";
import { MODEL, OPINIONQA, tempDir } from "../helpers/paths.js";

const QUESTIONS = 150;
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
    const killedAt = await new Promise<number>((resolve, reject) => {
      child.stderr!.on("data", (d: Buffer) => {
        stderr += d.toString();
        const m = /answered (\d+)\/\d+/u.exec(stderr.split("\n").reverse().find((l) => l.startsWith("answered")) ?? "");
        if (m && Number(m[1]) >= 40 && child.exitCode === null && !child.killed) {
          child.kill("SIGKILL");
          resolve(Number(m[1]));
        }
      });
      child.on("close", (code) => reject(new Error(`the run ended (code ${code}) before it could be killed:\n${stderr}`)));
    });
    await new Promise((r) => child.once("close", r));
    assert.ok(killedAt < QUESTIONS);

    // What survived the kill: whatever was committed, all of it intact.
    const s = await Store.open(store, { readOnly: true });
    const runs = await s.listRuns();
    assert.equal(runs.length, 1);
    assert.equal(runs[0]!.status, "running", "a killed run never got to say it finished");
    const stored = await s.countAnswers(runs[0]!.id);
    await s.close();
    assert.ok(stored > 0 && stored < QUESTIONS, `stored ${stored}`);

    const r = await runCli(args(store));
    assert.equal(r.code, 0, r.stderr);
    const resumed = JSON.parse(r.stdout) as Result;
    assert.match(r.stderr, new RegExp(`resuming run ${resumed.run}: ${stored} of ${QUESTIONS} answers already stored`));
    assert.equal(resumed.run, uninterrupted.run);
    assert.equal(resumed.answers.resumed, stored);
    assert.equal(resumed.answers.model_calls, QUESTIONS - stored, "only the missing answers were asked");
    assert.equal(resumed.answers.total, QUESTIONS);
    for (const k of ["overall", "populations", "baselines", "set_aside", "questions"] as const) {
      assert.deepEqual(resumed[k], uninterrupted[k], k);
    }

    // And a third run answers everything from the store.
    const third = JSON.parse((await runCli(args(store))).stdout) as Result;
    assert.equal(third.answers.model_calls, 0);
    assert.deepEqual(third.populations, uninterrupted.populations);
  });
});
