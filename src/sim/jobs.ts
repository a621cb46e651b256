/**
 * A worker's side of a simulation job (`civitas worker`; the queue that carries it is
 * src/queue/simulations.ts): plans the job's scenario (the last few planned are kept, so a sweep's
 * survey is loaded once), runs the simulation (point, seed) with simulateOne, the same code as
 * in-process, and returns its series. For model-driven agents, the model is the worker's own (of
 * the job's identity), asked in-process by a SimModel recording into a local store (a temporary
 * file unless `store` names one): the simulation's recorded calls and the cache entries they were
 * answered from go back with the result, for the coordinator's store (so `--replay` works).
 */
import { mkdtempSync } from "node:fs";
import { rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { CivitasError } from "../errors.js";
import { borrowClient, type ModelClient, type ModelSpec } from "../models/index.js";
import { Store } from "../store/index.js";
import { createSimModel, type RecordingSimModel } from "./model.js";
import { planScenario, simulateOne, type ScenarioPlan, type SimulationJobResult } from "./run.js";
import type { Scenario } from "./scenario.js";
import type { DynamicsFactory, Graph } from "./types.js";

/** What a worker is given to run: the run, the simulation, the scenario as the coordinator runs it, the survey data's fingerprint. */
export interface SimulationJob {
  readonly id: string;
  readonly run: string;
  readonly point: number;
  readonly seed: number;
  readonly scenario: Scenario;
  readonly suite: string | null;
}

export interface SimulationJobRunner {
  run(job: SimulationJob): Promise<SimulationJobResult>;
  close(): Promise<void>;
}

interface Prepared {
  readonly plan: ScenarioPlan;
  readonly factory: DynamicsFactory;
  readonly graphs: Map<string, Graph>;
}

/** Runs simulation jobs in this process (see the module comment); `model`: the worker's opened model, for model-driven agents. */
export function simulationJobRunner(options: { readonly model?: { readonly spec: ModelSpec; readonly client: ModelClient }; readonly store?: string; onLog?(message: string): void } = {}): SimulationJobRunner {
  const model = options.model;
  const spec: ModelSpec | undefined = model === undefined ? undefined : { ...model.spec, open: () => Promise.resolve(borrowClient(model.client)) };
  const prepared = new Map<string, Promise<Prepared>>();
  const prepare = (scenario: Scenario): Promise<Prepared> => {
    const key = JSON.stringify(scenario);
    let p = prepared.get(key);
    if (p === undefined) {
      p = (async () => {
        const plan = await planScenario(scenario, { ...(options.onLog === undefined ? {} : { onLog: options.onLog }) });
        return { plan, factory: await plan.entry.factory(), graphs: new Map<string, Graph>() };
      })();
      p.catch(() => prepared.delete(key));
      prepared.set(key, p);
      if (prepared.size > 4) prepared.delete(prepared.keys().next().value!);
    }
    return p;
  };
  let temp: string | undefined;
  let store: Promise<Store> | undefined;
  const storeOf = () =>
    (store ??= (() => {
      let file = options.store;
      if (file === undefined) {
        temp = mkdtempSync(path.join(os.tmpdir(), "civitas-worker-"));
        file = path.join(temp, "worker.duckdb");
      }
      return Store.open(file);
    })());

  return {
    async run(job) {
      const { plan, factory, graphs } = await prepare(job.scenario);
      if ((plan.suite?.fingerprint ?? null) !== job.suite) {
        throw new CivitasError("input", `job ${job.id}: the survey data this worker loaded (${plan.suite?.fingerprint ?? "none"}) is not the coordinator's (${job.suite ?? "none"})`, {
          hint: "give the workers the same survey data at the same path",
        });
      }
      let sim: RecordingSimModel | undefined;
      const local = spec === undefined ? undefined : await storeOf();
      const one = await simulateOne(job.scenario, plan, job.point, job.seed, {
        factory,
        graphs,
        ...(spec === undefined || local === undefined ? {} : { model: () => (sim = createSimModel(local, spec, { runId: job.run, point: job.point, seed: job.seed })) }),
      });
      if (one.outcome !== "complete") throw new CivitasError("model", `simulation ${job.id} stopped (${one.outcome})`);
      if (sim === undefined || local === undefined) return { series: one.series };
      // The record and the cache entries it answered from, for the coordinator's store (--replay).
      const calls = await local.simCalls(job.run, job.point, job.seed);
      const rows = await local.lookupRequests([...new Set(calls.map((c) => c.requestKey))]);
      const s = sim.stats;
      return { series: one.series, calls, requests: [...rows.values()], modelCalls: s.modelCalls, cacheHits: s.cacheHits, promptTokens: s.promptTokens };
    },
    async close() {
      if (store !== undefined) await (await store).close();
      if (temp !== undefined) await rm(temp, { recursive: true, force: true });
    },
  };
}
