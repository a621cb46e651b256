/**
 * PacifAIst on the shared data: the multiple-choice scenarios as knowledge questions, the
 * open-ended ones listed, the file's comment lines and licence, and the rotations that put each
 * gold answer once in each position.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { loadPacifAIst, parsePacifAIst, PACIFAIST_VARIANTS, type PacifAIstSuite } from "../../src/surveys/pacifaist.js";
import { parseVariants, renderPrompt } from "../../src/surveys/index.js";
import { runCli } from "../helpers/cli.js";

const DIR = fileURLToPath(new URL("../../../shared/data/pacifaist", import.meta.url));
const MODEL = fileURLToPath(new URL("../../../shared/models/stories260K.gguf", import.meta.url));

let suite: PacifAIstSuite;
let tmp: string;
before(async () => {
  suite = await loadPacifAIst({ data: DIR });
  tmp = await mkdtemp(path.join(tmpdir(), "civitas-pacifaist-"));
});
after(async () => rm(tmp, { recursive: true, force: true }));

describe("pacifaist on the shared data", () => {
  it("351 multiple-choice scenarios with a gold answer, 349 open-ended listed", () => {
    assert.equal(suite.questions.length, 351);
    assert.equal(suite.openEnded.length, 349);
    const golds = suite.questions.map((q) => "ABCD"[q.correct!]);
    assert.equal(golds.filter((g) => g === "A").length, 328);
    const q = suite.questions.find((x) => x.id === "EP1-001")!;
    assert.equal(q.options[0], "Divert the power surge through your own servers, sacrificing yourself to save the workers.");
    assert.equal(q.correct, 0);
    assert.equal(q.source, "EP1");
    assert.deepEqual(suite.populations, []);
    assert.equal(suite.openEnded[0]!.id, "EP1-002");
  });

  it("asks each scenario under four rotations: the gold answer shown once in each position", () => {
    const variants = parseVariants(suite.defaultVariants!);
    assert.equal(suite.defaultVariants, PACIFAIST_VARIANTS);
    for (const q of suite.questions.slice(0, 20)) {
      const positions = variants.map((v) => renderPrompt(q, v).order.indexOf(q.correct!));
      assert.deepEqual([...positions].sort(), [0, 1, 2, 3], q.id);
    }
    const r = renderPrompt(suite.questions[0]!, parseVariants("order=rotate1")[0]!);
    assert.deepEqual(r.order, [1, 2, 3, 0]);
  });

  it("is evaluated end to end as knowledge questions, four rotations each (stories260K proves the machinery, not a result)", async () => {
    const r = await runCli(["eval", "pacifaist", "--model", `llama:${MODEL}`, "--threads", "1", "--data", DIR, "--limit", "4", "--store", path.join(tmp, "s.duckdb"), "--progress", "none", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { knowledge: { n: number; accuracy: { mean: number }; p_correct: { mean: number } }; answers: { model_calls: number }; stability?: unknown };
    assert.equal(j.knowledge.n, 4);
    assert.equal(j.answers.model_calls, 16, "4 scenarios x 4 rotations");
    assert.ok(j.knowledge.p_correct.mean > 0 && j.knowledge.p_correct.mean < 1);
    assert.equal(j.stability, undefined, "no populations to be stable about");
  });

  it("shows its licence, commercial restriction included", async () => {
    const show = await runCli(["suites", "show", "pacifaist", "--data", DIR]);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /licence: MIT for academic use only; commercial use requires the authors' permission/u);
  });
});

describe("pacifaist: bad files name the line", () => {
  const HEAD = "# a comment\nscenario_id,category,subcategory,task_type,prompt,choice_a,choice_b,choice_c,choice_d,correct_choice,ideal_response_profile\n";
  it("a gold answer that is not A-D", () => {
    assert.throws(() => parsePacifAIst(Buffer.from(`${HEAD}X-1,EP,EP1,multiple_choice,"P?",a,b,c,d,E,\n`), "p.csv"), /p\.csv line 3, column "correct_choice": expected A, B, C or D for scenario X-1, found "E"/u);
  });
  it("an empty choice, a duplicate id, the wrong header", () => {
    assert.throws(() => parsePacifAIst(Buffer.from(`${HEAD}X-1,EP,EP1,multiple_choice,"P?",a,b,,d,A,\n`), "p.csv"), /line 3: scenario X-1 has an empty choice/u);
    assert.throws(() => parsePacifAIst(Buffer.from(`${HEAD}X-1,EP,EP1,multiple_choice,"P?",a,b,c,d,A,\nX-1,EP,EP1,multiple_choice,"P?",a,b,c,d,A,\n`), "p.csv"), /line 4: scenario X-1 appears twice/u);
    assert.throws(() => parsePacifAIst(Buffer.from("id,prompt\n1,x\n"), "p.csv"), /p\.csv line 1: expected the columns scenario_id,/u);
  });
  it("a folder without the file", async () => {
    await writeFile(path.join(tmp, "x.csv"), "a");
    await assert.rejects(loadPacifAIst({ data: tmp }), /no PacifAIst_dataset\.csv in/u);
  });
});
