/**
 * Custom surveys: which form a file is in (aggregated, individual, questions only), detected
 * from its columns or fields.
 */
import { CivitasError } from "../errors.js";
import { AGG_CSV_FIELDS, AGG_JSON_FIELDS, AGG_MARKERS, DOCS, IND_MARKERS, KNOWN, LAYOUT_CSV, LAYOUT_JSON, QUESTION_FIELDS } from "./custom-fields.js";
import type { Table } from "./custom-table.js";

/** The layout detected: published distributions, one row per respondent and question, or questions only. */
export type CustomForm = "aggregated" | "individual" | "questions";

function fieldsText(t: Table): string {
  return t.columns.map((c) => JSON.stringify(c)).join(", ");
}

function layoutHint(t: Table): string {
  return `${t.file.format === "csv" ? LAYOUT_CSV : LAYOUT_JSON}; ${DOCS}`;
}

export function noun(t: Table): string {
  return t.file.format === "csv" ? "column" : "field";
}

/**
 * The form of a table from its columns. `role` says which file of a folder it is ("survey" for a
 * single file). Unknown columns are errors except in the individual form, where they are
 * demographic attributes.
 */
export function detectForm(t: Table, role: "survey" | "questions" | "responses"): CustomForm {
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
