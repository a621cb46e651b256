/**
 * Custom surveys: questions built from the rows that define them (given once or the same on every
 * row), their options, refusals, ordinals and correct answers checked, and answers matched to options.
 */
import type { SourceFile } from "./custom-files.js";
import type { Rec } from "./custom-records.js";
import { fail, lineRef, type Row } from "./custom-table.js";
import type { Question } from "./types.js";

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

interface Given<T> {
  readonly value: T;
  readonly rec: Rec;
}

export interface Draft {
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

export function mergeDraft(d: Draft, rec: Rec): void {
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

export interface Built {
  readonly question: Question;
  readonly draft: Draft;
  /** The option index of an answer/option text, or undefined. */
  match(text: string): number | undefined;
}

export function finalise(d: Draft, questionsFile: SourceFile | undefined): Built {
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

export function checkDatasets(all: readonly Built[]): void {
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

export function optionNotFound(rec: Rec, field: string, option: string, b: Built): never {
  fail(rec.row, field, `option ${JSON.stringify(option)} is not among the options of ${b.question.id} (${listText(b.question.options)})`);
}
