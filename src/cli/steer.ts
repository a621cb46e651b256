/** `civitas steer <suite>`: steer a model toward populations, tune on dev, judge on held-out test questions. */
import { Command, Option } from "commander";
import { readText } from "../files.js";
import { metrics, parseMetric } from "../metrics/index.js";
import { checkChatTemplateChoice, modelForms, parseModelSpec } from "../models/index.js";
import { formatSteer } from "../report/index.js";
import { resultJson } from "../results/index.js";
import { protocols, resolveProtocol } from "../runs/index.js";
import { DEFAULT_STEER_METHODS, parseSteerConfigs, parseSteerMethods, runSteer, SPLIT_KINDS, steerMethods, type SplitKind } from "../steer/index.js";
import type { Store } from "../store/index.js";
import { findSuite, parsePersonaTemplates, parseVariants, resolvePopulations, splitPopulationList, suites, VARIANT_SETS } from "../surveys/index.js";
import { parseDuration } from "./cache.js";
import { intOption, loadSuiteFor, numberOption, openStore, printOut, redactedCommand, reportError, STORE_HELP, toJson, usageError } from "./common.js";
import { addModelOptions, modelOptionsOf, type ModelFlags } from "./model-flags.js";
import { onInterrupt } from "./interrupt.js";
import { createProgress, type ProgressMode } from "./progress.js";

interface SteerFlags extends ModelFlags {
  model?: string;
  data?: string;
  populations?: string[];
  methods: string[];
  split: SplitKind;
  seed: number;
  limit?: number;
  variants?: string;
  personaTemplate: string[];
  personaIn: "system" | "user";
  system?: string;
  config?: string;
  fewshotK?: number[];
  linearA?: number[];
  calibrateStrength?: number[];
  realignL?: number[];
  method: "logprobs" | "sample" | "verbalize" | "sequence";
  samples?: number;
  refModel?: string;
  lora?: string;
  protocol?: string;
  metric?: string;
  resamples?: number;
  minCoverage: number;
  store?: string;
  json?: boolean;
  progress: ProgressMode;
  cache: boolean;
  cacheExpiry?: number;
}

const EXAMPLES = `
What it does:
  1. splits the questions into train / dev / test (--split; the same seed gives the same split, and
     no test question is ever in train or dev);
  2. asks the model every question unsteered and with each population's persona (an eval run,
     stored and resumable like any other);
  3. fits each method on train (calibrate's offsets, fewshot's examples), tunes its knob on dev
     (fewshot's k, linear's a, calibrate's strength), and steers the test questions with it;
  4. reports on test, per target population: alignment unsteered and with each method, the gain over
     unsteered, over the persona and over calibrate (paired bootstrap intervals); the target x
     evaluated-population matrix and its specificity; whether each gain survives --variants; the
     cost in prompt tokens; the pluralism summary (distributional, steerable, Overton).

Methods (docs/steering.md cites each paper):
  persona    the population's description (--persona-in user|system; --config FILE for free-text
             CoSA-style configs: a YAML mapping "POLPARTY=Democrat: You are ...")
  fewshot    the population's own answers on the k most similar train questions, in the prompt
  linear     Linear Alignment, p ~ p_persona^(1+a) * p_plain^(-a): over the labels from the stored
             answers (no new model calls); with --method sample|verbalize|sequence, decoded
             token by token (llama:)
  calibrate  the baseline: per-population offsets of each option position, fitted on train
  realign    Decoding-time Realignment, p ~ p_aligned^l * p_ref^(1-l): the model against --ref-model,
             or with and without --lora's adapter (llama: models only); both asked with the persona

Examples:
  civitas steer opinionqa --model llama:model.gguf --data ../shared/data/opinionqa \\
      --populations POLPARTY --methods persona,fewshot,linear,calibrate --split wave

  # a quick look on 40 questions, two presentations, free-text personas
  civitas steer opinionqa --model llama:model.gguf --data ../shared/data/opinionqa --limit 40 \\
      --populations POLPARTY=Democrat,POLPARTY=Republican --variants "standard;order=reversed" --config personas.yaml

  # one person at a time (PAPI: the persona is the person's 120 profile answers)
  civitas steer papi --model llama:model.gguf --data ../shared/data/papi --populations person=1,person=2 --methods persona,calibrate

Populations without a persona (overall) are compared with, not steered toward.`;

const numberList = (name: string) => (value: string): number[] => {
  const out = value.split(",").map((s) => Number(s.trim()));
  if (out.length === 0 || out.some((n) => !Number.isFinite(n))) throw usageError(`${name} must be numbers separated by commas (got "${value}")`);
  return out;
};

/** --lora FILE[@scale]: the adapter file and its scale (default 1). */
export function parseLora(value: string): { path: string; scale?: number } {
  const at = value.lastIndexOf("@");
  if (at < 0) return { path: value };
  const file = value.slice(0, at);
  const scale = Number(value.slice(at + 1));
  if (file === "" || value.slice(at + 1).trim() === "" || !Number.isFinite(scale)) throw usageError(`--lora must be FILE or FILE@scale with a finite scale, got "${value}"`);
  return { path: file, scale };
}

export function steerCommand(): Command {
  return addModelOptions(
    new Command("steer")
      .description("steer a model toward populations with several methods, tune them on dev, and judge them against honest baselines on held-out questions")
      .argument("<suite>", `the survey: ${suites.names.join(", ")}`)
      .option("-m, --model <model>", `the model: ${modelForms().join(" | ")}`)
      .option("--data <dir>", "a local copy of the survey files (default: download them once into the cache)")
      .option("-p, --populations <list>", "populations to steer toward (those with a persona) and to compare with, comma separated", (v: string, prev: string[] = []) => [...prev, ...splitPopulationList(v)])
      .addOption(
        new Option("--methods <list>", `steering methods, comma separated: ${steerMethods.names.join(", ")}`)
          .argParser((v: string, prev: string[]) => [...prev, ...v.split(",")])
          .default([], DEFAULT_STEER_METHODS.join(",")),
      )
      .addOption(new Option("--split <kind>", "stratified: 60/20/20 within each survey wave; wave: hold out whole waves (stricter)").choices([...SPLIT_KINDS]).default("stratified"))
      .option("--seed <n>", "seed of the split and of every random choice", intOption("--seed", 0), 0)
      .option("-n, --limit <n>", "at most n questions, spread over the waves (chosen with the seed)", intOption("--limit", 5))
      .option("--variants <set|list>", `presentation variants; with several, whether each gain survives them: ${VARIANT_SETS.join(", ")}, or variants separated by ";"`)
      .addOption(
        new Option("--persona-template <attr=text>", "persona template for an attribute, {value} standing for the group (repeatable)")
          .argParser((v: string, prev: string[]) => [...prev, v])
          .default([], "the suite's, else generic ones"),
      )
      .addOption(new Option("--persona-in <turn>", "where a persona goes: the user's turn or the system turn").choices(["user", "system"]).default("user"))
      .option("--system <text>", "a system turn before every prompt")
      .option("--config <file>", "CoSA-style free-text configs: a YAML mapping from population to the text that steers toward it (replaces its persona)")
      .option("--fewshot-k <list>", "fewshot's k values tried on dev (default 1,2,4,8, those the train questions allow)", numberList("--fewshot-k"))
      .option("--linear-a <list>", "linear's a values tried on dev (default 0,0.25,0.5,1,2)", numberList("--linear-a"))
      .option("--calibrate-strength <list>", "calibrate's strength values tried on dev (default 0,0.5,1)", numberList("--calibrate-strength"))
      .addOption(
        new Option("--method <name>", "how answers are elicited: logprobs (next-token probabilities of the labels), sample, verbalize or sequence (generated text; linear then decodes persona against plain prompt token by token, llama: models)")
          .choices(["logprobs", "sample", "verbalize", "sequence"])
          .default("logprobs"),
      )
      .option("--samples <n>", "completions per question with --method sample, answers per completion with sequence (default 30)", intOption("--samples", 1))
      .option("--realign-l <list>", "realign's l values tried on dev (default 0,0.5,1,1.5,2)", numberList("--realign-l"))
      .option("--ref-model <model>", "realign: the reference model (the unaligned one; llama: only, the same vocabulary)")
      .option("--lora <file[@scale]>", "realign: a LoRA adapter GGUF for the model (scale default 1); the model with it against the model without")
      .option("--protocol <name|file>", `a paper's conventions: ${protocols.names.join(", ")}, or a protocol file`)
      .option("--metric <name>", `distance behind the alignment score: ${metrics.names.join(", ")}`)
      .option("--resamples <n>", "bootstrap resamples (default 1000)", intOption("--resamples", 10))
      .option("--min-coverage <p>", "set aside answers whose share on valid option labels is below p", numberOption("--min-coverage", 0, 1), 0)
      .option("--store <file>", STORE_HELP)
      .option("--json", "print the result as JSON on stdout")
      .addOption(new Option("--progress <mode>", "progress display on stderr").choices(["auto", "bar", "lines", "none"]).default("auto"))
      .option("--cache-dir <dir>", "where downloaded surveys and models are kept")
      .option("--no-cache", "ask the model again, even what the store has answered")
      .option("--cache-expiry <duration>", "ask again answers stored longer ago than this (7d, 12h, 30m)", (v: string) => parseDuration(v, "--cache-expiry")),
    { contextSize: "tokens per sequence (default: min(2048, the model's)); few-shot prompts are long" },
  )
    .addHelpText("after", EXAMPLES)
    .action(async (suiteName: string, flags: SteerFlags) => {
      process.exitCode = await runSteerCommand(suiteName, flags);
    });
}

async function runSteerCommand(suiteName: string, flags: SteerFlags): Promise<number> {
  const secrets = [flags.apiKey ?? "", process.env.OPENAI_API_KEY ?? ""];
  const mode = flags.json && flags.progress === "auto" && !process.stderr.isTTY ? "none" : flags.progress;
  // A display per stage (the unsteered and persona answers, then each few-shot run): a bar is not restarted once stopped.
  let progress = createProgress(mode);
  const interrupt = onInterrupt((m) => progress.log(m), "finishing the answers in flight and saving");
  let store: Store | undefined;
  try {
    const info = findSuite(suiteName);
    if (!flags.model) throw usageError("--model is required", `for example --model llama:path/to/model.gguf; forms: ${modelForms().join(", ")}`);
    const methods = parseSteerMethods(flags.methods.length > 0 ? flags.methods : [...DEFAULT_STEER_METHODS]);
    const metric = flags.metric ? parseMetric(flags.metric) : undefined;
    const personaTemplates = parsePersonaTemplates(flags.personaTemplate);
    const protocol = flags.protocol ? (await resolveProtocol(flags.protocol)).name : undefined;
    const realigning = methods.some((m) => m.name === "realign");
    if ((flags.refModel !== undefined || flags.lora !== undefined) && !realigning) {
      throw usageError(`${flags.refModel !== undefined ? "--ref-model" : "--lora"} is for the realign method, which --methods does not name`);
    }
    if (flags.realignL !== undefined && !realigning) throw usageError("--realign-l is for the realign method, which --methods does not name");
    if (realigning && (flags.refModel === undefined) === (flags.lora === undefined)) {
      throw usageError(
        flags.refModel === undefined ? "realign needs a reference model (--ref-model) or a LoRA adapter (--lora)" : "realign takes one of --ref-model and --lora, not both",
        "--ref-model llama:<base.gguf> compares the model with its base; --lora <adapter.gguf>[@scale] the model with and without the adapter",
      );
    }
    if (realigning && !flags.model.startsWith("llama:")) throw usageError(`realign runs on the in-process llama backend: --model must be a llama: model, got ${flags.model.split(":")[0]}:`);
    if (flags.refModel !== undefined && !flags.refModel.startsWith("llama:")) {
      throw usageError(`--ref-model must be a llama: model (realign combines the two models' next-token distributions in-process), got ${flags.refModel.split(":")[0]}:`);
    }
    const lora = flags.lora === undefined ? undefined : parseLora(flags.lora);
    if (realigning && flags.method !== "logprobs") throw usageError("realign reads option probabilities: it runs with --method logprobs only");
    if (flags.samples !== undefined && flags.method !== "sample" && flags.method !== "sequence") throw usageError("--samples is for --method sample or sequence");
    if (flags.method !== "logprobs" && methods.some((m) => m.name === "linear") && !flags.model.startsWith("llama:")) {
      throw usageError(`linear with --method ${flags.method} decodes two prompts token by token on the in-process llama backend: --model must be a llama: model, got ${flags.model.split(":")[0]}:`, "or use --method logprobs: linear over the labels, from the stored answers");
    }
    if (flags.chatTemplate !== undefined) checkChatTemplateChoice(flags.chatTemplate);
    const configs = flags.config === undefined ? undefined : parseSteerConfigs(await readText(flags.config, "--config"), flags.config);
    const modelOptions = modelOptionsOf(flags, (m) => progress.log(m));
    const model = await parseModelSpec(flags.model, modelOptions);
    const refModel = flags.refModel === undefined ? undefined : await parseModelSpec(flags.refModel, modelOptions);
    const suite = await loadSuiteFor(info.name, flags, (m) => progress.log(m));
    if (!flags.populations?.length) throw usageError("--populations is required: the groups to steer toward", `for example --populations POLPARTY; ${suite.name}'s attributes are listed by \`civitas suites\``);
    const populations = resolvePopulations(suite, flags.populations);
    const grids = {
      ...(flags.fewshotK ? { fewshot: flags.fewshotK } : {}),
      ...(flags.linearA ? { linear: flags.linearA } : {}),
      ...(flags.calibrateStrength ? { calibrate: flags.calibrateStrength } : {}),
      ...(flags.realignL ? { realign: flags.realignL } : {}),
    };
    store = await openStore(flags.store, { log: (m) => progress.log(m) });
    const result = await runSteer(
      store,
      {
        suite,
        model,
        populations,
        methods,
        split: flags.split,
        seed: flags.seed,
        ...(flags.limit === undefined ? {} : { limit: flags.limit }),
        ...((flags.variants ?? suite.defaultVariants) ? { variants: parseVariants((flags.variants ?? suite.defaultVariants)!, suite.template ?? "opinionqa") } : {}),
        personaTemplates,
        personaIn: flags.personaIn,
        ...(flags.system === undefined ? {} : { system: flags.system }),
        ...(configs ? { configs } : {}),
        ...(protocol ? { protocol } : {}),
        ...(metric ? { metric } : {}),
        ...(flags.resamples ? { resamples: flags.resamples } : {}),
        minCoverage: flags.minCoverage,
        grids,
        ...(flags.method === "logprobs" ? {} : { method: flags.method }),
        ...(flags.samples === undefined ? {} : { samples: flags.samples }),
        ...(refModel || lora ? { realign: { ...(refModel ? { refModel } : {}), ...(lora ? { lora } : {}) } } : {}),
        command: redactedCommand(process.argv.slice(2)),
        ...(flags.cache && flags.cacheExpiry === undefined ? {} : { cache: { refresh: !flags.cache, ...(flags.cacheExpiry === undefined ? {} : { expiryMs: flags.cacheExpiry }) } }),
      },
      {
        signal: interrupt.signal,
        onStage: (m) => {
          progress.stop();
          progress = createProgress(mode);
          progress.log(m);
        },
        onPlan: (p) => progress.start(p.total, p.stored + p.cached),
        onModelLoading: (name) => progress.log(`loading ${name}`),
        onModelReady: () => progress.modelReady(),
        onProgress: (p) => progress.update(p),
        onServedChange: (m) => progress.log(`warning: ${m}`),
      },
    );
    progress.stop();
    if (flags.json) printOut(`${toJson(resultJson("steer", result))}\n`);
    else printOut(`${formatSteer(result)}\n`);
    return 0;
  } catch (e) {
    progress.stop();
    return reportError(e, secrets, interrupt.interrupted ? 130 : undefined);
  } finally {
    interrupt.dispose();
    await store?.close();
  }
}
