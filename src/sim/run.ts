/**
 * Runs a scenario: every grid point x seed with the engine (rule-based dynamics) or with agents
 * that ask a model (model-driven ones), each simulation's metrics stored as they finish, and the
 * summary per point (mean, 95% interval across seeds of the metric's kind, per-seed values, seeds
 * left out) stored with the run. In three stages, as `civitas eval`: plan (`planScenario`: the
 * model, the survey, the points and seeds, the run's identity), execute (the simulations; their
 * model calls go through the eval engine's execute stage, model.ts), score (`scoreScenario`).
 *
 * Identity and resume. A run's id is the first 12 hex digits of the SHA-256 of its resolved
 * configuration (name, dynamics, parameters, sweep, seeds, `every`, the model's identity and
 * request parameters, the survey's suite, data fingerprint and choices, the replayed run), after
 * the command-line overrides: the same command finds the same run. A simulation whose metrics
 * are stored is not run again, so a finished run is re-reported from the store, and an
 * interrupted one continues with the simulations it lacks. The budget is not part of the identity:
 * it bounds the model calls of one invocation, and the same command run again continues where
 * the budget stopped it (the simulation it cut short is run again, its calls then come from the
 * request cache).
 *
 * Stopping. A budget (`max_calls`, `max_tokens`, over the whole sweep) is enforced by the
 * recording SimModel (model.ts): the call that would pass it is refused, the step that asked it
 * fails as a whole, and the simulation keeps the metrics of its last complete step (stored, and
 * listed under `stopped`; its seed is left out of the summaries); the simulations after it are not
 * run. An interrupt (the `signal`) stops at the end of the step in flight; the simulation it cut
 * is not stored (it is run again on resume), and the run is marked interrupted.
 */
import { runIdOf } from "../hash.js";
import { CivitasError, isCivitasError, messageOf } from "../errors.js";
import { seededRng } from "../metrics/index.js";
import { borrowClient, parseModelSpec, type ModelClient, type ModelOptions, type ModelSpec } from "../models/index.js";
import type { Executor } from "../runs/index.js";
import type { RequestRow, Store } from "../store/index.js";
import { findSuite, type Suite } from "../surveys/index.js";
import { simulate, type Metrics } from "./engine.js";
import { graphFromSpec } from "./graph.js";
import { fidelityReport, isMeasurementRow, measureAgents, measurementRows, planMeasure, type FidelityReport, type Measurement, type MeasurePlan } from "./measure.js";
import { createSimModel, isBudgetExhausted, type RecordingSimModel } from "./model.js";
import { drawPopulation, planPopulation, type PopulationPlan } from "./population.js";
import { DYNAMICS, type DynamicsEntry, type ModelSection, type Scenario } from "./scenario.js";
import { steerSpec, type SteeredSpec, type SteerSection } from "./steer.js";
import { expandGrid, pointLabel, summarizeMetrics, type MetricSummary, type ParamValue } from "./sweep.js";
import type { Dynamics, DynamicsDeps, DynamicsFactory, Graph, Params, StepContext } from "./types.js";

export interface SimProgress {
  /** Simulations finished (run now or found in the store). */
  readonly done: number;
  readonly total: number;
  /** Model calls answered by the model, and from the cache, so far in this invocation. */
  readonly modelCalls: number;
  readonly cacheHits: number;
  /** Where the simulation in progress is (absent between simulations). */
  readonly point?: number;
  readonly seed?: number;
  readonly step?: number;
}

export interface RunScenarioOptions {
  readonly store: Store;
  /** The command line as typed (secrets redacted), recorded with the run. */
  readonly command?: string;
  /** Rerun a recorded model-driven run (id or unique prefix) from its record, with no model. */
  readonly replay?: string;
  /** Builds the dynamics instead of the registry's factory for the scenario's dynamics (tests, custom dynamics). */
  readonly factory?: DynamicsFactory;
  /** Stops the run at the end of the step in flight (Ctrl-C). */
  readonly signal?: AbortSignal;
  /** Once, before the first simulation: the run id, and how much of it is stored already. */
  onPlan?(info: { runId: string; resumed: boolean; total: number; stored: number }): void;
  onProgress?(p: SimProgress): void;
  /** Notes for the user (loading the survey, the model). */
  onLog?(message: string): void;
  /** Who asks the model for each simulation (default: this process); not used by a replay. */
  readonly executor?: (sim: { readonly model: ModelSpec; readonly runId: string; readonly point: number; readonly seed: number }) => Executor;
  /**
   * Runs the sweep's simulations elsewhere, each (point, seed) a job (src/queue/simulations.ts),
   * instead of one after another in this process; not used by a replay. Each result is stored as
   * it arrives, as an in-process simulation's is.
   */
  readonly simulations?: (run: SimulationJobsRun) => SimulationJobs;
}

/** What the runner of simulation jobs is told about the run (its jobs carry it to the workers). */
export interface SimulationJobsRun {
  readonly runId: string;
  /** The scenario as it runs (overrides applied), without its model section, budget and steering (see jobScenario). */
  readonly scenario: Scenario;
  /** The model of model-driven agents: a job runs only on a worker serving this identity. */
  readonly model?: ModelSpec;
  /** The survey's data fingerprint: a worker whose data differs refuses the job. */
  readonly suiteFingerprint?: string;
}

/** What a simulation job returns: its series, and for model-driven agents their recorded calls and the cache entries those calls answered from. */
export interface SimulationJobResult {
  readonly series: { step: number; metrics: Metrics }[];
  readonly calls?: readonly { call: number; step: number; agent: number; requestKey: string }[];
  readonly requests?: readonly RequestRow[];
  readonly modelCalls?: number;
  readonly cacheHits?: number;
  readonly promptTokens?: number;
}

export interface SimulationJobs {
  /** Runs these simulations, calling `onResult` (awaited, one at a time) as each arrives; returns when all have, or when `signal` aborts. */
  run(todo: readonly { point: number; seed: number }[], onResult: (sim: { point: number; seed: number }, result: SimulationJobResult) => Promise<void>, signal?: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

export interface PointReport {
  /** The point's parameters: the scenario's fixed ones and the swept values. */
  readonly params: Params;
  readonly metrics: Record<string, MetricSummary>;
}

export interface SimulationReport {
  readonly run: string;
  readonly scenario: string;
  readonly dynamics: string;
  /** The model's display name, or "none" (a steered model's names the steering: "... (linear a=0.5)"). */
  readonly model: string;
  /** How the model-driven agents were steered (scenario key `steer`), when they were. */
  readonly steer?: SteerSection;
  /** Swept parameters, in grid order (the first varies slowest). */
  readonly sweep: string[];
  readonly seeds: number[];
  readonly points: PointReport[];
  /** "done": every simulation ran; "budget": the budget stopped the run; "interrupted": the signal did. */
  readonly stop: "done" | "budget" | "interrupted";
  readonly simulations: {
    readonly total: number;
    /** Run by this invocation. */
    readonly run: number;
    /** Found in the store (an earlier invocation of the same run). */
    readonly stored: number;
    /** Cut short by the budget: stored up to their last complete step, left out of the summaries. */
    readonly stopped: { point: number; seed: number; steps: number }[];
    /** Not run (after the budget was spent, or after an interrupt). */
    readonly not_run: number;
  };
  /** Model calls of this invocation: answered by the model, from the cache, prompt tokens. */
  readonly model_calls: number;
  readonly cache_hits: number;
  readonly prompt_tokens: number;
  /**
   * Model-driven agent-steps of this invocation (an agent asking the model in a step, however many
   * calls it makes), and the estimated prompt tokens (ceil(characters / 4)) of all their calls,
   * cached or not, per agent-step: the context an agent's prompts hold (issue 16 cites OASIS's
   * ~3,400 input tokens per active agent-step; docs/simulate.md). Absent when no agent asked the model.
   */
  readonly agent_steps?: number;
  readonly prompt_tokens_per_agent_step?: number;
  /** Why the budget stopped the run, when it did. */
  readonly budget_note?: string;
  /** Where the agents were drawn from (scenario key `population`), when they were. */
  readonly population?: { readonly source: string; readonly attributes: string[]; readonly draw: "quota" | "iid" };
  /** Persona fidelity and drift (scenario key `measure`, src/sim/measure.ts), when measured. */
  readonly fidelity?: FidelityReport;
}

/** The configuration a run's id is the hash of (stored as `runs.config`, with `source` and `points`). */
export interface SimRunConfig {
  readonly kind: "simulate";
  readonly version: 1;
  readonly name: string;
  readonly dynamics: string;
  readonly params: Params;
  readonly sweep: [string, ParamValue[]][];
  readonly seeds: number[];
  readonly every: number | null;
  readonly model: { identity: string; display: string; backend: ModelSpec["backend"]; params: Readonly<Record<string, string | number | boolean>> } | null;
  readonly survey: { suite: string; fingerprint: string; question: string | null; attribute: string | null; populations: string[] | null } | null;
  readonly replay: string | null;
  /** The steering of the model-driven agents (present only when steered, so unsteered runs keep their ids). */
  readonly steer?: SteerSection;
  /** Where the agents are drawn from (present only with `population:`). */
  readonly population?: { attributes: string[]; wave: string | null; file: string | null; weight: string | null; draw: string; fingerprint: string };
  /** What is measured (present only with `measure:`). */
  readonly measure?: { every: number; questions: string[]; by: string; suite: string; fingerprint: string };
}

/** JSON with object keys sorted, for hashing. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v !== null && typeof v === "object") {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v) ?? "null";
}

/** The run id of a configuration: the first 12 hex digits of the SHA-256 of its canonical JSON. */
export function simRunId(config: SimRunConfig): string {
  return runIdOf(canonical(config));
}

/** Backend options of a scenario's `model` section, as the model clients take them. */
export function modelOptions(m: ModelSection): ModelOptions {
  return {
    ...(m.threads === undefined ? {} : { threads: m.threads }),
    ...(m.parallel === undefined ? {} : { parallel: m.parallel }),
    ...(m.context_size === undefined ? {} : { contextSize: m.context_size }),
    ...(m.gpu === undefined ? {} : { gpu: m.gpu }),
    ...(m.base_url === undefined ? {} : { baseURL: m.base_url }),
    ...(m.concurrency === undefined ? {} : { concurrency: m.concurrency }),
    ...(m.timeout === undefined ? {} : { timeoutMs: m.timeout * 1000 }),
    ...(m.retries === undefined ? {} : { retries: m.retries }),
  };
}

/**
 * One model for the whole sweep: every simulation's SimModel opens it through this spec, which
 * opens the real model once and closes it when the run ends (`closeShared`).
 */
function sharedSpec(spec: ModelSpec): ModelSpec & { closeShared(): Promise<void> } {
  let opened: Promise<ModelClient> | null = null;
  return {
    backend: spec.backend,
    identity: spec.identity,
    display: spec.display,
    params: spec.params,
    async open() {
      opened ??= spec.open();
      return borrowClient(await opened);
    },
    async closeShared() {
      const p = opened;
      opened = null;
      if (p !== null) await (await p.catch(() => null))?.close();
    },
  };
}

/** A spec rebuilt from a recorded run's configuration: it computes the same request keys and never opens a model. */
function recordedSpec(m: NonNullable<SimRunConfig["model"]>, run: string): ModelSpec {
  return {
    ...m,
    open: () => Promise.reject(new CivitasError("usage", `replaying run ${run} opens no model, but a call was not in its record`)),
  };
}

const stoppedKey = (point: number, seed: number) => `${point}:${seed}`;

/** Final metrics of each stored simulation (the metrics at its last recorded step), by point:seed. */
async function storedFinals(store: Store, runId: string): Promise<Map<string, Metrics>> {
  const rows = await store.simMetrics(runId);
  const last = new Map<string, { step: number; metrics: Record<string, number> }>();
  for (const r of rows) {
    if (isMeasurementRow(r.metric)) continue; // measure:'s rows are not the dynamics' metrics
    const k = stoppedKey(r.point, r.seed);
    const cur = last.get(k);
    const value = r.value === null ? Number.NaN : r.value;
    if (cur === undefined || r.step > cur.step) last.set(k, { step: r.step, metrics: { [r.metric]: value } });
    else if (r.step === cur.step) cur.metrics[r.metric] = value;
  }
  return new Map([...last].map(([k, v]) => [k, v.metrics]));
}

/** What a scenario run is before anything runs: its model, its survey, its points and seeds, its identity. */
export interface ScenarioPlan {
  readonly entry: DynamicsEntry;
  readonly spec: ModelSpec | undefined;
  /** The steered model (the same object as `spec`), told each call's plain prompt. */
  readonly steering: SteeredSpec | undefined;
  readonly replay: { run: string; points: string[]; seeds: Set<number> } | undefined;
  readonly suite: Suite | undefined;
  readonly surveyParams: Readonly<Record<string, string>>;
  readonly points: readonly Params[];
  readonly seeds: readonly number[];
  readonly config: SimRunConfig;
  readonly runId: string;
  /** The model as reports name it. */
  readonly display: string;
  /** The scenario's population, ready to draw from. */
  readonly population: PopulationPlan | undefined;
  /** The scenario's measurement, ready to run. */
  readonly measure: MeasurePlan | undefined;
}

/** The plan stage of a simulation run: no simulation runs, nothing is written. */
export async function planScenario(scenario: Scenario, options: { readonly store?: Store; readonly replay?: string; onLog?(message: string): void }): Promise<ScenarioPlan> {
  const { store } = options;
  const entry = DYNAMICS[scenario.dynamics];
  const log = (m: string) => options.onLog?.(m);

  // ---- the model: named, replayed, or none ----
  let spec: ModelSpec | undefined;
  let replay: { run: string; points: string[]; seeds: Set<number> } | undefined;
  let modelInfo: SimRunConfig["model"] = null;
  let steering: SteeredSpec | undefined;
  let steer: SteerSection | undefined;
  if (options.replay !== undefined) {
    if (entry.kind === "rule") throw new CivitasError("usage", `--replay: ${scenario.dynamics} is rule-based; only runs of model-driven scenarios are recorded`);
    if (store === undefined) throw new CivitasError("usage", "--replay needs the store the run was recorded in");
    const source = await store.findRun(options.replay);
    const cfg = source.config as Partial<SimRunConfig & { points: Params[] }> | null;
    if (cfg?.kind !== "simulate" || cfg.model === null || cfg.model === undefined || !Array.isArray(cfg.points)) {
      throw new CivitasError("usage", `--replay ${options.replay}: run ${source.id} is not a recorded model-driven simulation`, { hint: "`civitas runs list` shows the runs; simulations are those of suite sim:<name>" });
    }
    if (cfg.dynamics !== scenario.dynamics) {
      throw new CivitasError("usage", `--replay ${options.replay}: run ${source.id} ran ${cfg.dynamics}, but ${scenario.source} runs ${scenario.dynamics}`);
    }
    modelInfo = cfg.model;
    if (cfg.steer !== undefined) steer = cfg.steer;
    spec = recordedSpec(cfg.model, source.id);
    replay = { run: source.id, points: cfg.points.map(canonical), seeds: new Set(cfg.seeds ?? []) };
  } else if (entry.kind === "model" && scenario.model !== undefined) {
    // without a model, model-driven scenarios run their rule-based agents only (llm_share 0)
    spec = await parseModelSpec(scenario.model.spec, modelOptions(scenario.model));
    if (scenario.steer !== undefined) {
      steer = scenario.steer;
      spec = steering = steerSpec(spec, scenario.steer, scenario.source);
    }
    modelInfo = { identity: spec.identity, display: spec.display, backend: spec.backend, params: spec.params };
  }

  // ---- the survey ----
  let suite: Suite | undefined;
  if (scenario.survey !== undefined) {
    const info = findSuite(scenario.survey.suite);
    log(`loading ${info.name}${scenario.survey.data ? ` from ${scenario.survey.data}` : ""}`);
    suite = await info.load({
      ...(scenario.survey.data === undefined ? {} : { data: scenario.survey.data }),
      onProgress: (done, total, file) => log(`downloading ${info.name} (${done}/${total}): ${file}`),
    });
  }
  const surveyParams: Record<string, string> = {};
  if (scenario.survey?.question !== undefined) surveyParams.question = scenario.survey.question;
  if (scenario.survey?.attribute !== undefined) surveyParams.attribute = scenario.survey.attribute;
  if (scenario.survey?.populations !== undefined) surveyParams.populations = scenario.survey.populations.join(",");

  // ---- the population and the measurement ----
  const population = scenario.population === undefined ? undefined : await planPopulation(scenario.population, { suite, where: scenario.source, ...(scenario.survey?.question === undefined ? {} : { question: scenario.survey.question }) });
  let measure: MeasurePlan | undefined;
  if (scenario.measure !== undefined) {
    if (spec === undefined) throw new CivitasError("usage", `${scenario.source}: measure: measuring asks the model-driven agents survey questions; it needs a model (model: { spec: ... })`);
    let measureSuite = suite;
    if (scenario.measure.suite !== undefined && (suite === undefined || suite.name !== scenario.measure.suite || scenario.measure.data !== undefined)) {
      const info = findSuite(scenario.measure.suite);
      log(`loading ${info.name} (measure)${scenario.measure.data ? ` from ${scenario.measure.data}` : ""}`);
      measureSuite = await info.load({ ...(scenario.measure.data === undefined ? {} : { data: scenario.measure.data }) });
    }
    measure = planMeasure(scenario.measure, measureSuite!, scenario.source);
  }

  // ---- identity ----
  const points = expandGrid(scenario.params, scenario.sweep);
  const seeds = [...scenario.seeds];
  const config: SimRunConfig = {
    kind: "simulate",
    version: 1,
    name: scenario.name,
    dynamics: scenario.dynamics,
    params: scenario.params,
    sweep: scenario.sweep.map(([n, v]) => [n, [...v]]),
    seeds,
    every: scenario.every ?? null,
    model: modelInfo,
    survey:
      scenario.survey === undefined || suite === undefined
        ? null
        : {
            suite: suite.name,
            fingerprint: suite.fingerprint,
            question: scenario.survey.question ?? null,
            attribute: scenario.survey.attribute ?? null,
            populations: scenario.survey.populations === undefined ? null : [...scenario.survey.populations],
          },
    replay: replay?.run ?? null,
    ...(steer === undefined ? {} : { steer }),
    ...(population === undefined || scenario.population === undefined
      ? {}
      : {
          population: {
            attributes: [...population.attributes],
            wave: scenario.population.wave ?? null,
            file: scenario.population.file === undefined ? null : scenario.population.file.split(/[\\/]/u).pop()!,
            weight: scenario.population.weight ?? null,
            draw: population.draw,
            fingerprint: population.fingerprint,
          },
        }),
    ...(measure === undefined ? {} : { measure: { every: measure.every, questions: measure.questions.map((q) => q.id), by: measure.by, suite: measure.suite.name, fingerprint: measure.suite.fingerprint } }),
  };
  const runId = simRunId(config);
  const display = modelInfo === null ? "none" : replay !== undefined ? `${modelInfo.display} (replay of ${replay.run})` : modelInfo.display;

  return { entry, spec, steering, replay, suite, surveyParams, points, seeds, config, runId, display, population, measure };
}

/** Runs (or resumes, or re-reports) a scenario, storing it; see the module comment. */
export async function runScenario(scenario: Scenario, options: RunScenarioOptions): Promise<SimulationReport> {
  const { store, signal } = options;
  // ---- plan
  const plan = await planScenario(scenario, options);
  const { entry, spec, steering, replay, suite, points, seeds, config, runId, display } = plan;
  if (steering !== undefined && replay === undefined && (options.executor || options.simulations)) {
    throw new CivitasError("usage", `${scenario.source}: steer decodes two prompts token by token in this process; it cannot go through --queue (a worker serves one plain model)`, {
      hint: "run the steered scenario without --queue",
    });
  }

  const previous = await store.getRun(runId);
  const stoppedBefore = previous?.kind === "simulate" ? (previous.summary?.simulations.stopped ?? []) : [];
  const wasStopped = new Set(stoppedBefore.map((s) => stoppedKey(s.point, s.seed)));
  const resumed =
    (await store.beginRun({
      id: runId,
      command: options.command ?? `civitas simulate ${scenario.source}`,
      suite: `sim:${scenario.name}`,
      model: display,
      metric: "-",
      kind: "simulate",
      config: { ...config, source: scenario.source, points },
    })) === "resumed";
  const stored = resumed ? await storedFinals(store, runId) : new Map<string, Metrics>();
  for (const k of wasStopped) stored.delete(k);

  const total = points.length * seeds.length;
  const storedCount = points.reduce((n, _p, i) => n + seeds.filter((s) => stored.has(stoppedKey(i, s))).length, 0);
  options.onPlan?.({ runId, resumed, total, stored: storedCount });
  store.progress(runId, storedCount, total);

  const shared = spec !== undefined && replay === undefined ? sharedSpec(spec) : undefined;
  const finals = new Map<string, Metrics>(stored);
  const stopped: { point: number; seed: number; steps: number }[] = [];
  let ran = 0;
  let done = storedCount;
  let stop: SimulationReport["stop"] = "done";
  let budgetNote: string | undefined;
  const totals = { modelCalls: 0, cacheHits: 0, tokens: 0, agentSteps: 0, askedTokens: 0 };
  let factory: DynamicsFactory | undefined = options.factory;
  const graphs = new Map<string, Graph>();
  // Whole simulations as queue jobs (--queue, rule-based or --distribute simulations); a replay runs here.
  const remote = replay === undefined ? options.simulations : undefined;
  if (remote !== undefined && spec !== undefined && scenario.budget !== undefined) {
    throw new CivitasError("usage", `${scenario.source}: budget bounds the sweep's model calls in order, but simulation jobs run at once on many workers`, {
      hint: "remove budget, or send only the model calls through the queue (--distribute calls)",
    });
  }
  /** Noise floors of the measurement (they depend on the human data only), shared by the simulations. */
  const noiseCache = new Map<string, number>();
  try {
    if (remote !== undefined) {
      // ---- execute on workers: each missing (point, seed) a queue job (src/queue/simulations.ts)
      const todo = points.flatMap((_pt, p) => seeds.filter((s) => !finals.has(stoppedKey(p, s))).map((seed) => ({ point: p, seed })));
      if (todo.length > 0) {
        const jobs = remote({ runId, scenario: jobScenario(scenario), ...(spec === undefined ? {} : { model: spec }), ...(suite === undefined ? {} : { suiteFingerprint: suite.fingerprint }) });
        try {
          await jobs.run(
            todo,
            async ({ point: p, seed }, r) => {
              // The record first, the metrics last: stored metrics mean a complete simulation.
              if (r.calls !== undefined && r.calls.length > 0) await store.writeSimCalls(runId, r.calls.map((c) => ({ point: p, seed, ...c })), r.requests ?? []);
              await store.writeSimMetrics(runId, p, seed, r.series);
              finals.set(stoppedKey(p, seed), dynamicsMetrics(r.series[r.series.length - 1]!.metrics));
              totals.modelCalls += r.modelCalls ?? 0;
              totals.cacheHits += r.cacheHits ?? 0;
              totals.tokens += r.promptTokens ?? 0;
              ran++;
              done++;
              store.progress(runId, done, total);
              options.onProgress?.({ done, total, modelCalls: totals.modelCalls, cacheHits: totals.cacheHits });
            },
            signal,
          );
        } finally {
          await jobs.close();
        }
        if (signal?.aborted && done < total) stop = "interrupted";
      }
    } else
    outer: for (let p = 0; p < points.length; p++) {
      for (const seed of seeds) {
        const key = stoppedKey(p, seed);
        if (finals.has(key)) continue;
        if (stop !== "done") break outer;
        if (signal?.aborted) {
          stop = "interrupted";
          break outer;
        }
        const point = points[p]!;
        const label = `${pointLabel(point, scenario.sweep)}, seed ${seed}`;
        factory ??= await entry.factory();

        let model: RecordingSimModel | undefined;
        const makeModel = (): RecordingSimModel | undefined => {
          if (spec === undefined) return undefined;
          let replayPoint = p;
          if (replay !== undefined) {
            replayPoint = replay.points.indexOf(canonical(point));
            if (replayPoint < 0 || !replay.seeds.has(seed)) {
              throw new CivitasError("usage", `--replay ${replay.run}: that run has no simulation at ${label}`, {
                hint: "replay the scenario (parameters, sweep, seeds) the run was recorded with",
              });
            }
          }
          const budget = scenario.budget;
          return (model = createSimModel(store, shared ?? spec, {
            runId,
            point: replayPoint,
            seed,
            ...(signal === undefined ? {} : { signal }),
            ...(replay === undefined ? {} : { replay: { runId: replay.run } }),
            ...(replay === undefined && options.executor ? { executor: options.executor({ model: spec, runId, point: p, seed }) } : {}),
            ...(steering === undefined ? {} : { steering }),
            ...(budget === undefined || replay !== undefined
              ? {}
              : {
                  budget: {
                    ...(budget.max_calls === undefined ? {} : { maxCalls: Math.max(0, budget.max_calls - totals.modelCalls) }),
                    ...(budget.max_tokens === undefined ? {} : { maxTokens: Math.max(0, budget.max_tokens - totals.tokens) }),
                  },
                }),
          }));
        };
        let live = spec !== undefined; // the model's calls are not yet in totals
        const report = (step?: number) => {
          const s = live ? model?.stats : undefined;
          options.onProgress?.({
            done,
            total,
            modelCalls: totals.modelCalls + (s?.modelCalls ?? 0),
            cacheHits: totals.cacheHits + (s?.cacheHits ?? 0),
            ...(step === undefined ? {} : { point: p, seed, step }),
          });
        };
        let one: OneSimulation;
        try {
          one = await simulateOne(scenario, plan, p, seed, {
            factory,
            graphs,
            model: makeModel,
            ...(signal === undefined ? {} : { signal }),
            noiseCache,
            ...(spec === undefined ? {} : { onStep: report }),
          });
        } finally {
          live = false;
          if (model !== undefined) {
            const s = model.stats;
            totals.modelCalls += s.modelCalls;
            totals.cacheHits += s.cacheHits;
            totals.tokens += s.promptTokens;
            totals.agentSteps += s.agentSteps;
            totals.askedTokens += s.askedTokens;
          }
        }
        const { series, outcome, budgetKind } = one;
        if (budgetKind !== undefined) {
          budgetNote =
            budgetKind === "calls"
              ? `${totals.modelCalls} model calls made (max_calls ${scenario.budget?.max_calls})`
              : `${totals.tokens} prompt tokens evaluated (max_tokens ${scenario.budget?.max_tokens})`;
        }
        if (outcome === "interrupted" || outcome === "unstarted") {
          stop = outcome === "unstarted" ? "budget" : "interrupted";
          break outer;
        }
        await store.writeSimMetrics(runId, p, seed, series);
        ran++;
        done++;
        store.progress(runId, done, total);
        if (outcome === "budget") {
          stop = "budget";
          stopped.push({ point: p, seed, steps: one.steps! });
        } else {
          finals.set(key, dynamicsMetrics(series[series.length - 1]!.metrics));
        }
        report();
      }
    }
  } catch (e) {
    await store.failRun(runId, messageOf(e)).catch(() => undefined);
    throw e;
  } finally {
    await shared?.closeShared();
  }

  // ---- score: each point's metrics summarised across seeds
  return scoreScenario(store, scenario, plan, { finals, stop, stopped, ran, storedCount, done, totals, ...(budgetNote === undefined ? {} : { budgetNote }) });
}

/** The score stage of a simulation run: each point's metrics summarised across seeds, stored with the run. */
async function scoreScenario(
  store: Store,
  scenario: Scenario,
  plan: ScenarioPlan,
  o: {
    readonly finals: ReadonlyMap<string, Metrics>;
    readonly stop: SimulationReport["stop"];
    readonly stopped: SimulationReport["simulations"]["stopped"];
    readonly ran: number;
    readonly storedCount: number;
    readonly done: number;
    readonly totals: { readonly modelCalls: number; readonly cacheHits: number; readonly tokens: number; readonly agentSteps: number; readonly askedTokens: number };
    readonly budgetNote?: string;
  },
): Promise<SimulationReport> {
  const { entry, points, seeds, runId, display } = plan;
  const { finals, stop, stopped, ran, storedCount, done, totals, budgetNote } = o;
  const total = points.length * seeds.length;
  const fidelity =
    plan.measure === undefined
      ? undefined
      : fidelityReport(plan.measure, await store.simMetrics(runId), { points: points.length, seeds, left: new Set(stopped.map((s) => stoppedKey(s.point, s.seed))) });
  const report: SimulationReport = {
    run: runId,
    scenario: scenario.name,
    dynamics: scenario.dynamics,
    model: display,
    ...(plan.config.steer === undefined ? {} : { steer: plan.config.steer }),
    sweep: scenario.sweep.map(([n]) => n),
    seeds: [...seeds],
    points: points.map((params, p) => {
      const f = seeds.map((s) => finals.get(stoppedKey(p, s)));
      return { params, metrics: summarizeMetrics(f, { order: metricOrder(entry.metrics, f), seeds }) };
    }),
    stop,
    simulations: { total, run: ran, stored: storedCount, stopped, not_run: total - storedCount - ran },
    model_calls: totals.modelCalls,
    cache_hits: totals.cacheHits,
    prompt_tokens: totals.tokens,
    ...(totals.agentSteps === 0 ? {} : { agent_steps: totals.agentSteps, prompt_tokens_per_agent_step: totals.askedTokens / totals.agentSteps }),
    ...(budgetNote === undefined ? {} : { budget_note: budgetNote }),
    ...(plan.population === undefined ? {} : { population: { source: plan.population.source, attributes: [...plan.population.attributes], draw: plan.population.draw } }),
    ...(fidelity === undefined ? {} : { fidelity }),
  };
  if (stop === "interrupted") {
    await store.failRun(runId, `interrupted after ${done} of ${total} simulations; run the same command to continue`, "interrupted");
  } else {
    // A run stopped by its budget is not final: the same command with a larger budget goes on.
    await store.finishRun(runId, report, { final: stop === "done", counts: { model_calls: report.model_calls, cache_hits: report.cache_hits, prompt_tokens: report.prompt_tokens } });
  }
  return report;
}

/**
 * The order of a dynamics' metrics in summaries: as its registry entry lists them, a `name_<k>`
 * entry standing for name_0, name_1, ... in numeric order. (The store returns metrics sorted by
 * name; this keeps a re-reported run as it was printed.)
 */
function metricOrder(listed: readonly string[], finals: readonly (Metrics | undefined)[]): string[] {
  const found = new Set<string>();
  for (const f of finals) for (const k of Object.keys(f ?? {})) found.add(k);
  const out: string[] = [];
  for (const m of listed) {
    const at = m.indexOf("<k>");
    if (at < 0) out.push(m);
    else {
      const prefix = m.slice(0, at);
      const suffix = m.slice(at + 3);
      const matches = [...found].filter((k) => k.startsWith(prefix) && k.endsWith(suffix) && /^\d+$/u.test(k.slice(prefix.length, k.length - suffix.length)));
      out.push(...matches.sort((a, b) => Number(a.slice(prefix.length, a.length - suffix.length)) - Number(b.slice(prefix.length, b.length - suffix.length))));
    }
  }
  return out;
}

/** How one simulation ended (see simulateOne). */
export interface OneSimulation {
  /** Metrics every `every` steps and at the end (or, cut by the budget, at the last complete step). */
  readonly series: { step: number; metrics: Metrics }[];
  readonly outcome: "complete" | "budget" | "unstarted" | "interrupted";
  readonly budgetKind?: "calls" | "tokens";
  /** The last complete step, when the budget cut the simulation. */
  readonly steps?: number;
}

/**
 * One simulation (point p, seed) of a planned scenario, in this process: the body of runScenario's
 * loop, and what a worker runs for a simulation job (src/queue/simulations.ts). `model` makes the
 * simulation's SimModel (after the graph is built), closed here when the simulation ends; nothing
 * is stored here (the caller stores the series).
 */
export async function simulateOne(
  scenario: Scenario,
  plan: Pick<ScenarioPlan, "suite" | "surveyParams" | "points" | "population" | "measure">,
  p: number,
  seed: number,
  o: {
    readonly factory: DynamicsFactory;
    /** Graphs built so far (reused across simulations when they do not depend on the seed). */
    readonly graphs: Map<string, Graph>;
    readonly model?: () => RecordingSimModel | undefined;
    readonly signal?: AbortSignal;
    /** Noise floors of the measurement, shared by a run's simulations (measure.ts). */
    readonly noiseCache?: Map<string, number>;
    /** After each step (model-driven simulations' progress). */
    onStep?(step: number): void;
  },
): Promise<OneSimulation> {
  const { signal } = o;
  const point = plan.points[p]!;
  const label = `${pointLabel(point, scenario.sweep)}, seed ${seed}`;
  const where = (name: string) => {
    const origin = scenario.origin[name] ?? `params.${name}`;
    return origin.startsWith("--") ? origin : `${scenario.source}: ${origin}`;
  };
  const graph = await graphFor(point, seed, o.graphs, where);
  const params: Params = { ...point, ...plan.surveyParams, ...(point.agents === undefined ? { agents: graph.n } : {}) };
  const model = o.model?.();
  try {
    const deps: DynamicsDeps = {
      ...(model === undefined ? {} : { model }),
      ...(plan.suite === undefined ? {} : { suite: plan.suite }),
      ...(plan.population === undefined ? {} : { population: drawPopulation(plan.population, graph.n, seed) }),
    };
    let dynamics: Dynamics<unknown>;
    try {
      dynamics = o.factory(params, deps);
    } catch (e) {
      throw prefixed(e, `${scenario.source} (${label})`);
    }
    // ---- measure: persona fidelity at step 0, every k steps and at the end (src/sim/measure.ts);
    // its rows join the series at their steps (withMeasurements), stored with the metrics at once.
    const measured: Measurement[] = [];
    const measurePlan = model === undefined ? undefined : plan.measure;
    if (measurePlan !== undefined && dynamics.agents === undefined) {
      throw new CivitasError("usage", `${scenario.source}: measure: ${scenario.dynamics} cannot be measured (its agents are not survey respondents)`);
    }
    const measureAt = async (step: number, state: unknown): Promise<void> => {
      if (measurePlan === undefined || model === undefined) return;
      try {
        measured.push(await measureAgents(measurePlan, dynamics.agents!(state), model, step, o.noiseCache));
      } catch (e) {
        throw prefixed(e, `measure at step ${step}`); // the catch around simulate adds the file and the simulation
      }
    };
    /** Metrics taken so far (every `every` steps), kept when the budget cuts the run. */
    const taken: { step: number; metrics: Metrics }[] = [];
    let last: { step: number; state: unknown } | undefined;
    try {
      const r = await simulate(dynamics, {
        graph,
        params,
        seed,
        ...(scenario.every === undefined ? {} : { every: scenario.every }),
        ...(signal === undefined ? {} : { signal }),
        onStep: async (e) => {
          last = { step: e.step, state: e.state };
          if (e.metrics !== undefined) taken.push({ step: e.step, metrics: e.metrics });
          if (measurePlan !== undefined && e.step % measurePlan.every === 0) await measureAt(e.step, e.state);
          o.onStep?.(e.step);
        },
      });
      if (r.stop === "aborted") return { series: r.series, outcome: "interrupted" };
      // the end, when it is not a multiple of `every`
      const end = last as { step: number; state: unknown } | undefined;
      if (measurePlan !== undefined && end !== undefined && measured[measured.length - 1]?.step !== end.step) {
        try {
          await measureAt(end.step, end.state);
        } catch (e) {
          // the dynamics finished, its measurement did not: stopped by the budget, run again on resume
          if (!isBudgetExhausted(e)) throw e;
          return { series: withMeasurements(r.series, measured), outcome: "budget", budgetKind: e.budget, steps: end.step };
        }
      }
      return { series: withMeasurements(r.series, measured), outcome: "complete" };
    } catch (e) {
      if (isBudgetExhausted(e) && last !== undefined) {
        // The step that ran out failed as a whole: the state is that of the last complete step.
        const ctx: StepContext = { graph, params, rng: seededRng(seed), step: last.step, seed };
        const m: Metrics = { ...dynamics.metrics(last.state, ctx), steps: last.step };
        const end = last.step;
        // Measurements made so far are complete (one cut by the budget was never added).
        return { series: withMeasurements([...taken.filter((t) => t.step < end), { step: end, metrics: m }], measured), outcome: "budget", budgetKind: e.budget, steps: end };
      } else if (isBudgetExhausted(e)) {
        // spent while the dynamics set up its agents: nothing to keep
        return { series: [], outcome: "unstarted", budgetKind: e.budget };
      } else if (signal?.aborted) {
        return { series: [], outcome: "interrupted" };
      }
      throw prefixed(e, `${scenario.source} (${label})`);
    }
  } finally {
    await model?.close();
  }
}

/**
 * The scenario a simulation job carries: as it runs here (overrides applied), without what a
 * worker must not see or cannot use: the model section (its api_key; the worker asks its own
 * model, of the same identity), the budget and the steering (refused with simulation jobs).
 */
function jobScenario(s: Scenario): Scenario {
  const { model: _model, budget: _budget, steer: _steer, ...rest } = s;
  return rest;
}

/** A step's metrics without measure:'s rows (stored beside them): what the dynamics reported. */
function dynamicsMetrics(m: Metrics): Metrics {
  return Object.fromEntries(Object.entries(m).filter(([k]) => !isMeasurementRow(k)));
}

/** A simulation's series with its measurements' rows (measure.ts) added at their steps. */
function withMeasurements(series: readonly { step: number; metrics: Metrics }[], measured: readonly Measurement[]): { step: number; metrics: Metrics }[] {
  if (measured.length === 0) return [...series];
  const out = new Map(series.map((s) => [s.step, { ...s.metrics }]));
  for (const m of measured) out.set(m.step, { ...(out.get(m.step) ?? {}), ...measurementRows(m) });
  return [...out.entries()].sort((a, b) => a[0] - b[0]).map(([step, metrics]) => ({ step, metrics }));
}

/** Builds (or reuses) the graph of a simulation; errors name the field that set the graph. */
async function graphFor(point: Params, seed: number, cache: Map<string, Graph>, where: (name: string) => string): Promise<Graph> {
  const spec = String(point.graph ?? "complete");
  const agents = point.agents === undefined ? undefined : Number(point.agents);
  const kind = spec.split(":")[0]!.trim().toLowerCase();
  const random = kind === "er" || kind === "ws" || kind === "ba";
  const graphSeed = point.graph_seed === undefined ? seed : Number(point.graph_seed);
  const cacheable = !random || point.graph_seed !== undefined;
  const key = JSON.stringify([spec, agents ?? null, random ? graphSeed : 0]);
  const hit = cacheable ? cache.get(key) : undefined;
  if (hit !== undefined) return hit;
  let g: Graph;
  try {
    g = await graphFromSpec(spec, { ...(agents === undefined ? {} : { agents }), seed: graphSeed });
  } catch (e) {
    throw prefixed(e, where("graph"));
  }
  if (agents !== undefined && g.n !== agents) {
    throw new CivitasError("input", `${where("graph")}: the graph has ${g.n} nodes but agents = ${agents}`);
  }
  if (cacheable) cache.set(key, g);
  return g;
}

/** A CivitasError with the place it arose prefixed; other errors as they are. */
function prefixed(e: unknown, at: string): unknown {
  if (!isCivitasError(e) || isBudgetExhausted(e)) return e;
  const err = new CivitasError(e.kind, `${at}: ${e.message}`, { ...(e.hint === undefined ? {} : { hint: e.hint }), cause: e });
  return err;
}
