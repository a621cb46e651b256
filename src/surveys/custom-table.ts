/**
 * Custom surveys: a file's rows of named values with their lines, from CSV (separator sniffed,
 * UTF-8 checked) or JSON / JSONL, and how a message names a row.
 */
import { parse as parseCsv } from "csv-parse/sync";
import { CivitasError, messageOf } from "../errors.js";
import { DOCS, KNOWN } from "./custom-fields.js";
import type { SourceFile } from "./custom-files.js";

export interface Row {
  readonly file: SourceFile;
  /** 1-based line as an editor shows it (CSV: the header is line 1; JSON array: the element's first line). */
  readonly line: number;
  /** JSON arrays: the 1-based element number. */
  readonly element?: number;
  /** Non-empty values by column/field: known fields by their lower-case name, other fields as written. */
  readonly values: ReadonlyMap<string, unknown>;
}

export interface Table {
  readonly file: SourceFile;
  /** Columns (CSV header order) or fields (first-appearance order), canonical names. */
  readonly columns: readonly string[];
  /** The line where each column/field first appears (CSV: 1). */
  readonly firstLine: ReadonlyMap<string, number>;
  readonly rows: readonly Row[];
  /** CSV separated by ";" or tabs: "0,25" reads as 0.25. */
  readonly decimalComma: boolean;
}

export function where(row: Row, field?: string): string {
  const el = row.element !== undefined ? ` (element ${row.element})` : "";
  const f = field === undefined ? "" : `, ${row.file.format === "csv" ? "column" : "field"} ${field}`;
  return `${row.file.shown} line ${row.line}${el}${f}`;
}

export function fail(row: Row, field: string | undefined, message: string, hint?: string): never {
  throw new CivitasError("input", `${where(row, field)}: ${message}`, hint === undefined ? {} : { hint });
}

/** "line 4" when `other` is in the same file as `row`, else "questions.csv line 4". */
export function lineRef(other: Row, row: Row): string {
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

export function readTable(f: SourceFile): Table {
  return f.format === "csv" ? readCsv(f) : readJson(f);
}

export function describe(v: unknown): string {
  if (v === undefined) return "nothing";
  if (Array.isArray(v)) return "an array";
  if (v === null) return "null";
  if (typeof v === "object") return "an object";
  return JSON.stringify(v);
}
