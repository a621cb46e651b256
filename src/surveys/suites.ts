/** The registry of survey suites that `civitas eval <suite>` accepts. */
import { CivitasError } from "../errors.js";
import type { CacheOptions } from "./download.js";
import { CUSTOM_TITLE, loadCustom } from "./custom.js";
import { DISTALIGN_TITLE, loadDistAlign } from "./distalign.js";
import { GLOBALOPINIONS_TITLE, loadGlobalOpinions } from "./globalopinions.js";
import { loadMoCa, MOCA_TITLE } from "./moca.js";
import { loadOpinionQA, OPINIONQA_TITLE } from "./opinionqa.js";
import { loadRnR, RNR_TITLE } from "./rnr.js";
import type { Suite } from "./types.js";

export interface SuiteLoadOptions {
  /** A local folder with the suite's files; without it they are downloaded once into the cache. */
  readonly data?: string;
  readonly cacheDir?: string;
  readonly onProgress?: CacheOptions["onProgress"];
  /** Called when a downloaded file has no pinned hash to check (e.g. GlobalOpinionQA's full file). */
  readonly onUnverified?: CacheOptions["onUnverified"];
}

export interface SuiteInfo {
  readonly name: string;
  readonly title: string;
  load(options: SuiteLoadOptions): Promise<Suite>;
}

export const SUITES: readonly SuiteInfo[] = [
  {
    name: "opinionqa",
    title: OPINIONQA_TITLE,
    load: (o) => loadOpinionQA(o),
  },
  {
    name: "globalopinions",
    title: GLOBALOPINIONS_TITLE,
    load: (o) => loadGlobalOpinions(o),
  },
  {
    name: "distalign",
    title: DISTALIGN_TITLE,
    load: (o) => loadDistAlign(o),
  },
  {
    name: "moca",
    title: MOCA_TITLE,
    load: (o) => loadMoCa(o),
  },
  {
    name: "rnr",
    title: RNR_TITLE,
    load: (o) => loadRnR(o),
  },
  {
    name: "custom",
    title: CUSTOM_TITLE,
    load: (o) => loadCustom(o),
  },
];

export function findSuite(name: string): SuiteInfo {
  const s = SUITES.find((x) => x.name === name.toLowerCase());
  if (!s) {
    throw new CivitasError("usage", `unknown suite "${name}"`, { hint: `known suites: ${SUITES.map((x) => x.name).join(", ")}` });
  }
  return s;
}
