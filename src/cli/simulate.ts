/** `civitas simulate FILE`: runs a scenario (a sweep over parameters x seeds) and prints each point's metrics with 95% intervals. */
import { Command, Option } from "commander";
import { formatSimulation } from "../report/index.js";
import { resultJson, type SimulationResult } from "../results/index.js";
import type { Store } from "../store/index.js";
import { applyOverrides, COMMON_PARAMS, DYNAMICS, DYNAMICS_NAMES, loadScenario, runScenario, type Scenario } from "../sim/index.js";
import { onInterrupt } from "./interrupt.js";
import { createProgress, type ProgressMode } from "./progress.js";
import { queueExecutorFor, queueSecrets, simulationJobsFor } from "./queue.js";
import { parseSetFlags } from "./set.js";
import { printErr, printOut, intOption, openStore, redactedCommand, reportError, STORE_HELP, toJson, usageError } from "./common.js";

interface SimulateFlags {
  seeds?: string;
  set?: string[];
  json?: boolean;
  store?: string;
  replay?: string;
  maxCalls?: number;
  maxTokens?: number;
  model?: string;
  progress: ProgressMode;
  queue?: string;
  distribute?: "calls" | "simulations";
}

function dynamicsHelp(): string {
  // The names' column is as wide as the longest name, plus a space.
  const width = Math.max(...DYNAMICS_NAMES.map((n) => n.length)) + 1;
  return DYNAMICS_NAMES.map((name) => {
    const d = DYNAMICS[name];
    const own = Object.entries(d.params).map(([p, s]) => `${p}${s.required ? " (required)" : s.default !== undefined ? ` (default ${String(s.default)})` : ""}`);
    const pad = "".padEnd(width + 2);
    return `  ${name.padEnd(width)}${d.title}${d.kind === "model" ? " [model-driven]" : ""}\n${pad}parameters: ${own.join(", ") || "none of its own"}\n${pad}metrics: ${d.metrics.join(", ")}`;
  }).join("\n");
}

const HELP = () => `
A scenario file (YAML or JSON) names a dynamics, its parameters, an optional sweep and seeds:

  name: hk-consensus
  dynamics: hk
  params: { agents: 1000, graph: complete, steps: 1000 }
  sweep: { epsilon: [0.15, 0.19, 0.22, 0.25, 0.3] }
  seeds: 1..10

Every dynamics takes ${Object.keys(COMMON_PARAMS).join(", ")} (agents and steps required;
graph: complete, er:k=10, er:p=0.01, ws:k=4,beta=0.1, ba:m=3, lattice, torus, file:<edge list>).
The dynamics:
${dynamicsHelp()}

Each point's metric is the final value of each seed's run, summarised as its mean across seeds
with a 95% interval: the Wilson score interval for 0/1 metrics (consensus: a share of seeds),
Student's t clipped to the metric's range for the others (shares in [0, 1], counts >= 0); seeds
without a value are listed as left out. Every run is stored (--store); the same command finds the same run and reports it
from the store; an interrupted one continues where it stopped.

Examples:
  civitas simulate examples/hk.yaml                          # consensus vs epsilon, 5 points x 10 seeds
  civitas simulate examples/hk.yaml --set agents=200 --seeds 1..20
  civitas simulate examples/hk.yaml --set epsilon=0.2        # one point instead of the sweep
  civitas simulate examples/hk.yaml --set epsilon=[0.1,0.2]  # a list sweeps the parameter
  civitas simulate examples/deffuant.yaml --json             # {"run", "points": [{"params", "metrics": {...}}]}
  civitas simulate examples/voter.yaml --set graph=torus --set agents=[100,400]
  civitas simulate examples/donor.yaml --set multiplier=[1,3]
  civitas simulate examples/opinion.yaml --model llama:model.gguf --max-calls 2000
  civitas simulate examples/opinion.yaml --replay 1a2b3c     # rerun a recorded run, no model
  civitas simulate examples/hk.yaml --queue redis://10.0.0.5:6379   # each (point, seed) a job for \`civitas worker\`
  civitas simulate examples/opinion.yaml --queue redis://10.0.0.5:6379 --distribute simulations

docs/simulate.md describes the format, the dynamics, their metrics and the published results
they are checked against.`;

export function simulateCommand(): Command {
  return new Command("simulate")
    .description("simulate opinion dynamics or model-driven agents: sweeps over parameters x seeds, with intervals")
    .argument("<file>", "scenario file (.yaml, .yml or .json)")
    .option("--seeds <seeds>", 'seeds: a range "1..20" (inclusive), a list "1,5,9" or one seed (default: the file\'s, else 0)')
    .option("--set <name=value>", "set a parameter (repeatable); a list [a,b,c] sweeps it", (v: string, prev: string[] | undefined) => [...(prev ?? []), v])
    .option("--model <spec>", "the model of model-driven agents (replaces the file's): llama:<file.gguf>, openai:<model>, ...")
    .option("--replay <run>", "rerun a recorded model-driven run from its record, with no model")
    .option("--max-calls <n>", "stop cleanly after n model calls (cache hits are free); the same command continues", intOption("--max-calls", 0))
    .option("--max-tokens <n>", "stop cleanly after n prompt tokens", intOption("--max-tokens", 0))
    .option("--json", "print the result as JSON")
    .option("--store <file>", STORE_HELP)
    .option("--queue <url>", "run on `civitas worker` processes through Redis (redis://host:6379; docs/scale.md): the simulations of rule-based scenarios, the model calls of model-driven ones")
    .addOption(new Option("--distribute <what>", "with --queue, what workers run: whole simulations (rule-based default), or model calls only (model-driven default)").choices(["calls", "simulations"]))
    .addOption(new Option("--progress <mode>", "progress display on stderr").choices(["auto", "bar", "lines", "none"]).default("auto"))
    .addHelpText("after", HELP)
    .action(async (file: string, flags: SimulateFlags) => {
      process.exitCode = await runSimulateCommand(file, flags);
    });
}

async function runSimulateCommand(file: string, flags: SimulateFlags): Promise<number> {
  const progress = createProgress(flags.json && flags.progress === "auto" && !process.stderr.isTTY ? "none" : flags.progress, process.stderr, "simulations");
  const interrupt = onInterrupt((m) => progress.log(m), "finishing the step in flight and saving");
  let store: Store | undefined;
  const t0 = performance.now();
  try {
    const scenario = applyOverrides(await loadScenario(file), {
      set: { params: parseSetFlags(flags.set ?? []), base: process.cwd() },
      ...(flags.seeds === undefined ? {} : { seeds: flags.seeds }),
      ...(flags.model === undefined ? {} : { model: flags.model }),
      ...(flags.maxCalls === undefined ? {} : { maxCalls: flags.maxCalls }),
      ...(flags.maxTokens === undefined ? {} : { maxTokens: flags.maxTokens }),
    });
    const distribute = distributionOf(scenario, flags);
    store = await openStore(flags.store, { log: (m) => progress.log(m) });
    // Progress only for runs that take a while: short sweeps print nothing on stderr.
    let started = false;
    let total = 0;
    let doneBefore = 0;
    const report = await runScenario(scenario, {
      store,
      command: redactedCommand(process.argv.slice(2)),
      ...(flags.replay === undefined ? {} : { replay: flags.replay }),
      ...(flags.queue === undefined || distribute !== "calls" ? {} : { executor: queueExecutorFor(flags.queue, (m) => progress.log(m)) }),
      ...(flags.queue === undefined || distribute !== "simulations" ? {} : { simulations: simulationJobsFor(flags.queue, (m) => progress.log(m)) }),
      signal: interrupt.signal,
      onLog: (m) => progress.log(m),
      onPlan: (p) => {
        total = p.total;
        doneBefore = p.stored;
        if (p.stored > 0 && p.stored < p.total) progress.log(`resuming run ${p.runId}: ${p.stored} of ${p.total} simulations already stored`);
      },
      onProgress: (p) => {
        if (!started) {
          if (performance.now() - t0 < 1000) return;
          started = true;
          progress.start(total, doneBefore);
        }
        progress.update(p);
      },
    });
    progress.stop();
    const seconds = (performance.now() - t0) / 1000;
    // The result as the store keeps it, read through its type (results/simulate.ts).
    const result: SimulationResult = report;
    if (flags.json) printOut(`${toJson({ ...resultJson("simulate", result), store: store.file })}\n`);
    else printOut(`${formatSimulation(result, { seconds, store: store.file })}\n`);
    const sims = report.simulations;
    if (report.stop === "budget") {
      printErr(
        `budget reached: ${report.budget_note ?? "the budget is spent"}\n` +
          `  ${sims.stored + sims.run - sims.stopped.length} of ${sims.total} simulations complete, ${sims.stopped.length} stopped early (stored up to their last complete step, left out of the means), ${sims.not_run} not run; run the same command again to continue\n`,
      );
    }
    if (report.stop === "interrupted") {
      printErr(`interrupted: ${sims.stored + sims.run} of ${sims.total} simulations stored; run the same command to continue\n`);
      return 130;
    }
    return 0;
  } catch (e) {
    progress.stop();
    return reportError(e, queueSecrets(flags.queue), interrupt.interrupted ? 130 : undefined);
  } finally {
    interrupt.dispose();
    await store?.close();
  }
}

/**
 * What `--queue` sends to the workers (docs/scale.md): a rule-based scenario makes no model calls,
 * so its simulations go, each (point, seed) a job; a model-driven one sends its agents' calls
 * (a step's calls in one job, recorded and cached here) unless --distribute simulations.
 */
function distributionOf(scenario: Scenario, flags: SimulateFlags): "calls" | "simulations" | undefined {
  const rule = DYNAMICS[scenario.dynamics].kind === "rule";
  if (flags.queue === undefined) {
    if (flags.distribute !== undefined) throw usageError("--distribute needs --queue", "for example --queue redis://localhost:6379 --distribute simulations");
    return undefined;
  }
  if (flags.distribute === "calls" && rule) {
    throw usageError(`--distribute calls: ${scenario.dynamics} is rule-based and makes no model calls`, "leave --distribute out: its simulations run as jobs");
  }
  if (flags.replay !== undefined) return undefined; // a replay asks no model: it runs here
  const distribute = flags.distribute ?? (rule ? "simulations" : "calls");
  if (distribute === "simulations" && !rule && scenario.budget !== undefined) {
    // (runScenario refuses it too; here before the survey is loaded)
    throw usageError(`${scenario.source}: budget bounds the sweep's model calls in order, but simulation jobs run at once on many workers`, "remove budget, or send only the model calls through the queue (--distribute calls)");
  }
  return distribute;
}
