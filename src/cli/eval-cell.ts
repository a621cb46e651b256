/**
 * One `civitas eval` run, from its flags: what a single `civitas eval <suite> --model <m>` does,
 * and what every (model x suite) cell of a comparison does (eval-matrix.ts). Preparing a cell
 * parses the model (without loading it), loads the suite and builds the run's plan; running it is
 * runEval with the command's progress and interrupt.
 */
import { parseMetric } from "../metrics/index.js";
import { checkChatTemplateChoice, modelForms, parseModelSpec, type ModelSpec } from "../models/index.js";
import { parseMethods, resolveProtocol, type EvalEvents, type EvalPlan } from "../runs/index.js";
import { findSuite, parsePersonaTemplates, parseVariants, resolvePopulations, type Population, type Suite } from "../surveys/index.js";
import { loadSuiteFor, redactedCommand, usageError } from "./common.js";
import { modelOptionsOf, type ModelFlags } from "./model-flags.js";
import type { Progress, ProgressMode } from "./progress.js";
import { queueExecutorFor } from "./queue.js";

export interface EvalFlags extends ModelFlags {
  /** Every --model given (one run per model and suite). */
  model?: string[];
  data?: string;
  prompts?: string;
  populations?: string[];
  limit?: number;
  metric?: string;
  protocol?: string;
  method: string[];
  samples: number;
  constrain?: boolean;
  persona?: boolean;
  personaTemplate: string[];
  personaIn: "system" | "user";
  system?: string;
  variants?: string;
  minCoverage: number;
  seed: number;
  resamples?: number;
  store?: string;
  json?: boolean;
  progress: ProgressMode;
  cache: boolean;
  cacheExpiry?: number;
  queue?: string;
  config?: string;
  dryRun?: boolean;
  html?: string;
  force?: boolean;
}

/** The flags of one cell: one model. */
export type CellFlags = Omit<EvalFlags, "model"> & { readonly model: string };

/** How a cell's populations are chosen when several suites share one list: each takes those it has. */
export type PopulationRule = "strict" | "each-suite-its-own";

/** Suites loaded once per command, whatever number of cells ask them. */
export type SuiteCache = Map<string, Promise<Suite>>;

export interface PreparedCell {
  readonly plan: EvalPlan;
  readonly suite: Suite;
  readonly model: ModelSpec;
}

/**
 * Populations named for several suites: those this suite has (an attribute or group it does not
 * know is left to the others); none at all is the error the strict rule gives.
 */
function populationsOf(suite: Suite, names: readonly string[] | undefined, rule: PopulationRule): Population[] {
  // Default: the whole sample where the suite has one, else every population it has.
  if (!names?.length) return suite.reference ? resolvePopulations(suite, [suite.reference]) : [...suite.populations];
  if (rule === "strict") return resolvePopulations(suite, names);
  const known = names.filter((n) => {
    try {
      resolvePopulations(suite, [n]);
      return true;
    } catch {
      return false;
    }
  });
  return resolvePopulations(suite, known.length > 0 ? known : names);
}

/**
 * Checks the flags, parses the model (not loaded), loads the suite and plans the run, in the order
 * a single `civitas eval` always did (a bad flag is reported before the data is read).
 */
export async function prepareCell(
  suiteName: string,
  flags: CellFlags,
  o: {
    readonly log: (m: string) => void;
    readonly progress: Progress;
    readonly suites?: SuiteCache;
    readonly populations?: PopulationRule;
    /** Where the model was named, when not on the command line: a js: provider there is refused (a file shared with you must not run code). */
    readonly namedIn?: string;
  },
): Promise<PreparedCell> {
  const info = findSuite(suiteName);
  if (!flags.model) throw usageError("--model is required", `for example --model llama:path/to/model.gguf; forms: ${modelForms().join(", ")}`);
  const metric = flags.metric ? parseMetric(flags.metric) : undefined;
  const methods = parseMethods(flags.method);
  const personaTemplates = parsePersonaTemplates(flags.personaTemplate);
  // A protocol file is read and registered under its name here.
  const protocol = flags.protocol ? (await resolveProtocol(flags.protocol)).name : undefined;
  if (flags.chatTemplate !== undefined) {
    checkChatTemplateChoice(flags.chatTemplate);
    const backend = flags.model.slice(0, Math.max(0, flags.model.indexOf(":")));
    if (backend !== "llama" && flags.chatTemplate.trim().toLowerCase() !== "auto") {
      throw usageError(
        `--chat-template ${flags.chatTemplate} applies to llama: models only; ${backend || "this"}: models cannot use it`,
        backend === "openai" || backend === "ollama" || backend === "vllm"
          ? "an OpenAI-compatible server applies the model's own chat template to the messages it is sent; drop --chat-template (--system and --persona-in still apply)"
          : "drop --chat-template",
      );
    }
  }
  const { progress } = o;
  if (o.namedIn !== undefined && flags.model.startsWith("js:")) {
    throw usageError(`${flags.model}: a js: provider runs code, and ${o.namedIn} is a file that may come from someone else`, "name it on the command line instead: --model js:./my-provider.mjs (its other settings still come from the file)");
  }
  const model = await parseModelSpec(flags.model, modelOptionsOf(flags, (m) => progress.log(m)));
  const key = JSON.stringify([info.name, flags.data ?? null, flags.prompts ?? null, flags.cacheDir ?? null]);
  let loading = o.suites?.get(key);
  if (!loading) {
    loading = loadSuiteFor(info.name, flags, o.log);
    o.suites?.set(key, loading);
  }
  const suite = await loading;
  const populations = populationsOf(suite, flags.populations, o.populations ?? "strict");
  const plan: EvalPlan = {
    suite,
    // Questions no chosen population was asked are skipped when the run is planned; --limit counts the rest.
    questions: suite.questions,
    ...(flags.limit ? { limit: flags.limit } : {}),
    populations,
    model,
    ...(protocol ? { protocol } : {}),
    ...(metric ? { metric } : {}),
    ...(flags.resamples ? { resamples: flags.resamples } : {}),
    methods,
    samples: flags.samples,
    constrain: flags.constrain ?? false,
    persona: flags.persona ?? false,
    ...((flags.variants ?? suite.defaultVariants) ? { variants: parseVariants((flags.variants ?? suite.defaultVariants)!, suite.template ?? "opinionqa") } : {}),
    personaTemplates,
    ...(flags.system === undefined ? {} : { system: flags.system }),
    personaIn: flags.personaIn,
    minCoverage: flags.minCoverage,
    seed: flags.seed,
    command: redactedCommand(process.argv.slice(2)),
    ...(flags.cache && flags.cacheExpiry === undefined ? {} : { cache: { refresh: !flags.cache, ...(flags.cacheExpiry === undefined ? {} : { expiryMs: flags.cacheExpiry }) } }),
  };
  return { plan, suite, model };
}

/** The events of a run: progress on stderr, the interrupt's signal. */
/** The events of one cell's run; with `queue`, its model requests go through Redis to `civitas worker` processes. */
export function cellEvents(progress: Progress, signal: AbortSignal, queue?: string): EvalEvents {
  return {
    signal,
    ...(queue === undefined ? {} : { executor: queueExecutorFor(queue, (m) => progress.log(m)) }),
    onPlan: (p) => {
      if (p.stored > 0) progress.log(`resuming run ${p.runId}: ${p.stored} of ${p.total} answers already stored`);
      if (p.cached > 0) progress.log(`${p.cached} answers from the request cache`);
      progress.start(p.total, p.stored + p.cached);
    },
    onModelLoading: (name) => progress.log(`loading ${name}`),
    // The ETA counts answering, not loading the model.
    onModelReady: () => progress.modelReady(),
    onProgress: (p) => progress.update(p),
    onServedChange: (m) => progress.log(`warning: ${m}`),
  };
}
