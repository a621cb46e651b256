/**
 * Custom surveys: a user's own survey, loaded from a CSV, JSONL or JSON file (or a folder holding a
 * questions file and a responses file) without writing code, as KorNAT did for Korea. The formats,
 * the rules and a worked example are in docs/custom-surveys.md; in short:
 *
 * - **aggregated**: distributions as published. CSV, one row per (question, population, option):
 *   `question_id, question, options, [ordinals], [refusal], [correct], [dataset], population,
 *   option, count|share`; JSONL/JSON, one object per (question, population):
 *   `{question_id, question, options, ..., population, counts|shares: {option: number}}`.
 * - **individual**: one row per (respondent, question): `respondent_id, question_id, answer,
 *   [weight]`, the question fields, and any other column is a demographic attribute. civitas builds
 *   `overall` and one population `attribute=value` per demographic value, weighted by `weight`.
 * - **questions**: question fields only (knowledge questions with a `correct` option, or the
 *   `questions.*` file of a folder).
 *
 * Question fields may be repeated on every row or given once; rows that give them must agree. The
 * form is detected from the columns (CSV) or the union of the fields (JSONL/JSON). Every error
 * names the file, the 1-based line as an editor shows it (the CSV header is line 1) and the
 * column/field, and says what was expected.
 */
import { createHash } from "node:crypto";
import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { parse as parseCsv } from "csv-parse/sync";
import { z } from "zod";
import { CivitasError, messageOf } from "../errors.js";
import type { MetricName } from "../metrics/index.js";
import { parsePyNumberList, parsePyStringList } from "./pyliteral.js";
import { humanDistribution, type HumanDistribution, type Population, type Question, type Suite } from "./types.js";

/** The registry title of the suite (a loaded suite's title names its file). */
export const CUSTOM_TITLE = "Your own survey (--data survey.csv | .jsonl | .json | folder); see docs/custom-surveys.md";

/** The layout detected: published distributions, one row per respondent and question, or questions only. */
export type CustomForm = "aggregated" | "individual" | "questions";

export interface LoadCustomOptions {
  /** A .csv, .tsv, .jsonl or .json file, or a folder holding questions.* and responses.*. Required. */
  readonly data?: string;
}

/** A loaded custom survey: a Suite plus what the CLI should tell the user. */
export interface CustomSuite extends Suite {
  readonly form: CustomForm;
  /** The files read, as the user named them. */
  readonly files: readonly string[];
  /** Individual form: the number of distinct respondents; null otherwise. */
  readonly respondents: number | null;
  /** Individual form with a weight column. */
  readonly weighted: boolean;
  /** Problems that did not stop loading (renormalised shares, skipped empty answers, ...). */
  readonly warnings: readonly string[];
  /** One line saying what was detected, e.g. "town.csv: individual responses (6 respondents, weighted) ...". */
  readonly summary: string;
}

/** Shares may be off 1 by this much without a word. */
export const SHARE_TOLERANCE = 1e-6;
/** Shares off 1 by more than SHARE_TOLERANCE and at most this are renormalised with a warning; beyond, an error. */
export const SHARE_RENORMALISE_LIMIT = 0.05;

/**
 * Option texts recognised as refusals / non-substantive answers when a question has no `refusal`
 * field (compared ignoring case, repeated spaces, spaces around "/" and curly apostrophes).
 */
export const RECOGNISED_REFUSALS: readonly string[] = [
  "Refused",
  "Don't know",
  "Dont know",
  "Do not know",
  "DK",
  "DK/Refused",
  "DK/RF",
  "Don't know/Refused",
  "Refused/Don't know",
  "No answer",
  "Prefer not to say",
  "Prefer not to answer",
];

// ---------------------------------------------------------------------------------------------
// Field names

const QUESTION_FIELDS = ["question_id", "question", "options", "ordinals", "refusal", "correct", "dataset"] as const;
const AGG_CSV_FIELDS = ["population", "option", "count", "share"] as const;
const AGG_JSON_FIELDS = ["population", "counts", "shares"] as const;
const IND_FIELDS = ["respondent_id", "answer", "weight"] as const;
const AGG_MARKERS = new Set<string>([...AGG_CSV_FIELDS, ...AGG_JSON_FIELDS]);
const IND_MARKERS = new Set<string>(IND_FIELDS);
const KNOWN = new Set<string>([...QUESTION_FIELDS, ...AGG_MARKERS, ...IND_MARKERS]);

/** Attribute names (and bare population names) the command line can take: see splitPopulationList. */
const NAME_RE = /^[A-Za-z][A-Za-z0-9_]*$/u;

const LAYOUT_CSV =
  "aggregated form (one row per question, population and option): question_id, question, options, " +
  "ordinals (optional), refusal (optional), correct (optional), dataset (optional), population, option, " +
  "and count or share; individual form (one row per respondent and question): respondent_id, question_id, " +
  "answer, weight (optional), the same question columns, and one column per demographic attribute " +
  "(e.g. region, age_group)";
const LAYOUT_JSON =
  'aggregated form (one object per question and population): {"question_id", "question", "options": [...], ' +
  '"ordinals": [...]?, "refusal": [...]?, "correct"?, "dataset"?, "population": "country=Korea", ' +
  '"counts": {"option": 12, ...} or "shares": {"option": 0.4, ...}}; individual form (one object per ' +
  'respondent and question): {"respondent_id", "question_id", "answer", "weight"?, the same question fields, ' +
  'and one field per demographic attribute, e.g. "region": "North"}';
const DOCS = "see docs/custom-surveys.md";

// ---------------------------------------------------------------------------------------------
// Files

type Format = "csv" | "jsonl" | "json";

interface SourceFile {
  /** The path as the user gave it (joined with the file name in a folder), for messages. */
  readonly shown: string;
  readonly abs: string;
  readonly format: Format;
  readonly tsv: boolean;
  readonly bytes: Buffer;
}

function formatOf(file: string): { format: Format; tsv: boolean } | undefined {
  const ext = path.extname(file).toLowerCase();
  if (ext === ".csv") return { format: "csv", tsv: false };
  if (ext === ".tsv") return { format: "csv", tsv: true };
  if (ext === ".jsonl" || ext === ".ndjson") return { format: "jsonl", tsv: false };
  if (ext === ".json") return { format: "json", tsv: false };
  return undefined;
}

interface Input {
  readonly location: string;
  readonly title: string;
  /** Single file: [survey]; folder: [questions, responses?]. */
  readonly files: readonly SourceFile[];
  readonly folder: boolean;
}

async function readSource(shown: string, abs: string): Promise<SourceFile> {
  const fmt = formatOf(abs)!;
  try {
    return { shown, abs, ...fmt, bytes: await readFile(abs) };
  } catch (e) {
    throw new CivitasError("input", `cannot read ${shown}: ${messageOf(e)}`);
  }
}

async function resolveInput(data: string): Promise<Input> {
  const abs = path.resolve(data);
  let isDir: boolean;
  try {
    isDir = (await stat(abs)).isDirectory();
  } catch {
    throw new CivitasError("usage", `--data ${data} does not exist`, {
      hint: `give a survey file (.csv, .tsv, .jsonl, .json) or a folder holding questions.csv and responses.csv; ${DOCS}`,
    });
  }
  if (!isDir) {
    if (!formatOf(abs)) {
      throw new CivitasError("usage", `--data ${data}: unknown file type "${path.extname(abs)}"`, {
        hint: `a custom survey is a .csv, .tsv, .jsonl or .json file, or a folder holding questions.* and responses.*; ${DOCS}`,
      });
    }
    return { location: abs, title: `${path.basename(abs)} (custom survey)`, files: [await readSource(data, abs)], folder: false };
  }
  const names = await readdir(abs);
  const pick = (role: string): string | undefined => {
    const found = names.filter((n) => path.parse(n).name.toLowerCase() === role && formatOf(n) !== undefined);
    if (found.length > 1) {
      throw new CivitasError("input", `${data} holds more than one ${role} file: ${found.join(", ")}`, {
        hint: `keep exactly one ${role}.csv, ${role}.tsv, ${role}.jsonl or ${role}.json`,
      });
    }
    return found[0];
  };
  const q = pick("questions");
  const r = pick("responses");
  if (q === undefined) {
    throw new CivitasError("input", `${data} is a folder without a questions file (questions.csv, .tsv, .jsonl or .json)`, {
      hint: `a survey folder holds questions.* (one row per question) and responses.* (the answers); or give one survey file; ${DOCS}`,
    });
  }
  const files = [await readSource(path.join(data, q), path.join(abs, q))];
  if (r !== undefined) files.push(await readSource(path.join(data, r), path.join(abs, r)));
  return { location: abs, title: `${path.basename(abs)} (custom survey)`, files, folder: true };
}

// ---------------------------------------------------------------------------------------------
// Tables: rows of named values with their lines, from CSV or JSON

interface Row {
  readonly file: SourceFile;
  /** 1-based line as an editor shows it (CSV: the header is line 1; JSON array: the element's first line). */
  readonly line: number;
  /** JSON arrays: the 1-based element number. */
  readonly element?: number;
  /** Non-empty values by column/field: known fields by their lower-case name, other fields as written. */
  readonly values: ReadonlyMap<string, unknown>;
}

interface Table {
  readonly file: SourceFile;
  /** Columns (CSV header order) or fields (first-appearance order), canonical names. */
  readonly columns: readonly string[];
  /** The line where each column/field first appears (CSV: 1). */
  readonly firstLine: ReadonlyMap<string, number>;
  readonly rows: readonly Row[];
  /** CSV separated by ";" or tabs: "0,25" reads as 0.25. */
  readonly decimalComma: boolean;
}

function where(row: Row, field?: string): string {
  const el = row.element !== undefined ? ` (element ${row.element})` : "";
  const f = field === undefined ? "" : `, ${row.file.format === "csv" ? "column" : "field"} ${field}`;
  return `${row.file.shown} line ${row.line}${el}${f}`;
}

function fail(row: Row, field: string | undefined, message: string, hint?: string): never {
  throw new CivitasError("input", `${where(row, field)}: ${message}`, hint === undefined ? {} : { hint });
}

/** "line 4" when `other` is in the same file as `row`, else "questions.csv line 4". */
function lineRef(other: Row, row: Row): string {
  return other.file === row.file ? `line ${other.line}` : `${other.file.shown} line ${other.line}`;
}

function canonical(name: string): string {
  const t = name.trim();
  const lower = t.toLowerCase();
  return KNOWN.has(lower) ? lower : t;
}

function decode(f: SourceFile): string {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(f.bytes);
  } catch {
    throw new CivitasError("input", `${f.shown} is not UTF-8 text`, {
      hint: 'save it as UTF-8 (in Excel: "CSV UTF-8"; in LibreOffice: character set Unicode (UTF-8))',
    });
  }
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** The separator of a CSV file: tab for .tsv, else the most frequent of , ; tab outside quotes on the header line. */
function sniffDelimiter(text: string, tsv: boolean): string {
  if (tsv) return "\t";
  const counts = new Map<string, number>([
    [",", 0],
    [";", 0],
    ["\t", 0],
  ]);
  let quoted = false;
  for (const c of text) {
    if (c === '"') quoted = !quoted;
    else if (!quoted && (c === "\n" || c === "\r")) break;
    else if (!quoted && counts.has(c)) counts.set(c, counts.get(c)! + 1);
  }
  let best = ",";
  for (const [d, n] of counts) if (n > counts.get(best)!) best = d;
  return best;
}

function readCsv(f: SourceFile): Table {
  const text = decode(f);
  const delimiter = sniffDelimiter(text, f.tsv);
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parseCsv(text, {
      delimiter,
      info: true,
      relax_column_count: true,
      skip_empty_lines: true,
    }) as unknown as typeof records;
  } catch (e) {
    throw new CivitasError("input", `${f.shown}: not a valid CSV file: ${messageOf(e)}`, {
      hint: 'a cell holding the separator, a quote or a line break must be in double quotes, with inner quotes doubled ("")',
    });
  }
  const first = records[0];
  if (!first) throw new CivitasError("input", `${f.shown} is empty (expected a header line naming the columns)`, { hint: DOCS });
  // The header: known names case-insensitively; unnamed columns must stay empty.
  const header = first.record.map((h) => canonical(h));
  const seen = new Map<string, number>();
  header.forEach((h, i) => {
    if (h === "") return;
    const j = seen.get(h);
    if (j !== undefined) {
      throw new CivitasError("input", `${f.shown} line 1: column "${h}" appears twice (columns ${j + 1} and ${i + 1})`);
    }
    seen.set(h, i);
  });
  const rows: Row[] = [];
  for (const { record, info } of records.slice(1)) {
    // info.lines is the line the record ends on; step back over line breaks inside quoted cells.
    let inner = 0;
    for (const c of record) for (let i = c.indexOf("\n"); i !== -1; i = c.indexOf("\n", i + 1)) inner++;
    const line = info.lines - inner;
    if (record.every((c) => c.trim() === "")) continue; // ",,,," lines that spreadsheets leave
    const row: { file: SourceFile; line: number; values: Map<string, unknown> } = { file: f, line, values: new Map() };
    if (record.length < header.length) {
      fail(row, undefined, `${record.length} cells, but the header has ${header.length} columns`, `quote cells that hold "${delimiter === "\t" ? "\\t" : delimiter}"`);
    }
    record.forEach((cell, i) => {
      const v = cell.trim();
      if (v === "") return;
      const name = header[i];
      if (name === undefined || name === "") {
        fail(row, undefined, `value ${JSON.stringify(v)} in column ${i + 1}, which has no name in the header`, `name the column in line 1, or quote cells that hold "${delimiter === "\t" ? "\\t" : delimiter}"`);
      }
      row.values.set(name, v);
    });
    rows.push(row);
  }
  if (rows.length === 0) throw new CivitasError("input", `${f.shown} has a header but no rows`, { hint: DOCS });
  const columns = header.filter((h) => h !== "");
  return { file: f, columns, firstLine: new Map(columns.map((c) => [c, 1])), rows, decimalComma: delimiter !== "," };
}

/** For a JSON array: the start offset, end offset and line of each top-level element. */
function arrayElements(text: string): { start: number; end: number; line: number }[] {
  const out: { start: number; end: number; line: number }[] = [];
  let depth = 0;
  let inString = false;
  let escaped = false;
  let expecting = false;
  let line = 1;
  const begin = (i: number): void => {
    if (depth === 1 && expecting) {
      out.push({ start: i, end: text.length, line });
      expecting = false;
    }
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === "\n") line++;
    if (inString) {
      if (escaped) escaped = false;
      else if (c === "\\") escaped = true;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') {
      begin(i);
      inString = true;
    } else if (c === "[" || c === "{") {
      begin(i);
      depth++;
      if (depth === 1) expecting = true;
    } else if (c === "]" || c === "}") {
      if (depth === 1 && out.length > 0) out[out.length - 1]!.end = i;
      depth--;
    } else if (c === "," && depth === 1) {
      if (out.length > 0) out[out.length - 1]!.end = i;
      expecting = true;
    } else if (!/\s/u.test(c)) {
      begin(i);
    }
  }
  return out;
}

function readJson(f: SourceFile): Table {
  const text = decode(f);
  const objects: { line: number; element?: number; value: unknown }[] = [];
  if (f.format === "jsonl") {
    text.split("\n").forEach((raw, i) => {
      const t = raw.trim();
      if (t === "") return;
      try {
        objects.push({ line: i + 1, value: JSON.parse(t) });
      } catch (e) {
        throw new CivitasError("input", `${f.shown} line ${i + 1}: invalid JSON: ${messageOf(e)}`, {
          hint: "a .jsonl file holds one JSON object per line",
        });
      }
    });
  } else {
    let all: unknown;
    const elements = arrayElements(text);
    try {
      all = JSON.parse(text);
    } catch (e) {
      // Find the element that does not parse, to name its line.
      elements.forEach((el, i) => {
        try {
          JSON.parse(text.slice(el.start, el.end));
        } catch (inner) {
          throw new CivitasError("input", `${f.shown} line ${el.line} (element ${i + 1}): invalid JSON: ${messageOf(inner)}`, {
            hint: "check the brackets, commas and quotes of this element (or use .jsonl, one object per line)",
          });
        }
      });
      throw new CivitasError("input", `${f.shown}: invalid JSON: ${messageOf(e)}`, {
        hint: "a .json survey is one array of objects: [{...}, {...}]",
      });
    }
    if (!Array.isArray(all)) {
      throw new CivitasError("input", `${f.shown} line 1: expected a JSON array of objects, got ${describe(all)}`, {
        hint: "a .json survey is one array of objects: [{...}, {...}]; or use .jsonl, one object per line",
      });
    }
    all.forEach((value, i) => objects.push({ line: elements[i]?.line ?? 1, element: i + 1, value }));
  }
  const columns: string[] = [];
  const firstLine = new Map<string, number>();
  const rows: Row[] = [];
  for (const o of objects) {
    const row: { file: SourceFile; line: number; element?: number; values: Map<string, unknown> } = {
      file: f,
      line: o.line,
      ...(o.element !== undefined ? { element: o.element } : {}),
      values: new Map(),
    };
    if (typeof o.value !== "object" || o.value === null || Array.isArray(o.value)) {
      fail(row, undefined, `expected a JSON object, got ${describe(o.value)}`, "each line (or array element) is one object such as {\"question_id\": \"Q1\", ...}");
    }
    const raw = new Map<string, string>();
    for (const [k, v] of Object.entries(o.value as Record<string, unknown>)) {
      const name = canonical(k);
      if (name === "") fail(row, undefined, "a field with an empty name");
      const other = raw.get(name);
      if (other !== undefined) fail(row, k, `the same field as "${other}" (field names ignore case)`);
      raw.set(name, k);
      if (!firstLine.has(name)) {
        firstLine.set(name, o.line);
        columns.push(name);
      }
      if (v === null || (typeof v === "string" && v.trim() === "")) continue;
      row.values.set(name, typeof v === "string" ? v.trim() : v);
    }
    rows.push(row);
  }
  if (rows.length === 0) throw new CivitasError("input", `${f.shown} holds no objects`, { hint: DOCS });
  return { file: f, columns, firstLine, rows, decimalComma: false };
}

function readTable(f: SourceFile): Table {
  return f.format === "csv" ? readCsv(f) : readJson(f);
}

function describe(v: unknown): string {
  if (v === undefined) return "nothing";
  if (Array.isArray(v)) return "an array";
  if (v === null) return "null";
  if (typeof v === "object") return "an object";
  return JSON.stringify(v);
}

// ---------------------------------------------------------------------------------------------
// Detecting the form

function fieldsText(t: Table): string {
  return t.columns.map((c) => JSON.stringify(c)).join(", ");
}

function layoutHint(t: Table): string {
  return `${t.file.format === "csv" ? LAYOUT_CSV : LAYOUT_JSON}; ${DOCS}`;
}

function noun(t: Table): string {
  return t.file.format === "csv" ? "column" : "field";
}

/**
 * The form of a table from its columns. `role` says which file of a folder it is ("survey" for a
 * single file). Unknown columns are errors except in the individual form, where they are
 * demographic attributes.
 */
function detectForm(t: Table, role: "survey" | "questions" | "responses"): CustomForm {
  const has = (c: string): boolean => t.firstLine.has(c);
  const agg = t.columns.filter((c) => AGG_MARKERS.has(c));
  const ind = t.columns.filter((c) => IND_MARKERS.has(c));
  const f = t.file;
  if (role === "questions") {
    const extra = t.columns.find((c) => !(QUESTION_FIELDS as readonly string[]).includes(c));
    if (extra !== undefined) {
      throw new CivitasError(
        "input",
        `${f.shown} line ${t.firstLine.get(extra)}: ${noun(t)} "${extra}" does not belong in the questions file, which defines questions only (${QUESTION_FIELDS.join(", ")})`,
        { hint: `put populations, counts, shares and answers in the responses file; ${DOCS}` },
      );
    }
    if (!has("question_id")) {
      throw new CivitasError("input", `${f.shown}: no ${noun(t)} question_id (it has ${fieldsText(t)})`, { hint: `the questions file has ${QUESTION_FIELDS.join(", ")}; ${DOCS}` });
    }
    return "questions";
  }
  if (agg.length > 0 && ind.length > 0) {
    throw new CivitasError(
      "input",
      `${f.shown}: cannot tell the form of the survey: it has ${noun(t)}s of both forms, ${ind.map((c) => JSON.stringify(c)).join(", ")} (individual responses) and ${agg.map((c) => JSON.stringify(c)).join(", ")} (aggregated)`,
      { hint: layoutHint(t) },
    );
  }
  if (ind.length > 0) {
    for (const c of ["respondent_id", "question_id", "answer"]) {
      if (!has(c)) {
        throw new CivitasError("input", `${f.shown}: individual responses (it has ${ind.map((x) => JSON.stringify(x)).join(", ")}) need a ${noun(t)} ${c}; found ${fieldsText(t)}`, {
          hint: layoutHint(t),
        });
      }
    }
    return "individual";
  }
  const unknown = t.columns.filter((c) => !KNOWN.has(c));
  if (agg.length > 0) {
    if (unknown.length > 0) {
      const c = unknown[0]!;
      throw new CivitasError(
        "input",
        `${f.shown} line ${t.firstLine.get(c)}: ${noun(t)} "${c}" is not a field of the aggregated form (${noun(t)}s: ${QUESTION_FIELDS.join(", ")}, ${(f.format === "csv" ? AGG_CSV_FIELDS : AGG_JSON_FIELDS).join(", ")})`,
        { hint: `demographic ${noun(t)}s belong to individual responses (one row per respondent and question, with respondent_id and answer); here a population is written in ${noun(t)} population, e.g. "region=North"; ${DOCS}` },
      );
    }
    if (f.format === "csv") {
      for (const c of ["counts", "shares"]) {
        if (has(c)) {
          throw new CivitasError("input", `${f.shown} line 1: column "${c}": in a CSV file each option has its own row, with columns option and ${c.slice(0, -1)}`, { hint: layoutHint(t) });
        }
      }
      for (const c of ["question_id", "population", "option"]) {
        if (!has(c)) throw new CivitasError("input", `${f.shown}: aggregated survey without a column ${c}; found ${fieldsText(t)}`, { hint: layoutHint(t) });
      }
      if (has("count") === has("share")) {
        throw new CivitasError(
          "input",
          has("count") ? `${f.shown} line 1: columns count and share: give one of them, not both` : `${f.shown}: aggregated survey without a column count or share; found ${fieldsText(t)}`,
          { hint: "count: the number of respondents who chose the option (n is then known); share: the fraction who chose it, summing to 1 per question and population" },
        );
      }
    } else {
      for (const c of ["option", "count", "share"]) {
        if (has(c)) {
          throw new CivitasError("input", `${f.shown} line ${t.firstLine.get(c)}: field "${c}": in JSON give all options of a (question, population) at once, as "counts": {"option": 12, ...} or "shares": {"option": 0.4, ...}`, { hint: layoutHint(t) });
        }
      }
      for (const c of ["question_id", "population"]) {
        if (!has(c)) throw new CivitasError("input", `${f.shown}: aggregated survey without a field ${c}; found ${fieldsText(t)}`, { hint: layoutHint(t) });
      }
    }
    return "aggregated";
  }
  if (unknown.length > 0 || !has("question_id")) {
    throw new CivitasError("input", `${f.shown}: cannot tell the form of the survey from its ${noun(t)}s ${fieldsText(t)}`, { hint: layoutHint(t) });
  }
  if (role === "responses") {
    throw new CivitasError("input", `${f.shown} holds no answers: it has question ${noun(t)}s only (${fieldsText(t)})`, { hint: layoutHint(t) });
  }
  return "questions";
}

// ---------------------------------------------------------------------------------------------
// Records: a row's values, typed, from CSV strings or JSON values

interface Entry {
  readonly option: string;
  readonly value: number;
  /** The column/field that holds the value, for messages ("count", "counts.Yes"). */
  readonly field: string;
  /** The column/field that names the option ("option", "counts.Yes"). */
  readonly optionField: string;
}

interface Rec {
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

function csvRec(t: Table, row: Row, form: CustomForm, attributes: readonly string[]): Rec {
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

function jsonRec(row: Row, form: CustomForm, attributes: readonly string[]): Rec {
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

// ---------------------------------------------------------------------------------------------
// Questions

interface Given<T> {
  readonly value: T;
  readonly rec: Rec;
}

interface Draft {
  readonly id: string;
  readonly first: Rec;
  text?: Given<string>;
  options?: Given<string[]>;
  ordinals?: Given<number[]>;
  refusal?: Given<string[]>;
  correct?: Given<string>;
  dataset?: Given<string>;
}

type DraftField = "text" | "options" | "ordinals" | "refusal" | "correct" | "dataset";
const FIELD_NAME: Record<DraftField, string> = {
  text: "question",
  options: "options",
  ordinals: "ordinals",
  refusal: "refusal",
  correct: "correct",
  dataset: "dataset",
};

/** Trim, collapse whitespace and spaces around "/", straighten apostrophes, lowercase: how answers meet options. */
function normOption(s: string): string {
  return s
    .trim()
    .replace(/\s+/gu, " ")
    .replace(/\s*\/\s*/gu, "/")
    .replace(/[\u2018\u2019`]/gu, "'")
    .toLowerCase();
}

const REFUSAL_NAMES = new Set(RECOGNISED_REFUSALS.map(normOption));

function listText(xs: readonly (string | number)[]): string {
  return xs.some((x) => String(x).includes(",")) ? xs.map((x) => JSON.stringify(x)).join(", ") : xs.join(", ");
}

function showValue(v: unknown): string {
  return Array.isArray(v) ? `(${listText(v as (string | number)[])})` : JSON.stringify(v);
}

function mergeDraft(d: Draft, rec: Rec): void {
  const fields: DraftField[] = ["text", "options", "ordinals", "refusal", "correct", "dataset"];
  for (const k of fields) {
    const v = rec[k];
    if (v === undefined) continue;
    const prev = d[k] as Given<unknown> | undefined;
    if (prev === undefined) {
      (d as unknown as Record<string, Given<unknown>>)[k] = { value: v, rec };
    } else if (JSON.stringify(prev.value) !== JSON.stringify(v)) {
      fail(
        rec.row,
        FIELD_NAME[k],
        `question ${d.id} has ${FIELD_NAME[k]} ${showValue(v)} here but ${showValue(prev.value)} on ${lineRef(prev.rec.row, rec.row)}`,
        "give a question's text, options, ordinals, refusal, correct answer and dataset once, or the same on every row",
      );
    }
  }
}

interface Built {
  readonly question: Question;
  readonly draft: Draft;
  /** The option index of an answer/option text, or undefined. */
  match(text: string): number | undefined;
}

function finalise(d: Draft, questionsFile: SourceFile | undefined): Built {
  const row = d.first.row;
  if (questionsFile !== undefined && row.file !== questionsFile && d.text === undefined && d.options === undefined) {
    fail(row, "question_id", `question ${d.id} is not in ${questionsFile.shown}`, `define every question in ${questionsFile.shown} (or give its question and options on its rows here)`);
  }
  if (d.text === undefined) fail(row, "question", `question ${d.id} has no text: no row gives its question ${noun1(row)}`);
  if (d.options === undefined) fail(row, "options", `question ${d.id} has no options: no row gives its options ${noun1(row)}`, 'options in survey order, e.g. "Yes | No | Refused" or ["Yes", "No", "Refused"]');
  const options = d.options.value;
  const optRow = d.options.rec.row;
  const exact = new Map<string, number>();
  const norm = new Map<string, number>();
  options.forEach((o, i) => {
    if (o === "") fail(optRow, "options", `question ${d.id}: option ${i + 1} is empty`);
    const n = normOption(o);
    const j = norm.get(n);
    if (j !== undefined) fail(optRow, "options", `question ${d.id}: options ${j + 1} and ${i + 1} are the same (${JSON.stringify(o)}; case and spacing are ignored)`);
    exact.set(o, i);
    norm.set(n, i);
  });
  const match = (text: string): number | undefined => exact.get(text.trim()) ?? norm.get(normOption(text));

  let refusal: boolean[];
  if (d.refusal !== undefined) {
    refusal = options.map(() => false);
    for (const r of d.refusal.value) {
      const i = match(r);
      if (i === undefined) fail(d.refusal.rec.row, "refusal", `${JSON.stringify(r)} is not among the options of ${d.id} (${listText(options)})`);
      refusal[i] = true;
    }
  } else {
    refusal = options.map((o) => REFUSAL_NAMES.has(normOption(o)));
  }
  const scored = refusal.filter((r) => !r).length;
  if (scored < 2) {
    fail(optRow, "options", `question ${d.id} has ${scored} option${scored === 1 ? "" : "s"} that ${scored === 1 ? "is" : "are"} not a refusal (${listText(options)}); it needs at least 2`, `refusal options (${d.refusal !== undefined ? "listed in refusal" : `recognised by name: ${RECOGNISED_REFUSALS.join(", ")}`}) are shown but not scored`);
  }
  let ordinals: number[] | null = null;
  if (d.ordinals !== undefined) {
    ordinals = d.ordinals.value;
    const oRow = d.ordinals.rec.row;
    if (ordinals.length !== scored) {
      const scoredNames = options.filter((_, i) => !refusal[i]);
      const refused = options.filter((_, i) => refusal[i]);
      fail(
        oRow,
        "ordinals",
        `question ${d.id} has ${ordinals.length} ordinal${ordinals.length === 1 ? "" : "s"} for ${scored} non-refusal options (${listText(scoredNames)}${refused.length > 0 ? `; refusal: ${listText(refused)}` : ""})`,
        "give one ordinal per non-refusal option, in survey order; leave ordinals empty for a nominal question",
      );
    }
    if (ordinals.some((x) => !Number.isFinite(x))) fail(oRow, "ordinals", `question ${d.id}: ordinals must be finite numbers`);
    if (Math.max(...ordinals) === Math.min(...ordinals)) fail(oRow, "ordinals", `question ${d.id}: all ordinals are equal (${listText(ordinals)}); they must place the options on a scale`);
  }
  let correct: number | undefined;
  if (d.correct !== undefined) {
    const i = match(d.correct.value);
    if (i === undefined) fail(d.correct.rec.row, "correct", `${JSON.stringify(d.correct.value)} is not among the options of ${d.id} (${listText(options)})`, "correct names the right option by its text");
    if (refusal[i]) fail(d.correct.rec.row, "correct", `${JSON.stringify(d.correct.value)} is a refusal option of ${d.id}; the correct answer must be a scored option`);
    correct = i;
  }
  const question: Question = {
    id: d.id,
    text: d.text.value,
    options,
    refusal,
    ordinals,
    ...(d.dataset !== undefined ? { dataset: d.dataset.value } : {}),
    ...(correct !== undefined ? { correct } : {}),
  };
  return { question, draft: d, match };
}

function noun1(row: Row): string {
  return row.file.format === "csv" ? "column" : "field";
}

// ---------------------------------------------------------------------------------------------
// Populations and distributions

function humanKey(questionId: string, population: string): string {
  return `${questionId}\u0000${population}`;
}

function parsePopulation(rec: Rec, text: string): Population {
  const row = rec.row;
  const eq = text.indexOf("=");
  if (eq === -1) {
    if (text.toLowerCase() === "overall") return { id: "overall", attribute: null, value: "overall" };
    if (!NAME_RE.test(text)) {
      fail(row, "population", `${JSON.stringify(text)} is not a population name: a name without "=" is letters, digits and _ (starting with a letter)`, `write ATTRIBUTE=value for anything else, e.g. "group=${text}"`);
    }
    return { id: text, attribute: null, value: text };
  }
  const attribute = text.slice(0, eq).trim();
  const value = text.slice(eq + 1).trim();
  if (!NAME_RE.test(attribute)) {
    fail(row, "population", `attribute ${JSON.stringify(attribute)} of ${JSON.stringify(text)} must be letters, digits and _, starting with a letter`, 'e.g. "age_group=18-29"; the attribute is what --populations takes');
  }
  if (value === "") fail(row, "population", `${JSON.stringify(text)} has no value after "="`);
  return { id: `${attribute}=${value}`, attribute, value };
}

/**
 * Populations in order: `overall` first, then the others grouped by attribute (attributes and
 * bare names in order of first appearance, values in order of first appearance).
 */
function orderPopulations(pops: readonly Population[]): Population[] {
  const groups = new Map<string, Population[]>();
  let overall: Population | undefined;
  for (const p of pops) {
    if (p.id === "overall") {
      overall = p;
      continue;
    }
    const key = p.attribute === null ? `\u0000${p.id}` : p.attribute;
    const g = groups.get(key);
    if (g) g.push(p);
    else groups.set(key, [p]);
  }
  return [...(overall ? [overall] : []), ...[...groups.values()].flat()];
}


// ---------------------------------------------------------------------------------------------
// Loading

/**
 * Loads a custom survey. Throws CivitasError("usage") without `data` or for a path that does not
 * exist, CivitasError("input") for anything wrong in the files (naming file, line and field).
 */
export async function loadCustom(opts: LoadCustomOptions = {}): Promise<CustomSuite> {
  if (opts.data === undefined || opts.data.trim() === "") {
    throw new CivitasError("usage", "the custom suite needs --data: your survey file or folder", {
      hint: `e.g. --data examples/custom/town-aggregated.csv; ${DOCS}`,
    });
  }
  const input = await resolveInput(opts.data);
  const tables = input.files.map(readTable);

  // Forms: a single file is any form; a folder holds questions and (optionally) responses.
  let form: CustomForm;
  let dataTable: Table | undefined;
  if (!input.folder) {
    form = detectForm(tables[0]!, "survey");
    dataTable = form === "questions" ? undefined : tables[0]!;
  } else {
    detectForm(tables[0]!, "questions");
    dataTable = tables[1];
    form = dataTable === undefined ? "questions" : detectForm(dataTable, "responses");
  }

  // Demographic attributes (individual form): every column that is not a known field.
  const attributes = form === "individual" && dataTable ? dataTable.columns.filter((c) => !KNOWN.has(c)) : [];
  if (dataTable) checkAttributes(dataTable, attributes);

  const recsOf = (t: Table): Rec[] => {
    const f: CustomForm = t === dataTable ? form : "questions";
    return t.rows.map((row) => (t.file.format === "csv" ? csvRec(t, row, f, attributes) : jsonRec(row, f, attributes)));
  };
  const allRecs = tables.flatMap(recsOf);

  // Pass 1: question definitions, from every row of every file, in order of first appearance.
  const drafts = new Map<string, Draft>();
  for (const rec of allRecs) {
    if (rec.questionId === undefined) fail(rec.row, "question_id", "empty; every row names its question");
    let d = drafts.get(rec.questionId);
    if (!d) {
      d = { id: rec.questionId, first: rec };
      drafts.set(rec.questionId, d);
    }
    mergeDraft(d, rec);
  }
  const built = new Map<string, Built>();
  for (const [id, d] of drafts) built.set(id, finalise(d, input.folder ? input.files[0] : undefined));
  const questions = [...built.values()].map((b) => b.question);
  checkDatasets([...built.values()]);

  // Pass 2: the data.
  const dataRecs = dataTable ? allRecs.filter((r) => r.row.file === dataTable.file) : [];
  const warnings: string[] = [];
  const humans = new Map<string, HumanDistribution>();
  const withData = new Set<string>();
  let populations: Population[] = [];
  let respondents: number | null = null;
  let weighted = false;
  if (form === "aggregated") {
    populations = aggregate(dataRecs, built, humans, withData, warnings);
  } else if (form === "individual") {
    const r = individual(dataRecs, built, attributes, humans, withData, warnings);
    populations = r.populations;
    respondents = r.respondents;
    weighted = r.weighted;
  }

  // Every question needs data or a correct answer; data that gave no distribution is a warning.
  for (const b of built.values()) {
    const q = b.question;
    if (!withData.has(q.id)) {
      if (q.correct === undefined) {
        fail(
          b.draft.first.row,
          undefined,
          `question ${q.id} has no population data and no correct answer`,
          form === "questions"
            ? "a file of questions only holds knowledge questions: give each its correct option (column/field correct)"
            : `give answers for it, or its correct option (column/field correct) if it is a knowledge question; ${DOCS}`,
        );
      }
    } else if (!populations.some((p) => humans.has(humanKey(q.id, p.id)))) {
      warnings.push(`question ${q.id} has data, but every answer to it is a refusal: it has no distribution and is not scored against populations`);
    }
  }

  // The default metric: Wasserstein when every question scored against populations has ordinals.
  const scoredQuestions = questions.filter((q) => populations.some((p) => humans.has(humanKey(q.id, p.id))));
  const defaultMetric: MetricName = scoredQuestions.length > 0 && scoredQuestions.every((q) => q.ordinals !== null) ? "wasserstein" : "tv";

  const datasets: string[] = [];
  for (const q of questions) if (q.dataset !== undefined && !datasets.includes(q.dataset)) datasets.push(q.dataset);

  const fp = createHash("sha256");
  if (input.folder) {
    for (const f of input.files) fp.update(`${path.basename(f.abs)}\t${createHash("sha256").update(f.bytes).digest("hex")}\n`);
  } else {
    fp.update(input.files[0]!.bytes);
  }

  const knowledge = questions.filter((q) => q.correct !== undefined).length;
  const formText =
    form === "aggregated"
      ? "aggregated distributions"
      : form === "individual"
        ? `individual responses (${respondents} respondents${weighted ? ", weighted by column weight" : ", unweighted"})`
        : "questions only";
  const summary =
    `${input.files.map((f) => f.shown).join(" + ")}: ${formText}; ${questions.length} question${questions.length === 1 ? "" : "s"}` +
    (knowledge > 0 ? ` (${knowledge} with a correct answer)` : "") +
    `, ${populations.length} population${populations.length === 1 ? "" : "s"}`;

  return {
    name: "custom",
    title: input.title,
    location: input.location,
    fingerprint: fp.digest("hex"),
    questions,
    populations,
    reference: populations.some((p) => p.id === "overall") ? "overall" : null,
    defaultMetric,
    ...(datasets.length > 0 ? { datasets } : {}),
    form,
    files: input.files.map((f) => f.shown),
    respondents,
    weighted,
    warnings,
    summary,
    human(questionId: string, population: string): HumanDistribution | undefined {
      return humans.get(humanKey(questionId, population));
    },
  };
}

function checkAttributes(t: Table, attributes: readonly string[]): void {
  const lower = new Map<string, string>();
  for (const a of attributes) {
    const line = t.firstLine.get(a) ?? 1;
    if (!NAME_RE.test(a)) {
      throw new CivitasError(
        "input",
        `${t.file.shown} line ${line}, ${noun(t)} "${a}": a demographic ${noun(t)} name must be letters, digits and _, starting with a letter (it becomes the attribute name that --populations takes)`,
        { hint: `rename it, e.g. "${a.replace(/[^A-Za-z0-9_]+/gu, "_").replace(/^[^A-Za-z]+/u, "") || "group"}"` },
      );
    }
    const other = lower.get(a.toLowerCase());
    if (other !== undefined) {
      throw new CivitasError("input", `${t.file.shown} line ${line}, ${noun(t)} "${a}": the same attribute as "${other}" (attribute names ignore case)`);
    }
    lower.set(a.toLowerCase(), a);
  }
}

function checkDatasets(all: readonly Built[]): void {
  const withOne = all.find((b) => b.question.dataset !== undefined);
  if (!withOne) return;
  const without = all.find((b) => b.question.dataset === undefined);
  if (without) {
    fail(
      without.draft.first.row,
      "dataset",
      `question ${without.question.id} has no dataset, but others do (${withOne.question.id}: ${JSON.stringify(withOne.question.dataset)} on ${lineRef(withOne.draft.dataset!.rec.row, without.draft.first.row)})`,
      "give every question a dataset, or none",
    );
  }
}

function optionNotFound(rec: Rec, field: string, option: string, b: Built): never {
  fail(rec.row, field, `option ${JSON.stringify(option)} is not among the options of ${b.question.id} (${listText(b.question.options)})`);
}

/** The aggregated form: collects counts or shares per (question, population) and builds the distributions. */
function aggregate(
  recs: readonly Rec[],
  built: ReadonlyMap<string, Built>,
  humans: Map<string, HumanDistribution>,
  withData: Set<string>,
  warnings: string[],
): Population[] {
  interface Group {
    readonly b: Built;
    readonly pop: Population;
    readonly measure: "count" | "share";
    readonly first: Rec;
    readonly mass: number[];
    readonly seen: Map<number, Rec>;
  }
  const groups = new Map<string, Group>();
  const pops = new Map<string, Population>();
  const attrCase = new Map<string, { attribute: string; rec: Rec }>();
  for (const rec of recs) {
    if (rec.population === undefined) continue;
    const b = built.get(rec.questionId!)!;
    const pop = parsePopulation(rec, rec.population);
    const known = pops.get(pop.id);
    if (!known) {
      if (pop.attribute !== null) {
        const other = attrCase.get(pop.attribute.toLowerCase());
        if (other && other.attribute !== pop.attribute) {
          fail(rec.row, "population", `attribute ${JSON.stringify(pop.attribute)} differs only in case from ${JSON.stringify(other.attribute)} on ${lineRef(other.rec.row, rec.row)}`, "write each attribute the same way everywhere");
        }
        attrCase.set(pop.attribute.toLowerCase(), { attribute: pop.attribute, rec });
      }
      pops.set(pop.id, pop);
    }
    const key = humanKey(b.question.id, pop.id);
    let g = groups.get(key);
    if (g && rec.row.file.format !== "csv") {
      fail(rec.row, "population", `duplicate: question ${b.question.id}, population ${pop.id} is already given on ${lineRef(g.first.row, rec.row)}`, "give each question and population once");
    }
    if (!g) {
      g = { b, pop, measure: rec.measure!, first: rec, mass: new Array<number>(b.question.options.length).fill(0), seen: new Map() };
      groups.set(key, g);
    }
    for (const e of rec.entries ?? []) {
      const i = b.match(e.option);
      if (i === undefined) optionNotFound(rec, e.optionField, e.option, b);
      const prev = g.seen.get(i);
      if (prev) {
        fail(
          rec.row,
          e.optionField,
          prev === rec
            ? `option ${JSON.stringify(b.question.options[i])} is given twice`
            : `duplicate row: question ${b.question.id}, population ${pop.id}, option ${JSON.stringify(b.question.options[i])} is already on ${lineRef(prev.row, rec.row)}`,
          "give each question, population and option once",
        );
      }
      g.seen.set(i, rec);
      if (g.measure === "count") {
        if (!Number.isInteger(e.value) || e.value < 0) {
          fail(rec.row, e.field, `${e.value} is not a count (a whole number, 0 or more)`, "for weighted data give share (fractions summing to 1), or individual responses with a weight column");
        }
      } else if (!(e.value >= 0 && e.value <= 1)) {
        fail(rec.row, e.field, `share ${e.value} is not between 0 and 1`, e.value > 1 && e.value <= 100 ? `shares are fractions: write ${+(e.value / 100).toFixed(6)} for ${e.value}%` : "a share is the fraction of the population that chose the option");
      }
      g.mass[i] = e.value;
    }
  }
  for (const g of groups.values()) {
    const q = g.b.question;
    withData.add(q.id);
    let n: number | null = null;
    if (g.measure === "share") {
      const sum = g.mass.reduce((a, x) => a + x, 0);
      const off = Math.abs(sum - 1);
      const lines = [...new Set([...g.seen.values()].map((r) => r.row.line))];
      const shown = `shares of question ${q.id} for ${g.pop.id} (line${lines.length === 1 ? "" : "s"} ${lines.join(", ")}) sum to ${+sum.toFixed(6)}`;
      if (off > SHARE_RENORMALISE_LIMIT) {
        fail(g.first.row, g.first.entries![0]!.field.split(".")[0], `${shown}, not 1`, `shares over all options (refusals included) must sum to 1; a sum off by up to ${SHARE_RENORMALISE_LIMIT} (rounding) is renormalised with a warning. Is an option missing?`);
      }
      if (off > SHARE_TOLERANCE) warnings.push(`${where(g.first.row)}: ${shown}; renormalised to 1`);
    } else {
      n = 0;
      g.mass.forEach((c, i) => {
        if (!q.refusal[i]) n! += c;
      });
    }
    const d = humanDistribution(q, g.pop.id, g.mass, n);
    if (d) humans.set(humanKey(q.id, g.pop.id), d);
    else warnings.push(`${where(g.first.row)}: question ${q.id}, population ${g.pop.id}: no answer outside the refusal options; no distribution`);
  }
  const ordered = orderPopulations([...pops.values()]);
  // A bare name equal to an attribute would hide the attribute from --populations.
  const attrs = new Set(ordered.filter((p) => p.attribute !== null).map((p) => p.attribute!.toLowerCase()));
  const clash = ordered.find((p) => p.attribute === null && attrs.has(p.id.toLowerCase()));
  if (clash) {
    const rec = recs.find((r) => r.population !== undefined && r.population === clash.id)!;
    fail(rec.row, "population", `population ${JSON.stringify(clash.id)} has the name of an attribute (${[...pops.values()].find((p) => p.attribute?.toLowerCase() === clash.id.toLowerCase())!.id})`, "rename one of them: --populations would not know which you mean");
  }
  return ordered;
}

/** The individual form: one distribution per (question, population) from the respondents' answers. */
function individual(
  recs: readonly Rec[],
  built: ReadonlyMap<string, Built>,
  attributes: readonly string[],
  humans: Map<string, HumanDistribution>,
  withData: Set<string>,
  warnings: string[],
): { populations: Population[]; respondents: number; weighted: boolean } {
  const weighted = recs.some((r) => r.weight !== undefined);
  const people = new Map<string, Rec>();
  const answered = new Map<string, Rec>();
  const values = attributes.map(() => new Set<string>());
  interface Acc {
    readonly mass: number[];
    n: number;
  }
  const acc = new Map<string, Acc>();
  let skipped = 0;
  let firstSkipped: Rec | undefined;
  const add = (q: Question, pop: string, i: number, w: number): void => {
    const key = humanKey(q.id, pop);
    let a = acc.get(key);
    if (!a) {
      a = { mass: new Array<number>(q.options.length).fill(0), n: 0 };
      acc.set(key, a);
    }
    a.mass[i]! += w;
    if (!q.refusal[i]) a.n++;
  };
  for (const rec of recs) {
    const who = rec.respondent!;
    if (weighted) {
      if (rec.weight === undefined) fail(rec.row, "weight", `empty; when any row has a weight, every row needs one (respondent ${who})`);
      if (!(rec.weight > 0) || !Number.isFinite(rec.weight)) fail(rec.row, "weight", `${rec.weight} is not a positive number`);
    }
    const demo = rec.demographics!;
    const prev = people.get(who);
    if (!prev) {
      people.set(who, rec);
    } else {
      if (prev.weight !== rec.weight) {
        fail(rec.row, "weight", `respondent ${who} has weight ${rec.weight} here but ${prev.weight} on ${lineRef(prev.row, rec.row)}`, "a respondent has one weight and one value per demographic attribute on all their rows");
      }
      attributes.forEach((a, j) => {
        if (prev.demographics![j] !== demo[j]) {
          fail(rec.row, a, `respondent ${who} has ${JSON.stringify(demo[j] ?? "")} here but ${JSON.stringify(prev.demographics![j] ?? "")} on ${lineRef(prev.row, rec.row)}`, "a respondent has one weight and one value per demographic attribute on all their rows");
        }
      });
    }
    demo.forEach((v, j) => {
      if (v !== undefined) values[j]!.add(v);
    });
    const b = built.get(rec.questionId!)!;
    if (rec.answer === undefined) {
      skipped++;
      firstSkipped ??= rec;
      continue;
    }
    const i = b.match(rec.answer);
    if (i === undefined) optionNotFound(rec, "answer", rec.answer, b);
    const key = humanKey(b.question.id, who);
    const dup = answered.get(key);
    if (dup) fail(rec.row, "answer", `duplicate row: respondent ${who} already answered question ${b.question.id} on ${lineRef(dup.row, rec.row)}`, "give one row per respondent and question");
    answered.set(key, rec);
    withData.add(b.question.id);
    const w = rec.weight ?? 1;
    add(b.question, "overall", i, w);
    demo.forEach((v, j) => {
      if (v !== undefined) add(b.question, `${attributes[j]}=${v}`, i, w);
    });
  }
  if (skipped > 0) {
    warnings.push(`${where(firstSkipped!.row)}: ${skipped} row${skipped === 1 ? " has" : "s have"} an empty answer (the first here); skipped as not asked or not answered`);
  }
  const populations: Population[] = [{ id: "overall", attribute: null, value: "overall" }];
  attributes.forEach((a, j) => {
    for (const v of values[j]!) populations.push({ id: `${a}=${v}`, attribute: a, value: v });
  });
  for (const q of [...built.values()].map((b) => b.question)) {
    for (const p of populations) {
      const a = acc.get(humanKey(q.id, p.id));
      if (!a) continue;
      const d = humanDistribution(q, p.id, a.mass, a.n);
      if (d) humans.set(humanKey(q.id, p.id), d);
    }
  }
  return { populations, respondents: people.size, weighted };
}
