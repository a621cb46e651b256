/** `civitas eval <suite>`: ask a model a survey and compare its answers with human populations. */
import { Command, Option } from "commander";
import { metrics } from "../metrics/index.js";
import { modelForms } from "../models/index.js";
import { formatEvalResult } from "../report/index.js";
import { resultJson } from "../results/index.js";
import { DEFAULT_SAMPLES, methods as elicitationMethods, protocols, runEval } from "../runs/index.js";
import type { Store } from "../store/index.js";
import { splitPopulationList, suites, VARIANT_SETS } from "../surveys/index.js";
import { printOut, intOption, numberOption, openStore, reportError, STORE_HELP, toJson, usageError } from "./common.js";
import { addModelOptions } from "./model-flags.js";
import { parseDuration } from "./cache.js";
import { cellEvents, prepareCell, type EvalFlags } from "./eval-cell.js";
import { isMatrix, runMatrix } from "./eval-matrix.js";
import { onInterrupt } from "./interrupt.js";
import { createProgress } from "./progress.js";
import { queueSecrets } from "./queue.js";

const EXAMPLES = `
Examples:
  # offline: a local model file and a local copy of the survey
  civitas eval opinionqa --model llama:../shared/models/stories260K.gguf \\
      --data ../shared/data/opinionqa --populations POLPARTY,SEX --limit 100

  # online: the model and the survey files are downloaded once into the cache
  civitas eval opinionqa --model llama:hf:bartowski/Qwen2.5-0.5B-Instruct-GGUF/Qwen2.5-0.5B-Instruct-Q4_K_M.gguf \\
      --populations POLIDEOLOGY

  # any OpenAI-compatible server (vLLM, llama-server, Ollama, hosted APIs)
  OPENAI_BASE_URL=http://localhost:8000/v1 civitas eval opinionqa --model openai:my-model --json

  # a base model on vLLM asked the raw prompt, option texts scored from echoed log-probabilities;
  # a reasoning model (no log-probabilities); answers a week old asked again (docs/servers.md)
  civitas eval opinionqa --model vllm:Qwen/Qwen2.5-7B --api completions --variants "answer=text"
  civitas eval opinionqa --model openai:o4-mini --reasoning --method verbalize --cache-expiry 7d

  # elicitation methods, personas and a paper's conventions
  civitas eval opinionqa --model ollama:llama3.2 --method logprobs,verbalize --persona --populations POLPARTY
  civitas eval opinionqa --model llama:model.gguf --method sample --samples 30 --constrain
  civitas eval distalign --model llama:model.gguf --data ./distalign --protocol meister2024 --populations POLPARTY,SEX

  # an instruct model asked through its chat template (the GGUF's own: --chat-template auto, the default)
  civitas eval opinionqa --model llama:qwen2.5-0.5b-instruct-q4_k_m.gguf --system "You are a survey respondent." \\
      --persona --persona-in system --populations POLPARTY

  # does the result survive rewording? 8 presentations ("Randomness, Not Representation")
  civitas eval globalopinions --model llama:model.gguf --variants rnr8 --populations country=Japan,country=Germany,country=Nigeria

  # several models and suites: every cell a run, the comparison as the output (docs/config.md)
  civitas eval opinionqa,globalopinions --model llama:a.gguf --model vllm:b --populations POLPARTY,country=Japan
  civitas init && civitas eval --config civitas.yaml --dry-run
  civitas eval --config civitas.yaml --json --html comparison.html

  # your own survey (docs/custom-surveys.md)
  civitas eval custom --model llama:model.gguf --data examples/custom/neighbourhood.csv --populations age_group

  # your own backend, a module whose default export makes the client; your own protocol file (docs/extending.md)
  civitas eval opinionqa --model js:./my-provider.mjs --protocol ./my-protocol.yaml

Populations are attribute names (all their groups) or exact groups, comma separated:
  POLPARTY, SEX=Female, overall. An unknown name is an error that lists the valid ones.
Running the same command again resumes an interrupted run and asks the model nothing it has
already answered; a finished run is answered from the store without loading the model.`;

export function evalCommand(): Command {
  return addModelOptions(
    new Command("eval")
      .description("ask a model a survey's questions and measure how closely its answers match human populations")
      .argument("[suites]", `the survey, or several comma separated: ${suites.names.join(", ")} (or the --config file's)`)
      .option("-m, --model <model>", `the model: ${modelForms().join(" | ")}; repeat it to compare models`, (v: string, prev: string[] = []) => [...prev, v])
      .option("--config <file>", "an evaluation file (civitas.yaml: models with their settings, suites, populations, ...; `civitas init` writes one); flags given here override it")
      .option("--dry-run", "ask nothing: print per run the requests to ask, those already stored or cached, prompt tokens and (with prices in --config) the cost")
      .option("--html <file>", "also write the comparison as a self-contained HTML report")
      .option("--force", "with --html: replace the file even if it is another kind of file (never a store)")
      .option("--data <dir>", "a local copy of the survey files (default: download them once into the cache)")
      .option("--prompts <file>", "multicultural: the questions in other languages, a CSV question_key,language,question,pro,con (docs/data.md)")
      .option("-p, --populations <list>", "attributes or groups to compare with, comma separated (default: overall, or all the suite has when it has no overall)", (v: string, prev: string[] = []) => [...prev, ...splitPopulationList(v)])
      .option("-n, --limit <n>", "ask only the first n questions that a chosen population can be scored on (of each dataset, in suites that have several)", intOption("--limit", 1))
      .option("--metric <name>", `distance behind the alignment score: ${metrics.names.join(", ")} (default: the protocol's, else the suite's)`)
      .option("--protocol <name|file>", `a paper's conventions: ${protocols.names.join(", ")}, or a protocol file (.yaml or .json; see docs/protocols.md)`)
      .addOption(
        new Option("--method <list>", `how answers are elicited, comma separated; the first is the headline: ${elicitationMethods.names.join(", ")}`)
          .argParser((v: string, prev: string[]) => [...prev, ...v.split(",")])
          // The value starts empty so that --method appends to nothing; help shows what an empty list means.
          .default([], "logprobs"),
      )
      .option("--samples <k>", "completions per question for --method sample; answers per completion for --method sequence", intOption("--samples", 1), DEFAULT_SAMPLES)
      .option("--constrain", "constrain decoding so sampled labels and stated JSON are always well-formed (llama.cpp grammars; response_format on servers)")
      .option(
        "--variants <set|list>",
        `presentation variants, and a stability report when there are several: ${VARIANT_SETS.join(", ")}, or variants separated by ";" (e.g. "standard;order=reversed;labels=numbers,answer=text")`,
      )
      .option("--persona", "steer the model towards each population (\"Answer ... as someone who ...\") and report steerability")
      .addOption(
        new Option("--persona-template <attr=text>", "persona template for an attribute, {value} standing for the group (repeatable)")
          .argParser((v: string, prev: string[]) => [...prev, v])
          .default([], "the suite's, else generic ones"),
      )
      .addOption(new Option("--persona-in <turn>", "where a persona goes: the user's turn, before the question, or the system turn").choices(["user", "system"]).default("user"))
      .option("--system <text>", "a system turn before every prompt (llama: through the chat template; servers: a system message)")
      .option("--min-coverage <p>", "set aside answers whose share on valid option labels is below p", numberOption("--min-coverage", 0, 1), 0)
      .option("--seed <n>", "seed of every random choice (bootstrap, sampling)", intOption("--seed", 0), 0)
      .option("--resamples <n>", "bootstrap resamples (default 1000)", intOption("--resamples", 10))
      .option("--store <file>", STORE_HELP)
      .option("--json", "print the result as JSON on stdout")
      .addOption(new Option("--progress <mode>", "progress display on stderr").choices(["auto", "bar", "lines", "none"]).default("auto"))
      .option("--cache-dir <dir>", "where downloaded surveys and models are kept (default: $CIVITAS_CACHE_DIR or ~/.cache/civitas)")
      .option("--no-cache", "ask the model again, even what the store has answered; the new answers replace the stored ones (and the run's result)")
      .option("--cache-expiry <duration>", "ask again answers stored longer ago than this (7d, 12h, 30m), for hosted models that change behind their name", (v: string) => parseDuration(v, "--cache-expiry")),
  )
    .optionsGroup("Past one machine (docs/scale.md):")
    .option("--queue <url>", "send the model requests to `civitas worker` processes through Redis (redis://host:6379) instead of asking the model here")
    .addHelpText("after", EXAMPLES)
    .action(async (suiteArg: string | undefined, flags: EvalFlags, command: Command) => {
      process.exitCode = isMatrix(suiteArg, flags) ? await runMatrix(suiteArg, flags, command) : await runEvalCommand(suiteArg, flags);
    });
}

/** One model on one suite, as `civitas eval` always ran it: the run's own result on stdout. */
async function runEvalCommand(suiteName: string | undefined, flags: EvalFlags): Promise<number> {
  const secrets = [flags.apiKey ?? "", process.env.OPENAI_API_KEY ?? "", ...queueSecrets(flags.queue)];
  const progress = createProgress(flags.json && flags.progress === "auto" && !process.stderr.isTTY ? "none" : flags.progress);
  const interrupt = onInterrupt((m) => progress.log(m), "finishing the answers in flight and saving");
  let store: Store | undefined;
  try {
    if (!suiteName) throw usageError("name the survey to ask, e.g. civitas eval opinionqa --model ...", `or give an evaluation file with --config civitas.yaml (civitas init writes one); suites: ${suites.names.join(", ")}`);
    const { plan, suite } = await prepareCell(suiteName, { ...flags, model: flags.model?.[0] ?? "" }, { log: (m) => progress.log(m), progress });
    store = await openStore(flags.store, { log: (m) => progress.log(m) });
    const result = await runEval(store, plan, cellEvents(progress, interrupt.signal, flags.queue));
    progress.stop();
    if (flags.json) printOut(`${toJson(resultJson("eval", result))}\n`);
    else printOut(`${formatEvalResult(result, suite.title)}\n`);
    return 0;
  } catch (e) {
    progress.stop();
    return reportError(e, secrets, interrupt.interrupted ? 130 : undefined);
  } finally {
    interrupt.dispose();
    await store?.close();
  }
}
