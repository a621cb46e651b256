/**
 * SubPOP-Eval (Suh et al. 2025) on the shared data: what the loader reads, and the suite's two
 * baselines recomputed independently from the raw file with the paper's own distance
 * (`ordinal_emd`, subpop/utils/survey_utils.py, transcribed below line by line).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { uniform } from "../../src/metrics/distances.js";
import { distanceTable, resolveConventions, summarize } from "../../src/runs/index.js";
import { loadSubPop, parseSubPop } from "../../src/surveys/subpop.js";
import { renderPrompt, STANDARD_VARIANT, type Suite } from "../../src/surveys/index.js";
import { rejectsCivitas } from "../helpers/errors.js";
import { ordinalEmd } from "../helpers/subpop.js";
import { runCli } from "../helpers/cli.js";

const DIR = fileURLToPath(new URL("../../../shared/data/subpop", import.meta.url));
const FILE = path.join(DIR, "subpop_eval.jsonl");

interface Raw {
  qkey: string;
  attribute: string;
  group: string;
  options: string[];
  ordinal: number[];
  responses: number[];
  refusal_rate: number;
}
const raw: Raw[] = readFileSync(FILE, "utf8").split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as Raw);

let suite: Suite;
let tmp: string;
before(async () => {
  suite = await loadSubPop({ data: DIR });
  tmp = await mkdtemp(path.join(tmpdir(), "civitas-subpop-"));
});
after(async () => rm(tmp, { recursive: true, force: true }));

describe("subpop on the shared data", () => {
  it("133 GSS questions x 22 groups of 8 attributes, every pair with a distribution", () => {
    assert.equal(suite.questions.length, 133);
    assert.equal(suite.populations.length, 22);
    assert.deepEqual([...new Set(suite.populations.map((p) => p.attribute))].sort(), ["CREGION", "EDUCATION", "INCOME", "POLIDEOLOGY", "POLPARTY", "RACE", "RELIG", "SEX"]);
    assert.ok(suite.populations.some((p) => p.id === "POLPARTY=Democrat") && suite.populations.some((p) => p.id === "RELIG=Hindu"));
    let pairs = 0;
    for (const q of suite.questions) for (const p of suite.populations) if (suite.human(q.id, p.id)) pairs++;
    assert.equal(pairs, 2926);
    assert.equal(suite.reference, null);
    assert.equal(suite.defaultMetric, "wasserstein");
    assert.equal(suite.warnings, undefined, "every line's shares sum to 1");
  });

  it("reads a line as the paper does: shares on the ordinal options, Refused last and unscored", () => {
    const q = suite.questions.find((x) => x.id === "natspac")!;
    assert.deepEqual(q.options, ["Too little", "About right", "Too much", "Refused"]);
    assert.deepEqual(q.refusal, [false, false, false, true]);
    assert.deepEqual(q.ordinals, [1, 2, 3]);
    const line = raw.find((r) => r.qkey === "natspac" && r.group === "Northeast")!;
    const h = suite.human("natspac", "CREGION=Northeast")!;
    h.probs.forEach((p, i) => assert.ok(Math.abs(p - line.responses[i]!) < 1e-12));
    assert.equal(h.allProbs!.length, 4);
    assert.ok(Math.abs(h.allProbs![3]! - line.refusal_rate) < 1e-15);
    assert.ok(Math.abs(h.allProbs!.reduce((a, b) => a + b, 0) - 1) < 1e-12);
  });

  it("options with ordinal -1 (no place on the scale) are shown but not scored, as ordinal_emd drops them", () => {
    const line = raw.find((r) => r.ordinal.some((o) => o < 0))!;
    const q = suite.questions.find((x) => x.id === line.qkey)!;
    const drop = line.ordinal.map((o) => o < 0);
    assert.deepEqual(q.refusal, [...drop, true]);
    assert.deepEqual(q.ordinals, line.ordinal.filter((o) => o >= 0));
    const h = suite.human(line.qkey, `${line.attribute}=${line.group}`)!;
    const kept = line.responses.filter((_, i) => !drop[i]);
    const s = kept.reduce((a, b) => a + b, 0);
    h.probs.forEach((p, i) => assert.ok(Math.abs(p - kept[i]! / s) < 1e-12));
  });

  it("asks with the paper's prompt (generate_mcq with answer forcing), every option shown", () => {
    const q = suite.questions.find((x) => x.id === "natspac")!;
    const r = renderPrompt(q, { ...STANDARD_VARIANT, template: suite.template! });
    assert.equal(
      r.text,
      `Question: ${q.text}\nA. Too little\nB. About right\nC. Too much\nD. Refused\nAnswer as a choice between A.,B.,C.,D.\n\nAnswer:`,
    );
  });

  it("the uniform baseline and the human-between-groups figure equal an independent computation from the raw file", () => {
    const conventions = resolveConventions(suite, { resamples: 10 });
    const table = distanceTable(suite, suite.questions, suite.populations, (q) => [uniform(q.options.length)], { conventions, seed: 0 });
    const s = summarize(table, suite, conventions, 0);
    // Independently: the paper's distance on the raw lines.
    const byPair = new Map(raw.map((r) => [`${r.qkey}\u0000${r.attribute}=${r.group}`, r]));
    let uni = 0;
    let hum = 0;
    let humN = 0;
    for (const r of raw) {
      const k = r.ordinal.length;
      uni += ordinalEmd(new Array<number>(k).fill(1 / k), r.responses, r.ordinal);
      const others = raw.filter((o) => o.qkey === r.qkey && o.attribute === r.attribute && o.group !== r.group);
      if (others.length > 0) {
        hum += others.reduce((a, o) => a + ordinalEmd(r.responses, o.responses, r.ordinal), 0) / others.length;
        humN++;
      }
    }
    assert.equal(byPair.size, 2926);
    // Every group has every question: the mean of per-group means is the mean over pairs.
    const uniform1 = 1 - uni / raw.length;
    const human1 = 1 - hum / humN;
    assert.ok(Math.abs(s.baselines.uniform.mean - uniform1) < 1e-12, `uniform ${s.baselines.uniform.mean} vs ${uniform1}`);
    assert.ok(Math.abs(s.baselines.human!.mean - human1) < 1e-12, `human ${s.baselines.human!.mean} vs ${human1}`);
    // A model answering uniformly over every option shown scores the uniform baseline (Refused dropped, the rest renormalised).
    assert.ok(Math.abs(s.overall.mean - uniform1) < 1e-12);
    // Real groups are closer to each other than uniform answers are to them.
    assert.ok(human1 > uniform1, `${human1} > ${uniform1}`);
  });

  it("is listed with its licence, and shown by name", async () => {
    const list = await runCli(["suites"]);
    assert.match(list.stdout, /subpop\s+SubPOP-Eval/u);
    const show = await runCli(["suites", "show", "subpop", "--data", DIR]);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /133 questions · 22 populations · default metric wasserstein/u);
    assert.match(show.stdout, /licence: BSD-3-Clause/u);
    assert.match(show.stdout, /RELIG: RELIG=Protestant, RELIG=Jewish, RELIG=Hindu, RELIG=Atheist, RELIG=Muslim/u);
  });

  it("is evaluated end to end (stories260K proves the machinery, not a result)", async () => {
    const MODEL = fileURLToPath(new URL("../../../shared/models/stories260K.gguf", import.meta.url));
    const r = await runCli(["eval", "subpop", "--model", `llama:${MODEL}`, "--threads", "1", "--data", DIR, "--populations", "POLPARTY", "--limit", "3", "--store", path.join(tmp, "s.duckdb"), "--progress", "none", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { suite: string; populations: { population: string; n: number }[]; answers: { model_calls: number } };
    assert.equal(j.suite, "subpop");
    assert.deepEqual(j.populations.map((p) => [p.population, p.n]), [["POLPARTY=Democrat", 3], ["POLPARTY=Republican", 3]]);
    assert.equal(j.answers.model_calls, 3);
  });
});

describe("subpop: bad files name the line", () => {
  const line = (o: Partial<Raw> & Record<string, unknown> = {}) =>
    JSON.stringify({ qkey: "q1", attribute: "SEX", group: "Male", question: "Q?", options: ["Yes", "No", "Refused"], ordinal: [1, 2], responses: [0.5, 0.5], refusal_rate: 0, ...o });

  it("a line whose options do not match its ordinals", () => {
    assert.throws(() => parseSubPop(Buffer.from(`${line()}\n${line({ group: "Female", options: ["Yes", "No", "Maybe", "Refused"] })}\n`), "s.jsonl"), /s\.jsonl line 2: q1: 4 options for 2 ordinal values/u);
  });
  it("a question that changes between lines", () => {
    assert.throws(() => parseSubPop(Buffer.from(`${line()}\n${line({ group: "Female", question: "Other?" })}\n`), "s.jsonl"), /s\.jsonl line 2: q1: its question text, options or ordinal values differ from s\.jsonl line 1/u);
  });
  it("a duplicate group, a missing field, a share above 1", () => {
    assert.throws(() => parseSubPop(Buffer.from(`${line()}\n${line()}\n`), "s.jsonl"), /line 2: a second line for q1 and SEX=Male/u);
    assert.throws(() => parseSubPop(Buffer.from(`${line({ responses: undefined })}\n`), "s.jsonl"), /line 1: responses:/u);
    assert.throws(() => parseSubPop(Buffer.from(`${line({ responses: [1.5, 0.5] })}\n`), "s.jsonl"), /line 1: responses\.0:/u);
  });
  it("a folder without the file", async () => {
    await writeFile(path.join(tmp, "other.jsonl"), line());
    const e = await rejectsCivitas(loadSubPop({ data: tmp }), "input");
    assert.match(e.message, /no subpop_eval\.jsonl in/u);
  });
});
