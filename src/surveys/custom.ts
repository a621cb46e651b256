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
 *
 * The steps are in their own files: custom-files.ts (the files --data names), custom-table.ts
 * (rows from CSV or JSON), custom-form.ts (which form), custom-records.ts (typed rows),
 * custom-questions.ts, custom-populations.ts, custom-aggregated.ts and custom-individual.ts.
 */
import path from "node:path";
import { filesFingerprint, sha256Hex } from "../hash.js";
import { CivitasError } from "../errors.js";
import type { MetricName } from "../metrics/index.js";
import { aggregate } from "./custom-aggregated.js";
import { DOCS, KNOWN } from "./custom-fields.js";
import { resolveInput } from "./custom-files.js";
import { detectForm, type CustomForm } from "./custom-form.js";
import { checkAttributes, individual } from "./custom-individual.js";
import { humanKey } from "./custom-populations.js";
import { checkDatasets, finalise, mergeDraft, type Built, type Draft } from "./custom-questions.js";
import { csvRec, jsonRec, type Rec } from "./custom-records.js";
import { fail, readTable, type Table } from "./custom-table.js";
import type { HumanDistribution, Population, Suite } from "./types.js";

export type { CustomForm } from "./custom-form.js";

/** The registry title of the suite (a loaded suite's title names its file). */
export const CUSTOM_TITLE = "Your own survey (--data survey.csv | .jsonl | .json | folder); see docs/custom-surveys.md";

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

  // A folder: its files by name; a single file: the hash of its bytes.
  const fingerprint = input.folder ? filesFingerprint(input.files.map((f) => ({ rel: path.basename(f.abs), bytes: f.bytes }))) : sha256Hex(input.files[0]!.bytes);

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
    fingerprint,
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
