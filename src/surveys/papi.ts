/**
 * PAPI (Zhu, Qi, Huang et al. 2024, "Personality Alignment of Large Language Models",
 * arXiv:2408.11779): the test set of 300 real people, each answering the 300 items of the IPIP-NEO
 * personality inventory (Goldberg's public-domain IPIP items, Johnson's IPIP-NEO-300) on a 1-5
 * scale, with each item's facet, Big Five domain and key.
 *
 * Files (PAPI/ of zhu-minjun/PAlign @ 18e1e34):
 * - `Test-set.json`: a JSON array of 300 people `{case, sex, age, country, ..., i1..i300}`, each
 *   answer 1 (Very Inaccurate) .. 5 (Very Accurate), 0 = not answered (52 answers).
 * - `mpi_300.csv`: one row per item (`,label_raw,text,label_ocean,key`, the first column 0..299 =
 *   item i1..i300): the item text ("Worry about things."), facet, domain (O C E A N) and key
 *   (1 = positively keyed, -1 = reversed).
 * - `mpi_300_split.json`: `{train_index, test_index}`, item numbers 1..300: the 120 items the
 *   paper shows the model as the person's profile, and the 180 it asks (the same split for everyone).
 *
 * How civitas asks and scores them, following the paper's code (main.py, baseline_utils.py):
 * - A question per item, `i1`..`i300`, asked with the paper's TEMPLATE (the `papi` template,
 *   surveys/prompt.ts): 'Given a statement of you: "You <item text, lower-cased>."' (the item text
 *   keeps its full stop, so the paper's prompt reads "You worry about things.."), the instruction,
 *   "Options:" and "(A). Very Accurate" .. "(E). Very Inaccurate" (options in that order: A = 5,
 *   the paper's SCORES), then "Answer:".
 * - Populations: `overall`, the 300 people (each item's distribution of their answers, the
 *   unanswered left out), the population level; and `person=<case>`, one per person, the paper's
 *   individual level. A person's "distribution" on an item is their one answer (one-hot), and only
 *   on the 180 held-out items (test_index): the other 120 are what the model is told about them.
 *   The human baseline of a person compares them with `overall`.
 * - A person's persona (`--persona`) is the paper's system prompt built from their 120 profile
 *   answers in train_index order: "Here are some of your behaviors and your level of recognition
 *   towards them;" + "<text>:<Very Accurate|...|Unknown>" joined by ";" (process_pas).
 * - Scores: the per-item distance is the Wasserstein metric (on the 1-5 scale, divided by 4: for a
 *   person, the expected |answer - their answer| / 4); beside it the individual-level scores of the
 *   paper (runs/papi.ts): per person, the mean |model's answer - their answer| over the held-out
 *   items and the Big Five domain scores keyed with the reverse keys (6 - answer for key -1).
 *
 * Source: zhu-minjun/PAlign @ 18e1e34, PAPI/. Licence: none stated for the repository; the IPIP
 * items are in the public domain (IPIP_Permission.pdf in the repository).
 */
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { parse as parseCsv } from "csv-parse/sync";
import { CivitasError, messageOf } from "../errors.js";
import { filesFingerprint } from "../hash.js";
import { jsonSyntaxError } from "../jsonl.js";
import { cacheOptionsOf, ensureCached, type LoaderCacheOptions, type PinnedFile } from "./download.js";
import type { HumanDistribution, Population, Question, Suite } from "./types.js";

export const PAPI_TITLE = "PAPI (Zhu et al. 2024): 300 people x the 300 IPIP-NEO personality items, population and individual level";

export const PAPI_LICENCE =
  "IPIP items: public domain (ipip.ori.org; IPIP_Permission.pdf in the repository); the repository (zhu-minjun/PAlign) states no licence: use its files for research and testing";

export const PAPI_CITATION =
  "Minjun Zhu, Yixuan Weng, Linyi Yang, Yue Zhang. 2024. Personality Alignment of Large Language Models (arXiv:2408.11779). " +
  "Data: the PAPI test set, IPIP-NEO-300 answers of 300 people; github.com/zhu-minjun/PAlign @ 18e1e34, PAPI/.";

export const PAPI_COMMIT = "18e1e3404951acc864f30f323a0e47a0840b474a";

export const PAPI_BASE_URL = `https://raw.githubusercontent.com/zhu-minjun/PAlign/${PAPI_COMMIT}/PAPI/`;

/** Environment variable that replaces PAPI_BASE_URL (a mirror, or a local server in tests). */
export const PAPI_URL_ENV = "CIVITAS_PAPI_URL";

export const PAPI_FILES: readonly PinnedFile[] = [
  { path: "Test-set.json", sha256: "5e46c6cf2b0d72762cce69fe455ae827f2c4cdc27a0979dc9b1e58d09b9ae4c6" },
  { path: "mpi_300.csv", sha256: "a26d47a419117aa838fa720ebecd72d1c61f19fe58d96c5e4680666b027053a2" },
  { path: "mpi_300_split.json", sha256: "85c761554504dd1b086de98e13fe84fb6e02915ad7bf2e234bb32428894a52c6" },
];

/** The options in the paper's order (A = 5 "Very Accurate" .. E = 1), and their values (SCORES). */
export const PAPI_OPTIONS = ["Very Accurate", "Moderately Accurate", "Neither Accurate Nor Inaccurate", "Moderately Inaccurate", "Very Inaccurate"] as const;
export const PAPI_VALUES = [5, 4, 3, 2, 1] as const;

/** The paper's SCORES_BACK: how a profile answer is written in the persona. */
const SCORES_BACK: Readonly<Record<number, string>> = { 5: "Very Accurate", 4: "Moderately Accurate", 3: "Neither Accurate Nor Inaccurate", 2: "Moderately Inaccurate", 1: "Very Inaccurate", 0: "Unknown" };

export const PAPI_PERSONA_PREFIX = "Here are some of your behaviors and your level of recognition towards them;";

export const BIG_FIVE = ["O", "C", "E", "A", "N"] as const;
export type Domain = (typeof BIG_FIVE)[number];

export interface PapiItem {
  /** 1..300 (question id `i<number>`). */
  readonly number: number;
  readonly text: string;
  readonly facet: string;
  readonly domain: Domain;
  /** 1 positively keyed, -1 reversed. */
  readonly key: 1 | -1;
}

export interface PapiPerson {
  readonly case: number;
  /** answers[n - 1] = the answer to item n, 1..5, or 0 when not answered. */
  readonly answers: readonly number[];
}

/** What the individual-level scores need beside the suite: items, people, the split. */
export interface PapiData {
  readonly items: readonly PapiItem[];
  readonly people: readonly PapiPerson[];
  /** Item numbers shown as the profile (train_index), in the file's order. */
  readonly train: readonly number[];
  /** Item numbers asked and scored per person (test_index), in the file's order. */
  readonly test: readonly number[];
}

export type PapiSuite = Suite & { readonly papi: PapiData };

export const personId = (c: number): string => `person=${c}`;
export const itemId = (n: number): string => `i${n}`;

/** The PAPI data of a suite, when it is the papi suite. */
export function papiDataOf(suite: Suite): PapiData | undefined {
  return (suite as Partial<PapiSuite>).papi;
}

/** An answer keyed for its domain score: itself for a positively keyed item, 6 - it for a reversed one (the paper's process_answers). */
export function keyed(answer: number, key: 1 | -1): number {
  return key === 1 ? answer : 6 - answer;
}

/**
 * A person's Big Five domain scores: per domain, the mean keyed answer over the given items
 * (default: all 300) they answered (0 = not answered is left out); NaN for a domain without one.
 */
export function domainScores(items: readonly PapiItem[], answers: readonly number[], only?: readonly number[]): Record<Domain, number> {
  const pick = only ? new Set(only) : null;
  const sum: Record<Domain, number> = { O: 0, C: 0, E: 0, A: 0, N: 0 };
  const n: Record<Domain, number> = { O: 0, C: 0, E: 0, A: 0, N: 0 };
  for (const it of items) {
    if (pick && !pick.has(it.number)) continue;
    const a = answers[it.number - 1]!;
    if (a === 0) continue;
    sum[it.domain] += keyed(a, it.key);
    n[it.domain]++;
  }
  const out = {} as Record<Domain, number>;
  for (const d of BIG_FIVE) out[d] = n[d] > 0 ? sum[d] / n[d] : Number.NaN;
  return out;
}

/** The paper's persona of a person: their profile (train) answers, in train_index order. */
export function papiPersona(data: PapiData, person: PapiPerson): string {
  const byNumber = new Map(data.items.map((it) => [it.number, it]));
  return PAPI_PERSONA_PREFIX + data.train.map((n) => `${byNumber.get(n)!.text}:${SCORES_BACK[person.answers[n - 1]!]}`).join(";");
}

export interface LoadPapiOptions extends LoaderCacheOptions {
  /** A folder holding the three files (PAPI/ of the repository, or a clone of it); without it they are downloaded into the cache. */
  readonly data?: string;
}

const DATA_HINT =
  `--data must point at a folder holding ${PAPI_FILES.map((f) => f.path).join(", ")} (PAPI/ of zhu-minjun/PAlign), ` +
  "or a clone of that repository; or leave --data out to download them";

async function locate(data: string): Promise<string> {
  const abs = path.resolve(data);
  const st = await stat(abs).catch((e: unknown) => {
    throw new CivitasError("input", `PAPI data not found: ${abs} (${messageOf(e)})`, { hint: DATA_HINT, cause: e });
  });
  if (!st.isDirectory()) throw new CivitasError("input", `PAPI data must be a folder: ${abs}`, { hint: DATA_HINT });
  for (const dir of [abs, path.join(abs, "PAPI")]) {
    if (await stat(path.join(dir, PAPI_FILES[0]!.path)).then((s) => s.isFile()).catch(() => false)) return dir;
  }
  throw new CivitasError("input", `no ${PAPI_FILES[0]!.path} in ${abs}`, { hint: DATA_HINT });
}

/** Loads PAPI from `data` or, without it, from the cache (downloading the pinned files once). */
export async function loadPapi(opts: LoadPapiOptions = {}): Promise<PapiSuite> {
  let dir: string;
  if (opts.data !== undefined) {
    dir = await locate(opts.data);
  } else {
    dir = await ensureCached(
      { name: "papi", baseUrl: PAPI_BASE_URL, urlEnv: PAPI_URL_ENV, files: PAPI_FILES },
      cacheOptionsOf(opts),
    );
  }
  const files: Record<string, Buffer> = {};
  for (const f of PAPI_FILES) {
    const p = path.join(dir, f.path);
    try {
      files[f.path] = await readFile(p);
    } catch (e) {
      throw new CivitasError("input", `cannot read ${p}: ${messageOf(e)}`, { hint: DATA_HINT, cause: e });
    }
  }
  return parsePapi(
    { people: files["Test-set.json"]!, items: files["mpi_300.csv"]!, split: files["mpi_300_split.json"]! },
    dir,
  );
}

const bad = (at: string, what: string, hint: string) => new CivitasError("input", `${at}: ${what}`, { hint });

/** 1-based line of a character offset. */
function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** The offsets where the elements of a top-level JSON array begin (the text is valid JSON). */
function elementOffsets(text: string): number[] {
  const out: number[] = [];
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') {
      if (depth === 1) out.push(i);
      inString = true;
    } else if (c === "{" || c === "[") {
      if (depth === 1) out.push(i);
      depth++;
    } else if (c === "}" || c === "]") depth--;
    else if (depth === 1 && /[-0-9tfn]/u.test(c) && !/[-0-9a-z.eE+]/u.test(text[i - 1] ?? "")) out.push(i);
  }
  return out;
}

function parseJson(text: string, file: string, hint: string): unknown {
  try {
    return JSON.parse(text.replace(/^\uFEFF/u, ""));
  } catch (e) {
    const m = /position (\d+)/u.exec(messageOf(e));
    const where = m ? ` line ${lineAt(text, Number(m[1]))}` : "";
    throw bad(`${file}${where}`, `not valid JSON (${jsonSyntaxError(e)})`, hint);
  }
}

const ITEMS_HINT = "mpi_300.csv must have the columns ,label_raw,text,label_ocean,key with one row per item, 0..299 for i1..i300, label_ocean one of O C E A N, key 1 or -1";
const PEOPLE_HINT = "Test-set.json must be a JSON array of people {case, i1..i300}, each answer an integer 0..5 (0 = not answered)";
const SPLIT_HINT = "mpi_300_split.json must be {\"train_index\": [...], \"test_index\": [...]}: item numbers 1..300, each in exactly one list";

function parseItems(bytes: Buffer, file: string): PapiItem[] {
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parseCsv(bytes.toString("utf8").replace(/\r\n?/gu, "\n"), { bom: true, info: true, relax_column_count: true, skip_empty_lines: true }) as unknown as typeof records;
  } catch (e) {
    throw bad(file, `not a valid CSV file (${messageOf(e)})`, ITEMS_HINT);
  }
  const header = records[0]?.record.map((h) => h.trim());
  const col = (name: string) => header?.indexOf(name) ?? -1;
  const [iLabel, iText, iDomain, iKey] = ["label_raw", "text", "label_ocean", "key"].map(col) as [number, number, number, number];
  if (!header || header[0] !== "" || iLabel < 0 || iText < 0 || iDomain < 0 || iKey < 0) {
    throw bad(`${file} line 1`, `expected the header ",label_raw,text,label_ocean,key", found "${header?.join(",") ?? ""}"`, ITEMS_HINT);
  }
  const items: PapiItem[] = [];
  for (const { record, info } of records.slice(1)) {
    const at = `${file} line ${info.lines}`;
    if (record.length !== header.length) throw bad(at, `${record.length} fields, expected ${header.length}`, ITEMS_HINT);
    const index = record[0]!.trim();
    if (index !== String(items.length)) throw bad(at, `item index "${index}", expected ${items.length} (rows in item order, 0 = i1)`, ITEMS_HINT);
    const text = record[iText]!.trim();
    if (text === "") throw bad(at, "text: is empty", ITEMS_HINT);
    const domain = record[iDomain]!.trim();
    if (!(BIG_FIVE as readonly string[]).includes(domain)) throw bad(at, `label_ocean: "${domain}" is not one of O C E A N`, ITEMS_HINT);
    const key = record[iKey]!.trim();
    if (key !== "1" && key !== "-1") throw bad(at, `key: "${key}" is neither 1 nor -1`, ITEMS_HINT);
    items.push({ number: items.length + 1, text, facet: record[iLabel]!.trim(), domain: domain as Domain, key: key === "1" ? 1 : -1 });
  }
  if (items.length !== 300) throw bad(file, `${items.length} items, expected the 300 of the IPIP-NEO-300`, ITEMS_HINT);
  return items;
}

function parsePeople(bytes: Buffer, file: string, nItems: number): PapiPerson[] {
  const text = bytes.toString("utf8");
  const value = parseJson(text, file, PEOPLE_HINT);
  if (!Array.isArray(value)) throw bad(file, "not a JSON array", PEOPLE_HINT);
  const starts = elementOffsets(text.replace(/^\uFEFF/u, ""));
  const people: PapiPerson[] = [];
  const seen = new Map<number, number>();
  value.forEach((p: unknown, k) => {
    const start = starts[k] ?? 0;
    const where = (field?: string): string => {
      const fieldAt = field === undefined ? -1 : text.indexOf(`"${field}"`, start);
      return `${file} line ${lineAt(text, fieldAt >= 0 ? fieldAt : start)}`;
    };
    if (typeof p !== "object" || p === null || Array.isArray(p)) throw bad(where(), `person ${k + 1}: not an object`, PEOPLE_HINT);
    const r = p as Record<string, unknown>;
    const c = r.case;
    if (typeof c !== "number" || !Number.isInteger(c)) throw bad(where("case"), `person ${k + 1}: case: expected an integer id, found ${JSON.stringify(c) ?? "nothing"}`, PEOPLE_HINT);
    const before = seen.get(c);
    if (before !== undefined) throw bad(where("case"), `case ${c} again (first as person ${before})`, PEOPLE_HINT);
    seen.set(c, k + 1);
    const answers: number[] = [];
    for (let n = 1; n <= nItems; n++) {
      const a = r[`i${n}`];
      if (typeof a !== "number" || !Number.isInteger(a) || a < 0 || a > 5) {
        throw bad(where(`i${n}`), `case ${c}: i${n}: expected an answer 0..5 (0 = not answered), found ${JSON.stringify(a) ?? "nothing"}`, PEOPLE_HINT);
      }
      answers.push(a);
    }
    people.push({ case: c, answers });
  });
  if (people.length === 0) throw bad(file, "no people", PEOPLE_HINT);
  return people;
}

function parseSplit(bytes: Buffer, file: string, nItems: number): { train: number[]; test: number[] } {
  const v = parseJson(bytes.toString("utf8"), file, SPLIT_HINT) as Record<string, unknown> | null;
  const list = (name: string): number[] => {
    const l = v?.[name];
    if (!Array.isArray(l) || l.some((x) => typeof x !== "number" || !Number.isInteger(x) || x < 1 || x > nItems)) {
      throw bad(file, `${name}: expected a list of item numbers 1..${nItems}`, SPLIT_HINT);
    }
    return l as number[];
  };
  const train = list("train_index");
  const test = list("test_index");
  const count = new Map<number, number>();
  for (const n of [...train, ...test]) count.set(n, (count.get(n) ?? 0) + 1);
  const twice = [...count].find(([, c]) => c > 1);
  if (twice) throw bad(file, `item ${twice[0]} is listed ${twice[1]} times`, SPLIT_HINT);
  if (count.size !== nItems) throw bad(file, `${count.size} items in the two lists, expected all ${nItems}`, SPLIT_HINT);
  return { train, test };
}

/** Builds the suite from the three files' bytes (`dir` names them in errors and is its location). */
export function parsePapi(bytes: { readonly people: Buffer; readonly items: Buffer; readonly split: Buffer }, dir: string): PapiSuite {
  const f = (name: string) => path.join(dir, name);
  const items = parseItems(bytes.items, f("mpi_300.csv"));
  const people = parsePeople(bytes.people, f("Test-set.json"), items.length);
  const { train, test } = parseSplit(bytes.split, f("mpi_300_split.json"), items.length);
  const data: PapiData = { items, people, train, test };

  const questions: Question[] = items.map((it) => ({
    id: itemId(it.number),
    text: it.text,
    options: PAPI_OPTIONS,
    refusal: PAPI_OPTIONS.map(() => false),
    ordinals: PAPI_VALUES,
    source: `IPIP-NEO-300, ${it.facet} (${it.domain}${it.key === -1 ? ", reversed" : ""})`,
  }));
  const populations: Population[] = [{ id: "overall", attribute: null, value: "overall" }, ...people.map((p) => ({ id: personId(p.case), attribute: "person", value: String(p.case) }))];

  // The population level: each item's answers of the people who answered it.
  const overall = new Map<string, HumanDistribution>();
  for (const it of items) {
    const counts = [0, 0, 0, 0, 0];
    for (const p of people) {
      const a = p.answers[it.number - 1]!;
      if (a > 0) counts[5 - a]!++;
    }
    const n = counts.reduce((s, c) => s + c, 0);
    if (n === 0) continue;
    const probs = counts.map((c) => c / n);
    overall.set(itemId(it.number), { questionId: itemId(it.number), population: "overall", probs, allProbs: probs, n });
  }
  // The individual level: a person's one answer, on the held-out items only.
  const held = new Set(test.map(itemId));
  const byPerson = new Map(people.map((p) => [personId(p.case), p]));
  const oneHot = (questionId: string, population: string, answer: number): HumanDistribution => {
    const probs = PAPI_VALUES.map((v) => (v === answer ? 1 : 0));
    // n: null, no noise floor: one person's answer is not a sample of a distribution.
    return { questionId, population, probs, allProbs: probs, n: null };
  };
  const personas = new Map(people.map((p) => [personId(p.case), papiPersona(data, p)]));
  const missing = people.reduce((s, p) => s + p.answers.filter((a) => a === 0).length, 0);

  return {
    name: "papi",
    title: PAPI_TITLE,
    location: dir,
    fingerprint: filesFingerprint([
      { rel: "Test-set.json", bytes: bytes.people },
      { rel: "mpi_300.csv", bytes: bytes.items },
      { rel: "mpi_300_split.json", bytes: bytes.split },
    ]),
    questions,
    populations,
    reference: "overall",
    defaultMetric: "wasserstein",
    citation: PAPI_CITATION,
    template: "papi",
    extraScores: ["papi"],
    personaFor: (p) => personas.get(p.id),
    ...(missing > 0 ? { warnings: [`${missing} answers of Test-set.json are 0 (not answered): left out of the distributions and of the scores`] } : {}),
    human: (questionId, population) => {
      if (population === "overall") return overall.get(questionId);
      const person = byPerson.get(population);
      if (!person || !held.has(questionId)) return undefined;
      const a = person.answers[Number(questionId.slice(1)) - 1]!;
      return a > 0 ? oneHot(questionId, population, a) : undefined;
    },
    papi: data,
  };
}
