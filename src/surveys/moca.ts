/**
 * MoCa (Nie et al. 2023, "MoCa: Measuring Human-Language Model Alignment on Causal and Moral
 * Judgment Tasks", NeurIPS 2023): 62 moral and 144 causal stories from the cognitive-science
 * literature, each with a yes/no question answered by 25 people.
 *
 * Source: cicl-stanford/moca @ 1b61a20294247480d64675ceb19751ef4e1e878f, `data/moral_dataset_v1.json`
 * and `data/causal_dataset_v1.json`. Each file is a JSON array of *JSON strings*, one per story;
 * each string holds an object with `story`, `question`, `answer` (the majority), `answer_dist`
 * ([share yes, share no] of the 25 people), `transcribed_answer` (the answer given in the original
 * paper the story comes from), `annotated_sentences` (the factor annotations), `is_ambiguous` and
 * `individual_votes` (25 booleans, true = yes).
 *
 * Choices, following the original code (moca/data.py, moca/evaluator.py):
 * - A question's text is the story, a space and the question: `InterfaceFactory.to_exp1` is
 *   `example.story + ' ' + example.question`, and every exp1 prompt template renders
 *   `{{story}} {{question}}`.
 * - Options are ["Yes", "No"] in that order (`JudgmentDatasetSchema.answer_choices`), nominal (no
 *   ordinals), no refusal. The human distribution is `answer_dist`; `n` is the number of
 *   `individual_votes` (25 for every story), null when a file has no votes.
 * - Ids are `moral/<i>` and `causal/<i>`, i the 0-based position in the file: the index the
 *   original code uses (`MoralDataset()[i]`, `ignore_ids`). Its website numbers stories from 1.
 * - `is_ambiguous` is not used: the original loader recomputes it on load (`AutoAseembleTrait`:
 *   `max(answer_dist) <= 0.6`) and the AuROC evaluator applies that rule itself; the stored flag
 *   equals the rule on all 206 stories. The MoCa scores live in metrics/moca.ts.
 * - One population, `overall` (the 25 people who answered each story); no reference population.
 * - Items that tell the same story (the same text, with another question) share a cluster
 *   (Question.cluster, "<dataset>/story <first item>"): 55 stories for the 62 moral items, 111 for
 *   the 144 causal ones. They are not independent, so bootstrap intervals resample stories.
 */
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { filesFingerprint } from "../hash.js";
import { CivitasError, messageOf } from "../errors.js";
import { ensureCached, type CacheOptions, type PinnedFile } from "./download.js";
import { isPlainObject, parseJsonFile, type RawFile } from "./opinionqa.js";
import type { HumanDistribution, Population, Question, Suite } from "./types.js";

/** The commit of cicl-stanford/moca the files are pinned at. */
export const MOCA_COMMIT = "1b61a20294247480d64675ceb19751ef4e1e878f";

export const MOCA_BASE_URL = `https://raw.githubusercontent.com/cicl-stanford/moca/${MOCA_COMMIT}/data/`;

/** Environment variable that replaces MOCA_BASE_URL (a mirror, or a local server in tests). */
export const MOCA_URL_ENV = "CIVITAS_MOCA_URL";

/** The two sub-datasets, in suite order. */
export const MOCA_DATASETS = ["moral", "causal"] as const;
export type MoCaDataset = (typeof MOCA_DATASETS)[number];

/** The files, pinned by sha256 (computed from an exact copy of `data/` at MOCA_COMMIT). */
export const MOCA_FILES: Readonly<Record<MoCaDataset, PinnedFile>> = {
  moral: { path: "moral_dataset_v1.json", sha256: "6921d0377ad8da01bf2095ece9e559866752532685fb2ee0c9b41af07029b6e3" },
  causal: { path: "causal_dataset_v1.json", sha256: "4df65f322217ffba75b03b977d3d868e34b95cb274119afa0e5a7e1609c9ead2" },
};

export const MOCA_TITLE = "MoCa (Nie et al. 2023), moral and causal judgments of 25 people per story";

export const MOCA_CITATION =
  "Allen Nie, Yuhui Zhang, Atharva Amdekar, Chris Piech, Tatsunori Hashimoto, Tobias Gerstenberg. " +
  "MoCa: Measuring Human-Language Model Alignment on Causal and Moral Judgment Tasks. NeurIPS 2023. " +
  `arXiv:2310.19677. Data: github.com/cicl-stanford/moca @ ${MOCA_COMMIT.slice(0, 7)}, data/.`;

/** The options of every MoCa question, in the original order (yes first). */
export const MOCA_OPTIONS = ["Yes", "No"] as const;

export interface LoadMoCaOptions {
  /**
   * A local copy: a folder holding `moral_dataset_v1.json` and `causal_dataset_v1.json` (or a
   * clone of the repository, whose `data/` holds them), or the path of one of the two files, which
   * loads that dataset only (its name must start with "moral" or "causal"). When absent, the
   * pinned files are downloaded into the cache (and verified).
   */
  readonly data?: string;
  /** Cache root for downloads (default: see defaultCacheDir). */
  readonly cacheDir?: string;
  readonly onProgress?: CacheOptions["onProgress"];
  /** Replaces the global fetch for downloads. */
  readonly fetchImpl?: typeof fetch;
  /** Load only these datasets ("moral", "causal"); default both. */
  readonly datasets?: readonly string[];
}

const DATA_HINT =
  `--data must point at a folder holding ${MOCA_FILES.moral.path} and ${MOCA_FILES.causal.path} ` +
  "(cicl-stanford/moca data/, or a clone of the repository), or at one of the two files; or leave --data out to download them";

/** Validates a dataset selection, keeping MOCA_DATASETS order. */
export function resolveMoCaDatasets(datasets: readonly string[] | undefined): MoCaDataset[] {
  if (datasets === undefined) return [...MOCA_DATASETS];
  const want = new Set<string>();
  for (const d of datasets) {
    const t = d.trim().toLowerCase();
    if (!(MOCA_DATASETS as readonly string[]).includes(t)) {
      throw new CivitasError("usage", `unknown MoCa dataset "${d}"`, { hint: `choose among ${MOCA_DATASETS.join(", ")}` });
    }
    want.add(t);
  }
  if (want.size === 0) throw new CivitasError("usage", "no MoCa dataset selected", { hint: `choose among ${MOCA_DATASETS.join(", ")}` });
  return MOCA_DATASETS.filter((d) => want.has(d));
}

/** The dataset a file name stands for: "moral..." or "causal...", else undefined. */
function datasetOfFile(file: string): MoCaDataset | undefined {
  const base = path.basename(file).toLowerCase();
  return MOCA_DATASETS.find((d) => base.startsWith(d));
}

interface Located {
  /** Where the suite comes from, for reports: the folder, or the one file. */
  readonly location: string;
  readonly datasets: MoCaDataset[];
  /** Absolute path of each selected dataset's file. */
  readonly paths: ReadonlyMap<MoCaDataset, string>;
}

async function locate(data: string, selected: readonly string[] | undefined): Promise<Located> {
  const abs = path.resolve(data);
  let st;
  try {
    st = await stat(abs);
  } catch {
    throw new CivitasError("usage", `data path ${abs} does not exist`, { hint: DATA_HINT });
  }
  if (st.isFile()) {
    const ds = datasetOfFile(abs);
    if (ds === undefined) {
      throw new CivitasError("usage", `cannot tell which MoCa dataset ${abs} is: its name starts with neither "moral" nor "causal"`, {
        hint: `name it ${MOCA_FILES.moral.path} or ${MOCA_FILES.causal.path}, or pass the folder that holds both`,
      });
    }
    if (selected !== undefined && resolveMoCaDatasets(selected).join() !== ds) {
      throw new CivitasError("usage", `${abs} holds the ${ds} dataset only, but ${selected.join(", ")} was asked for`, {
        hint: "pass the folder that holds both files",
      });
    }
    return { location: abs, datasets: [ds], paths: new Map([[ds, abs]]) };
  }
  if (!st.isDirectory()) throw new CivitasError("usage", `data path ${abs} is neither a file nor a folder`, { hint: DATA_HINT });
  const datasets = resolveMoCaDatasets(selected);
  // A clone of the repository: the files are in data/.
  const nested = path.join(abs, "data");
  let root = abs;
  for (const d of datasets) {
    const here = await stat(path.join(abs, MOCA_FILES[d].path)).catch(() => undefined);
    if (here) break;
    const there = await stat(path.join(nested, MOCA_FILES[d].path)).catch(() => undefined);
    if (there) {
      root = nested;
      break;
    }
  }
  return { location: root, datasets, paths: new Map(datasets.map((d) => [d, path.join(root, MOCA_FILES[d].path)])) };
}

/**
 * Loads MoCa. With `data`, reads that folder or file; otherwise downloads the pinned files into the
 * cache (verifying their sha256) and reads them from there.
 */
export async function loadMoCa(opts: LoadMoCaOptions = {}): Promise<Suite> {
  let located: Located;
  if (opts.data !== undefined) {
    located = await locate(opts.data, opts.datasets);
  } else {
    const datasets = resolveMoCaDatasets(opts.datasets);
    const cacheOpts: CacheOptions = {
      ...(opts.cacheDir !== undefined ? { cacheDir: opts.cacheDir } : {}),
      ...(opts.onProgress !== undefined ? { onProgress: opts.onProgress } : {}),
      ...(opts.fetchImpl !== undefined ? { fetchImpl: opts.fetchImpl } : {}),
    };
    const root = await ensureCached(
      { name: "moca", baseUrl: MOCA_BASE_URL, urlEnv: MOCA_URL_ENV, files: datasets.map((d) => MOCA_FILES[d]) },
      cacheOpts,
    );
    located = { location: root, datasets, paths: new Map(datasets.map((d) => [d, path.join(root, MOCA_FILES[d].path)])) };
  }
  const files = await Promise.all(
    located.datasets.map(async (d): Promise<RawFile> => {
      const abs = located.paths.get(d)!;
      try {
        // `rel` is the canonical file name, so that the same bytes give the same fingerprint
        // whether they are read from a folder, a single file or the cache.
        return { rel: MOCA_FILES[d].path, abs, bytes: await readFile(abs) };
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        const hint =
          opts.data === undefined
            ? "the cache was changed while loading; run the command again to re-download"
            : `${DATA_HINT}; to load one dataset only, pass the path of its file`;
        throw new CivitasError("input", code === "ENOENT" ? `missing MoCa file ${abs}` : `cannot read ${abs}: ${messageOf(e)}`, {
          hint,
          cause: e,
        });
      }
    }),
  );
  return buildSuite(located, files);
}

// ---------------------------------------------------------------------------------------------

const probability = z.number().min(0).max(1);
const nonEmpty = z.string().refine((s) => s.trim() !== "", { message: "is empty" });

/** The fields civitas reads; the others (answer, transcribed_answer, annotated_sentences, ...) pass. */
const StorySchema = z.object({
  story: nonEmpty,
  question: nonEmpty,
  answer_dist: z.tuple([probability, probability]),
  /** true (or 1) = yes, as the original code writes them (`process_crowd_label`). */
  individual_votes: z
    .array(z.union([z.boolean(), z.literal(0), z.literal(1)], { error: "expected true or false (true = yes)" }))
    .min(1)
    .optional(),
});

interface Story {
  readonly index: number;
  readonly story: string;
  readonly question: string;
  readonly probs: readonly [number, number];
  readonly n: number | null;
}

/**
 * The line each top-level element of a JSON array starts on (text already known to be valid
 * JSON), for error messages.
 */
function elementLines(text: string): number[] {
  const lines: number[] = [];
  let depth = 0;
  let inString = false;
  let expecting = false;
  let line = 1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === "\n") line++;
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (depth === 1 && expecting && c !== "]" && !/\s/u.test(c)) {
      lines.push(line);
      expecting = false;
    }
    if (c === '"') inString = true;
    else if (c === "[" || c === "{") {
      depth++;
      if (depth === 1) expecting = true;
    } else if (c === "]" || c === "}") depth--;
    else if (c === "," && depth === 1) expecting = true;
  }
  return lines;
}

function show(v: unknown): string {
  const s = v === undefined ? "missing" : JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function valueAt(obj: unknown, p: readonly PropertyKey[]): unknown {
  let v = obj;
  for (const k of p) {
    if (typeof v !== "object" || v === null) return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

function fieldName(p: readonly PropertyKey[]): string {
  return p.map((k, i) => (typeof k === "number" ? `[${k}]` : i === 0 ? String(k) : `.${String(k)}`)).join("");
}

function parseStories(f: RawFile, dataset: MoCaDataset): Story[] {
  const json = parseJsonFile(f);
  const hint = "the file is damaged or not a MoCa dataset file; copy it again from the source (or delete it from the cache to re-download)";
  if (!Array.isArray(json)) {
    throw new CivitasError("input", `${f.abs}: expected a JSON array of stories (one JSON string per story), got ${json === null ? "null" : typeof json}`, { hint });
  }
  if (json.length === 0) throw new CivitasError("input", `${f.abs}: the file holds no stories`, { hint });
  let lines: number[] | undefined;
  const where = (i: number): string => {
    lines ??= elementLines(f.bytes.toString("utf8"));
    const line = lines[i];
    return `${f.abs}${line !== undefined ? ` line ${line}` : ""} (story ${i}, ${dataset}/${i})`;
  };
  return json.map((el, i): Story => {
    let raw: unknown = el;
    if (typeof el === "string") {
      try {
        raw = JSON.parse(el);
      } catch (e) {
        throw new CivitasError("input", `${where(i)}: the story's JSON string is not valid JSON: ${messageOf(e)}`, { hint });
      }
    }
    if (!isPlainObject(raw)) {
      throw new CivitasError("input", `${where(i)}: expected a story object (or a JSON string holding one), got ${show(raw)}`, { hint });
    }
    const parsed = StorySchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new CivitasError(
        "input",
        `${where(i)}: field "${fieldName(issue.path)}": ${issue.message} (value: ${show(valueAt(raw, issue.path))})`,
        { hint },
      );
    }
    const s = parsed.data;
    const [yes, no] = s.answer_dist;
    const sum = yes + no;
    if (Math.abs(sum - 1) > 1e-6) {
      throw new CivitasError("input", `${where(i)}: field "answer_dist": ${show(s.answer_dist)} does not sum to 1`, { hint });
    }
    let n: number | null = null;
    if (s.individual_votes !== undefined) {
      n = s.individual_votes.length;
      const ayes = s.individual_votes.filter((v) => v === true || v === 1).length;
      if (Math.abs(ayes / n - yes / sum) > 1e-6) {
        throw new CivitasError(
          "input",
          `${where(i)}: field "individual_votes" has ${ayes} yes of ${n} votes (${(ayes / n).toFixed(4)}), but answer_dist gives ${yes}`,
          { hint },
        );
      }
    }
    return { index: i, story: s.story.trim(), question: s.question.trim(), probs: [yes / sum, no / sum], n };
  });
}

function buildSuite(located: Located, files: readonly RawFile[]): Suite {

  const questions: Question[] = [];
  const humans = new Map<string, HumanDistribution>();
  located.datasets.forEach((dataset, k) => {
    const f = files[k]!;
    // A story asked with several questions is one cluster, named by its first item: 62 moral items
    // tell 55 stories, 144 causal items 111 (v1 files); intervals resample stories, not items.
    const firstOfStory = new Map<string, number>();
    for (const s of parseStories(f, dataset)) {
      const id = `${dataset}/${s.index}`;
      if (!firstOfStory.has(s.story)) firstOfStory.set(s.story, s.index);
      questions.push({
        id,
        text: `${s.story} ${s.question}`,
        options: [...MOCA_OPTIONS],
        refusal: [false, false],
        ordinals: null,
        source: `${f.rel}#${s.index}`,
        dataset,
        cluster: `${dataset}/story ${firstOfStory.get(s.story)!}`,
      });
      humans.set(id, { questionId: id, population: "overall", probs: s.probs, allProbs: s.probs, n: s.n });
    }
  });
  const populations: Population[] = [{ id: "overall", attribute: null, value: "overall" }];

  return {
    name: "moca",
    title: MOCA_TITLE,
    location: located.location,
    fingerprint: filesFingerprint(files),
    questions,
    populations,
    reference: null,
    defaultMetric: "tv",
    datasets: [...located.datasets],
    extraScores: ["moca"],
    clusterName: "story",
    // The A/B prompt of the MoCa repository (exp1_moral_prompt_2.jinja): "... Please choose A or B."
    template: "moca",
    citation: MOCA_CITATION,
    human(questionId: string, population: string): HumanDistribution | undefined {
      return population === "overall" ? humans.get(questionId) : undefined;
    },
  };
}
