/**
 * The registry of survey suites that `civitas eval <suite>` accepts: each a registered component
 * (src/registry.ts) that loads its questions, populations and human answers. Adding a suite: one
 * file that defines a `SuiteInfo` and `suites.register(...)` (docs/extending.md).
 */
import { NO_ARGS, Registry, type Component } from "../registry.js";
import type { CacheOptions } from "./download.js";
import { CUSTOM_TITLE, loadCustom } from "./custom.js";
import { DISTALIGN_TITLE, loadDistAlign } from "./distalign.js";
import { GLOBALOPINIONS_TITLE, loadGlobalOpinions } from "./globalopinions.js";
import { loadMoCa, MOCA_TITLE } from "./moca.js";
import { loadOpinionQA, OPINIONQA_TITLE } from "./opinionqa.js";
import { loadRnR, RNR_TITLE } from "./rnr.js";
import { loadMoRT, MORT_LICENCE, MORT_TITLE } from "./mort.js";
import { loadPacifAIst, PACIFAIST_LICENCE, PACIFAIST_TITLE } from "./pacifaist.js";
import { HF_BUILT_IN, loadHf } from "./hf.js";
import { loadMulticultural, MULTICULTURAL_LICENCE, MULTICULTURAL_TITLE } from "./multicultural.js";
import { loadSubPop, SUBPOP_LICENCE, SUBPOP_TITLE } from "./subpop.js";
import { loadPapi, PAPI_LICENCE, PAPI_TITLE } from "./papi.js";
import type { Suite } from "./types.js";

export interface SuiteLoadOptions {
  /** A local folder with the suite's files; without it they are downloaded once into the cache. */
  readonly data?: string;
  /** A prompts file: the questions in other languages (suites that take one: multicultural). */
  readonly prompts?: string;
  readonly cacheDir?: string;
  readonly onProgress?: CacheOptions["onProgress"];
  /** Called when a downloaded file has no pinned hash to check (e.g. GlobalOpinionQA's full file). */
  readonly onUnverified?: CacheOptions["onUnverified"];
}

export interface SuiteInfo extends Component {
  readonly title: string;
  /** The data's licence terms, as `civitas suites show` prints them (what a user may do with it). */
  readonly licence?: string;
  load(options: SuiteLoadOptions): Promise<Suite>;
}

/** The suites `civitas eval`, `score` and `suites` accept. */
export const suites = new Registry<SuiteInfo>({
  kind: "suite",
  unknown: (name, names) => ({ message: `unknown suite "${name}"`, hint: `known suites: ${names.join(", ")}` }),
  check: (s) => [
    ...(typeof s.title === "string" && s.title !== "" ? [] : ["title: expected the survey's name and source, for reports"]),
    ...(typeof s.load === "function" ? [] : ["load: expected a function (options) => Promise<Suite>"]),
  ],
});

const BUILT_IN: readonly SuiteInfo[] = [
  {
    name: "opinionqa",
    title: OPINIONQA_TITLE,
    description: "OpinionQA: Pew American Trends Panel questions, US groups",
    args: NO_ARGS,
    load: (o) => loadOpinionQA(o),
  },
  {
    name: "globalopinions",
    title: GLOBALOPINIONS_TITLE,
    description: "GlobalOpinionQA: Pew Global Attitudes and World Values Survey questions, countries",
    args: NO_ARGS,
    load: (o) => loadGlobalOpinions(o),
  },
  {
    name: "distalign",
    title: DISTALIGN_TITLE,
    description: "Meister et al. 2024's distributional alignment benchmark, three datasets",
    args: NO_ARGS,
    load: (o) => loadDistAlign(o),
  },
  {
    name: "moca",
    title: MOCA_TITLE,
    description: "MoCa: moral and causal judgement stories, yes/no",
    args: NO_ARGS,
    load: (o) => loadMoCa(o),
  },
  {
    name: "rnr",
    title: RNR_TITLE,
    description: "Randomness, Not Representation: mean answers of 15 countries",
    args: NO_ARGS,
    load: (o) => loadRnR(o),
  },
  {
    name: "subpop",
    title: SUBPOP_TITLE,
    description: "SubPOP-Eval: 133 General Social Survey 2022 questions, 22 US groups",
    licence: SUBPOP_LICENCE,
    args: NO_ARGS,
    load: (o) => loadSubPop(o),
  },
  {
    name: "mort",
    title: MORT_TITLE,
    description: "MoRT user study: Yes/No on 116 actions, global (234 people) and regional (27-29) studies",
    licence: MORT_LICENCE,
    args: NO_ARGS,
    load: (o) => loadMoRT(o),
  },
  {
    name: "pacifaist",
    title: PACIFAIST_TITLE,
    description: "PacifAIst: 351 scenarios, self-preservation vs human safety, scored against the gold answer with options rotated",
    licence: PACIFAIST_LICENCE,
    args: NO_ARGS,
    load: (o) => loadPacifAIst(o),
  },
  {
    name: "papi",
    title: PAPI_TITLE,
    description: "PAPI: 300 people x 300 IPIP-NEO personality items; the people as a population and each person alone",
    licence: PAPI_LICENCE,
    args: NO_ARGS,
    load: (o) => loadPapi(o),
  },
  {
    name: "multicultural",
    title: MULTICULTURAL_TITLE,
    description: "Multilingual != Multicultural: pro-stance shares on WVS/EVS questions, 13 countries; asked in English and, with --prompts, in each country's language",
    licence: MULTICULTURAL_LICENCE,
    args: NO_ARGS,
    load: (o) => loadMulticultural(o),
  },
  {
    name: "hf",
    title: "A dataset on the Hugging Face Hub, read through a mapping file (--data hf:<mapping>)",
    description: `a Hugging Face dataset's Parquet, JSON Lines or CSV files through a mapping: --data hf:<${Object.keys(HF_BUILT_IN).join("|")}|mapping.yaml>`,
    licence: "the dataset's own (the mapping's licence field, shown with the loaded suite)",
    args: NO_ARGS,
    load: (o) => loadHf(o),
  },
  {
    name: "custom",
    title: CUSTOM_TITLE,
    description: "your own survey from a CSV or JSONL file (docs/custom-surveys.md)",
    args: NO_ARGS,
    load: (o) => loadCustom(o),
  },
];
for (const s of BUILT_IN) suites.register(s);

/** The registered suites (live). */
export const SUITES: readonly SuiteInfo[] = suites.all;

export function findSuite(name: string): SuiteInfo {
  return suites.get(name);
}
