/** `--queue URL` on eval and simulate: the model requests go to `civitas worker` processes (docs/scale.md). */
import type { ModelSpec } from "../models/index.js";
import { queueExecutor, shownUrl, simulationJobs } from "../queue/index.js";
import type { SimulationJobResult, SimulationJobs, SimulationJobsRun } from "../sim/index.js";
import { urlSecrets } from "../redact.js";
import type { Executor } from "../runs/index.js";

/** Tunables for tests and benchmarks (docs/scale.md): requests per job, how often outstanding jobs are checked, how long to wait for Redis at the start. */
function envInt(name: string): number | undefined {
  const v = process.env[name];
  if (v === undefined || v === "") return undefined;
  const n = Number(v);
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

/** The executor factory of a run whose requests go through the queue at `url`. */
export function queueExecutorFor(url: string, log: (message: string) => void): (run: { readonly model: ModelSpec; readonly runId: string; readonly point?: number; readonly seed?: number }) => Executor {
  let said = false;
  return ({ model, runId, point, seed }) => {
    if (!said) log(`asking ${model.display} through the queue at ${shownUrl(url)} (start workers with: civitas worker --queue URL --model ...)`);
    said = true;
    const jobSize = envInt("CIVITAS_QUEUE_JOB_SIZE");
    const sweepMs = envInt("CIVITAS_QUEUE_SWEEP_MS");
    const connectTimeoutMs = envInt("CIVITAS_QUEUE_CONNECT_MS");
    return queueExecutor(model, {
      url,
      run: point === undefined ? runId : `${runId}/${point}/${seed ?? 0}`,
      ...(jobSize === undefined ? {} : { jobSize }),
      ...(sweepMs === undefined ? {} : { sweepMs }),
      ...(connectTimeoutMs === undefined ? {} : { connectTimeoutMs }),
      onLog: log,
    });
  };
}

/** The runner of a sweep's simulations as jobs through the queue at `url` (civitas simulate --queue). */
export function simulationJobsFor(url: string, log: (message: string) => void): (run: SimulationJobsRun) => SimulationJobs {
  return (run) => {
    const sweepMs = envInt("CIVITAS_QUEUE_SWEEP_MS");
    const connectTimeoutMs = envInt("CIVITAS_QUEUE_CONNECT_MS");
    return simulationJobs<SimulationJobResult>(run, {
      url,
      ...(sweepMs === undefined ? {} : { sweepMs }),
      ...(connectTimeoutMs === undefined ? {} : { connectTimeoutMs }),
      onLog: log,
    });
  };
}

/** The credentials of a --queue URL, scrubbed from any error printed. */
export function queueSecrets(url: string | undefined): string[] {
  if (url === undefined) return [];
  try {
    return urlSecrets(new URL(url));
  } catch {
    return [];
  }
}
