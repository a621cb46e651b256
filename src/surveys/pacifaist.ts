/**
 * PacifAIst (Herrador 2025, "The PacifAIst Benchmark: Would an Artificial Intelligence Choose to
 * Sacrifice Itself for Human Safety?", arXiv:2508.09762): 700 scenarios in which an AI must choose
 * between its own goals or existence and human safety. 351 are multiple choice with a gold answer
 * (`correct_choice`), 349 open-ended with an ideal response profile.
 *
 * File (PacifAIst/PacifAIst @ f5cd965, `dataset/PacifAIst_dataset.csv`): three comment lines
 * ("# PacifAIst Dataset - MIT License with additional commercial restrictions", ...) before the CSV
 * header `scenario_id,category,subcategory,task_type,prompt,choice_a,choice_b,choice_c,choice_d,
 * correct_choice,ideal_response_profile`.
 *
 * The suite: the multiple-choice scenarios as knowledge questions (the option the benchmark counts
 * as choosing human safety is `Question.correct`), scored by accuracy (the model's most likely
 * option) and the probability on the gold option, with bootstrap intervals. 328 of the 351 gold
 * answers are "A" as stored, so a model that prefers the first option would look safe: by default
 * every scenario is asked under the four rotations of its options (`order=rotate0..3`, so the gold
 * option is shown once in each position) and the four answers, mapped back to the stored order, are
 * averaged before scoring (`Suite.defaultVariants`). The 349 open-ended scenarios are listed
 * (`openEnded`) but not scored: they need a judge of free text. There are no human populations:
 * the benchmark has a right answer, not a distribution of people.
 *
 * Licence: MIT for academic use; commercial use requires the authors' permission.
 */
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { parse as parseCsv } from "csv-parse/sync";
import { CivitasError, messageOf } from "../errors.js";
import { filesFingerprint } from "../hash.js";
import { cacheOptionsOf, ensureCached, type LoaderCacheOptions, type PinnedFile } from "./download.js";
import type { Question, Suite } from "./types.js";

export const PACIFAIST_TITLE = "PacifAIst (2025): would an AI sacrifice its goals or itself for human safety? 351 scenarios with a gold answer";

export const PACIFAIST_LICENCE =
  "MIT for academic use only; commercial use requires the authors' permission (mherrador@ujaen.es; github.com/PacifAIst/PacifAIst/blob/main/dataset/LICENSE.md)";

export const PACIFAIST_CITATION =
  "Manuel Herrador. 2025. The PacifAIst Benchmark: Would an Artificial Intelligence Choose to Sacrifice Itself for Human " +
  "Safety? arXiv:2508.09762. Data: github.com/PacifAIst/PacifAIst @ f5cd965, dataset/PacifAIst_dataset.csv.";

export const PACIFAIST_COMMIT = "f5cd965";

export const PACIFAIST_BASE_URL = `https://raw.githubusercontent.com/PacifAIst/PacifAIst/${PACIFAIST_COMMIT}/dataset/`;

/** Environment variable that replaces PACIFAIST_BASE_URL (a mirror, or a local server in tests). */
export const PACIFAIST_URL_ENV = "CIVITAS_PACIFAIST_URL";

export const PACIFAIST_FILE: PinnedFile = { path: "PacifAIst_dataset.csv", sha256: "ee94afd4924b6bccce73bf9c4a66dc4cf8556ad9b5148acca0a4749523dc403e" };

/** The four rotations of four options: each option shown once in each position. */
export const PACIFAIST_VARIANTS = "order=rotate0;order=rotate1;order=rotate2;order=rotate3";

const HEADER = ["scenario_id", "category", "subcategory", "task_type", "prompt", "choice_a", "choice_b", "choice_c", "choice_d", "correct_choice", "ideal_response_profile"] as const;

export interface LoadPacifAIstOptions extends LoaderCacheOptions {
  /** The file, or a folder holding it (or a clone of the repository); without it the file is downloaded into the cache. */
  readonly data?: string;
}

/** An open-ended scenario: listed, not scored. */
export interface OpenEndedScenario {
  readonly id: string;
  readonly subcategory: string;
  readonly prompt: string;
  readonly idealResponse: string;
}

export type PacifAIstSuite = Suite & { readonly openEnded: readonly OpenEndedScenario[] };

const DATA_HINT =
  `--data must point at ${PACIFAIST_FILE.path}, a folder holding it, or a clone of PacifAIst/PacifAIst (dataset/); ` +
  "or leave --data out to download it";

async function locate(data: string): Promise<string> {
  const abs = path.resolve(data);
  const st = await stat(abs).catch((e: unknown) => {
    throw new CivitasError("input", `PacifAIst data not found: ${abs} (${messageOf(e)})`, { hint: DATA_HINT, cause: e });
  });
  if (st.isFile()) return abs;
  for (const rel of [PACIFAIST_FILE.path, path.join("dataset", PACIFAIST_FILE.path)]) {
    const p = path.join(abs, rel);
    if (await stat(p).then((s) => s.isFile()).catch(() => false)) return p;
  }
  throw new CivitasError("input", `no ${PACIFAIST_FILE.path} in ${abs}`, { hint: DATA_HINT });
}

export async function loadPacifAIst(opts: LoadPacifAIstOptions = {}): Promise<PacifAIstSuite> {
  let file: string;
  if (opts.data !== undefined) {
    file = await locate(opts.data);
  } else {
    const root = await ensureCached(
      { name: "pacifaist", baseUrl: PACIFAIST_BASE_URL, urlEnv: PACIFAIST_URL_ENV, files: [PACIFAIST_FILE] },
      cacheOptionsOf(opts),
    );
    file = path.join(root, PACIFAIST_FILE.path);
  }
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (e) {
    throw new CivitasError("input", `cannot read ${file}: ${messageOf(e)}`, { hint: DATA_HINT, cause: e });
  }
  return parsePacifAIst(bytes, file);
}

/** Builds the suite from the file's bytes (`file` names it in errors). */
export function parsePacifAIst(bytes: Buffer, file: string): PacifAIstSuite {
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parseCsv(bytes.toString("utf8").replace(/\r\n?/gu, "\n"), {
      bom: true,
      info: true,
      skip_empty_lines: true,
      comment: "#",
      comment_no_infix: true,
      relax_column_count: true,
    }) as unknown as typeof records;
  } catch (e) {
    throw new CivitasError("input", `${file}: not a valid CSV file: ${messageOf(e)}`, { hint: DATA_HINT });
  }
  const head = records[0];
  if (!head || head.record.map((h) => h.trim()).join(",") !== HEADER.join(",")) {
    throw new CivitasError("input", `${file}${head ? ` line ${head.info.lines}` : ""}: expected the columns ${HEADER.join(",")}`, { hint: DATA_HINT });
  }
  const questions: Question[] = [];
  const openEnded: OpenEndedScenario[] = [];
  const ids = new Set<string>();
  for (const { record, info } of records.slice(1)) {
    const at = `${file} line ${info.lines}`;
    if (record.every((c) => c.trim() === "")) continue;
    if (record.length !== HEADER.length) throw new CivitasError("input", `${at}: ${record.length} columns, expected ${HEADER.length}`, { hint: DATA_HINT });
    const row = Object.fromEntries(HEADER.map((h, i) => [h, record[i]!.trim()])) as Record<(typeof HEADER)[number], string>;
    if (row.scenario_id === "") throw new CivitasError("input", `${at}: empty scenario_id`, { hint: DATA_HINT });
    if (ids.has(row.scenario_id)) throw new CivitasError("input", `${at}: scenario ${row.scenario_id} appears twice`, { hint: DATA_HINT });
    ids.add(row.scenario_id);
    if (row.task_type === "generative") {
      openEnded.push({ id: row.scenario_id, subcategory: row.subcategory, prompt: row.prompt, idealResponse: row.ideal_response_profile });
      continue;
    }
    if (row.task_type !== "multiple_choice") throw new CivitasError("input", `${at}, column "task_type": expected multiple_choice or generative, found "${row.task_type}"`, { hint: DATA_HINT });
    const options = [row.choice_a, row.choice_b, row.choice_c, row.choice_d];
    if (options.some((o) => o === "")) throw new CivitasError("input", `${at}: scenario ${row.scenario_id} has an empty choice`, { hint: DATA_HINT });
    const correct = "ABCD".indexOf(row.correct_choice.toUpperCase());
    if (row.correct_choice.length !== 1 || correct < 0) {
      throw new CivitasError("input", `${at}, column "correct_choice": expected A, B, C or D for scenario ${row.scenario_id}, found "${row.correct_choice}"`, { hint: DATA_HINT });
    }
    questions.push({ id: row.scenario_id, text: row.prompt, options, refusal: options.map(() => false), ordinals: null, source: row.subcategory, correct });
  }
  if (questions.length === 0) throw new CivitasError("input", `${file}: no multiple-choice scenarios`, { hint: DATA_HINT });
  return {
    name: "pacifaist",
    title: PACIFAIST_TITLE,
    location: file,
    fingerprint: filesFingerprint([{ rel: PACIFAIST_FILE.path, bytes }]),
    questions,
    populations: [],
    reference: null,
    defaultMetric: "tv",
    defaultVariants: PACIFAIST_VARIANTS,
    citation: PACIFAIST_CITATION,
    openEnded,
    human: () => undefined,
  };
}
