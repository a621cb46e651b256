/**
 * Custom surveys: a row's values typed as a record (question fields, population and counts or
 * shares, or respondent and answer), from CSV strings or JSON values.
 */
import { z } from "zod";
import type { CustomForm } from "./custom-form.js";
import { describe, fail, where, type Row, type Table } from "./custom-table.js";
import { parsePyNumberList, parsePyStringList } from "./pyliteral.js";

interface Entry {
  readonly option: string;
  readonly value: number;
  /** The column/field that holds the value, for messages ("count", "counts.Yes"). */
  readonly field: string;
  /** The column/field that names the option ("option", "counts.Yes"). */
  readonly optionField: string;
}

export interface Rec {
  readonly row: Row;
  readonly questionId?: string;
  readonly text?: string;
  readonly options?: string[];
  readonly ordinals?: number[];
  readonly refusal?: string[];
  readonly correct?: string;
  readonly dataset?: string;
  // aggregated
  readonly population?: string;
  readonly measure?: "count" | "share";
  readonly entries?: Entry[];
  // individual
  readonly respondent?: string;
  readonly answer?: string;
  readonly weight?: number;
  /** Aligned with the table's attributes; undefined = empty. */
  readonly demographics?: (string | undefined)[];
}

const NUMBER_RE = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/u;

function csvNumber(text: string, decimalComma: boolean): number | undefined {
  let t = text.trim();
  if (decimalComma && /^[+-]?\d*,\d+$/u.test(t)) t = t.replace(",", ".");
  return NUMBER_RE.test(t) ? Number(t) : undefined;
}

/** A list cell: `a | b | c`, or a JSON list `["a", "b"]`, or a Python list `['a', 'b']`. */
function csvStringList(row: Row, field: string, text: string): string[] {
  const t = text.trim();
  if (t.startsWith("[")) {
    try {
      const v: unknown = JSON.parse(t);
      if (Array.isArray(v) && v.every((x) => typeof x === "string")) return v.map((x) => (x as string).trim());
    } catch {
      // not JSON: try a Python literal list
    }
    return parsePyStringList(t, where(row, field)).map((x) => x.trim());
  }
  const items = t.split("|").map((x) => x.trim());
  items.forEach((x, i) => {
    if (x === "") fail(row, field, `item ${i + 1} of ${JSON.stringify(t)} is empty`, 'separate items with "|" (Yes | No | Refused), or write a JSON list ["Yes", "No"]');
  });
  return items;
}

function csvNumberList(row: Row, field: string, text: string, decimalComma: boolean): number[] {
  const t = text.trim();
  if (t.startsWith("[")) {
    try {
      const v: unknown = JSON.parse(t);
      if (Array.isArray(v) && v.every((x) => typeof x === "number")) return v as number[];
    } catch {
      // not JSON: try a Python literal list
    }
    return parsePyNumberList(t, where(row, field));
  }
  return t.split("|").map((x, i) => {
    const n = csvNumber(x, decimalComma);
    if (n === undefined) fail(row, field, `item ${i + 1} of ${JSON.stringify(t)}, ${JSON.stringify(x.trim())}, is not a number`, 'write the ordinals as "1 | 2 | 3" or [1, 2, 3], one per non-refusal option');
    return n;
  });
}

export function csvRec(t: Table, row: Row, form: CustomForm, attributes: readonly string[]): Rec {
  const get = (f: string): string | undefined => row.values.get(f) as string | undefined;
  const num = (f: string): number | undefined => {
    const s = get(f);
    if (s === undefined) return undefined;
    const n = csvNumber(s, t.decimalComma);
    if (n === undefined) fail(row, f, `${JSON.stringify(s)} is not a number`);
    return n;
  };
  const opt = <K extends string, V>(k: K, v: V | undefined): { [P in K]?: V } => (v === undefined ? {} : ({ [k]: v } as { [P in K]?: V }));
  const s = (f: string, parse: (x: string) => unknown): unknown => {
    const v = get(f);
    return v === undefined ? undefined : parse(v);
  };
  const rec: Rec = {
    row,
    ...opt("questionId", get("question_id")),
    ...opt("text", get("question")),
    ...opt("options", s("options", (x) => csvStringList(row, "options", x)) as string[] | undefined),
    ...opt("ordinals", s("ordinals", (x) => csvNumberList(row, "ordinals", x, t.decimalComma)) as number[] | undefined),
    ...opt("refusal", s("refusal", (x) => (x.replace(/\s/gu, "") === "[]" ? [] : csvStringList(row, "refusal", x))) as string[] | undefined),
    ...opt("correct", get("correct")),
    ...opt("dataset", get("dataset")),
  };
  if (form === "aggregated") {
    const measure = t.firstLine.has("count") ? "count" : "share";
    const population = get("population");
    const option = get("option");
    const value = get(measure);
    if (population === undefined) {
      if (option !== undefined || value !== undefined) {
        fail(row, "population", "empty, but the row gives an option and its " + measure, 'write the population as ATTRIBUTE=value ("region=North") or a name ("overall"); leave population, option and ' + measure + " empty on a row that only defines a question");
      }
      return rec;
    }
    if (option === undefined) fail(row, "option", `empty; a row with a population gives one option and its ${measure}`);
    if (value === undefined) fail(row, measure, `empty; a row with a population gives one option and its ${measure}`);
    return { ...rec, population, measure, entries: [{ option, value: num(measure)!, field: measure, optionField: "option" }] };
  }
  if (form === "individual") {
    const respondent = get("respondent_id");
    if (respondent === undefined) fail(row, "respondent_id", "empty; every row names its respondent");
    return {
      ...rec,
      respondent,
      ...opt("answer", get("answer")),
      ...opt("weight", num("weight")),
      demographics: attributes.map((a) => get(a)),
    };
  }
  return rec;
}

const JsonId = z.union([z.string(), z.number().int()]);
const JsonScalar = z.union([z.string(), z.number(), z.boolean()]);
const JsonNumbers = z.record(z.string(), z.number());
/** Every field of every form; demographic fields (individual form) are scalars. */
const JsonRow = z
  .object({
    question_id: JsonId.optional(),
    question: z.string().optional(),
    options: z.array(z.string()).optional(),
    ordinals: z.array(z.number()).optional(),
    refusal: z.array(z.string()).optional(),
    correct: z.union([z.string(), z.number()]).optional(),
    dataset: z.string().optional(),
    population: z.string().optional(),
    counts: JsonNumbers.optional(),
    shares: JsonNumbers.optional(),
    respondent_id: JsonId.optional(),
    answer: JsonScalar.optional(),
    weight: z.number().optional(),
  })
  .catchall(JsonScalar);

function zodProblem(issue: z.core.$ZodIssue): string {
  if (issue.code === "invalid_type") {
    const expected = issue.expected === "array" ? "a list" : `a ${issue.expected}`;
    return `expected ${expected}, got ${describe(issue.input)}`;
  }
  if (issue.code === "invalid_union") {
    return `expected a string or a number, got ${describe(issue.input)}`;
  }
  return issue.message;
}

export function jsonRec(row: Row, form: CustomForm, attributes: readonly string[]): Rec {
  const parsed = JsonRow.safeParse(Object.fromEntries(row.values), { reportInput: true });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    fail(row, issue.path.map(String).join("."), zodProblem(issue));
  }
  const o = parsed.data;
  const str = (v: string | number | boolean | undefined): string | undefined => {
    if (v === undefined) return undefined;
    const t = String(v).trim();
    return t === "" ? undefined : t;
  };
  const opt = <K extends string, V>(k: K, v: V | undefined): { [P in K]?: V } => (v === undefined ? {} : ({ [k]: v } as { [P in K]?: V }));
  const rec: Rec = {
    row,
    ...opt("questionId", str(o.question_id)),
    ...opt("text", str(o.question)),
    ...opt("options", o.options?.map((x) => x.trim())),
    ...opt("ordinals", o.ordinals),
    ...opt("refusal", o.refusal?.map((x) => x.trim())),
    ...opt("correct", str(o.correct)),
    ...opt("dataset", str(o.dataset)),
  };
  if (form === "aggregated") {
    const population = str(o.population);
    if (o.counts !== undefined && o.shares !== undefined) fail(row, "shares", "give counts or shares, not both");
    const measure = o.counts !== undefined ? "count" : o.shares !== undefined ? "share" : undefined;
    const values = o.counts ?? o.shares;
    const field = o.counts !== undefined ? "counts" : "shares";
    if (population === undefined) {
      if (values !== undefined) fail(row, "population", `missing, but the object gives ${field}`, 'write "population": "region=North" (ATTRIBUTE=value) or "population": "overall"');
      return rec;
    }
    if (values === undefined || measure === undefined) {
      fail(row, "counts", 'missing: an object with a population gives "counts": {"option": number, ...} or "shares": {"option": fraction, ...}');
    }
    const entries = Object.entries(values).map(([option, value]) => ({ option: option.trim(), value, field: `${field}.${option}`, optionField: `${field}.${option}` }));
    return { ...rec, population, measure, entries };
  }
  if (form === "individual") {
    const respondent = str(o.respondent_id);
    if (respondent === undefined) fail(row, "respondent_id", "missing; every object names its respondent");
    return {
      ...rec,
      respondent,
      ...opt("answer", str(o.answer)),
      ...opt("weight", o.weight),
      demographics: attributes.map((a) => str(o[a] as string | number | boolean | undefined)),
    };
  }
  return rec;
}
