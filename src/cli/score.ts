/** `civitas score <suite> --predictions FILE`: score distributions produced elsewhere. */
import { Command } from "commander";
import { metrics, parseMetric } from "../metrics/index.js";
import { bootstrapPhrase, formatScores } from "../report/index.js";
import { resultJson } from "../results/index.js";
import { protocols, readPredictions, resolveConventions, resolveProtocol, scorePredictions } from "../runs/index.js";
import { findSuite, suites } from "../surveys/index.js";
import { printErr, printOut, intOption, loadSuiteFor, reportError, toJson, usageError } from "./common.js";

interface ScoreFlags {
  predictions?: string;
  data?: string;
  cacheDir?: string;
  protocol?: string;
  metric?: string;
  resamples?: number;
  seed: number;
  json?: boolean;
}

const HELP = `
The predictions file is JSONL, one object a line:
  {"question": "SAFECRIME_W26", "population": "POLPARTY=Democrat",
   "distribution": {"Very safe": 0.2, "Somewhat safe": 0.5, "Not too safe": 0.2, "Not at all safe": 0.1}}
Question ids and population names are those \`civitas suites show <suite>\` lists. "distribution"
may also be an array in survey order (over all options, or over the scored ones). Options left out
count as 0 (a warning says so); sums other than 1 are renormalised (with a warning).

Examples:
  civitas score opinionqa --data ../shared/data/opinionqa --predictions preds.jsonl
  civitas score distalign --data ../shared/data/distalign --predictions preds.jsonl --protocol meister2024 --json`;

export function scoreCommand(): Command {
  return new Command("score")
    .description("score model distributions produced elsewhere against a suite's populations")
    .argument("<suite>", `the survey: ${suites.names.join(", ")}`)
    .option("--predictions <file>", "the predictions, JSONL (see below)")
    .option("--data <dir>", "a local copy of the survey files (default: download them once into the cache)")
    .option("--cache-dir <dir>", "where downloaded surveys are kept")
    .option("--protocol <name|file>", `a paper's conventions: ${protocols.names.join(", ")}, or a protocol file (.yaml or .json)`)
    .option("--metric <name>", `override the metric: ${metrics.names.join(", ")}`)
    .option("--resamples <n>", "bootstrap resamples (default 1000)", intOption("--resamples", 10))
    .option("--seed <n>", "bootstrap seed", intOption("--seed", 0), 0)
    .option("--json", "print the result as JSON")
    .addHelpText("after", HELP)
    .action(async (suiteName: string, flags: ScoreFlags) => {
      try {
        if (!flags.predictions) throw usageError("--predictions is required", "give the JSONL file of model distributions");
        findSuite(suiteName);
        const metric = flags.metric ? parseMetric(flags.metric) : undefined;
        // A protocol file is read and registered under its name here.
        const protocol = flags.protocol ? (await resolveProtocol(flags.protocol)).name : undefined;
        const suite = await loadSuiteFor(suiteName, flags, (m) => printErr(`${m}\n`));
        const conventions = resolveConventions(suite, {
          ...(protocol ? { protocol } : {}),
          ...(metric ? { metric } : {}),
          ...(flags.resamples ? { resamples: flags.resamples } : {}),
        });
        const predictions = await readPredictions(flags.predictions, suite);
        const result = scorePredictions(suite, predictions, conventions, flags.seed);
        if (flags.json) {
          printOut(`${toJson(resultJson("score", { suite: suite.name, predictions: predictions.lines, ...result }))}\n`);
        } else {
          for (const w of result.warnings) printErr(`warning: ${w}\n`);
          printOut(
            `${suite.title}\n${predictions.lines} predictions · alignment = ${result.metric_label}${result.protocol ? ` · protocol ${result.protocol}` : ""} · ${bootstrapPhrase(result.bootstrap)}\n\n${formatScores(result)}\n`,
          );
        }
      } catch (e) {
        process.exitCode = reportError(e);
      }
    });
}
