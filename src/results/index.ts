/**
 * One typed, versioned result per kind of run. Each kind's result is a zod schema (eval.ts,
 * simulate.ts, aggregate.ts); its TypeScript type is the schema's output, and everything that
 * reads a result reads that type: `--json`, `runs show`, reports and the viewer.
 *
 * As JSON (printed with --json, stored as a run's result) a result carries its kind and version
 * first: `{"kind": "eval", "version": 2, "run": ..., ...}`. `readResult` reads a stored result of
 * any version this civitas knows: a result without a version was written before results carried
 * one (version 1) and is brought to the current version; a later version (a newer civitas) is
 * refused, naming both. `checkResult` is the check a result passes before it is stored or printed:
 * it matches its schema and holds no field the schema does not name (a field the schema missed
 * would be stored, then silently dropped by every reader).
 */
import { z } from "zod";
import { CivitasError } from "../errors.js";
import { aggregateJson, aggregateJsonOne, aggregateResult, type AggregateReport, type AggregateResult } from "./aggregate.js";
import { issuesText, unknownFields } from "./common.js";
import { comparisonResult, type ComparisonResult } from "./comparison.js";
import { evalResult, evalV1ToV2, evalV2ToV3, scoreResult, scoreV1ToV2, scoreV2ToV3, type EvalResult, type ScoreResult } from "./eval.js";
import { simulateOutput, simulationResult, type SimulationResult } from "./simulate.js";
import { steerResult, type SteerResult } from "./steer.js";

export * from "./aggregate.js";
export * from "./comparison.js";
export * from "./eval.js";
export * from "./simulate.js";
export * from "./steer.js";
export { unknownFields } from "./common.js";

/** The kinds of run the store keeps. */
export const RUN_KINDS = ["eval", "simulate", "aggregate", "steer"] as const;
export type RunKind = (typeof RUN_KINDS)[number];

/** Kinds of result: the runs', and those printed but never stored: `civitas score`'s and a multi-model eval's comparison. */
export type ResultKind = RunKind | "score" | "comparison";

/** The result of each kind, as the code that makes and reads it has it. */
export interface ResultOf {
  eval: EvalResult;
  simulate: SimulationResult;
  aggregate: AggregateResult;
  steer: SteerResult;
  score: ScoreResult;
  comparison: ComparisonResult;
}

/** A run's result with its kind. */
export type RunResult = { readonly [K in RunKind]: { readonly kind: K; readonly result: ResultOf[K] } }[RunKind];

/** The version each kind's result is written in now. */
export const RESULT_VERSIONS: Readonly<Record<ResultKind, number>> = { eval: 3, simulate: 2, aggregate: 1, steer: 1, score: 3, comparison: 1 };

const SCHEMAS: { readonly [K in ResultKind]: z.ZodType<ResultOf[K], unknown> } = {
  eval: evalResult,
  simulate: simulationResult,
  aggregate: aggregateResult,
  steer: steerResult,
  score: scoreResult,
  comparison: comparisonResult,
};

type Json = Record<string, unknown>;

/** From each older version to the next, per kind: version v's JSON to version v + 1's. */
const MIGRATIONS: { readonly [K in ResultKind]: readonly ((r: Json) => Json)[] } = {
  eval: [evalV1ToV2, evalV2ToV3],
  simulate: [(r) => r],
  aggregate: [],
  steer: [],
  score: [scoreV1ToV2, scoreV2ToV3],
  comparison: [],
};

/** A result as JSON: its kind and version first, then its fields. */
export function resultJson<K extends ResultKind>(kind: K, result: ResultOf[K]): Json {
  return { kind, version: RESULT_VERSIONS[kind], ...(result as object) };
}

/** JSON as written: NaN becomes null. */
const asJson = (v: unknown): unknown => JSON.parse(JSON.stringify(v) ?? "null");

/**
 * Checks a result before it is stored or printed: it must parse as its kind's schema and name no
 * field the schema does not. Throws an Error (a bug in civitas: the code making results and the
 * schema disagree) naming the fields.
 */
export function checkResult<K extends ResultKind>(kind: K, result: ResultOf[K], what = `a ${kind} result`): void {
  const json = asJson(result);
  const parsed = SCHEMAS[kind].safeParse(json);
  if (!parsed.success) throw new Error(`${what} does not match its schema (results/): ${issuesText(parsed.error)}`);
  const extra = unknownFields(json, parsed.data);
  if (extra.length > 0) throw new Error(`${what} has fields its schema (results/) does not name: ${extra.slice(0, 5).join(", ")}`);
}

/**
 * Reads a result as stored or printed (with or without kind and version) into the current
 * version's type. `where` names it in errors ("run 5214ab..."). Throws CivitasError("store")
 * when it is not a result of that kind, or was written by a newer civitas.
 */
export function readResult<K extends ResultKind>(kind: K, json: unknown, where: string): ResultOf[K] {
  if (json === null || typeof json !== "object" || Array.isArray(json)) throw new CivitasError("store", `${where}: its result is not a JSON object`);
  const { kind: storedKind, version, ...fields } = json as Json;
  if (storedKind !== undefined && storedKind !== kind) throw new CivitasError("store", `${where}: its result is of kind ${String(storedKind)}, not ${kind}`);
  const current = RESULT_VERSIONS[kind];
  const v = version === undefined ? 1 : version;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) throw new CivitasError("store", `${where}: its result has version ${JSON.stringify(version)}, not a version civitas wrote`);
  if (v > current) {
    throw new CivitasError("store", `${where}: its result was written by a newer civitas (${kind} result version ${v}; this one reads up to ${current})`, { hint: "update civitas to read it" });
  }
  let r: Json = fields;
  for (let at = v; at < current; at++) r = MIGRATIONS[kind][at - 1]!(r);
  const parsed = SCHEMAS[kind].safeParse(r);
  if (!parsed.success) {
    throw new CivitasError("store", `${where}: its result (${kind}, version ${v}) does not have the shape civitas wrote: ${issuesText(parsed.error)}`);
  }
  return parsed.data;
}

/** A stored run's result with its kind. */
export function readRunResult(kind: RunKind, json: unknown, where: string): RunResult {
  return { kind, result: readResult(kind, json, where) } as RunResult;
}

/**
 * The numbers a list of runs shows, from a result: scored questions, stored answers and the mean
 * alignment (eval runs; null for the other kinds).
 */
export function listNumbers(r: RunResult): { questions: number | null; answers: number | null; alignment: number | null } {
  if (r.kind !== "eval") return { questions: null, answers: null, alignment: null };
  const finite = (x: number) => (Number.isFinite(x) ? x : null);
  return { questions: r.result.questions.scored, answers: r.result.answers.total, alignment: finite(r.result.overall.mean) };
}

/**
 * Checks what a command prints with --json against its schema (as `checkResult`), for tests and
 * for scripts that want to: `eval`, `score`, `simulate` (with `store`), `aggregate` (one input's
 * object).
 */
export function checkPrinted(kind: ResultKind, json: unknown): void {
  const { kind: k, version, ...fields } = (json ?? {}) as Json;
  if (k !== kind) throw new Error(`printed result: kind ${JSON.stringify(k)}, expected ${kind}`);
  if (version !== RESULT_VERSIONS[kind]) throw new Error(`printed result: version ${JSON.stringify(version)}, expected ${RESULT_VERSIONS[kind]}`);
  const schema: z.ZodType = kind === "aggregate" ? aggregateJsonOne : kind === "simulate" ? simulateOutput : SCHEMAS[kind];
  const parsed = schema.safeParse(fields);
  if (!parsed.success) throw new Error(`printed ${kind} result does not match its schema: ${issuesText(parsed.error)}`);
  const extra = unknownFields(fields, parsed.data);
  if (extra.length > 0) throw new Error(`printed ${kind} result has fields its schema does not name: ${extra.join(", ")}`);
}

/** The --json of an aggregation with its kind and version. */
export function aggregateOutput(r: AggregateReport & { readonly run?: string }, margin: boolean): Json {
  return { kind: "aggregate", version: RESULT_VERSIONS.aggregate, ...aggregateJson(r, margin) };
}
