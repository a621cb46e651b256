/**
 * The distributional alignment benchmark of Meister, Guestrin and Hashimoto (2024, "Benchmarking
 * Distributional Alignment of Large Language Models", NAACL 2025, arXiv:2411.05403): three datasets
 * in one suite, marked with `Question.dataset`:
 *
 * - "opinionqa": the paper's OpinionQA subset, by default the 100 questions of
 *   `Pew_American_Trends_Panel_disagreement_100` (the repository's README: "our 100-question subset
 *   of the 500 contentious OpinionQA questions"; lm_steering.py: `--wave` defaults to
 *   'Pew_American_Trends_Panel_disagreement_100'); `opinionqaSubset: 500` loads the 494 questions of
 *   `..._disagreement_500` instead. Per-group counts from `{POLPARTY,SEX,RACE}_data.json`.
 * - "globalvalues": the 100 GlobalOpinionQA questions of `Global_Values/data/data.json`, parsed
 *   as in the globalopinions suite (globalopinions.ts); countries are populations.
 * - "nytimes": 235 books of the New York Times "100 Notable Books" lists, "how likely are you to
 *   read it?" on a 4-point scale ("1: Very unlikely" ... "4: Very likely"), counts per group from
 *   `nytimes/POLPARTY_data.json` and `nytimes/SEX_data.json` (the files the paper's code reads:
 *   utils.py task_disagree500 loads `data_path + '/' + demographic_group + "_data.json"`).
 *
 * Source: nicolemeister/benchmarking-distributional-alignment at commit 36869b5 (the full 40-digit
 * hash could not be found offline; see DISTALIGN_COMMIT). Local copies: the `distalign/` folder of
 * the project's shared data (`opinionqa/`, `globalvalues/`, `nytimes/`) or a checkout of the
 * repository (`opinions_qa/data/human_resp/`, `Global_Values/data/`, `nytimes/`).
 *
 * Populations follow the paper's code (utils.py `dem_group_to_dem_mapping`): POLPARTY=Democrat,
 * POLPARTY=Republican, SEX=Male, SEX=Female, RACE=Black, RACE=White (OpinionQA; NYT has POLPARTY
 * and SEX only), and the countries of the Global Values questions (country=<name>). The other groups
 * in the files (Independent, Other, Refused, Asian, Hispanic, Mixed Race) are not loaded: the
 * opinionqa suite has them.
 *
 * Distributions: `allProbs` over all options, refusals included (the meister2024 protocol keeps
 * "Refused" as an ordinary option: `expected_results[options[j]] = count / n` with n summed over
 * every key, Refused included); `probs` over the scored options, renormalised, as everywhere in
 * civitas. OpinionQA's scored options are those with an ordinal in info.csv (as in the opinionqa
 * suite: "Refused", and "Not sure" where it has no ordinal, are not scored); `n` is the number of
 * respondents with a scored answer (OpinionQA, NYT) or null (Global Values gives shares). NYT options
 * are all scored, with ordinals 1-4.
 *
 * How the paper orders and letters the options in its prompts (utils.py at commit 033bd93, the
 * version of the code the search index holds; quoted so it can be found):
 * - OpinionQA (`get_prompt_opinionqa`, every task; and `task_disagree500` for the expected
 *   distribution): `for i, option in enumerate(list(data[q_ID][demographic].keys())):` with
 *   `options = {0: "A", 1: "B", ...}`. The letters follow the key order of that group's count object
 *   in `<GROUP>_data.json`. In these files every count object is sorted alphabetically by option
 *   text (checked: all 2,470 POLPARTY, 988 SEX and 3,458 RACE objects of the 500 subset), and an
 *   option no one in the group chose is absent, so the option list, its letters and its length can
 *   differ between groups of the same question (16 of the 200 POLPARTY Democrat/Republican objects
 *   of the 100 subset lack an option). "Refused" is kept, lettered like any other option, e.g.
 *   GAP21Q33_g_W82 for Democrats: A. No priority, B. Refused, C. Some priority, D. Top priority.
 *   The MC_options field is not used for OpinionQA (it is split at commas for 76 of the 494
 *   questions), nor is survey order.
 * - NYT (`get_prompt_nytimes`): the same `list(data[q_ID][demographic].keys())`; in
 *   POLPARTY_data.json and SEX_data.json every count object lists the four options in scale order
 *   (which is also alphabetical), zeros included, so the letters are A-D = 1-4. The expected
 *   distribution uses `data[q_ID]['MC_options']` with 0 for a missing option.
 * - Global Values (`get_prompt_globalvalues`): `for i, option in enumerate(data[q_ID]['options'])`,
 *   the option list in its given order (DK/Refused included, last), expected shares
 *   `data[q_ID]['data'][j]` unrenormalised.
 * This suite stores options in survey order (info.csv `references`, the NYT scale, the Global
 * Values list); a presentation that reproduces the paper's OpinionQA prompts must sort the options
 * of each group alphabetically and drop those with a zero count for that group.
 *
 * Data notes: `..._disagreement_100/info.csv` lists a different question set from the JSON files
 * of that folder (18 of its 100 keys are in them), so options and ordinals come from
 * `..._disagreement_500/info.csv`, which covers both subsets. IDIMPORT_W43 has five info.csv rows
 * (one per race wording, identical options) and one set of counts; its text is taken from the JSON
 * files, as the paper did ("...being Asian..." in the 100 subset, "...being white..." in the 500).
 * `nytimes/data.json` equals POLPARTY_data.json without its zero counts and is not read.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { CivitasError, messageOf } from "../errors.js";
import { filesFingerprint } from "../hash.js";
import { ensureCached, isDirectory, type CacheOptions, type PinnedFile } from "./download.js";
import {
  countryPopulations,
  GLOBALOPINIONS_PERSONA_TEMPLATES,
  parseGlobalValuesJson,
  sharesDistribution,
} from "./globalopinions.js";
import { buildQuestion, isPlainObject, parseInfo, parseJsonFile, readCounts, type BuiltQuestion, type RawFile } from "./opinionqa.js";
import { humanDistribution, type HumanDistribution, type Population, type Question, type Suite } from "./types.js";

export const DISTALIGN_TITLE =
  "Distributional alignment benchmark (Meister et al. 2024): OpinionQA, GlobalOpinionQA and NYT books";

export const DISTALIGN_CITATION =
  "Nicole Meister, Carlos Guestrin, Tatsunori Hashimoto. 2025. Benchmarking Distributional Alignment of Large " +
  "Language Models. NAACL 2025 (arXiv:2411.05403). Data: https://github.com/nicolemeister/benchmarking-distributional-alignment " +
  "(commit 36869b5), from OpinionQA (Santurkar et al. 2023, Pew American Trends Panel) and GlobalOpinionQA (Durmus et al. 2023).";

export const DISTALIGN_DATASETS = ["opinionqa", "globalvalues", "nytimes"] as const;
export type DistAlignDataset = (typeof DISTALIGN_DATASETS)[number];

/**
 * The pinned commit, abbreviated: the 40-digit hash could not be found offline. GitHub resolves
 * abbreviated hashes in raw URLs; every file is verified by sha256 whatever the URL serves.
 */
export const DISTALIGN_COMMIT = "36869b5";

export const DISTALIGN_BASE_URL =
  `https://raw.githubusercontent.com/nicolemeister/benchmarking-distributional-alignment/${DISTALIGN_COMMIT}/`;

/** Environment variable that replaces DISTALIGN_BASE_URL (a mirror, or a local test server). */
export const DISTALIGN_URL_ENV = "CIVITAS_DISTALIGN_URL";

/** The groups the paper evaluates (utils.py dem_group_to_dem_mapping), per dataset. */
export const DISTALIGN_GROUPS = {
  opinionqa: { POLPARTY: ["Democrat", "Republican"], SEX: ["Male", "Female"], RACE: ["Black", "White"] },
  nytimes: { POLPARTY: ["Democrat", "Republican"], SEX: ["Male", "Female"] },
} as const;

export type OpinionQASubset = 100 | 500;

export interface LoadDistAlignOptions {
  /**
   * A local copy: the `distalign` folder (opinionqa/, globalvalues/, nytimes/) or a checkout of the
   * repository. When absent, the files are downloaded into the cache (verified by sha256).
   */
  readonly data?: string;
  /** OpinionQA subset: 100 (the paper's default) or 500 (494 questions). */
  readonly opinionqaSubset?: OpinionQASubset | "100" | "500";
  readonly cacheDir?: string;
  readonly onProgress?: CacheOptions["onProgress"];
  readonly fetchImpl?: typeof fetch;
  /** Environment for the cache folder and the URL override (default process.env). */
  readonly env?: NodeJS.ProcessEnv;
}

const DATA_HINT =
  "--data must be the distalign folder (opinionqa/, globalvalues/, nytimes/) or a checkout of " +
  "nicolemeister/benchmarking-distributional-alignment; or leave --data out to download the files";

const SUBSET_DIR = (s: OpinionQASubset): string => `Pew_American_Trends_Panel_disagreement_${s}`;
const OQA_ATTRS = ["POLPARTY", "SEX", "RACE"] as const;
const NYT_ATTRS = ["POLPARTY", "SEX"] as const;

/** A file the suite reads: its name in the distalign folder (`rel`) and in the repository. */
interface DistFile {
  readonly rel: string;
  readonly repo: string;
  readonly sha256: string;
}

const OQA_REPO = "opinions_qa/data/human_resp";

/** sha256 of each file at commit 36869b5, computed from an exact copy (the project's shared data). */
export const DISTALIGN_FILES: readonly DistFile[] = (
  [
    [`opinionqa/${SUBSET_DIR(100)}/POLPARTY_data.json`, "26cf88d706a40034774ad6e6ed6b9f202a11e62d986045c81356ce0d5b2d9ce8"],
    [`opinionqa/${SUBSET_DIR(100)}/SEX_data.json`, "65185ce8e9451badd08543544008f704dc3b5455ffb75ce7d55c91de62a285ae"],
    [`opinionqa/${SUBSET_DIR(100)}/RACE_data.json`, "793f25ec87e95f19f8cab2510f1b43a1e87eaa932889a79ed981e229e838a996"],
    [`opinionqa/${SUBSET_DIR(500)}/POLPARTY_data.json`, "4d7c7f3a5516caad798eced057044748faa43d8fd0e8a2537a956c6381d63359"],
    [`opinionqa/${SUBSET_DIR(500)}/SEX_data.json`, "9b6117d2fdf5c8d6a00ac6d068a1c98e89958212379c9714de359e96f4d56262"],
    [`opinionqa/${SUBSET_DIR(500)}/RACE_data.json`, "bf7bbaff7ea5fdc999d65663fab0aea30433458b0ec7b74a79b6c72c0b207672"],
    [`opinionqa/${SUBSET_DIR(500)}/info.csv`, "d11b8fa32d60afcc9753855f2d4966583db62bd64668b4c24e00be01bf2f4ce4"],
    ["globalvalues/data.json", "1bde7f5612a57f3f15b0b2dc1b54cb501b3073b6383d5b5db980e1d7641d246d"],
    ["nytimes/POLPARTY_data.json", "854d0321e338ed5acc6c70efe4276f471822308f1c87235b0e72bfac830a46de"],
    ["nytimes/SEX_data.json", "854d0321e338ed5acc6c70efe4276f471822308f1c87235b0e72bfac830a46de"],
  ] as const
).map(([rel, sha256]) => ({ rel, sha256, repo: repoPath(rel) }));

function repoPath(rel: string): string {
  if (rel.startsWith("opinionqa/")) return `${OQA_REPO}/${rel.slice("opinionqa/".length)}`;
  if (rel === "globalvalues/data.json") return "Global_Values/data/data.json";
  return rel;
}

function filesFor(subset: OpinionQASubset): DistFile[] {
  const want = new Set<string>([
    ...OQA_ATTRS.map((a) => `opinionqa/${SUBSET_DIR(subset)}/${a}_data.json`),
    `opinionqa/${SUBSET_DIR(500)}/info.csv`,
    "globalvalues/data.json",
    ...NYT_ATTRS.map((a) => `nytimes/${a}_data.json`),
  ]);
  return DISTALIGN_FILES.filter((f) => want.has(f.rel));
}

function resolveSubset(s: LoadDistAlignOptions["opinionqaSubset"]): OpinionQASubset {
  if (s === undefined) return 100;
  const n = Number(s);
  if (n === 100 || n === 500) return n;
  throw new CivitasError("usage", `unknown OpinionQA subset "${String(s)}" for distalign`, { hint: "choose 100 (the paper's) or 500" });
}

/** The book id of a NYT title: lower case ASCII words joined by "-", accents dropped. */
export function nytimesSlug(title: string): string {
  return title
    .normalize("NFKD")
    .replace(/[\u0300-\u036f\u00ad]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");
}

export const NYTIMES_QUESTION = "Given the information about this book, how likely are you to read it?";

// ---------------------------------------------------------------------------------------------

/**
 * Loads the suite. With `data`, reads that folder; otherwise downloads the pinned files into the
 * cache (verifying their sha256) and reads them from there.
 */
export async function loadDistAlign(opts: LoadDistAlignOptions = {}): Promise<Suite> {
  const subset = resolveSubset(opts.opinionqaSubset);
  const files = filesFor(subset);
  let root: string;
  let layout: "shared" | "repo";
  if (opts.data !== undefined) {
    root = path.resolve(opts.data);
    if (!(await isDirectory(root))) {
      throw new CivitasError("usage", `data folder ${root} does not exist or is not a folder`, { hint: DATA_HINT });
    }
    if (await isDirectory(path.join(root, "opinionqa"))) layout = "shared";
    else if (await isDirectory(path.join(root, "opinions_qa"))) layout = "repo";
    else {
      throw new CivitasError("input", `${root} holds neither opinionqa/ (the distalign folder) nor opinions_qa/ (a checkout of the repository)`, {
        hint: DATA_HINT,
      });
    }
  } else {
    const pinned: PinnedFile[] = files.map((f) => ({ path: f.repo, sha256: f.sha256 }));
    root = await ensureCached(
      { name: "distalign", baseUrl: DISTALIGN_BASE_URL, urlEnv: DISTALIGN_URL_ENV, files: pinned },
      {
        ...(opts.cacheDir !== undefined ? { cacheDir: opts.cacheDir } : {}),
        ...(opts.onProgress !== undefined ? { onProgress: opts.onProgress } : {}),
        ...(opts.fetchImpl !== undefined ? { fetchImpl: opts.fetchImpl } : {}),
        ...(opts.env !== undefined ? { env: opts.env } : {}),
      },
    );
    layout = "repo";
  }
  const raw = await Promise.all(
    files.map(async (f): Promise<RawFile> => {
      const abs = path.join(root, ...(layout === "shared" ? f.rel : f.repo).split("/"));
      try {
        return { rel: f.rel, abs, bytes: await readFile(abs) };
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        throw new CivitasError("input", code === "ENOENT" ? `missing distalign file ${abs}` : `cannot read ${abs}: ${messageOf(e)}`, {
          hint: opts.data === undefined ? "the cache was changed while loading; run the command again to re-download" : DATA_HINT,
        });
      }
    }),
  );
  const byRel = new Map(raw.map((f) => [f.rel, f]));
  const get = (rel: string): RawFile => byRel.get(rel)!;

  const parts = [
    loadOpinionQAPart(
      get(`opinionqa/${SUBSET_DIR(500)}/info.csv`),
      OQA_ATTRS.map((a) => ({ attr: a, file: get(`opinionqa/${SUBSET_DIR(subset)}/${a}_data.json`) })),
    ),
    loadGlobalValuesPart(get("globalvalues/data.json")),
    loadNytimesPart(NYT_ATTRS.map((a) => ({ attr: a, file: get(`nytimes/${a}_data.json`) }))),
  ];

  const questions: Question[] = [];
  const humans = new Map<string, HumanDistribution>();
  const seen = new Map<string, string>();
  for (const part of parts) {
    for (const q of part.questions) {
      const other = seen.get(q.id);
      if (other !== undefined) throw new CivitasError("input", `question id ${q.id} appears twice (${other})`);
      seen.set(q.id, q.dataset!);
      questions.push(q);
    }
    for (const d of part.humans) humans.set(humanKey(d.questionId, d.population), d);
  }
  const populations: Population[] = [];
  for (const [attr, values] of Object.entries(DISTALIGN_GROUPS.opinionqa)) {
    for (const v of values) populations.push({ id: `${attr}=${v}`, attribute: attr, value: v });
  }
  populations.push(...parts[1]!.populations);

  return {
    name: "distalign",
    title: subset === 100 ? DISTALIGN_TITLE : `${DISTALIGN_TITLE}, OpinionQA 500-question subset`,
    location: root,
    fingerprint: filesFingerprint(raw),
    questions,
    populations,
    reference: null,
    defaultMetric: "tv",
    datasets: DISTALIGN_DATASETS,
    personaTemplates: GLOBALOPINIONS_PERSONA_TEMPLATES,
    citation: DISTALIGN_CITATION,
    human(questionId: string, population: string): HumanDistribution | undefined {
      return humans.get(humanKey(questionId, population));
    },
  };
}

function humanKey(questionId: string, population: string): string {
  return `${questionId}\u0000${population}`;
}

interface Part {
  readonly questions: Question[];
  readonly humans: HumanDistribution[];
  readonly populations: Population[];
}


function loadOpinionQAPart(infoFile: RawFile, data: readonly { attr: string; file: RawFile }[]): Part {
  const info = parseInfo(infoFile);
  const parsed = data.map(({ attr, file }) => {
    const json = parseJsonFile(file);
    if (!isPlainObject(json)) {
      throw new CivitasError("input", `${file.abs}: expected a JSON object keyed by question`, {
        hint: "the file is damaged or not a distalign OpinionQA file; copy it again from the source",
      });
    }
    return { attr, file, json };
  });
  const built = new Map<string, { bq: BuiltQuestion; question: Question }>();
  const questions: Question[] = [];
  for (const { file, json } of parsed) {
    for (const [qid, entry] of Object.entries(json)) {
      if (built.has(qid)) continue;
      const rows = info.get(qid);
      if (!rows) {
        throw new CivitasError("input", `${file.abs}: question ${qid} is not in ${infoFile.abs}`, {
          hint: "the files do not belong together; copy the distalign folder again from the source",
        });
      }
      const first = rows[0]!;
      const differing = rows.find((r) => r.references !== first.references || r.ordinal !== first.ordinal);
      if (differing) {
        throw new CivitasError(
          "input",
          `${infoFile.abs}: question ${qid} is listed on lines ${first.line} and ${differing.line} with different options or ordinals`,
          { hint: "the question is ambiguous; keep one row per question key" },
        );
      }
      const wave = /_(W\d+)$/.exec(qid)?.[1] ?? "";
      const bq = buildQuestion(infoFile, first, wave);
      const text = isPlainObject(entry) && typeof entry.question_text === "string" ? entry.question_text : first.question;
      const question: Question = { ...bq.question, id: `opinionqa/${qid}`, text, dataset: "opinionqa" };
      built.set(qid, { bq, question });
      questions.push(question);
    }
  }
  const humans: HumanDistribution[] = [];
  for (const { attr, file, json } of parsed) {
    const groups = DISTALIGN_GROUPS.opinionqa[attr as keyof typeof DISTALIGN_GROUPS.opinionqa];
    for (const [qid, entry] of Object.entries(json)) {
      const { bq, question } = built.get(qid)!;
      const counts = readCounts(file, qid, entry, bq);
      for (const g of groups) {
        const c = counts.get(g);
        const d = c && humanDistribution(question, `${attr}=${g}`, c, "scored", "keep");
        if (d) humans.push(d);
      }
    }
  }
  return { questions, humans, populations: [] };
}

function loadGlobalValuesPart(file: RawFile): Part {
  const items = parseGlobalValuesJson(file);
  const questions: Question[] = [];
  const humans: HumanDistribution[] = [];
  const countries: string[] = [];
  for (const item of items) {
    const question: Question = { ...item.question, id: `globalvalues/${item.question.id}`, dataset: "globalvalues" };
    questions.push(question);
    // The paper scores three countries per question, the first three of its list (the slots "0",
    // "1", "2": lm_steering_eval.py line 25, utils.py line 37; slot k's expected shares are the k-th
    // country's, checked on the released results by test/fixtures/meister2024/make.py). Two
    // questions list a fourth (Germany on GO-5c019b35, Turkey on GO-01b99985), which the paper
    // never asked: not loaded.
    for (const [c, shares] of [...item.shares].slice(0, 3)) {
      countries.push(c);
      const d = sharesDistribution(question, `country=${c}`, shares);
      if (d) humans.push(d);
    }
  }
  return { questions, humans, populations: countryPopulations(countries) };
}

function loadNytimesPart(data: readonly { attr: string; file: RawFile }[]): Part {
  const questions: Question[] = [];
  const humans: HumanDistribution[] = [];
  const byTitle = new Map<string, Question>();
  const bySlug = new Map<string, string>();
  for (const { attr, file } of data) {
    const json = parseJsonFile(file);
    if (!isPlainObject(json)) {
      throw new CivitasError("input", `${file.abs}: expected a JSON object keyed by book title`, {
        hint: "the file is damaged or not a distalign nytimes file; copy it again from the source",
      });
    }
    const groups = DISTALIGN_GROUPS.nytimes[attr as keyof typeof DISTALIGN_GROUPS.nytimes];
    for (const [title, entry] of Object.entries(json)) {
      const where = `${file.abs}: book ${JSON.stringify(title)}`;
      if (!isPlainObject(entry)) throw new CivitasError("input", `${where} is not an object`);
      const mc = entry.MC_options;
      if (!Array.isArray(mc) || mc.length === 0 || !mc.every((o) => typeof o === "string")) {
        throw new CivitasError("input", `${where}: MC_options is not a list of option texts`);
      }
      const options = mc as string[];
      let question = byTitle.get(title);
      if (!question) {
        for (const field of ["genre", "summary"] as const) {
          if (typeof entry[field] !== "string") throw new CivitasError("input", `${where}: ${field} is not a string`);
        }
        const slug = nytimesSlug(title);
        const other = bySlug.get(slug);
        if (slug === "" || other !== undefined) {
          throw new CivitasError("input", `${where}: its id "nytimes/${slug}" ${slug === "" ? "is empty" : `is also that of ${JSON.stringify(other)}`}`);
        }
        bySlug.set(slug, title);
        question = {
          id: `nytimes/${slug}`,
          text: `Book Title: ${title}\nBook Genre: ${entry.genre as string}\nBook Summary: ${entry.summary as string}\n${NYTIMES_QUESTION}`,
          options,
          refusal: options.map(() => false),
          ordinals: options.map((_, i) => i + 1),
          dataset: "nytimes",
        };
        byTitle.set(title, question);
        questions.push(question);
      } else if (question.options.join("\u0000") !== options.join("\u0000")) {
        throw new CivitasError("input", `${where}: MC_options differ from those of the same book in ${data[0]!.file.abs}`);
      }
      for (const g of groups) {
        const v = entry[g];
        if (v === undefined) continue;
        if (!isPlainObject(v)) throw new CivitasError("input", `${where}, group "${g}" is not an object of counts`);
        const counts = new Array<number>(options.length).fill(0);
        for (const [answer, c] of Object.entries(v)) {
          const idx = options.indexOf(answer);
          if (idx === -1) {
            throw new CivitasError(
              "input",
              `${where}, group "${g}": answer ${JSON.stringify(answer)} is none of MC_options (${options.map((o) => JSON.stringify(o)).join(", ")})`,
            );
          }
          if (typeof c !== "number" || !Number.isFinite(c) || c < 0) {
            throw new CivitasError("input", `${where}, group "${g}", answer ${JSON.stringify(answer)}: count ${JSON.stringify(c)} is not a non-negative number`);
          }
          counts[idx]! += c;
        }
        const d = humanDistribution(question, `${attr}=${g}`, counts, "scored", "keep");
        if (d) humans.push(d);
      }
    }
  }
  return { questions, humans, populations: [] };
}
