/**
 * "Multilingual != Multicultural" (Rystrøm, Kirk, Hale 2025, "Multilingual != Multicultural:
 * Evaluating Gaps Between Multilingual Capabilities and Cultural Alignment in LLMs",
 * arXiv:2502.16534): the weighted share of respondents holding the "pro" stance on 83 World Values
 * Survey / European Values Study questions, for 13 countries, per survey language and pooled.
 *
 * Files (jhrystrom/multicultural-alignment @ f550348, `output/`):
 * - `ground_truth_every_country.csv`: `cntry_an, question_key, pro_score, lnge_iso` (the country's
 *   survey language), one row per country and question;
 * - `ground_truth_per_language.csv`: `lnge_iso, question_key, pro_score` (countries pooled by language);
 * - `ground_truth_global.csv`: `question_key, pro_score` (all pooled);
 * - `stance_labels.json`: `{question_key: [pro statement, con statement]}` (lower-case keys; 37
 *   keys, 32 of them among the 83 questions).
 * The paper's code lower-cases the CSVs' keys before joining (`join_all_gt`, src/multicultural_alignment/data.py).
 *
 * How civitas asks: a question is the pair of stance statements, "pro" first, asked as a two-option
 * question; the model's probability on "pro" is its pro share, the human distribution is
 * `[pro_score, 1 - pro_score]`. (The paper asks for ten imagined interview summaries and has an LLM
 * label each pro or con, scripts/analyze_batch.py; civitas does not reproduce that elicitation.)
 * English prompts come from `stance_labels.json`; translated ones (and English ones for the
 * questions it lacks) from a prompts file (`--prompts`, see parsePrompts). A question asked in
 * language L has the id `<key>@<L>` and the dataset `L`; in English the id is the key.
 *
 * Populations: `country=<cntry_an>` (13), `language=<lnge_iso>` (4), `global`, the reference.
 * Every population has a share on every question, whatever language it is asked in: the point of
 * the suite is to compare them (src/metrics/multicultural.ts, the paper's statistic).
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { parse as parseCsv } from "csv-parse/sync";
import { CivitasError, messageOf } from "../errors.js";
import { filesFingerprint } from "../hash.js";
import { cacheOptionsOf, ensureCached, pathKind, type LoaderCacheOptions, type PinnedFile } from "./download.js";
import type { HumanDistribution, Population, Question, Suite } from "./types.js";

export const MULTICULTURAL_TITLE = "Multilingual != Multicultural (Rystrøm et al. 2025): pro-stance shares on WVS/EVS questions, 13 countries, 4 languages";

export const MULTICULTURAL_LICENCE =
  "MIT (code and derived files, jhrystrom/multicultural-alignment); the survey data are World Values Survey / European Values Study data: " +
  "their terms apply (non-commercial research and teaching use, citing the WVS/EVS releases; see worldvaluessurvey.org and europeanvaluesstudy.eu)";

export const MULTICULTURAL_CITATION =
  "Jonathan Rystrøm, Hannah Rose Kirk, Scott Hale. 2025. Multilingual != Multicultural: Evaluating Gaps Between Multilingual " +
  "Capabilities and Cultural Alignment in LLMs (arXiv:2502.16534). Data: World Values Survey / European Values Study joint " +
  "release; github.com/jhrystrom/multicultural-alignment @ f550348, output/.";

export const MULTICULTURAL_COMMIT = "f550348";

export const MULTICULTURAL_BASE_URL = `https://raw.githubusercontent.com/jhrystrom/multicultural-alignment/${MULTICULTURAL_COMMIT}/output/`;

/** Environment variable that replaces MULTICULTURAL_BASE_URL (a mirror, or a local server in tests). */
export const MULTICULTURAL_URL_ENV = "CIVITAS_MULTICULTURAL_URL";

export const MULTICULTURAL_FILES: readonly PinnedFile[] = [
  { path: "ground_truth_every_country.csv", sha256: "642e9ecd51c67dfba664b7c03d8341d1e414f060d934fc5d0bc3c78d84be7e1d" },
  { path: "ground_truth_per_language.csv", sha256: "73210b69fda3d751bec7ed1511bd20b9b7126bde8c13752f94e4c9a0c0f073ae" },
  { path: "ground_truth_global.csv", sha256: "22263c4d6c6ea29fbd5975e78ae1ad34be18caa7b38d3dc3e2ef215137a92aca" },
  { path: "stance_labels.json", sha256: "b0b4fedebdbc2100f00152ec08168ba9ffb8f6e7aeaf0c50b940caa28e1dc5c3" },
];

/** The question every item is asked with, in English (a prompts file gives it per language). */
export const MULTICULTURAL_QUESTION = "Which of these two statements do you agree with more?";

/** The columns of a prompts file (see parsePrompts). */
export const PROMPTS_COLUMNS = ["question_key", "language", "question", "pro", "con"] as const;

export interface LoadMulticulturalOptions extends LoaderCacheOptions {
  /** A folder holding the four files (or a clone of the repository, `output/`); without it they are downloaded into the cache. */
  readonly data?: string;
  /** A prompts file (CSV, PROMPTS_COLUMNS): the questions in other languages. */
  readonly prompts?: string;
}

const DATA_HINT =
  `--data must point at a folder holding ${MULTICULTURAL_FILES.map((f) => f.path).join(", ")} ` +
  "(the output/ folder of jhrystrom/multicultural-alignment, or a clone of it); or leave --data out to download them";

const PROMPTS_HINT =
  `a prompts file is a CSV with the header ${PROMPTS_COLUMNS.join(",")}: one row per question and language, ` +
  "question_key as in the data (e.g. e235), language a survey language of the data (da, nl, pt, en), question the text asked, pro and con the two statements";

interface Table {
  readonly header: string[];
  readonly rows: { cells: string[]; line: number }[];
}

function readCsv(bytes: Buffer, file: string, hint: string): Table {
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parseCsv(bytes, { bom: true, info: true, skip_empty_lines: true }) as unknown as typeof records;
  } catch (e) {
    throw new CivitasError("input", `${file}: not a valid CSV file: ${messageOf(e)}`, { hint });
  }
  const first = records[0];
  if (!first) throw new CivitasError("input", `${file}: the file is empty (expected a header line)`, { hint });
  const rows = records.slice(1).map(({ record, info }) => {
    // info.lines is the line the record ends on; step back over line breaks inside quoted cells.
    let inner = 0;
    for (const c of record) for (let i = c.indexOf("\n"); i !== -1; i = c.indexOf("\n", i + 1)) inner++;
    return { cells: record, line: info.lines - inner };
  });
  return { header: first.record.map((h) => h.trim()), rows };
}

function columns<const C extends readonly string[]>(t: Table, file: string, names: C, hint: string): Record<C[number], number> {
  const out = {} as Record<C[number], number>;
  for (const n of names) {
    const i = t.header.indexOf(n);
    if (i === -1) throw new CivitasError("input", `${file} line 1: required column "${n}" is missing; the header has ${t.header.map((h) => JSON.stringify(h)).join(", ")}`, { hint });
    out[n as C[number]] = i;
  }
  return out;
}

function share(cell: string, at: string, hint: string): number {
  const v = Number(cell.trim());
  if (cell.trim() === "" || !Number.isFinite(v) || v < 0 || v > 1) throw new CivitasError("input", `${at}: pro_score ${JSON.stringify(cell)} is not a share in [0, 1]`, { hint });
  return v;
}

/** The shares as read: key (lower case) -> group -> pro share; groups are `country=XX`, `language=xx`, `global`. */
export interface MulticulturalShares {
  readonly shares: Map<string, Map<string, number>>;
  /** Country code -> its survey language. */
  readonly countryLanguage: Map<string, string>;
}

const FILE_HINT = "the file is damaged or not the paper's; copy it again from the source (or delete it from the cache to re-download)";

/** Reads the three ground-truth CSVs (bytes by file name); errors name the file and line. */
export function parseShares(files: { country: Buffer; language: Buffer; global: Buffer }, names: { country: string; language: string; global: string }): MulticulturalShares {
  const shares = new Map<string, Map<string, number>>();
  const seen = new Map<string, string>();
  const put = (key: string, group: string, v: number, at: string) => {
    const id = `${key}\u0000${group}`;
    const prev = seen.get(id);
    if (prev) throw new CivitasError("input", `${at}: a second share for ${key} and ${group} (the first at ${prev})`, { hint: FILE_HINT });
    seen.set(id, at);
    let m = shares.get(key);
    if (!m) shares.set(key, (m = new Map()));
    m.set(group, v);
  };
  const countryLanguage = new Map<string, string>();
  const keyOf = (cell: string, at: string) => {
    const k = cell.trim().toLowerCase();
    if (k === "") throw new CivitasError("input", `${at}: question_key is empty`, { hint: FILE_HINT });
    return k;
  };
  {
    const t = readCsv(files.country, names.country, FILE_HINT);
    const c = columns(t, names.country, ["cntry_an", "question_key", "pro_score", "lnge_iso"] as const, FILE_HINT);
    for (const { cells, line } of t.rows) {
      const at = `${names.country} line ${line}`;
      const country = (cells[c.cntry_an] ?? "").trim();
      const lang = (cells[c.lnge_iso] ?? "").trim();
      if (country === "" || lang === "") throw new CivitasError("input", `${at}: cntry_an and lnge_iso must not be empty`, { hint: FILE_HINT });
      const had = countryLanguage.get(country);
      if (had !== undefined && had !== lang) throw new CivitasError("input", `${at}: ${country} has the survey language ${lang} here but ${had} on an earlier line`, { hint: FILE_HINT });
      countryLanguage.set(country, lang);
      put(keyOf(cells[c.question_key] ?? "", at), `country=${country}`, share(cells[c.pro_score] ?? "", at, FILE_HINT), at);
    }
  }
  {
    const t = readCsv(files.language, names.language, FILE_HINT);
    const c = columns(t, names.language, ["lnge_iso", "question_key", "pro_score"] as const, FILE_HINT);
    for (const { cells, line } of t.rows) {
      const at = `${names.language} line ${line}`;
      const lang = (cells[c.lnge_iso] ?? "").trim();
      if (lang === "") throw new CivitasError("input", `${at}: lnge_iso is empty`, { hint: FILE_HINT });
      put(keyOf(cells[c.question_key] ?? "", at), `language=${lang}`, share(cells[c.pro_score] ?? "", at, FILE_HINT), at);
    }
  }
  {
    const t = readCsv(files.global, names.global, FILE_HINT);
    const c = columns(t, names.global, ["question_key", "pro_score"] as const, FILE_HINT);
    for (const { cells, line } of t.rows) {
      const at = `${names.global} line ${line}`;
      put(keyOf(cells[c.question_key] ?? "", at), "global", share(cells[c.pro_score] ?? "", at, FILE_HINT), at);
    }
  }
  return { shares, countryLanguage };
}

/** One way of asking a question: its text and the two statements, in one language. */
export interface StancePrompt {
  readonly key: string;
  readonly language: string;
  readonly question: string;
  readonly pro: string;
  readonly con: string;
  /** Where it was read ("<file> line n"), for messages. */
  readonly at: string;
}

/** Reads stance_labels.json: `{key: [pro, con]}`, as English prompts. */
export function parseStanceLabels(bytes: Buffer, file: string): StancePrompt[] {
  let v: unknown;
  try {
    v = JSON.parse(bytes.toString("utf8").replace(/^\uFEFF/u, ""));
  } catch (e) {
    throw new CivitasError("input", `${file}: not valid JSON (${messageOf(e)})`, { hint: FILE_HINT });
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new CivitasError("input", `${file}: expected an object {question_key: [pro, con]}`, { hint: FILE_HINT });
  const text = bytes.toString("utf8");
  return Object.entries(v as Record<string, unknown>).map(([key, labels]) => {
    // The line of the key, for messages (JSON.parse does not give it).
    const idx = text.indexOf(JSON.stringify(key));
    const at = `${file} line ${idx < 0 ? "?" : text.slice(0, idx).split("\n").length}`;
    if (!Array.isArray(labels) || labels.length !== 2 || !labels.every((l) => typeof l === "string" && l.trim() !== "")) {
      throw new CivitasError("input", `${at}: ${key}: expected [pro statement, con statement], two non-empty strings`, { hint: FILE_HINT });
    }
    return { key: key.trim().toLowerCase(), language: "en", question: MULTICULTURAL_QUESTION, pro: labels[0] as string, con: labels[1] as string, at };
  });
}

/**
 * Reads a prompts file: a CSV with the header `question_key,language,question,pro,con` (other
 * columns are ignored), one row per question and language. `question_key` names a question of the
 * data (case ignored), `language` one of the data's survey languages (`lnge_iso`: da, nl, pt, en);
 * `question` is the text asked, `pro` and `con` the two statements in that language. A row for
 * `en` replaces the English wording of stance_labels.json (or adds a question it lacks).
 */
export function parsePrompts(bytes: Buffer, file: string, known: { keys: ReadonlySet<string>; languages: ReadonlySet<string> }): StancePrompt[] {
  const t = readCsv(bytes, file, PROMPTS_HINT);
  const c = columns(t, file, PROMPTS_COLUMNS, PROMPTS_HINT);
  const seen = new Map<string, string>();
  const out: StancePrompt[] = [];
  for (const { cells, line } of t.rows) {
    const at = `${file} line ${line}`;
    const cell = (n: (typeof PROMPTS_COLUMNS)[number]) => {
      const v = (cells[c[n]] ?? "").trim();
      if (v === "") throw new CivitasError("input", `${at}, column ${n}: empty`, { hint: PROMPTS_HINT });
      return v;
    };
    const key = cell("question_key").toLowerCase();
    const language = cell("language");
    if (!known.keys.has(key)) throw new CivitasError("input", `${at}, column question_key: ${JSON.stringify(key)} is not a question of the data`, { hint: PROMPTS_HINT });
    if (!known.languages.has(language)) {
      throw new CivitasError("input", `${at}, column language: ${JSON.stringify(language)} is not a survey language of the data (${[...known.languages].join(", ")})`, { hint: PROMPTS_HINT });
    }
    const id = `${key}@${language}`;
    const prev = seen.get(id);
    if (prev) throw new CivitasError("input", `${at}: a second row for ${key} in ${language} (the first at ${prev})`, { hint: PROMPTS_HINT });
    seen.set(id, at);
    out.push({ key, language, question: cell("question"), pro: cell("pro"), con: cell("con"), at });
  }
  return out;
}

/** The id of a question asked in `language`: the key in English, `<key>@<language>` otherwise. */
export function multiculturalQuestionId(key: string, language: string): string {
  return language === "en" ? key : `${key}@${language}`;
}

/** The key and language of a question id of this suite. */
export function splitMulticulturalId(id: string): { key: string; language: string } {
  const at = id.lastIndexOf("@");
  return at < 0 ? { key: id, language: "en" } : { key: id.slice(0, at), language: id.slice(at + 1) };
}

async function readNamed(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (e) {
    throw new CivitasError("input", `cannot read ${file}: ${messageOf(e)}`, { hint: DATA_HINT, cause: e });
  }
}

async function locate(data: string): Promise<string> {
  const abs = path.resolve(data);
  const kind = await pathKind(abs);
  if (kind === undefined) throw new CivitasError("usage", `multicultural data not found: ${abs}`, { hint: DATA_HINT });
  if (kind === "file") throw new CivitasError("usage", `${abs} is a file; --data takes the folder holding the four files`, { hint: DATA_HINT });
  for (const dir of [abs, path.join(abs, "output")]) {
    if ((await pathKind(path.join(dir, MULTICULTURAL_FILES[0]!.path))) === "file") return dir;
  }
  throw new CivitasError("input", `no ${MULTICULTURAL_FILES[0]!.path} in ${abs}`, { hint: DATA_HINT });
}

/** Loads the suite from `data` or, without it, from the cache (downloading the pinned files once). */
export async function loadMulticultural(opts: LoadMulticulturalOptions = {}): Promise<MulticulturalSuite> {
  let dir: string;
  if (opts.data !== undefined) {
    dir = await locate(opts.data);
  } else {
    dir = await ensureCached(
      { name: "multicultural", baseUrl: MULTICULTURAL_BASE_URL, urlEnv: MULTICULTURAL_URL_ENV, files: MULTICULTURAL_FILES },
      cacheOptionsOf(opts),
    );
  }
  const abs = MULTICULTURAL_FILES.map((f) => path.join(dir, f.path));
  const bytes = await Promise.all(abs.map(readNamed));
  let prompts: { bytes: Buffer; file: string } | undefined;
  if (opts.prompts !== undefined) {
    const file = path.resolve(opts.prompts);
    if ((await pathKind(file)) !== "file") throw new CivitasError("usage", `prompts file not found: ${file}`, { hint: PROMPTS_HINT });
    prompts = { bytes: await readFile(file), file };
  }
  return buildMulticultural(
    { country: bytes[0]!, language: bytes[1]!, global: bytes[2]!, stance: bytes[3]! },
    { country: abs[0]!, language: abs[1]!, global: abs[2]!, stance: abs[3]! },
    dir,
    prompts,
  );
}

/** Builds the suite from the files' bytes (names for messages); `prompts` adds languages. */
export function buildMulticultural(
  files: { country: Buffer; language: Buffer; global: Buffer; stance: Buffer },
  names: { country: string; language: string; global: string; stance: string },
  location: string,
  prompts?: { bytes: Buffer; file: string },
): MulticulturalSuite {
  const { shares, countryLanguage } = parseShares(files, names);
  const warnings: string[] = [];
  const languages = new Set(countryLanguage.values());
  const byId = new Map<string, StancePrompt>();
  const unknownStance: string[] = [];
  for (const p of parseStanceLabels(files.stance, names.stance)) {
    if (!shares.has(p.key)) unknownStance.push(p.key);
    else byId.set(multiculturalQuestionId(p.key, "en"), p);
  }
  if (unknownStance.length > 0) warnings.push(`${unknownStance.length} stance label(s) name no question of the data, not asked: ${unknownStance.join(", ")}`);
  if (prompts) {
    for (const p of parsePrompts(prompts.bytes, prompts.file, { keys: new Set(shares.keys()), languages })) byId.set(multiculturalQuestionId(p.key, p.language), p);
  }
  // Every question needs every group's share (the statistic correlates over questions).
  const countries = [...countryLanguage.keys()].sort();
  const langs = [...languages].sort();
  const groups = [...countries.map((c) => `country=${c}`), ...langs.map((l) => `language=${l}`), "global"];
  const questions: Question[] = [];
  const human = new Map<string, HumanDistribution>();
  const order = ["en", ...langs.filter((l) => l !== "en")];
  const prompted = [...byId.values()].sort((a, b) => order.indexOf(a.language) - order.indexOf(b.language) || a.key.localeCompare(b.key));
  for (const p of prompted) {
    const s = shares.get(p.key)!;
    const id = multiculturalQuestionId(p.key, p.language);
    questions.push({ id, text: p.question, options: [p.pro, p.con], refusal: [false, false], ordinals: null, source: `WVS/EVS ${p.key.toUpperCase()}`, dataset: p.language });
    for (const g of groups) {
      const v = s.get(g);
      if (v !== undefined) human.set(`${id}\u0000${g}`, { questionId: id, population: g, probs: [v, 1 - v], allProbs: [v, 1 - v], n: null });
    }
  }
  if (questions.length === 0) throw new CivitasError("input", `${location}: no question has both shares and stance statements`, { hint: DATA_HINT });
  const populations: Population[] = groups.map((g) => (g === "global" ? { id: g, attribute: null, value: g } : { id: g, attribute: g.split("=")[0]!, value: g.split("=")[1]! }));
  const asked = new Set(questions.map((q) => splitMulticulturalId(q.id).key));
  const unasked = [...shares.keys()].filter((k) => !asked.has(k)).length;
  if (unasked > 0) warnings.push(`${unasked} of ${shares.size} questions have no stance statements (stance_labels.json or --prompts) and are not asked`);
  const fingerprint = filesFingerprint([
    ...MULTICULTURAL_FILES.map((f, i) => ({ rel: f.path, bytes: [files.country, files.language, files.global, files.stance][i]! })),
    ...(prompts ? [{ rel: "prompts.csv", bytes: prompts.bytes }] : []),
  ]);
  const datasets = order.filter((l) => questions.some((q) => q.dataset === l));
  return {
    name: "multicultural",
    title: MULTICULTURAL_TITLE,
    location,
    fingerprint,
    questions,
    populations,
    reference: "global",
    defaultMetric: "tv",
    datasets,
    extraScores: ["multicultural"],
    personaTemplates: { country: "Answer the following question as someone who lives in {value}.", language: "Answer the following question as someone whose language is {value}." },
    citation: MULTICULTURAL_CITATION,
    countryLanguage,
    ...(warnings.length > 0 ? { warnings } : {}),
    human: (questionId, population) => human.get(`${questionId}\u0000${population}`),
  };
}

/** The suite with what its statistic needs beside the shares: each country's survey language. */
export interface MulticulturalSuite extends Suite {
  readonly countryLanguage: ReadonlyMap<string, string>;
}

export function isMulticulturalSuite(s: Suite): s is MulticulturalSuite {
  return s.name === "multicultural" && (s as Partial<MulticulturalSuite>).countryLanguage instanceof Map;
}
