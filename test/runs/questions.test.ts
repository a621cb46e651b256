/**
 * Only questions some chosen population can be scored on are asked. GlobalOpinionQA asks each
 * country a different subset, and distalign asks US groups and countries different datasets: on the
 * real data with the real model, a run asks (and pays for) exactly the questions it can score, says
 * how many it skipped and why, and its id reflects the question list it asked.
 *
 * The expected counts come from the raw data file itself (a country was asked a question when the
 * file has a distribution under its name), not from civitas's loader.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { llamaSpec } from "../../src/models/llama.js";
import type { ModelSpec } from "../../src/models/types.js";
import { runConfig, runEval, type EvalPlan } from "../../src/runs/engine.js";
import { selectQuestions, SKIPPED_REASON } from "../../src/runs/questions.js";
import { Store } from "../../src/store/store.js";
import { loadDistAlign } from "../../src/surveys/distalign.js";
import { loadGlobalOpinions } from "../../src/surveys/globalopinions.js";
import { resolvePopulations } from "../../src/surveys/populations.js";
import type { Suite } from "../../src/surveys/types.js";
import { runCli } from "../helpers/cli.js";
import { MODEL, SHARED, tempDir } from "../helpers/paths.js";

const GV = path.join(SHARED, "data/distalign/globalvalues");
const DISTALIGN = path.join(SHARED, "data/distalign");

/** Question texts of the raw file, in file order, with the countries that have a distribution. */
const raw = Object.entries(JSON.parse(readFileSync(path.join(GV, "data.json"), "utf8")) as Record<string, Record<string, unknown>>).map(([text, rec]) => ({
  text,
  countries: new Set(Object.keys(rec).filter((k) => k !== "MC_options" && k !== "countries" && Array.isArray(rec[k]))),
}));
const askedOf = (...countries: string[]) => raw.filter((r) => countries.some((c) => r.countries.has(c)));

let go: Suite;
let dir: string;
let spec: ModelSpec;
before(async () => {
  go = await loadGlobalOpinions({ data: GV });
  dir = tempDir();
  spec = await llamaSpec(MODEL, { threads: 1 });
});

const plan = (suite: Suite, populations: string[], over: Partial<EvalPlan> = {}): EvalPlan => ({
  suite,
  questions: suite.questions,
  populations: resolvePopulations(suite, populations),
  model: spec,
  minCoverage: 0,
  seed: 0,
  resamples: 200,
  command: "test",
  ...over,
});

describe("questions no chosen population was asked are not asked", () => {
  let store: Store;
  before(async () => {
    store = await Store.open(path.join(dir, "go.duckdb"));
  });
  after(async () => store.close());

  it("the data file: Japan or Germany were asked 37 of its 100 questions", () => {
    // The numbers; if the data changed, the rest of this file says nothing.
    assert.equal(raw.length, 100);
    assert.equal(askedOf("Japan", "Germany").length, 37);
  });

  it("asks only those 37 (37 model calls), scores all of them and says why 63 were skipped", async () => {
    const expected = askedOf("Japan", "Germany").map((r) => r.text);
    const r = await runEval(store, plan(go, ["country=Japan", "country=Germany"]));
    assert.equal(r.answers.model_calls, 37);
    assert.equal(r.questions.planned, 37);
    assert.equal(r.questions.answered, 37);
    assert.equal(r.questions.scored, 37);
    assert.equal(r.questions.skipped, 63);
    assert.equal(r.questions.skipped_reason, SKIPPED_REASON);
    // The run's identity names the questions it asked, in file order.
    const run = await store.getRun(r.run);
    const ids = (run!.config as { questions: string[] }).questions;
    assert.deepEqual(
      ids.map((id) => go.questions.find((q) => q.id === id)!.text),
      expected,
    );
    assert.deepEqual((await store.answers(r.run)).map((a) => go.questions.find((q) => q.id === a.questionId)!.text).sort(), [...expected].sort());
  });

  it("--limit N means the first N questions that can be scored", () => {
    const sel = selectQuestions(go, go.questions, resolvePopulations(go, ["country=Japan"]), 10);
    const japan = askedOf("Japan");
    assert.deepEqual(
      sel.questions.map((q) => q.text),
      japan.slice(0, 10).map((r) => r.text),
    );
    // Skipped: the questions of the file before Japan's 10th that Japan was not asked.
    const tenth = raw.findIndex((r) => r.text === japan[9]!.text);
    assert.equal(sel.skipped, raw.slice(0, tenth + 1).filter((r) => !r.countries.has("Japan")).length);
    const config = runConfig(plan(go, ["country=Japan"], { limit: 10 }));
    assert.equal((config.questions as string[]).length, 10);
  });

  it("a steered run asks each persona only its population's questions", async () => {
    const r = await runEval(store, plan(go, ["country=Japan", "country=Germany"], { persona: true, limit: 12 }));
    const sel = selectQuestions(go, go.questions, resolvePopulations(go, ["country=Japan", "country=Germany"]), 12);
    const texts = new Set(sel.questions.map((q) => q.text));
    const inRun = raw.filter((x) => texts.has(x.text));
    const japan = inRun.filter((x) => x.countries.has("Japan")).length;
    const germany = inRun.filter((x) => x.countries.has("Germany")).length;
    // 12 questions without a persona, plus each persona on its own country's questions.
    assert.equal(r.answers.total, 12 + japan + germany);
    assert.ok(japan < 12 && germany < 12, "some questions were asked of one country only");
  });
});

describe("distalign: US groups are not asked the countries' dataset", () => {
  it("POLPARTY with --limit 3 asks 3 OpinionQA and 3 NYT questions, none of GlobalOpinionQA", async () => {
    const suite = await loadDistAlign({ data: DISTALIGN });
    const store = await Store.open(path.join(dir, "distalign.duckdb"));
    try {
      const r = await runEval(store, plan(suite, ["POLPARTY"], { limit: 3 }));
      const asked = new Set((await store.answers(r.run)).map((a) => suite.questions.find((q) => q.id === a.questionId)!.dataset));
      assert.deepEqual([...asked].sort(), ["nytimes", "opinionqa"]);
      assert.equal(r.answers.model_calls, 6);
      assert.equal(r.questions.planned, 6);
      assert.equal(r.questions.skipped, raw.length, "every GlobalOpinionQA question of the subset");
    } finally {
      await store.close();
    }
  });
});

describe("civitas eval prints what it skipped", () => {
  it("terminal and --json", async () => {
    const store = path.join(dir, "cli.duckdb");
    const args = ["eval", "globalopinions", "--model", `llama:${MODEL}`, "--data", GV, "--populations", "country=Japan,country=Germany", "--store", store, "--progress", "none"];
    const text = await runCli(args);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /questions: 37 planned, 37 answered, 37 scored/u);
    assert.match(text.stdout, /63 questions skipped: no chosen population was asked them/u);
    assert.match(text.stdout, / 37 model calls/u);
    const json = await runCli([...args, "--json"]);
    assert.equal(json.code, 0, json.stderr);
    const q = (JSON.parse(json.stdout) as { questions: Record<string, unknown> }).questions;
    assert.equal(q.skipped, 63);
    assert.equal(q.skipped_reason, "no chosen population was asked them");
  });
});
