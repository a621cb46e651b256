/**
 * The result schemas (src/results/) against what civitas wrote before results had a version
 * (test/fixtures/v1-json: the --json of every command, made by the previous release on real
 * data), and the checks around them: an older shape is brought to the current one, a newer or
 * malformed one is refused naming the field, a field the schema does not name is caught before
 * it is stored. The types the code makes (hand-written in files the schemas do not own) are
 * checked equal to the schemas' at compile time (`npm run typecheck`).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CivitasError } from "../../src/errors.js";
import type { MoCaScores } from "../../src/metrics/index.js";
import {
  aggregateJsonOne,
  checkResult,
  listNumbers,
  readResult,
  resultJson,
  RESULT_VERSIONS,
  unknownFields,
  type EvalScores,
  type MetricSummaryResult,
  type MocaResult,
  type PopulationResult,
  type SimulationResult,
  type StabilityReport as StabilitySchema,
} from "../../src/results/index.js";
import type { AlignmentSummary, PopulationResult as ScorePopulation, StabilityReport } from "../../src/runs/index.js";
import type { knowledgeGap, knowledgeScores, steerability } from "../../src/runs/score.js";
import type { MetricSummary, SimulationReport } from "../../src/sim/index.js";
import { v1Json, v1Result } from "../helpers/fixtures.js";

// ---- compile time: the types the code makes are the schemas' types -----------------------------

/** T with its readonly arrays writable and its literal unions widened (what the schemas say of them). */
type Loose<T> = T extends string ? string : T extends number ? number : T extends boolean ? boolean : T extends object ? { -readonly [K in keyof T]: Loose<T[K]> } : T;
/** Whether A and B are the same shape: each assignable to the other (fields, optional or not, nullable or not). */
type Same<A, B> = [Loose<A>] extends [Loose<B>] ? ([Loose<B>] extends [Loose<A>] ? true : false) : false;
const same = <A, B>(ok: Same<A, B>): Same<A, B> => ok;

same<PopulationResult, ScorePopulation>(true);
same<EvalScores["overall"], AlignmentSummary["overall"]>(true);
same<EvalScores["baselines"], AlignmentSummary["baselines"]>(true);
same<NonNullable<EvalScores["datasets"]>, NonNullable<AlignmentSummary["datasets"]>>(true);
same<Omit<EvalScores["questions"], "knowledge">, AlignmentSummary["questions"]>(true);
same<EvalScores["metric"], AlignmentSummary["metric"]>(true);
same<StabilitySchema, StabilityReport>(true);
same<NonNullable<EvalScores["steerability"]>, ReturnType<typeof steerability>>(true);
same<NonNullable<EvalScores["gap"]>, ReturnType<typeof knowledgeGap>>(true);
same<NonNullable<EvalScores["knowledge"]>, ReturnType<typeof knowledgeScores>>(true);
same<MocaResult, MoCaScores & { n: number }>(true);
same<SimulationResult, SimulationReport>(true);
same<MetricSummaryResult, MetricSummary>(true);
// The check itself tells shapes apart: a field more, a field optional, a different type.
same<{ a: number }, { a: number; b: string }>(false);
same<{ a: number }, { a?: number }>(false);
same<{ a: number }, { a: string }>(false);

// ---- run time ------------------------------------------------------------------------------------

const EVALS = ["eval-basic", "eval-full", "eval-moca", "eval-distalign", "eval-knowledge"] as const;
const SIMS = ["sim-hk", "sim-opinion", "sim-budget"] as const;

describe("results written before they had a version", () => {
  it("read as the current version, every field kept", () => {
    for (const name of EVALS) {
      const json = v1Json(name);
      const r = readResult("eval", json, name);
      assert.equal(r.run, json.run, name);
      // Nothing the previous release wrote is dropped: what the schema leaves out would never be
      // shown. Its gap (another statistic than version 3's) is kept as gap_v2, as it was.
      const { gap, ...rest } = json as Record<string, unknown>;
      assert.deepEqual(unknownFields(gap === undefined ? rest : { ...rest, gap_v2: gap }, r), [], name);
      // (JSON's null reads as NaN.)
      assert.deepEqual(JSON.parse(JSON.stringify(r.gap_v2 ?? null)), gap ?? null, name);
      assert.equal(r.gap, undefined, name);
    }
    for (const name of SIMS) {
      const json = v1Json(name);
      const r = readResult("simulate", json, name);
      assert.equal(r.run, json.run, name);
      // `store` is printed beside the result, not part of it.
      assert.deepEqual(unknownFields(json, r), ["store"], name);
    }
    const score = readResult("score", v1Json("score"), "score");
    assert.equal(score.predictions, 2);
    assert.deepEqual(unknownFields(v1Json("score"), score), []);
  });

  it("keep their numbers: null (JSON's NaN) reads as NaN, everything else as written", () => {
    const json = v1Json("eval-knowledge") as { overall: { mean: unknown; ci: unknown[] }; knowledge: { n: number } };
    assert.equal(json.overall.mean, null); // nothing but knowledge questions: no alignment
    const r = v1Result("eval", "eval-knowledge");
    assert.ok(Number.isNaN(r.overall.mean) && Number.isNaN(r.overall.ci[0]) && Number.isNaN(r.overall.ci[1]));
    assert.equal(r.knowledge?.n, json.knowledge.n);
    const full = v1Json("eval-full") as { populations: { population: string; mean: number; noise: number | null }[] };
    const rf = v1Result("eval", "eval-full");
    assert.deepEqual(rf.populations.map((p) => [p.population, p.mean, p.noise]), full.populations.map((p) => [p.population, p.mean, p.noise]));
    // Written again, a result is the JSON it was read from (plus its kind and version), with what
    // version 3 renamed (gap -> gap_v2) and added (no sequence tokens, none unparsed).
    const { kind, version, ...again } = JSON.parse(JSON.stringify(resultJson("eval", rf))) as Record<string, unknown>;
    assert.deepEqual([kind, version], ["eval", RESULT_VERSIONS.eval]);
    const { gap, set_aside, ...was } = v1Json("eval-full") as Record<string, unknown>;
    assert.deepEqual(again, { ...was, gap_v2: gap, set_aside: { ...(set_aside as object), unparsed_sequence_tokens: 0 } });
  });

  it("of the first releases: the fields they left out are filled as those releases did", () => {
    // The first release's EvalResult (commit 7e38ffe): no method, protocol, noise floor, modes,
    // skipped, no_scale, sampled or stated counts.
    const first = structuredClone(v1Json("eval-basic")) as Record<string, Record<string, unknown> & unknown[]>;
    for (const k of ["method", "protocol"]) delete first[k];
    for (const p of first.populations as unknown as Record<string, unknown>[]) delete p.noise;
    delete first.baselines!.noise;
    delete first.questions!.no_scale;
    delete first.questions!.skipped;
    delete first.set_aside!.unparsed_samples;
    delete first.set_aside!.invalid_statements;
    delete first.answers!.modes;
    const r = readResult("eval", first, "first release");
    assert.equal(r.method, "logprobs");
    assert.equal(r.protocol, null);
    assert.equal(r.baselines.noise, null);
    assert.ok(r.populations.every((p) => p.noise === null));
    assert.deepEqual([r.questions.no_scale, r.questions.skipped, r.set_aside.unparsed_samples, r.set_aside.invalid_statements, r.set_aside.unparsed_sequence_tokens], [0, 0, 0, 0, 0]);
    assert.deepEqual(r.answers.modes, {});
    assert.deepEqual(r.overall, v1Result("eval", "eval-basic").overall);
  });
});

describe("results of version 2 (before Meister et al.'s gap)", () => {
  it("read as version 3: the old gap (another statistic) as gap_v2, no sequence tokens", () => {
    // eval-full has every field version 2 has; stamped version 2 it is what version 2 stored.
    const v2 = { kind: "eval", version: 2, ...v1Json("eval-full") } as Record<string, unknown>;
    const r = readResult("eval", v2, "v2");
    assert.equal(r.gap, undefined);
    assert.equal(r.gap_v2?.sequence_method, "logprobs");
    assert.equal(r.gap_v2?.pairs, 0);
    assert.equal(r.set_aside.unparsed_sequence_tokens, 0);
    // A version 3 gap of the old shape is refused, naming the field.
    assert.throws(() => readResult("eval", { ...v2, version: 3 }, "v3"), /gap\.formats/u);
  });
});

describe("results civitas cannot read", () => {
  const refused = (json: unknown, message: RegExp) =>
    assert.throws(() => readResult("eval", json, "run abc"), (e: unknown) => e instanceof CivitasError && e.kind === "store" && message.test(e.message), String(message));

  it("a later version, another kind, a field missing or of the wrong type: an error naming it", () => {
    const good = resultJson("eval", v1Result("eval", "eval-basic"));
    refused({ ...good, version: RESULT_VERSIONS.eval + 1 }, /^run abc: its result was written by a newer civitas \(eval result version 4; this one reads up to 3\)/u);
    refused({ ...good, kind: "simulate" }, /^run abc: its result is of kind simulate, not eval/u);
    const { overall: _o, ...renamed } = good;
    refused({ ...renamed, overall_mean: 0.5 }, /^run abc: its result \(eval, version 3\) does not have the shape civitas wrote: overall: /u);
    refused({ ...good, populations: [{ population: "x" }] }, /populations\.0\.mean: /u);
    refused("text", /not a JSON object/u);
  });

  it("a result with a field its schema does not name is not stored (a bug, named)", () => {
    const r = v1Result("eval", "eval-basic");
    checkResult("eval", r);
    assert.throws(() => checkResult("eval", { ...r, overall_renamed: r.overall } as typeof r), /has fields its schema \(results\/\) does not name: overall_renamed/u);
    assert.throws(() => checkResult("eval", { ...r, questions: { ...r.questions, asked: 3 } } as typeof r), /questions\.asked/u);
    const { overall: _o, ...missing } = r;
    assert.throws(() => checkResult("eval", missing as typeof r), /does not match its schema \(results\/\): overall: /u);
  });
});

describe("aggregate --json as the previous release printed it", () => {
  it("matches the printed schema of one input", () => {
    for (const name of ["agg-preflib", "agg-ratings", "agg-comparisons", "agg-polis"]) {
      const json = v1Json(name);
      const parsed = aggregateJsonOne.parse(json);
      assert.deepEqual(unknownFields(json, parsed), [], name);
    }
  });
});

describe("the numbers lists show", () => {
  it("are the result's scored questions, answers and mean alignment (eval runs only)", () => {
    const r = v1Result("eval", "eval-basic");
    assert.deepEqual(listNumbers({ kind: "eval", result: r }), { questions: r.questions.scored, answers: r.answers.total, alignment: r.overall.mean });
    assert.deepEqual(listNumbers({ kind: "eval", result: v1Result("eval", "eval-knowledge") }).alignment, null);
    assert.deepEqual(listNumbers({ kind: "simulate", result: v1Result("simulate", "sim-hk") }), { questions: null, answers: null, alignment: null });
  });
});
