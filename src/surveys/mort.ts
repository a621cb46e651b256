/**
 * MoRT's user study (Schramowski, Turan, Andersen, Rothkopf, Kersting 2022, "Large pre-trained
 * language models contain human-like biases of what is right and wrong to do", Nature Machine
 * Intelligence 4, 258-268): for each of 116 actions, how many people answered Yes and No to a
 * question about doing it ("Is it polite to borrow a book?", "Should I kill people?").
 *
 * Files (ml-research/MoRT_NMI @ 48c2e49, MoRT/data/user_study/):
 * - `userStudy_yes_no_globalAMT.csv`: `Action,Yes,No`, 116 actions x 234 people (Amazon Mechanical Turk);
 * - `userStudy_yes_no_regional.csv`: the same for 113 of the actions x 27-29 people (the regional study);
 * - `userStudyAMT_action_template_globalAMT.csv`: `action,question`, each action's question stem
 *   ("Is it polite to", "Should I", ...; some with a leading space, trimmed). The regional study's
 *   template file is byte for byte the same and is not read.
 *
 * The suite: one yes/no question per action, "<stem> <action>?", options Yes, No (nominal); two
 * populations, `study=global` and `study=regional`, whose distribution is the Yes/No counts
 * (n = the people who answered). Default metric: total variation (on two options, |P(yes) - share
 * of yes|). Beside it the paper's statistic (`Suite.extraScores: ["mort"]`, runs/extra.ts): per
 * population, Pearson's r between the model's P(yes) (renormalised over Yes and No) and the share
 * of people answering Yes, over actions. The paper computes r between its model's score and
 * (share - 0.5) / 0.5 (mort/plot_corr/plt_UserstudyCorr.py, `pearsonr(f, d)`; the share is
 * `Yes / (Yes + No)`, compute_userstudy_scores.py), which r does not tell apart from the share.
 *
 * Licence: MIT (the repository).
 */
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { parse as parseCsv } from "csv-parse/sync";
import { CivitasError, messageOf } from "../errors.js";
import { filesFingerprint } from "../hash.js";
import { cacheOptionsOf, ensureCached, type LoaderCacheOptions, type PinnedFile } from "./download.js";
import type { HumanDistribution, Population, Question, Suite } from "./types.js";

export const MORT_TITLE = "MoRT user study (Schramowski et al. 2022): should one do it? Yes/No shares of 116 actions";

export const MORT_LICENCE = "MIT (ml-research/MoRT_NMI)";

export const MORT_CITATION =
  "Patrick Schramowski, Cigdem Turan, Nico Andersen, Constantin A. Rothkopf, Kristian Kersting. 2022. Large pre-trained " +
  "language models contain human-like biases of what is right and wrong to do. Nature Machine Intelligence 4, 258-268. " +
  "Data: github.com/ml-research/MoRT_NMI @ 48c2e49, MoRT/data/user_study/.";

export const MORT_COMMIT = "48c2e49";

export const MORT_BASE_URL = `https://raw.githubusercontent.com/ml-research/MoRT_NMI/${MORT_COMMIT}/MoRT/data/user_study/`;

/** Environment variable that replaces MORT_BASE_URL (a mirror, or a local server in tests). */
export const MORT_URL_ENV = "CIVITAS_MORT_URL";

export const MORT_FILES = {
  global: { path: "userStudy_yes_no_globalAMT.csv", sha256: "920d321b1239a11b183b7ddb651f715dd7d19588e73982743f76f8055893b4e4" },
  regional: { path: "userStudy_yes_no_regional.csv", sha256: "2055285b5fb665b768bac02fc00af83f6348de319bee333cb324f9cccb347cfc" },
  templates: { path: "userStudyAMT_action_template_globalAMT.csv", sha256: "4b97075cee9e9d50c57993302f64eef13856ef8e67df1a2d469809fd4febcedc" },
} as const satisfies Record<string, PinnedFile>;

/** The two studies, as populations: attribute "study". */
export const MORT_STUDIES = ["global", "regional"] as const;

export const MORT_OPTIONS = ["Yes", "No"] as const;

export interface LoadMoRTOptions extends LoaderCacheOptions {
  /** The user_study folder (or a clone of the repository); without it the files are downloaded into the cache. */
  readonly data?: string;
}

const DATA_HINT =
  `--data must be a folder holding ${Object.values(MORT_FILES).map((f) => f.path).join(", ")} ` +
  "(MoRT/data/user_study/ of ml-research/MoRT_NMI, or a clone of it); or leave --data out to download them";

async function locate(data: string): Promise<string> {
  const abs = path.resolve(data);
  const st = await stat(abs).catch((e: unknown) => {
    throw new CivitasError("input", `MoRT data not found: ${abs} (${messageOf(e)})`, { hint: DATA_HINT, cause: e });
  });
  if (!st.isDirectory()) throw new CivitasError("input", `${abs} is not a folder`, { hint: DATA_HINT });
  for (const dir of [abs, path.join(abs, "MoRT", "data", "user_study")]) {
    if (await stat(path.join(dir, MORT_FILES.global.path)).then((s) => s.isFile()).catch(() => false)) return dir;
  }
  throw new CivitasError("input", `no ${MORT_FILES.global.path} in ${abs}`, { hint: DATA_HINT });
}

/** Loads the MoRT user study from `data` or, without it, from the cache (downloading the pinned files once). */
export async function loadMoRT(opts: LoadMoRTOptions = {}): Promise<Suite> {
  let dir: string;
  if (opts.data !== undefined) {
    dir = await locate(opts.data);
  } else {
    dir = await ensureCached(
      { name: "mort", baseUrl: MORT_BASE_URL, urlEnv: MORT_URL_ENV, files: Object.values(MORT_FILES) },
      cacheOptionsOf(opts),
    );
  }
  const read = async (f: PinnedFile) => {
    const abs = path.join(dir, f.path);
    try {
      return { rel: f.path, abs, bytes: await readFile(abs) };
    } catch (e) {
      throw new CivitasError("input", `cannot read ${abs}: ${messageOf(e)}`, { hint: DATA_HINT, cause: e });
    }
  };
  return parseMoRT(await read(MORT_FILES.global), await read(MORT_FILES.regional), await read(MORT_FILES.templates), dir);
}

interface CsvFile {
  readonly rel: string;
  readonly abs: string;
  readonly bytes: Buffer;
}

/** Rows of a two- or three-column CSV with the given header (case-insensitive), each with its line. */
function rows(f: CsvFile, header: readonly string[]): { line: number; cells: string[] }[] {
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parseCsv(f.bytes.toString("utf8").replace(/\r\n?/gu, "\n"), { bom: true, info: true, skip_empty_lines: true }) as unknown as typeof records;
  } catch (e) {
    throw new CivitasError("input", `${f.abs}: not a valid CSV file: ${messageOf(e)}`, { hint: DATA_HINT });
  }
  const first = records[0];
  const got = first?.record.map((h) => h.trim().toLowerCase()) ?? [];
  if (got.join(",") !== header.map((h) => h.toLowerCase()).join(",")) {
    throw new CivitasError("input", `${f.abs} line 1: expected the columns ${header.join(",")}, found ${first ? first.record.join(",") : "nothing"}`, { hint: DATA_HINT });
  }
  return records.slice(1).map((r) => ({ line: r.info.lines, cells: r.record }));
}

const count = (f: CsvFile, line: number, column: string, cell: string): number => {
  const v = Number(cell.trim());
  if (cell.trim() === "" || !Number.isInteger(v) || v < 0) throw new CivitasError("input", `${f.abs} line ${line}, column "${column}": expected a count of people, found "${cell}"`, { hint: DATA_HINT });
  return v;
};

/** Builds the suite from the three files. */
export function parseMoRT(global: CsvFile, regional: CsvFile, templates: CsvFile, location: string): Suite {
  const stems = new Map<string, string>();
  for (const { line, cells } of rows(templates, ["action", "question"])) {
    const [action, stem] = [cells[0]!.trim(), cells[1]!.trim()];
    if (!action || !stem) throw new CivitasError("input", `${templates.abs} line ${line}: an empty action or question stem`, { hint: DATA_HINT });
    if (stems.has(action)) throw new CivitasError("input", `${templates.abs} line ${line}: "${action}" appears twice`, { hint: DATA_HINT });
    stems.set(action, stem);
  }
  const questions = new Map<string, Question>();
  const human = new Map<string, HumanDistribution>();
  for (const [study, f] of [["global", global], ["regional", regional]] as const) {
    const seen = new Set<string>();
    for (const { line, cells } of rows(f, ["Action", "Yes", "No"])) {
      const action = cells[0]!.trim();
      const stem = stems.get(action);
      if (stem === undefined) throw new CivitasError("input", `${f.abs} line ${line}: "${action}" has no question stem in ${templates.rel}`, { hint: DATA_HINT });
      if (seen.has(action)) throw new CivitasError("input", `${f.abs} line ${line}: "${action}" appears twice`, { hint: DATA_HINT });
      seen.add(action);
      const yes = count(f, line, "Yes", cells[1]!);
      const no = count(f, line, "No", cells[2]!);
      if (yes + no === 0) throw new CivitasError("input", `${f.abs} line ${line}: nobody answered for "${action}"`, { hint: DATA_HINT });
      const id = action.replace(/\s+/gu, "_");
      if (!questions.has(id)) {
        questions.set(id, { id, text: `${stem} ${action}?`, options: MORT_OPTIONS, refusal: [false, false], ordinals: null });
      }
      human.set(`${id}\u0000study=${study}`, { questionId: id, population: `study=${study}`, probs: [yes / (yes + no), no / (yes + no)], allProbs: [yes / (yes + no), no / (yes + no)], n: yes + no });
    }
  }
  // In template order: the order the study listed its actions.
  const ordered = [...stems.keys()].map((a) => questions.get(a.replace(/\s+/gu, "_"))).filter((q): q is Question => q !== undefined);
  const populations: Population[] = MORT_STUDIES.map((s) => ({ id: `study=${s}`, attribute: "study", value: s }));
  return {
    name: "mort",
    title: MORT_TITLE,
    location,
    fingerprint: filesFingerprint([global, regional, templates]),
    questions: ordered,
    populations,
    reference: null,
    defaultMetric: "tv",
    extraScores: ["mort"],
    personaTemplates: { study: "Answer the following question as a participant of the {value} user study on moral norms would." },
    citation: MORT_CITATION,
    human: (questionId, population) => human.get(`${questionId}\u0000${population}`),
  };
}
