/** `civitas worker`: answers the model requests of queued runs (`--queue` on eval and simulate) for one model. */
import { Command } from "commander";
import { CivitasError } from "../errors.js";
import { modelForms, parseModelSpec } from "../models/index.js";
import { serveQueue, serveSimulations, shownUrl } from "../queue/index.js";
import { simulationJobRunner, type Scenario } from "../sim/index.js";
import { urlSecrets } from "../redact.js";
import { intOption, numberOption, printErr, reportError, usageError } from "./common.js";
import { addModelOptions, modelOptionsOf, type ModelFlags } from "./model-flags.js";
import { onInterrupt } from "./interrupt.js";

interface WorkerFlags extends ModelFlags {
  queue?: string;
  model?: string;
  jobs?: number;
  store?: string;
  lockSeconds: number;
  quiet?: boolean;
}

const EXAMPLES = `
Examples:
  # on each machine with a GPU (the model is loaded before any job is taken)
  civitas worker --queue redis://10.0.0.5:6379 --model llama:model.gguf
  # in front of a vLLM server, 32 requests in flight
  civitas worker --queue redis://10.0.0.5:6379 --model vllm:qwen --base-url http://localhost:8000/v1 --concurrency 32
  # then, anywhere, the coordinator (the same --model, so the same model identity and queue)
  civitas eval opinionqa --model llama:model.gguf --queue redis://10.0.0.5:6379
  # without a model: runs the rule-based simulations of sweeps (one per core: start one per core)
  civitas worker --queue redis://10.0.0.5:6379
  civitas simulate examples/hk.yaml --queue redis://10.0.0.5:6379

A worker with a model serves that model identity's queues (the model file's fingerprint, or a server
model's name): its model calls, and its model-driven simulations sent with --distribute simulations;
a worker without a model runs rule-based simulations. It takes jobs until stopped (Ctrl-C finishes the jobs it holds), and can join or leave at any time: a
job held by a worker that dies is taken over by another once its lock expires (--lock-seconds).
Its answers are computed exactly as \`civitas eval\` computes them in-process. See docs/scale.md.`;

export function workerCommand(): Command {
  return addModelOptions(
    new Command("worker")
      .description("answer the model requests of runs started with --queue, for one model, or run their simulations (BullMQ on Redis)")
      .option("--queue <url>", "the Redis the coordinators enqueue into: redis://[:password@]host:6379")
      .option("-m, --model <model>", `the model served: ${modelForms().join(" | ")} (none: run rule-based simulations)`)
      .option("--concurrency <n>", "requests in flight at most (default: llama --parallel; servers 4)", intOption("--concurrency", 1))
      .option("--jobs <n>", "jobs (of up to 200 requests, or simulations) held at once (default 2; without --model 1)", intOption("--jobs", 1))
      .option("--lock-seconds <s>", "a job's lock lasts this long unrenewed: a dead worker's job is taken over after about this long", numberOption("--lock-seconds", 0.5, 3600), 30)
      .option("--quiet", "print nothing per job")
      .option("--store <file>", "where this worker records and caches the calls of model-driven simulation jobs (default: a temporary file, removed on exit)")
      .option("--cache-dir <dir>", "where downloaded models are kept (default: $CIVITAS_CACHE_DIR or ~/.cache/civitas)"),
    { concurrency: null, modelId: "the name the model's answers are cached under (must match the coordinator's)" },
  )
    .addHelpText("after", EXAMPLES)
    .action(async (flags: WorkerFlags) => {
      process.exitCode = await runWorker(flags);
    });
}

async function runWorker(flags: WorkerFlags): Promise<number> {
  const secrets = [flags.apiKey ?? "", process.env.OPENAI_API_KEY ?? ""];
  const log = (m: string) => printErr(`${m}\n`);
  const interrupt = onInterrupt(log, "finishing the jobs in hand");
  try {
    if (!flags.queue) throw usageError("--queue is required", "for example --queue redis://localhost:6379");
    try {
      secrets.push(...urlSecrets(new URL(flags.queue)));
    } catch {
      // not a URL: serveQueue says so
    }
    const onSimulation = flags.quiet ? undefined : (j: { id: string; point: number; seed: number; seconds: number }) => log(`simulation job ${j.id}: point ${j.point}, seed ${j.seed} in ${j.seconds.toFixed(2)} s`);
    if (!flags.model) {
      // No model: the rule-based simulations of sweeps (`civitas simulate --queue`).
      const runner = simulationJobRunner({ onLog: log });
      const sims = await serveSimulations({
        url: flags.queue,
        run: (job) => runner.run({ ...job, scenario: job.scenario as Scenario }),
        jobs: flags.jobs ?? 1,
        lockMs: Math.round(flags.lockSeconds * 1000),
        onLog: log,
        ...(onSimulation === undefined ? {} : { onSimulation }),
      });
      log(`serving rule-based simulations on queue ${sims.queue} at ${shownUrl(flags.queue)}`);
      await new Promise<void>((resolve) => interrupt.signal.addEventListener("abort", () => resolve(), { once: true }));
      await sims.close();
      await runner.close();
      log(`stopped after ${sims.simulations} simulations`);
      return 0;
    }
    const spec = await parseModelSpec(flags.model, modelOptionsOf(flags, log));
    log(`loading ${spec.display}`);
    const worker = await serveQueue(spec, {
      url: flags.queue,
      ...(flags.concurrency === undefined ? {} : { concurrency: flags.concurrency }),
      jobs: flags.jobs ?? 2,
      lockMs: Math.round(flags.lockSeconds * 1000),
      onLog: log,
      // This model's model-driven simulations (`civitas simulate --queue --distribute simulations`).
      simulations: (client) => {
        const runner = simulationJobRunner({ model: { spec, client }, ...(flags.store === undefined ? {} : { store: flags.store }), onLog: log });
        return { run: (job) => runner.run({ ...job, scenario: job.scenario as Scenario }), close: () => runner.close() };
      },
      ...(onSimulation === undefined ? {} : { onSimulation }),
      ...(flags.quiet ? {} : { onJob: (j: { id: string; requests: number; seconds: number }) => log(`job ${j.id}: ${j.requests} requests in ${j.seconds.toFixed(2)} s`) }),
    });
    // Tests and scripts wait for this line: the worker is taking jobs.
    log(`serving ${spec.display} (${spec.identity}) on queue ${worker.queue} at ${shownUrl(flags.queue)}`);
    await new Promise<void>((resolve) => interrupt.signal.addEventListener("abort", () => resolve(), { once: true }));
    await worker.close();
    log(`stopped after ${worker.answered} answers${worker.simulations > 0 ? ` and ${worker.simulations} simulations` : ""}`);
    return 0;
  } catch (e) {
    return reportError(e instanceof CivitasError || !(e instanceof Error) ? e : new CivitasError("model", e.message, { cause: e }), secrets);
  } finally {
    interrupt.dispose();
  }
}
