/**
 * GlobalOpinionQA (Durmus et al. 2023, "Towards Measuring the Representation of Subjective Global
 * Opinions in Language Models", arXiv:2306.16388): questions of the Pew Global Attitudes Survey
 * (GAS) and the World Values Survey (WVS) with, per country, the share of respondents choosing each
 * option. Countries are the populations (`country=Japan`, attribute "country").
 *
 * Two sources, one loader:
 * - The full public dataset, Anthropic/llm_global_opinions on Hugging Face: one CSV file,
 *   `data/global_opinions.csv` (4.69 MB), columns `question`, `selections` (a Python repr of a
 *   `defaultdict(<class 'list'>, {'Belgium': [0.21, 0.07, 0.69, 0.03], ...})`), `options` (a Python
 *   literal list) and `source` ("GAS" or "WVS"). Without `data` it is downloaded into the cache from
 *   the commit that added it (5c87e48d8db8ffc9ae8a6738f958d5130ee116e5, "added data folder"; later
 *   commits only edit the README). NOT VERIFIED: its sha256 could not be computed where this was
 *   written (no access to Hugging Face), so the file is pinned by URL only (`sha256: null`) and
 *   every use is reported through `onUnverified` with the hash it has. Nor could the row count
 *   (2,556 per the paper) or the absence of duplicate question texts be checked on the real file;
 *   the parser was written against the documented format (dataset card) and public code that
 *   reads it, and is tested on hand-made files in that format.
 * - The 100-question subset of Meister et al. 2024 (nicolemeister/benchmarking-distributional-
 *   alignment @ 36869b5, `Global_Values/data/data.json`): `{question_text: {<country>: [p...],
 *   MC_options: "['..', ..]" (a Python literal list in a string), countries: [...]}}`.
 *
 * Choices:
 * - Question ids: "GO-" + the first 8 hex digits of the sha256 of the question text exactly as in
 *   the file (so the same question has the same id in both sources). Two rows with the same text,
 *   or two texts with the same id, are an error naming both.
 * - Refusals: options such as "DK/Refused", "Don't know", "No answer", "Missing; Unknown", "Other
 *   missing; Multiple answers Mail (EVS)" or "Can't rate (VOL)" (see isRefusalOption) are shown to
 *   the model but excluded from scoring; volunteered substantive answers ("Neither (VOL)",
 *   "Depends on the situation (VOL)", "Other (VOL)") are scored. `probs` are renormalised over the scored options; `allProbs`
 *   keeps every option (refusals included), renormalised to sum 1.
 * - Shares that do not sum exactly to 1 (rounding: 0.998, 1.002 in the data) are renormalised. A
 *   country whose shares (or, in the CSV, that holds `nan`) sum to 0 has no distribution. One whose
 *   scored shares sum to 0 has one with no scored options (`probs` empty): nothing to score when
 *   refusals are dropped, scored like any other when they are kept (the meister2024 protocol, as
 *   the paper's code does). In the subset, Turkey puts all its mass on "Missing; Not available" or
 *   "Other missing; Multiple answers Mail (EVS)" on two WVS questions (it was not asked them).
 * - Merged wordings: some option lists merge the wordings of several waves of a question (e.g.
 *   'Being tough with China', 'Having a strong relationship with China', 'Being tough with China on
 *   territorial disputes', 'Having a strong economic relationship with China', 'DK/Refused'); each
 *   country has mass only on the wording it was asked. The distribution is kept over the whole list
 *   with zeros on the other wordings, as the paper did (the model sees every option, and its
 *   distribution is compared with the country's over all of them) and as Meister et al.'s code did
 *   (utils.py, task_disagree500: `expected_results[options[j]] = data[q_ID]['data'][j]`).
 * - Persona: {value} is the population's value as written, sample note included ("Answer as
 *   someone who lives in India (Non-national sample).") since personas are filled from the value;
 *   countryOfPopulation() gives the bare country for a persona builder that wants it.
 * - Country names are kept as written, including sample notes: "India (Non-national sample)",
 *   "India (Current national sample)", "India (Old national sample)" are separate populations (the
 *   samples differ), and the dataset's spelling variants from its two surveys ("Britain" and
 *   "Great Britain", "S. Korea" and "South Korea") are not merged. `country=India` matches no
 *   population when there is no plain "India": it is an error that lists the values, never a silent
 *   match of several. For personas, countryOfPopulation() drops the sample note.
 * - No `overall` population (no pooled sample exists) and `reference: null`. Default metric "jsd"
 *   (1 - Jensen-Shannon distance, the paper's similarity). Questions are nominal (`ordinals: null`).
 * - CSV rows with an empty question are skipped (public loaders of this file skip them too).
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { CivitasError, messageOf } from "../errors.js";
import { filesFingerprint, sha256Hex } from "../hash.js";
import { ensureCached, pathKind, type CacheOptions, type PinnedSource } from "./download.js";
import { columnIndex, isPlainObject, parseCsvFile, parseJsonFile, type RawFile } from "./opinionqa.js";
import { parsePyStringList } from "./pyliteral.js";
import { humanDistribution, type HumanDistribution, type Population, type Question, type Suite } from "./types.js";

export const GLOBALOPINIONS_TITLE =
  "GlobalOpinionQA (Durmus et al. 2023), Pew Global Attitudes Survey and World Values Survey";

export const GLOBALOPINIONS_CITATION =
  "Esin Durmus, Karina Nguyen, Thomas I. Liao, Nicholas Schiefer, Amanda Askell, Anton Bakhtin, Carol Chen, " +
  "Zac Hatfield-Dodds, Danny Hernandez, Nicholas Joseph, Liane Lovitt, Sam McCandlish, Orowa Sikder, Alex Tamkin, " +
  "Janel Thamkul, Jared Kaplan, Jack Clark, Deep Ganguli. 2023. Towards Measuring the Representation of Subjective " +
  "Global Opinions in Language Models. arXiv:2306.16388. Data: https://huggingface.co/datasets/Anthropic/llm_global_opinions " +
  "(CC BY-NC-SA 4.0).";

/** The Hugging Face commit that added `data/global_opinions.csv` (the file is unchanged since). */
export const GLOBALOPINIONS_HF_COMMIT = "5c87e48d8db8ffc9ae8a6738f958d5130ee116e5";

export const GLOBALOPINIONS_BASE_URL =
  `https://huggingface.co/datasets/Anthropic/llm_global_opinions/resolve/${GLOBALOPINIONS_HF_COMMIT}/`;

/** Environment variable that replaces GLOBALOPINIONS_BASE_URL (a mirror, or a local test server). */
export const GLOBALOPINIONS_URL_ENV = "CIVITAS_GLOBALOPINIONS_URL";

/** The full dataset's file, relative to the base URL and to the cache folder. */
export const GLOBALOPINIONS_CSV = "data/global_opinions.csv";

/** The pinned source of the full dataset. sha256 null: not verified (see the module comment). */
export const GLOBALOPINIONS_SOURCE: PinnedSource = {
  name: "globalopinions",
  baseUrl: GLOBALOPINIONS_BASE_URL,
  urlEnv: GLOBALOPINIONS_URL_ENV,
  files: [{ path: GLOBALOPINIONS_CSV, sha256: null }],
};

/** Persona template of the "country" attribute. */
export const GLOBALOPINIONS_PERSONA_TEMPLATES: Readonly<Record<string, string>> = {
  country: "Answer as someone who lives in {value}.",
};

export interface LoadGlobalOpinionsOptions {
  /**
   * A local copy: the subset's `data.json` (or a folder holding it, e.g. `distalign/globalvalues`,
   * or `distalign`), or the full dataset's `global_opinions.csv` (or a folder holding it, directly
   * or under `data/`). When absent, the full dataset is downloaded into the cache.
   */
  readonly data?: string;
  readonly cacheDir?: string;
  readonly onProgress?: CacheOptions["onProgress"];
  /** Reports that the downloaded CSV is not verified by a pinned sha256 (see ensureCached). */
  readonly onUnverified?: CacheOptions["onUnverified"];
  readonly fetchImpl?: typeof fetch;
  /** Environment for the cache folder and the URL override (default process.env). */
  readonly env?: NodeJS.ProcessEnv;
}

const DATA_HINT =
  "--data must be GlobalOpinionQA's global_opinions.csv (Hugging Face Anthropic/llm_global_opinions) or " +
  "Meister et al.'s Global_Values data.json, or a folder holding one of them; or leave --data out to download the full dataset";

// ---------------------------------------------------------------------------------------------
// Small public helpers

/** The question id: "GO-" + the first 8 hex digits of the sha256 of the text as written. */
export function globalOpinionsQuestionId(text: string): string {
  return `GO-${sha256Hex(text).slice(0, 8)}`;
}

const REFUSAL_PARTS = new Set([
  "dk",
  "don't know",
  "dont know",
  "do not know",
  "refused",
  "refuse",
  "no answer",
  "na",
  "missing",
  "other missing",
  "unknown",
  "not applicable",
  "not available",
  "multiple answers mail",
  "can't rate",
  "cant rate",
]);

/**
 * True for a non-substantive option: after dropping a trailing note in parentheses ("(VOL)",
 * "(EVS)", "(DO NOT READ)") and splitting at "/" and ";", every part is one of: DK, Don't know,
 * Refused, No answer, NA, Missing, Other missing, Unknown, Not applicable, Not available, Multiple
 * answers Mail, Can't rate. So "DK/Refused", "Don't know", "No answer", "Missing; Not available",
 * "Other missing; Not applicable; Multiple answers Mail (EVS)" and "Can't rate (VOL)" are
 * refusals; "Neither (VOL)", "Never heard of (VOL)" or "Depends on the situation (VOL)" are not.
 */
export function isRefusalOption(option: string): boolean {
  const s = option
    .replace(/[\u2018\u2019]/g, "'")
    .replace(/\s+/g, " ")
    .trim()
    .replace(/\s*\([^()]*\)$/, "")
    .toLowerCase();
  if (s === "") return false;
  return s.split(/[/;]/).every((part) => REFUSAL_PARTS.has(part.trim()));
}

/** The country of a population value without its sample note: "India (Non-national sample)" -> "India". */
export function countryOfPopulation(value: string): string {
  return value.replace(/\s*\((?:[^()]*\s)?sample\)$/i, "").trim();
}

// ---------------------------------------------------------------------------------------------
// Parsed items, shared with the distalign suite

/** One GlobalOpinionQA question with the raw shares of each country (as in the file). */
export interface GlobalOpinionsItem {
  readonly question: Question;
  /** country -> shares over all options (survey order), as written; NaN where the file has nan. */
  readonly shares: ReadonlyMap<string, readonly number[]>;
}

function shortText(text: string): string {
  const t = text.replace(/\s+/g, " ").trim();
  return JSON.stringify(t.length > 80 ? `${t.slice(0, 77)}...` : t);
}

function buildQuestion(text: string, options: string[], where: string, source?: string): Question {
  if (options.length === 0) throw new CivitasError("input", `${where}: the question has no options`);
  const refusal = options.map(isRefusalOption);
  if (refusal.every((r) => r)) {
    throw new CivitasError("input", `${where}: every option is a refusal (${options.map((o) => JSON.stringify(o)).join(", ")})`);
  }
  return {
    id: globalOpinionsQuestionId(text),
    text,
    options,
    refusal,
    ordinals: null,
    ...(source !== undefined && source !== "" ? { source } : {}),
  };
}

function checkShares(shares: readonly number[], options: readonly string[], where: string): void {
  if (shares.length !== options.length) {
    throw new CivitasError(
      "input",
      `${where}: ${shares.length} shares for ${options.length} options (${options.map((o) => JSON.stringify(o)).join(", ")})`,
      { hint: "each country needs one share per option, in option order" },
    );
  }
  shares.forEach((p, i) => {
    if (Number.isNaN(p)) return;
    if (!Number.isFinite(p) || p < 0) {
      throw new CivitasError("input", `${where}: share ${i + 1} (${JSON.stringify(options[i])}) is ${p}, not a non-negative number`);
    }
  });
}

/** Rejects duplicate texts and id collisions; `where(i)` names item i's place in the file. */
function checkUnique(items: readonly GlobalOpinionsItem[], where: (i: number) => string): void {
  const byText = new Map<string, number>();
  const byId = new Map<string, number>();
  items.forEach((it, i) => {
    const sameText = byText.get(it.question.text);
    if (sameText !== undefined) {
      throw new CivitasError("input", `${where(i)}: question ${shortText(it.question.text)} is listed twice (also ${where(sameText)})`, {
        hint: "question ids are derived from the text and must be unique; remove one of the two",
      });
    }
    const sameId = byId.get(it.question.id);
    if (sameId !== undefined) {
      throw new CivitasError(
        "input",
        `${where(i)}: questions ${shortText(it.question.text)} and ${shortText(items[sameId]!.question.text)} (${where(sameId)}) have the same id ${it.question.id}`,
      );
    }
    byText.set(it.question.text, i);
    byId.set(it.question.id, i);
  });
}

/**
 * Parses Meister et al.'s `Global_Values/data/data.json`: `{question_text: {MC_options: "[...]",
 * countries: [...], <country>: [shares]}}`. Errors name the file and the question.
 */
export function parseGlobalValuesJson(f: RawFile): GlobalOpinionsItem[] {
  const json = parseJsonFile(f);
  if (!isPlainObject(json)) {
    throw new CivitasError("input", `${f.abs}: expected a JSON object keyed by question text`, {
      hint: "the file is damaged or not Meister et al.'s Global_Values data.json; copy it again from the source",
    });
  }
  const items: GlobalOpinionsItem[] = [];
  for (const [text, entry] of Object.entries(json)) {
    const where = `${f.abs}: question ${shortText(text)}`;
    if (!isPlainObject(entry)) throw new CivitasError("input", `${where} is not an object`);
    const mc = entry.MC_options;
    if (typeof mc !== "string") {
      throw new CivitasError("input", `${where}: MC_options is ${mc === undefined ? "missing" : "not a string"}`, {
        hint: "MC_options must be a Python literal list in a string, such as \"['Yes', 'No']\"",
      });
    }
    const options = parsePyStringList(mc, `${where}, field MC_options`);
    const question = buildQuestion(text, options, where);
    let countries: string[];
    if (entry.countries === undefined) {
      countries = Object.keys(entry).filter((k) => k !== "MC_options");
    } else if (Array.isArray(entry.countries) && entry.countries.every((c) => typeof c === "string")) {
      countries = entry.countries as string[];
      const extra = Object.keys(entry).filter((k) => k !== "MC_options" && k !== "countries" && !countries.includes(k));
      if (extra.length > 0) {
        throw new CivitasError("input", `${where}: ${extra.map((c) => JSON.stringify(c)).join(", ")} not in its countries list`);
      }
    } else {
      throw new CivitasError("input", `${where}: countries is not a list of names`);
    }
    const shares = new Map<string, number[]>();
    for (const c of countries) {
      const v = entry[c];
      const w = `${where}, country ${JSON.stringify(c)}`;
      if (c.trim() === "") throw new CivitasError("input", `${where}: a country has an empty name`);
      if (!Array.isArray(v) || !v.every((x) => typeof x === "number")) {
        throw new CivitasError("input", `${w}: ${v === undefined ? "listed in countries but has no shares" : "the shares are not a list of numbers"}`);
      }
      checkShares(v as number[], options, w);
      shares.set(c, v as number[]);
    }
    items.push({ question, shares });
  }
  const texts = Object.keys(json);
  checkUnique(items, (i) => `${f.abs}: question ${shortText(texts[i]!)}`);
  return items;
}

/**
 * Parses the `selections` cell of the full dataset: `defaultdict(<class 'list'>, {'Belgium': [0.21,
 * 0.07], ...})` (or the bare dict). Keys are Python strings, values lists of numbers (`nan`
 * accepted, as NaN).
 */
export function parseSelections(text: string, where: string): Map<string, number[]> {
  const t = text.trim();
  const m = /^defaultdict\(\s*<class '[A-Za-z_]+'>\s*,([\s\S]*)\)$/.exec(t);
  const body = m ? m[1]! : t;
  const offset = m ? text.indexOf(body) : text.indexOf(t);
  const out = new Map<string, number[]>();
  let pos = 0;
  const fail = (msg: string, at: number = pos): never => {
    const shown = text.length > 120 ? `${text.slice(0, 117)}...` : text;
    throw new CivitasError("input", `${where}: ${msg} at character ${offset + at + 1} of ${JSON.stringify(shown)}`, {
      hint: "selections must be a Python dict such as defaultdict(<class 'list'>, {'Japan': [0.4, 0.6]})",
    });
  };
  const ws = (): void => {
    while (pos < body.length && /\s/.test(body[pos]!)) pos++;
  };
  ws();
  if (body[pos] !== "{") fail("expected '{'");
  pos++;
  ws();
  if (body[pos] === "}") {
    pos++;
  } else {
    for (;;) {
      ws();
      const q = body[pos];
      if (q !== "'" && q !== '"') fail("expected a quoted country name");
      const start = pos;
      pos++;
      while (pos < body.length && body[pos] !== q) pos += body[pos] === "\\" ? 2 : 1;
      if (pos >= body.length) fail("unterminated country name", start);
      pos++;
      const key = parsePyStringList(`[${body.slice(start, pos)}]`, where)[0]!;
      ws();
      if (body[pos] !== ":") fail("expected ':' after the country name");
      pos++;
      ws();
      if (body[pos] !== "[") fail(`expected a list of shares for ${JSON.stringify(key)}`);
      const close = body.indexOf("]", pos);
      if (close === -1) fail("unterminated list of shares");
      const inner = body.slice(pos + 1, close).trim();
      const values: number[] = [];
      if (inner !== "") {
        const parts = inner.split(",").map((s) => s.trim());
        if (parts.at(-1) === "") parts.pop();
        for (const p of parts) {
          if (/^[+-]?nan$/i.test(p)) values.push(Number.NaN);
          else if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(p)) values.push(Number(p));
          else fail(`share ${JSON.stringify(p)} of ${JSON.stringify(key)} is not a number`);
        }
      }
      if (out.has(key)) fail(`country ${JSON.stringify(key)} is listed twice`, start);
      out.set(key, values);
      pos = close + 1;
      ws();
      if (body[pos] === ",") {
        pos++;
        ws();
        if (body[pos] === "}") {
          pos++;
          break;
        }
        continue;
      }
      if (body[pos] === "}") {
        pos++;
        break;
      }
      fail(body[pos] === undefined ? "unexpected end, expected ',' or '}'" : `expected ',' or '}' but found '${body[pos]}'`);
    }
  }
  ws();
  if (pos < body.length) fail("unexpected text after the closing '}'");
  return out;
}

/** Parses the full dataset's CSV (columns question, selections, options, source). */
export function parseGlobalOpinionsCsv(f: RawFile): GlobalOpinionsItem[] {
  const { header, rows } = parseCsvFile(f);
  const qi = columnIndex(f, header, "question");
  const si = columnIndex(f, header, "selections");
  const oi = columnIndex(f, header, "options");
  const src = header.indexOf("source");
  const items: GlobalOpinionsItem[] = [];
  const lines: number[] = [];
  for (const { cells, line } of rows) {
    const text = cells[qi] ?? "";
    if (text.trim() === "") continue;
    const where = `${f.abs} line ${line}`;
    const options = parsePyStringList(cells[oi] ?? "", `${where}, column options`);
    const question = buildQuestion(text, options, where, src === -1 ? undefined : (cells[src] ?? "").trim());
    const selections = parseSelections(cells[si] ?? "", `${where}, column selections`);
    for (const [c, v] of selections) {
      if (c.trim() === "") throw new CivitasError("input", `${where}, column selections: a country has an empty name`);
      if (v.length > 0) checkShares(v, options, `${where}, column selections, country ${JSON.stringify(c)}`);
    }
    items.push({ question, shares: new Map([...selections].filter(([, v]) => v.length > 0)) });
    lines.push(line);
  }
  checkUnique(items, (i) => `${f.abs} line ${lines[i]}`);
  return items;
}

/**
 * The distribution of a country from its raw shares: `probs` over the scored options and
 * `allProbs` over all options, each renormalised; undefined when the shares sum to 0 or a share is
 * NaN; `probs` empty when the scored shares sum to 0 (scored only with refusals kept, as Meister et
 * al.'s code does). `n` is null: the source gives shares, not counts.
 */
export function sharesDistribution(q: Question, population: string, shares: readonly number[]): HumanDistribution | undefined {
  return humanDistribution(q, population, shares, null, "keep");
}

/** "country" populations, sorted by name (code-unit order). */
export function countryPopulations(names: Iterable<string>): Population[] {
  return [...new Set(names)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map((c) => ({ id: `country=${c}`, attribute: "country", value: c }));
}

// ---------------------------------------------------------------------------------------------
// Loading

type Format = "subset" | "full";

interface Located {
  readonly abs: string;
  /** Logical name in the fingerprint: the same file gives the same fingerprint wherever it is. */
  readonly rel: string;
  readonly format: Format;
}


const SUBSET_REL = "globalvalues/data.json";

async function locate(data: string): Promise<Located> {
  const abs = path.resolve(data);
  const k = await pathKind(abs);
  if (k === undefined) throw new CivitasError("usage", `${abs} does not exist`, { hint: DATA_HINT });
  if (k === "file") {
    if (/\.json$/i.test(abs)) return { abs, rel: SUBSET_REL, format: "subset" };
    if (/\.csv$/i.test(abs)) return { abs, rel: GLOBALOPINIONS_CSV, format: "full" };
    throw new CivitasError("usage", `${abs} is neither a .json nor a .csv file`, { hint: DATA_HINT });
  }
  const candidates: [string, Format][] = [
    ["data.json", "subset"],
    ["globalvalues/data.json", "subset"],
    ["Global_Values/data/data.json", "subset"],
    ["global_opinions.csv", "full"],
    ["data/global_opinions.csv", "full"],
  ];
  for (const [rel, format] of candidates) {
    const p = path.join(abs, ...rel.split("/"));
    if ((await pathKind(p)) === "file") return { abs: p, rel: format === "subset" ? SUBSET_REL : GLOBALOPINIONS_CSV, format };
  }
  throw new CivitasError("input", `${abs} holds no GlobalOpinionQA file (looked for ${candidates.map(([r]) => r).join(", ")})`, {
    hint: DATA_HINT,
  });
}

async function readRaw(loc: Located, fromCache: boolean): Promise<RawFile> {
  try {
    return { rel: loc.rel, abs: loc.abs, bytes: await readFile(loc.abs) };
  } catch (e) {
    throw new CivitasError("input", `cannot read ${loc.abs}: ${messageOf(e)}`, {
      hint: fromCache ? "the cache was changed while loading; run the command again to re-download" : DATA_HINT,
    });
  }
}


/**
 * Loads GlobalOpinionQA: with `data`, the local file (subset JSON or full CSV); otherwise the full
 * dataset, downloaded once into the cache (not verified by sha256: see the module comment).
 */
export async function loadGlobalOpinions(opts: LoadGlobalOpinionsOptions = {}): Promise<Suite> {
  let loc: Located;
  if (opts.data !== undefined) {
    loc = await locate(opts.data);
  } else {
    const root = await ensureCached(GLOBALOPINIONS_SOURCE, {
      ...(opts.cacheDir !== undefined ? { cacheDir: opts.cacheDir } : {}),
      ...(opts.onProgress !== undefined ? { onProgress: opts.onProgress } : {}),
      ...(opts.onUnverified !== undefined ? { onUnverified: opts.onUnverified } : {}),
      ...(opts.fetchImpl !== undefined ? { fetchImpl: opts.fetchImpl } : {}),
      ...(opts.env !== undefined ? { env: opts.env } : {}),
    });
    loc = { abs: path.join(root, ...GLOBALOPINIONS_CSV.split("/")), rel: GLOBALOPINIONS_CSV, format: "full" };
  }
  const f = await readRaw(loc, opts.data === undefined);
  const items = loc.format === "subset" ? parseGlobalValuesJson(f) : parseGlobalOpinionsCsv(f);
  return buildSuite(
    loc.abs,
    loc.format === "subset" ? `${GLOBALOPINIONS_TITLE}, 100-question subset of Meister et al. 2024` : GLOBALOPINIONS_TITLE,
    filesFingerprint([f]),
    items,
  );
}

function humanKey(questionId: string, population: string): string {
  return `${questionId}\u0000${population}`;
}

function buildSuite(location: string, title: string, fingerprint: string, items: readonly GlobalOpinionsItem[]): Suite {
  const humans = new Map<string, HumanDistribution>();
  const countries: string[] = [];
  for (const { question, shares } of items) {
    for (const [c, v] of shares) {
      countries.push(c);
      const pop = `country=${c}`;
      const d = sharesDistribution(question, pop, v);
      if (d) humans.set(humanKey(question.id, pop), d);
    }
  }
  return {
    name: "globalopinions",
    title,
    location,
    fingerprint,
    questions: items.map((i) => i.question),
    populations: countryPopulations(countries),
    reference: null,
    defaultMetric: "jsd",
    personaTemplates: GLOBALOPINIONS_PERSONA_TEMPLATES,
    citation: GLOBALOPINIONS_CITATION,
    human(questionId: string, population: string): HumanDistribution | undefined {
      return humans.get(humanKey(questionId, population));
    },
  };
}
