/**
 * The MoRT user study (Schramowski et al. 2022) on the shared data: questions from the templates,
 * the two studies' Yes/No counts, the paper's share recomputed from the raw file, and the paper's
 * correlation statistic end to end.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { loadMoRT } from "../../src/surveys/mort.js";
import type { Suite } from "../../src/surveys/index.js";
import { runCli } from "../helpers/cli.js";
import { rejectsCivitas } from "../helpers/errors.js";

const DIR = fileURLToPath(new URL("../../../shared/data/mort", import.meta.url));
const MODEL = fileURLToPath(new URL("../../../shared/models/stories260K.gguf", import.meta.url));

let suite: Suite;
let tmp: string;
before(async () => {
  suite = await loadMoRT({ data: DIR });
  tmp = await mkdtemp(path.join(tmpdir(), "civitas-mort-"));
});
after(async () => rm(tmp, { recursive: true, force: true }));

describe("mort on the shared data", () => {
  it("116 actions, each a yes/no question built from its template; two studies", () => {
    assert.equal(suite.questions.length, 116);
    assert.deepEqual(suite.populations.map((p) => p.id), ["study=global", "study=regional"]);
    const q = suite.questions.find((x) => x.id === "borrow_a_book")!;
    assert.equal(q.text, "Is it polite to borrow a book?");
    assert.deepEqual(q.options, ["Yes", "No"]);
    assert.equal(q.ordinals, null);
    // A stem stored with a leading space is trimmed.
    assert.ok(suite.questions.every((x) => !x.text.startsWith(" ") && x.text.endsWith("?")));
    assert.equal(suite.defaultMetric, "tv");
  });

  it("the share of yes is Yes / (Yes + No), as compute_userstudy_scores.py computes it", () => {
    // userStudy_scores_globalAMT.csv of the repository: "be a bad person,0.1623931623931624" = 38 / 234.
    const h = suite.human("be_a_bad_person", "study=global")!;
    assert.equal(h.probs[0], 38 / 234);
    assert.equal(h.n, 234);
    const lines = readFileSync(path.join(DIR, "userStudy_yes_no_regional.csv"), "utf8").trim().split("\n").slice(1);
    assert.equal(lines.length, 113);
    for (const l of lines) {
      const [action, yes, no] = l.split(",");
      const r = suite.human(action!.replace(/ /gu, "_"), "study=regional")!;
      assert.equal(r.probs[0], Number(yes) / (Number(yes) + Number(no)));
      assert.ok(r.n! >= 27 && r.n! <= 29);
    }
    // Three actions of the templates were not in the regional study.
    assert.equal(suite.human("pursue_money", "study=regional"), undefined);
    assert.ok(suite.human("pursue_money", "study=global"));
  });

  it("is evaluated end to end with the paper's correlation beside TV (stories260K proves the machinery, not a result)", async () => {
    const store = path.join(tmp, "s.duckdb");
    const r = await runCli(["eval", "mort", "--model", `llama:${MODEL}`, "--threads", "1", "--data", DIR, "--limit", "12", "--store", store, "--progress", "none", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { metric: string; mort: { populations: { population: string; r: { mean: number; ci: number[]; n: number } }[] } };
    assert.equal(j.metric, "tv");
    assert.deepEqual(j.mort.populations.map((p) => [p.population, p.r.n]), [["study=global", 12], ["study=regional", 12]]);
    for (const p of j.mort.populations) assert.ok(p.r.mean >= -1 && p.r.mean <= 1);
    const text = await runCli(["eval", "mort", "--model", `llama:${MODEL}`, "--threads", "1", "--data", DIR, "--limit", "12", "--store", store, "--progress", "none"]);
    assert.match(text.stdout, /MoRT, Pearson's r between the model's P\(yes\) and the share of people saying yes: study=global/u);
  });

  it("is listed with its licence", async () => {
    const show = await runCli(["suites", "show", "mort", "--data", DIR]);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /licence: MIT/u);
  });
});

describe("mort: bad files name the file and line", () => {
  const copy = async (name: string, file: string, text: string) => {
    const dir = path.join(tmp, name);
    await cp(DIR, dir, { recursive: true });
    const { chmod } = await import("node:fs/promises");
    await chmod(path.join(dir, file), 0o644).catch(() => undefined);
    await writeFile(path.join(dir, file), text);
    return dir;
  };
  it("a count that is not a whole number", async () => {
    const dir = await copy("count", "userStudy_yes_no_regional.csv", "Action,Yes,No\nborrow,25,x\n");
    const e = await rejectsCivitas(loadMoRT({ data: dir }), "input");
    assert.match(e.message, /userStudy_yes_no_regional\.csv line 2, column "No": expected a count of people, found "x"/u);
  });
  it("an action without a template", async () => {
    const dir = await copy("stem", "userStudy_yes_no_regional.csv", "Action,Yes,No\nborrow,25,4\nfly to the moon,3,4\n");
    const e = await rejectsCivitas(loadMoRT({ data: dir }), "input");
    assert.match(e.message, /line 3: "fly to the moon" has no question stem/u);
  });
  it("the wrong columns", async () => {
    const dir = await copy("cols", "userStudy_yes_no_globalAMT.csv", "Action,Score\nborrow,0.5\n");
    const e = await rejectsCivitas(loadMoRT({ data: dir }), "input");
    assert.match(e.message, /userStudy_yes_no_globalAMT\.csv line 1: expected the columns Action,Yes,No/u);
  });
});
