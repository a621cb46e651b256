/**
 * Datasets that live on the Hugging Face Hub, read by one generic loader (`civitas eval hf --data
 * hf:<mapping>`): a mapping file names the dataset's repo, revision and files (Parquet, JSON Lines
 * or CSV), and says which columns are the question, the options, the groups and the shares. The
 * files are downloaded once into the cache (`<cache>/data/hf-<owner>--<name>--<revision>/<path>`),
 * verified by sha256 when the mapping pins one, from `$HF_ENDPOINT` (the Hub's own variable;
 * default https://huggingface.co) + `/datasets/<repo>/resolve/<revision>/<path>`.
 *
 * Two shapes (docs/data.md, "Datasets on the Hugging Face Hub"):
 * - `aggregated`: a row per question and group. The distribution is either a `shares` column (a
 *   list of numbers, one per option) or a `label` column (the option the row chose; rows of one
 *   question and group are counted, so a gold label gives a one-hot distribution and a row per
 *   respondent gives shares).
 * - `respondents`: a row per person; each question is a column, each group attribute a column
 *   (dotted paths reach into nested objects: `location.reside_region`); optional weights.
 *
 * Parquet is read with hyparquet (pure JavaScript; snappy-compressed and uncompressed files).
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { parse as parseCsv } from "csv-parse/sync";
import { asyncBufferFromFile, parquetReadObjects } from "hyparquet";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { CivitasError, messageOf } from "../errors.js";
import { filesFingerprint } from "../hash.js";
import { jsonLines } from "../jsonl.js";
import { ensureCached, pathKind, type CacheOptions } from "./download.js";
import type { HumanDistribution, Population, Question, Suite } from "./types.js";

/** The Hub's address; `HF_ENDPOINT` replaces it (a mirror, or a local server in tests), as in huggingface_hub. */
export const HF_DEFAULT_ENDPOINT = "https://huggingface.co";
export const HF_ENDPOINT_ENV = "HF_ENDPOINT";

/** The mappings civitas ships (`--data hf:normad`), in mappings/hf/ of the package. */
export const HF_BUILT_IN: Readonly<Record<string, string>> = {
  normad: "normad.yaml",
  "prism-survey": "prism-survey.yaml",
};

const MAPPINGS_DIR = new URL("../../mappings/hf/", import.meta.url);

const HINT = "docs/data.md, \"Datasets on the Hugging Face Hub\", describes mapping files; mappings/hf/ holds examples";

const column = z.string().min(1);
const fileSpec = z.object({ path: z.string().min(1), sha256: z.string().regex(/^[0-9a-f]{64}$/u).nullable().default(null) }).strict();
const common = {
  name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/u, "lower-case letters, digits and -"),
  title: z.string().min(1),
  licence: z.string().min(1).optional(),
  citation: z.string().optional(),
  repo: z.string().regex(/^[A-Za-z0-9][\w.-]*\/[\w.-]+$/u, "owner/name"),
  revision: z.string().min(1),
  files: z.array(fileSpec).min(1),
};
const Aggregated = z
  .object({
    ...common,
    shape: z.literal("aggregated"),
    /** The attribute of the groups (`country` makes populations `country=<value>`). */
    attribute: z.string().min(1).default("group"),
    columns: z
      .object({
        id: column.optional(),
        question: column,
        group: column.optional(),
        options: column.optional(),
        shares: column.optional(),
        label: column.optional(),
      })
      .strict(),
    /** The text asked, with {column} standing for a row's value; default the question column. */
    template: z.string().optional(),
    /** Options for every question, when no column holds them. */
    options: z.array(z.string().min(1)).min(2).optional(),
  })
  .strict();
const Respondents = z
  .object({
    ...common,
    shape: z.literal("respondents"),
    groups: z.array(column).min(1),
    weight: column.optional(),
    questions: z
      .array(
        z
          .object({
            id: z.string().min(1),
            column,
            text: z.string().min(1),
            /** The options in order; default: the values found, sorted. */
            options: z.array(z.string().min(1)).min(2).optional(),
            /** Options shown but not scored ("Prefer not to say"). */
            refusal: z.array(z.string().min(1)).optional(),
          })
          .strict(),
      )
      .min(1),
  })
  .strict();
const Mapping = z.discriminatedUnion("shape", [Aggregated, Respondents]);
export type HfMapping = z.output<typeof Mapping>;

export interface LoadHfOptions {
  /** `hf:<built-in name>` or `hf:<mapping file>` (the `hf:` prefix is optional). */
  readonly data?: string;
  readonly cacheDir?: string;
  readonly onProgress?: CacheOptions["onProgress"];
  readonly onUnverified?: CacheOptions["onUnverified"];
  readonly fetchImpl?: typeof fetch;
  readonly env?: NodeJS.ProcessEnv;
}

/** Reads and checks a mapping file (YAML or JSON); errors name the file and the field. */
export function parseMapping(text: string, file: string): HfMapping {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    throw new CivitasError("input", `${file}: not valid YAML or JSON: ${messageOf(e)}`, { hint: HINT });
  }
  const r = Mapping.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new CivitasError("input", `${file}: ${issue.path.join(".") || "the mapping"}: ${issue.message}`, { hint: HINT });
  }
  const m = r.data;
  if (m.shape === "aggregated") {
    const c = m.columns;
    if ((c.shares === undefined) === (c.label === undefined)) throw new CivitasError("input", `${file}: columns: give one of shares (a list per row) or label (the option a row chose)`, { hint: HINT });
    if ((c.options === undefined) === (m.options === undefined)) throw new CivitasError("input", `${file}: give the options either as a column (columns.options) or as a list (options)`, { hint: HINT });
  }
  return m;
}

/** Where a mapping named on the command line is: a built-in name or a file. */
async function resolveMapping(data: string): Promise<{ text: string; file: string }> {
  const spec = data.startsWith("hf:") ? data.slice(3) : data;
  if (spec === "") throw new CivitasError("usage", "--data hf: needs a mapping: a built-in name or a file", { hint: `built-in: ${Object.keys(HF_BUILT_IN).join(", ")}` });
  const builtIn = HF_BUILT_IN[spec];
  const file = builtIn ? path.resolve(new URL(builtIn, MAPPINGS_DIR).pathname) : path.resolve(spec);
  if ((await pathKind(file)) !== "file") {
    throw new CivitasError("usage", `no mapping ${JSON.stringify(spec)}: not a built-in name and no file ${file}`, { hint: `built-in: ${Object.keys(HF_BUILT_IN).join(", ")}; or a mapping file (${HINT})` });
  }
  return { text: await readFile(file, "utf8"), file };
}

/** The cache folder name of a dataset at a revision (one plain segment). */
export function hfCacheName(repo: string, revision: string): string {
  return `hf-${`${repo}--${revision}`.replace(/[^\w.-]+/gu, "--")}`;
}

/** A row of a data file and where it is, for messages. */
interface Row {
  readonly value: Record<string, unknown>;
  readonly at: string;
}

async function readRows(file: string, rel: string): Promise<Row[]> {
  const ext = path.extname(rel).toLowerCase();
  if (ext === ".parquet") {
    let objs: Record<string, unknown>[];
    try {
      objs = (await parquetReadObjects({ file: await asyncBufferFromFile(file) })) as Record<string, unknown>[];
    } catch (e) {
      throw new CivitasError("input", `${file}: not a Parquet file civitas can read: ${messageOf(e)}`, { hint: "civitas reads uncompressed and snappy-compressed Parquet (hyparquet)", cause: e });
    }
    return objs.map((value, i) => ({ value, at: `${file} row ${i + 1}` }));
  }
  const text = await readFile(file, "utf8");
  if (ext === ".jsonl" || ext === ".json") {
    return [...jsonLines(text, file)].map(({ value, at }) => {
      if (typeof value !== "object" || value === null || Array.isArray(value)) throw new CivitasError("input", `${at}: expected a JSON object`, { hint: HINT });
      return { value: value as Record<string, unknown>, at };
    });
  }
  if (ext === ".csv") {
    let recs: { record: Record<string, string>; info: { lines: number } }[];
    try {
      recs = parseCsv(text, { bom: true, columns: true, info: true, skip_empty_lines: true }) as unknown as typeof recs;
    } catch (e) {
      throw new CivitasError("input", `${file}: not a valid CSV file: ${messageOf(e)}`, { hint: HINT });
    }
    return recs.map(({ record, info }) => ({ value: record, at: `${file} line ${info.lines}` }));
  }
  throw new CivitasError("input", `${rel}: civitas reads .parquet, .jsonl and .csv files, not ${ext || "files without an extension"}`, { hint: HINT });
}

/** A value at a dotted path (`location.reside_region`); undefined when absent. */
function at(row: Record<string, unknown>, p: string): unknown {
  if (p in row) return row[p];
  let v: unknown = row;
  for (const k of p.split(".")) {
    if (typeof v !== "object" || v === null) return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}

const asText = (v: unknown): string | undefined => (v === null || v === undefined ? undefined : typeof v === "string" ? v : typeof v === "number" || typeof v === "bigint" || typeof v === "boolean" ? String(v) : undefined);

function bad(r: Row, col: string, what: string): CivitasError {
  return new CivitasError("input", `${r.at}, column ${col}: ${what}`, { hint: HINT });
}

function asList(r: Row, col: string): unknown[] {
  let v = at(r.value, col);
  if (typeof v === "string") {
    try {
      v = JSON.parse(v);
    } catch {
      // not JSON: left as the string, reported below
    }
  }
  if (!Array.isArray(v)) throw bad(r, col, "expected a list");
  return v;
}

/** Loads a Hugging Face dataset through its mapping. */
export async function loadHf(opts: LoadHfOptions = {}): Promise<Suite> {
  if (opts.data === undefined) throw new CivitasError("usage", "the hf suite needs --data hf:<mapping>", { hint: `built-in mappings: ${Object.keys(HF_BUILT_IN).join(", ")}; or a mapping file (${HINT})` });
  const { text, file: mappingFile } = await resolveMapping(opts.data);
  const m = parseMapping(text, mappingFile);
  const env = opts.env ?? process.env;
  const endpoint = (env[HF_ENDPOINT_ENV] || HF_DEFAULT_ENDPOINT).replace(/\/+$/u, "");
  const warnings: string[] = [];
  if (!/^[0-9a-f]{40}$/u.test(m.revision)) warnings.push(`${m.repo} is read at revision ${m.revision}, a branch or tag, not a commit: its files may change`);
  const root = await ensureCached(
    { name: hfCacheName(m.repo, m.revision), baseUrl: `${endpoint}/datasets/${m.repo}/resolve/${encodeURIComponent(m.revision)}/`, files: m.files },
    {
      ...(opts.cacheDir !== undefined ? { cacheDir: opts.cacheDir } : {}),
      ...(opts.onProgress !== undefined ? { onProgress: opts.onProgress } : {}),
      ...(opts.onUnverified !== undefined ? { onUnverified: opts.onUnverified } : {}),
      ...(opts.fetchImpl !== undefined ? { fetchImpl: opts.fetchImpl } : {}),
      env,
    },
  );
  const rows: Row[] = [];
  const fp: { rel: string; bytes: Uint8Array }[] = [{ rel: "mapping", bytes: Buffer.from(text) }];
  for (const f of m.files) {
    const abs = path.join(root, ...f.path.split("/"));
    fp.push({ rel: f.path, bytes: await readFile(abs) });
    rows.push(...(await readRows(abs, f.path)));
  }
  const built = m.shape === "aggregated" ? aggregated(m, rows) : respondents(m, rows);
  return {
    name: "hf",
    title: m.title,
    location: `${m.repo}@${m.revision} (${root})`,
    fingerprint: filesFingerprint(fp),
    questions: built.questions,
    populations: built.populations,
    reference: built.populations.some((p) => p.id === "overall") ? "overall" : null,
    defaultMetric: built.questions.every((q) => q.ordinals) ? "wasserstein" : "tv",
    ...(m.citation ? { citation: m.citation } : {}),
    ...(m.licence ? { licence: m.licence } : {}),
    ...(warnings.length + built.warnings.length > 0 ? { warnings: [...warnings, ...built.warnings] } : {}),
    human: (q, p) => built.human.get(`${q}\u0000${p}`),
  };
}

interface Built {
  questions: Question[];
  populations: Population[];
  human: Map<string, HumanDistribution>;
  warnings: string[];
}

function aggregated(m: z.output<typeof Aggregated>, rows: readonly Row[]): Built {
  const c = m.columns;
  const questions = new Map<string, { q: Question; at: string }>();
  const mass = new Map<string, { id: string; pop: string; m: number[]; at: string }>();
  const populations = new Map<string, Population>();
  for (const r of rows) {
    const text = asText(at(r.value, c.question));
    if (text === undefined || text.trim() === "") throw bad(r, c.question, "no question text");
    const id = c.id ? asText(at(r.value, c.id)) : text;
    if (id === undefined || id === "") throw bad(r, c.id!, "no id");
    const options = c.options ? asList(r, c.options).map((o) => asText(o) ?? "") : m.options!;
    if (options.length < 2 || options.some((o) => o.trim() === "")) throw bad(r, c.options ?? "options", "expected at least two non-empty options");
    const asked = m.template
      ? m.template.replace(/\{([^{}]+)\}/gu, (_, k: string) => {
          const v = asText(at(r.value, k));
          if (v === undefined) throw bad(r, k, `the template names it but the row has no value`);
          return v;
        })
      : text;
    let q = questions.get(id);
    if (!q) {
      q = { q: { id, text: asked, options, refusal: options.map(() => false), ordinals: null, source: m.repo }, at: r.at };
      questions.set(id, q);
    } else if (q.q.options.length !== options.length || q.q.options.some((o, i) => o !== options[i])) {
      throw bad(r, c.options ?? "options", `question ${id}: its options differ from ${q.at}`);
    }
    let pop = "overall";
    if (c.group) {
      const g = asText(at(r.value, c.group));
      if (g === undefined || g.trim() === "") throw bad(r, c.group, "no group");
      pop = `${m.attribute}=${g.trim()}`;
      if (!populations.has(pop)) populations.set(pop, { id: pop, attribute: m.attribute, value: g.trim() });
    } else if (!populations.has(pop)) populations.set(pop, { id: pop, attribute: null, value: pop });
    const key = `${id}\u0000${pop}`;
    let acc = mass.get(key);
    if (c.shares) {
      if (acc) throw bad(r, c.shares, `a second row for question ${id} and ${pop} (the first at ${acc.at})`);
      const s = asList(r, c.shares).map((v) => (typeof v === "number" ? v : Number(asText(v))));
      if (s.length !== options.length) throw bad(r, c.shares, `${s.length} shares for ${options.length} options`);
      if (s.some((v) => !Number.isFinite(v) || v < 0)) throw bad(r, c.shares, "shares must be non-negative numbers");
      mass.set(key, { id, pop, m: s, at: r.at });
    } else {
      const label = asText(at(r.value, c.label!))?.trim().toLowerCase();
      const k = label === undefined ? -1 : options.findIndex((o) => o.trim().toLowerCase() === label);
      if (k < 0) throw bad(r, c.label!, `${JSON.stringify(at(r.value, c.label!))} is not one of the options (${options.join(", ")})`);
      if (!acc) mass.set(key, (acc = { id, pop, m: options.map(() => 0), at: r.at }));
      acc.m[k]! += 1;
    }
  }
  const human = new Map<string, HumanDistribution>();
  for (const [key, a] of mass) {
    const total = a.m.reduce((s, x) => s + x, 0);
    if (!(total > 0)) continue;
    const probs = a.m.map((x) => x / total);
    human.set(key, { questionId: a.id, population: a.pop, probs, allProbs: probs, n: c.label ? total : null });
  }
  return { questions: [...questions.values()].map((q) => q.q), populations: [...populations.values()], human, warnings: [] };
}

function respondents(m: z.output<typeof Respondents>, rows: readonly Row[]): Built {
  const warnings: string[] = [];
  const people = rows.map((r) => {
    let w = 1;
    if (m.weight) {
      const v = at(r.value, m.weight);
      w = typeof v === "number" ? v : Number(asText(v));
      if (!Number.isFinite(w) || w < 0) throw bad(r, m.weight, `weight ${JSON.stringify(v)} is not a non-negative number`);
    }
    const groups = m.groups.map((g) => asText(at(r.value, g))?.trim());
    return { r, w, groups };
  });
  const populations: Population[] = [{ id: "overall", attribute: null, value: "overall" }];
  m.groups.forEach((g, gi) => {
    const values = [...new Set(people.map((p) => p.groups[gi]).filter((v): v is string => v !== undefined && v !== ""))].sort();
    for (const v of values) populations.push({ id: `${g}=${v}`, attribute: g, value: v });
  });
  const questions: Question[] = [];
  const human = new Map<string, HumanDistribution>();
  for (const spec of m.questions) {
    const answers = people.map((p) => ({ ...p, a: asText(at(p.r.value, spec.column))?.trim() }));
    const found = [...new Set(answers.map((x) => x.a).filter((v): v is string => v !== undefined && v !== ""))].sort();
    const options = spec.options ?? found;
    if (options.length < 2) {
      warnings.push(`${spec.id}: column ${spec.column} has ${options.length} distinct answer(s) and no options listed in the mapping: not asked`);
      continue;
    }
    const refusal = options.map((o) => spec.refusal?.includes(o) ?? false);
    const q: Question = { id: spec.id, text: spec.text, options, refusal, ordinals: null, source: m.repo };
    questions.push(q);
    const masses = new Map<string, number[]>();
    let missing = 0;
    for (const x of answers) {
      if (x.a === undefined || x.a === "") {
        missing++;
        continue;
      }
      const k = options.indexOf(x.a);
      if (k < 0) throw bad(x.r, spec.column, `answer ${JSON.stringify(x.a)} is not one of the options of ${spec.id} (${options.join(", ")})`);
      const add = (pop: string) => {
        let v = masses.get(pop);
        if (!v) masses.set(pop, (v = options.map(() => 0)));
        v[k]! += x.w;
      };
      add("overall");
      m.groups.forEach((g, gi) => {
        const v = x.groups[gi];
        if (v) add(`${g}=${v}`);
      });
    }
    if (missing > 0) warnings.push(`${spec.id}: ${missing} row(s) without an answer in ${spec.column}, left out`);
    for (const [pop, v] of masses) {
      let scored = 0;
      let total = 0;
      v.forEach((x, i) => {
        total += x;
        if (!refusal[i]) scored += x;
      });
      if (!(scored > 0)) continue;
      human.set(`${q.id}\u0000${pop}`, { questionId: q.id, population: pop, probs: v.filter((_, i) => !refusal[i]).map((x) => x / scored), allProbs: v.map((x) => x / total), n: m.weight ? null : scored });
    }
  }
  return { questions, populations, human, warnings };
}
