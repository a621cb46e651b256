/**
 * OpinionQA (Santurkar et al. 2023, "Whose Opinions Do Language Models Reflect?"): 15 waves of the
 * Pew American Trends Panel, with unweighted respondent counts per demographic group.
 *
 * Source: tatsu-lab/opinions_qa @ ed8c4e0, `data/human_resp/American_Trends_Panel_W*` (see
 * opinionqa-manifest.ts). Per wave the loader reads `info.csv` (questions, options, ordinals),
 * `metadata.csv` (the groups of each attribute) and one `<ATTR>_data.json` per attribute.
 *
 * Choices, following the original code (opinions_qa helpers.py) and the paper:
 * - Options and their order come from info.csv `references`; the JSON `MC_options` are never used
 *   (upstream split options that contain commas).
 * - `option_ordinal` gives one ordinal per *leading* option; the options after them ("Refused",
 *   and e.g. "Not sure") are non-substantive: `ordinal_refs = references[:len(ordinal)]`,
 *   `refusal_refs = references[len(ordinal):]`. They are kept as options but excluded from scoring.
 * - Populations are the groups metadata.csv lists per attribute (`cdf[demographic].isin(options)`),
 *   so groups such as "Refused", "nan" or RACE "Mixed Race" are not populations (their
 *   respondents still count in `overall`).
 * - `overall`: upstream NONE_data.json is a copy of POLPARTY_data.json, so it is not read. Instead,
 *   per question, the counts of all groups (listed or not) of the attribute with the most
 *   respondents on that question are summed (ties: first in OPINIONQA_ATTRIBUTES order).
 * - Count keys are matched to options case-insensitively after trimming and collapsing whitespace
 *   (POLICY3_W42 has "neither better noR worse ...").
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { parse as parseCsv } from "csv-parse/sync";
import { filesFingerprint } from "../hash.js";
import { CivitasError, messageOf } from "../errors.js";
import { ensureCached, isDirectory, type CacheOptions } from "./download.js";
import { OPINIONQA_BASE_URL, OPINIONQA_FILES, OPINIONQA_URL_ENV } from "./opinionqa-manifest.js";
import { parsePyNumberList, parsePyStringList } from "./pyliteral.js";
import { humanDistribution, type HumanDistribution, type Population, type Question, type Suite } from "./types.js";

/** The waves OpinionQA uses, in order. */
export const OPINIONQA_WAVES = [
  "W26",
  "W27",
  "W29",
  "W32",
  "W34",
  "W36",
  "W41",
  "W42",
  "W43",
  "W45",
  "W49",
  "W50",
  "W54",
  "W82",
  "W92",
] as const;

/**
 * The demographic attributes loaded, in the order populations are listed and `overall` ties are
 * broken.
 */
export const OPINIONQA_ATTRIBUTES = [
  "CREGION",
  "POLPARTY",
  "AGE",
  "EDUCATION",
  "INCOME",
  "POLIDEOLOGY",
  "RACE",
  "SEX",
] as const;

export type OpinionQAAttribute = (typeof OPINIONQA_ATTRIBUTES)[number];

export const OPINIONQA_TITLE = "OpinionQA (Santurkar et al. 2023), Pew American Trends Panel waves 26-92";

export interface LoadOpinionQAOptions {
  /**
   * A local copy: a folder holding `human_resp/` or the `American_Trends_Panel_W*` folders
   * directly. When absent, the pinned files are downloaded into the cache (and verified).
   */
  readonly data?: string;
  /** Cache root for downloads (default: see defaultCacheDir). */
  readonly cacheDir?: string;
  readonly onProgress?: CacheOptions["onProgress"];
  /** Replaces the global fetch for downloads. */
  readonly fetchImpl?: typeof fetch;
  /** Load only these waves ("W26", "w26" or "26"); default all 15. */
  readonly waves?: readonly string[];
}

const WAVE_PREFIX = "American_Trends_Panel_";
const DATA_HINT =
  "--data must point at a copy of tatsu-lab/opinions_qa data/human_resp (or the folder holding it), " +
  "with one American_Trends_Panel_W<n>/ folder per wave; or leave --data out to download it";

function waveFiles(wave: string): string[] {
  const dir = `${WAVE_PREFIX}${wave}`;
  return [`${dir}/info.csv`, `${dir}/metadata.csv`, ...OPINIONQA_ATTRIBUTES.map((a) => `${dir}/${a}_data.json`)];
}

/** Validates and normalises a wave selection ("w26", "26" -> "W26"), keeping OPINIONQA_WAVES order. */
export function resolveWaves(waves: readonly string[] | undefined): string[] {
  if (waves === undefined) return [...OPINIONQA_WAVES];
  const want = new Set<string>();
  for (const w of waves) {
    const t = w.trim().toUpperCase();
    const name = /^\d+$/.test(t) ? `W${t}` : t;
    if (!(OPINIONQA_WAVES as readonly string[]).includes(name)) {
      throw new CivitasError("usage", `unknown OpinionQA wave "${w}"`, {
        hint: `choose among ${OPINIONQA_WAVES.join(", ")}`,
      });
    }
    want.add(name);
  }
  if (want.size === 0) throw new CivitasError("usage", "no OpinionQA wave selected", { hint: `choose among ${OPINIONQA_WAVES.join(", ")}` });
  return OPINIONQA_WAVES.filter((w) => want.has(w));
}

/** The folder holding the wave folders: `<data>/human_resp` if it exists, else `<data>`. */
async function resolveDataRoot(data: string): Promise<string> {
  const abs = path.resolve(data);
  if (!(await isDirectory(abs))) {
    throw new CivitasError("usage", `data folder ${abs} does not exist or is not a folder`, { hint: DATA_HINT });
  }
  const nested = path.join(abs, "human_resp");
  return (await isDirectory(nested)) ? nested : abs;
}

/** A data file read into memory: its path relative to the data root, its absolute path, its bytes. */
export interface RawFile {
  readonly rel: string;
  readonly abs: string;
  readonly bytes: Buffer;
}

async function readAll(root: string, rels: readonly string[], fromCache: boolean): Promise<RawFile[]> {
  let anyWave = false;
  const out = await Promise.all(
    rels.map(async (rel) => {
      const abs = path.join(root, ...rel.split("/"));
      try {
        const bytes = await readFile(abs);
        anyWave = true;
        return { rel, abs, bytes };
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        return { rel, abs, error: code === "ENOENT" ? "missing" : messageOf(e) };
      }
    }),
  );
  const bad = out.find((f): f is { rel: string; abs: string; error: string } => "error" in f);
  if (bad) {
    const hint = fromCache
      ? "the cache was changed while loading; run the command again to re-download"
      : anyWave
        ? DATA_HINT
        : `${root} holds none of the OpinionQA wave folders. ${DATA_HINT}`;
    const what = bad.error === "missing" ? `missing OpinionQA file ${bad.abs}` : `cannot read ${bad.abs}: ${bad.error}`;
    throw new CivitasError("input", what, { hint });
  }
  return out as RawFile[];
}

/**
 * Loads OpinionQA. With `data`, reads that folder; otherwise downloads the pinned files into the
 * cache (verifying their sha256) and reads them from there.
 */
export async function loadOpinionQA(opts: LoadOpinionQAOptions = {}): Promise<Suite> {
  const waves = resolveWaves(opts.waves);
  const rels = waves.flatMap(waveFiles);
  let root: string;
  if (opts.data !== undefined) {
    root = await resolveDataRoot(opts.data);
  } else {
    const wanted = new Set(rels);
    const cacheOpts: CacheOptions = {
      ...(opts.cacheDir !== undefined ? { cacheDir: opts.cacheDir } : {}),
      ...(opts.onProgress !== undefined ? { onProgress: opts.onProgress } : {}),
      ...(opts.fetchImpl !== undefined ? { fetchImpl: opts.fetchImpl } : {}),
    };
    root = await ensureCached(
      {
        name: "opinionqa",
        baseUrl: OPINIONQA_BASE_URL,
        urlEnv: OPINIONQA_URL_ENV,
        files: OPINIONQA_FILES.filter((f) => wanted.has(f.path)),
      },
      cacheOpts,
    );
  }
  const files = await readAll(root, rels, opts.data === undefined);
  return buildSuite(root, waves, files);
}

// ---------------------------------------------------------------------------------------------

/** Trim, collapse whitespace, lowercase: how count keys are matched to options. */
function normOption(s: string): string {
  return s.trim().replace(/\s+/g, " ").toLowerCase();
}

/** One row of an info.csv (see parseInfo). */
export interface InfoRow {
  readonly line: number;
  readonly key: string;
  readonly question: string;
  readonly references: string;
  readonly ordinal: string;
}

const INFO_COLUMNS = ["key", "question", "references", "option_ordinal"] as const;

/** Parses a CSV file (header + rows, each with the line it starts on); errors name the file. */
export function parseCsvFile(f: RawFile): { header: string[]; rows: { cells: string[]; line: number }[] } {
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parseCsv(f.bytes, { bom: true, info: true, skip_empty_lines: true }) as unknown as typeof records;
  } catch (e) {
    throw new CivitasError("input", `${f.abs}: not a valid CSV file: ${messageOf(e)}`, {
      hint: "the file is damaged; copy it again from the source",
    });
  }
  const first = records[0];
  if (!first) throw new CivitasError("input", `${f.abs}: the file is empty (expected a header line)`);
  const rows = records.slice(1).map(({ record, info }) => {
    // info.lines is the line the record ends on; step back over line breaks inside quoted cells.
    let inner = 0;
    for (const c of record) for (let i = c.indexOf("\n"); i !== -1; i = c.indexOf("\n", i + 1)) inner++;
    return { cells: record, line: info.lines - inner };
  });
  return { header: first.record, rows };
}

/** Index of a required column; an error naming the file, the column and the header found. */
export function columnIndex(f: RawFile, header: readonly string[], name: string): number {
  const i = header.indexOf(name);
  if (i === -1) {
    throw new CivitasError(
      "input",
      `${f.abs}: required column "${name}" is missing; the header has ${header.map((h) => JSON.stringify(h)).join(", ")}`,
      { hint: "the file is damaged or not an OpinionQA file; copy it again from the source" },
    );
  }
  return i;
}

/**
 * info.csv rows by key. A key may be listed more than once (W43 lists IDIMPORT_W43, RACESURV36_W43
 * and RACESURV37_W43 five times each, one per race wording); that is only an error if the data
 * files use the key, since the question would then be ambiguous.
 */
export function parseInfo(f: RawFile): Map<string, InfoRow[]> {
  const { header, rows } = parseCsvFile(f);
  const [ki, qi, ri, oi] = INFO_COLUMNS.map((c) => columnIndex(f, header, c)) as [number, number, number, number];
  const out = new Map<string, InfoRow[]>();
  for (const { cells, line } of rows) {
    const key = (cells[ki] ?? "").trim();
    if (key === "") throw new CivitasError("input", `${f.abs} line ${line}: empty question key`);
    const row = { line, key, question: cells[qi] ?? "", references: cells[ri] ?? "", ordinal: cells[oi] ?? "" };
    const prev = out.get(key);
    if (prev) prev.push(row);
    else out.set(key, [row]);
  }
  return out;
}

function parseMetadata(f: RawFile): Map<string, string[]> {
  const { header, rows } = parseCsvFile(f);
  const ki = columnIndex(f, header, "key");
  const oi = columnIndex(f, header, "options");
  const groups = new Map<string, string[]>();
  for (const { cells, line } of rows) {
    const key = (cells[ki] ?? "").trim();
    if (!(OPINIONQA_ATTRIBUTES as readonly string[]).includes(key)) continue;
    if (groups.has(key)) throw new CivitasError("input", `${f.abs} line ${line}: attribute ${key} is listed twice`);
    groups.set(key, parsePyStringList(cells[oi] ?? "", `${f.abs} line ${line}, column options`));
  }
  for (const a of OPINIONQA_ATTRIBUTES) {
    if (!groups.has(a)) {
      const found = rows.map((r) => r.cells[ki] ?? "").join(", ");
      throw new CivitasError("input", `${f.abs}: attribute ${a} is not listed (found: ${found})`, {
        hint: "the file is damaged or not an OpinionQA metadata.csv; copy it again from the source",
      });
    }
  }
  return groups;
}

/** JSON.parse with an error naming the file and the line/column of the problem. */
export function parseJsonFile(f: RawFile): unknown {
  let text = f.bytes.toString("utf8");
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  try {
    return JSON.parse(text);
  } catch (e) {
    const msg = messageOf(e);
    const m = /position (\d+)/.exec(msg);
    const pos = m ? Number(m[1]) : /end of (JSON )?input/i.test(msg) ? text.length : undefined;
    let where = "";
    if (pos !== undefined) {
      const before = text.slice(0, pos);
      const line = before.split("\n").length;
      const col = pos - before.lastIndexOf("\n");
      where = ` at line ${line}, column ${col} (character ${pos})`;
    }
    throw new CivitasError("input", `${f.abs}: invalid JSON${where}: ${msg}`, {
      hint: "the file is truncated or damaged; copy it again from the source (or delete it from the cache to re-download)",
    });
  }
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A question built from an info.csv row, with its option lookups (exact and normalised). */
export interface BuiltQuestion {
  readonly question: Question;
  readonly exact: Map<string, number>;
  readonly norm: Map<string, number>;
}

/** Builds a question from an info.csv row: options from `references`, refusals after the ordinals. */
export function buildQuestion(f: RawFile, row: InfoRow, wave: string): BuiltQuestion {
  const where = (col: string) => `${f.abs} line ${row.line}, column ${col}`;
  const options = parsePyStringList(row.references, where("references"));
  const ordinals = parsePyNumberList(row.ordinal, where("option_ordinal"));
  if (options.length === 0) throw new CivitasError("input", `${where("references")}: question ${row.key} has no options`);
  if (ordinals.length === 0 || ordinals.length > options.length) {
    throw new CivitasError(
      "input",
      `${where("option_ordinal")}: question ${row.key} has ${ordinals.length} ordinals for ${options.length} options`,
      { hint: "option_ordinal must give one number per leading (substantive) option" },
    );
  }
  const exact = new Map<string, number>();
  const norm = new Map<string, number>();
  options.forEach((o, i) => {
    const n = normOption(o);
    const j = norm.get(n);
    if (j !== undefined) {
      throw new CivitasError(
        "input",
        `${where("references")}: question ${row.key} has options ${j + 1} and ${i + 1} that differ only in case or spacing (${JSON.stringify(o)})`,
      );
    }
    exact.set(o, i);
    norm.set(n, i);
  });
  const question: Question = {
    id: row.key,
    text: row.question,
    options,
    refusal: options.map((_, i) => i >= ordinals.length),
    ordinals,
    source: wave,
  };
  return { question, exact, norm };
}

/** Per-group option counts for one question in one attribute file. */
export type GroupCounts = Map<string, number[]>;

/** Reads the per-group option counts of one question of a `<ATTR>_data.json` file, in option order. */
export function readCounts(f: RawFile, qid: string, entry: unknown, bq: BuiltQuestion): GroupCounts {
  if (!isPlainObject(entry)) {
    throw new CivitasError("input", `${f.abs}: question ${qid} is not an object`, {
      hint: "expected {MC_options: [...], question_text: ..., <group>: {<option>: <count>}}",
    });
  }
  const k = bq.question.options.length;
  const out: GroupCounts = new Map();
  for (const [group, value] of Object.entries(entry)) {
    if (group === "MC_options" || group === "question_text") continue;
    if (!isPlainObject(value)) {
      throw new CivitasError("input", `${f.abs}: question ${qid}, group "${group}" is not an object of counts`);
    }
    const counts = new Array<number>(k).fill(0);
    for (const [answer, c] of Object.entries(value)) {
      const idx = bq.exact.get(answer) ?? bq.norm.get(normOption(answer));
      if (idx === undefined) {
        throw new CivitasError(
          "input",
          `${f.abs}: question ${qid}, group "${group}": answer ${JSON.stringify(answer)} matches none of the options in info.csv (${bq.question.options.map((o) => JSON.stringify(o)).join(", ")})`,
        );
      }
      if (typeof c !== "number" || !Number.isFinite(c) || c < 0) {
        throw new CivitasError(
          "input",
          `${f.abs}: question ${qid}, group "${group}", answer ${JSON.stringify(answer)}: count ${JSON.stringify(c)} is not a non-negative number`,
        );
      }
      counts[idx]! += c;
    }
    out.set(group, counts);
  }
  return out;
}


function humanKey(questionId: string, population: string): string {
  return `${questionId}\u0000${population}`;
}

function buildSuite(root: string, waves: readonly string[], files: readonly RawFile[]): Suite {
  const byRel = new Map(files.map((f) => [f.rel, f]));

  const questions: Question[] = [];
  const seenQuestion = new Map<string, string>();
  const humans = new Map<string, HumanDistribution>();
  const groupsByAttr = new Map<string, string[]>(OPINIONQA_ATTRIBUTES.map((a) => [a, []]));

  for (const wave of waves) {
    const dir = `${WAVE_PREFIX}${wave}`;
    const get = (name: string): RawFile => byRel.get(`${dir}/${name}`)!;
    const infoFile = get("info.csv");
    const info = parseInfo(infoFile);
    const meta = parseMetadata(get("metadata.csv"));
    for (const a of OPINIONQA_ATTRIBUTES) {
      const all = groupsByAttr.get(a)!;
      for (const g of meta.get(a)!) if (!all.includes(g)) all.push(g);
    }
    const data = OPINIONQA_ATTRIBUTES.map((a) => {
      const f = get(`${a}_data.json`);
      const json = parseJsonFile(f);
      if (!isPlainObject(json)) {
        throw new CivitasError("input", `${f.abs}: expected a JSON object keyed by question`, {
          hint: "the file is damaged or not an OpinionQA file; copy it again from the source",
        });
      }
      return { attr: a, file: f, json };
    });

    // Questions: those in the data files, in data-file order.
    const built = new Map<string, BuiltQuestion>();
    for (const { file, json } of data) {
      for (const qid of Object.keys(json)) {
        if (built.has(qid)) continue;
        const rows = info.get(qid);
        if (!rows) {
          throw new CivitasError("input", `${file.abs}: question ${qid} is not in ${infoFile.abs}`, {
            hint: "the wave's files do not belong together; copy the wave folder again from the source",
          });
        }
        const row = rows[0]!;
        if (rows.length > 1) {
          throw new CivitasError(
            "input",
            `${infoFile.abs}: question ${qid}, used by ${file.abs}, is listed ${rows.length} times (lines ${rows.map((r) => r.line).join(", ")})`,
            { hint: "the question is ambiguous; keep one row per question key" },
          );
        }
        const other = seenQuestion.get(qid);
        if (other !== undefined) {
          throw new CivitasError("input", `${file.abs}: question ${qid} also appears in wave ${other}`);
        }
        seenQuestion.set(qid, wave);
        const bq = buildQuestion(infoFile, row, wave);
        built.set(qid, bq);
        questions.push(bq.question);
      }
    }

    for (const [qid, bq] of built) {
      const q = bq.question;
      let best: { total: number; groups: GroupCounts } | undefined;
      for (const { attr, file, json } of data) {
        const entry = json[qid];
        if (entry === undefined) continue;
        const groups = readCounts(file, qid, entry, bq);
        let total = 0;
        for (const counts of groups.values()) for (const c of counts) total += c;
        if (!best || total > best.total) best = { total, groups };
        for (const g of meta.get(attr)!) {
          const counts = groups.get(g);
          if (!counts) continue;
          const pop = `${attr}=${g}`;
          const d = humanDistribution(q, pop, counts);
          if (d) humans.set(humanKey(qid, pop), d);
        }
      }
      if (best) {
        const sum = new Array<number>(q.options.length).fill(0);
        for (const counts of best.groups.values()) counts.forEach((c, i) => (sum[i]! += c));
        const d = humanDistribution(q, "overall", sum);
        if (d) humans.set(humanKey(qid, "overall"), d);
      }
    }
  }

  const populations: Population[] = [{ id: "overall", attribute: null, value: "overall" }];
  for (const a of OPINIONQA_ATTRIBUTES) {
    for (const g of groupsByAttr.get(a)!) populations.push({ id: `${a}=${g}`, attribute: a, value: g });
  }

  return {
    name: "opinionqa",
    title: OPINIONQA_TITLE,
    location: root,
    fingerprint: filesFingerprint(files),
    questions,
    populations,
    reference: "overall",
    defaultMetric: "wasserstein",
    human(questionId: string, population: string): HumanDistribution | undefined {
      return humans.get(humanKey(questionId, population));
    },
  };
}
