/**
 * Civitas as a library: its public surface, documented in docs/library.md (with a script that
 * runs an evaluation and an aggregation: examples/library.ts). Everything not exported here is
 * internal and may change without notice.
 *
 *   import { findSuite, parseModelSpec, resolvePopulations, runEval, Store } from "civitas";
 *   const suite = await findSuite("opinionqa").load({ data: "../shared/data/opinionqa" });
 *   const store = await Store.open(".civitas/civitas.duckdb", { createFolder: true });
 *   const result = await runEval(store, {
 *     suite, questions: suite.questions, limit: 100, // the first 100 a chosen population can be scored on
 *     populations: resolvePopulations(suite, ["POLPARTY"]),
 *     model: await parseModelSpec("llama:model.gguf"),
 *     metric: "wasserstein", minCoverage: 0, seed: 0, resamples: 1000, command: "my script",
 *   });
 *   await store.close();
 *
 * The library never prints and never exits; errors are CivitasError with a `hint`.
 */

// ---- errors
export { CivitasError, isCivitasError, type ErrorKind } from "./errors.js";

// ---- what users extend: the registries and their components (docs/extending.md)
export { NO_ARGS, Registry, type Component, type ComponentSpec, type RegistryOptions } from "./registry.js";
export { distance, findMetric, metrics, type Metric, type MetricName } from "./metrics/index.js";
export { findMethod, methods, parseMethods, type ElicitationMethod, type ElicitPrompt, type Elicited, type MethodSettings } from "./runs/index.js";
export { findProtocol, loadProtocolFile, protocols, type Conventions, type Protocol } from "./runs/index.js";
export { findSuite, suites, type SuiteInfo, type SuiteLoadOptions } from "./surveys/index.js";
export {
  backends,
  llamaSpec,
  openaiSpec,
  parseModelSpec,
  type CompletionAnswer,
  type CompletionQuery,
  type LlamaOptions,
  type ModelBackend,
  type ModelClient,
  type ModelOptions,
  type ModelSpec,
  type OpenAIOptions,
  type OptionAnswer,
  type OptionQuery,
  type TokenProb,
} from "./models/index.js";

// ---- surveys
export {
  loadCustom,
  loadDistAlign,
  loadGlobalOpinions,
  loadMoCa,
  loadOpinionQA,
  loadRnR,
  parseVariant,
  parseVariants,
  resolvePopulations,
  type HumanDistribution,
  type Population,
  type Question,
  type Suite,
  type Variant,
} from "./surveys/index.js";

// ---- the store
export { DEFAULT_STORE, Store, type InvocationRow, type OpenOptions, type RunRow, type RunStatus } from "./store/index.js";

// ---- measuring: a run in three stages, and predictions made elsewhere
export {
  inProcessExecutor,
  readPredictions,
  runEval,
  scorePredictions,
  type EvalEvents,
  type EvalPlan,
  type EvalProgress,
  type Executor,
  type ModelRequest,
} from "./runs/index.js";

// ---- results: one typed, versioned result per kind of run
export {
  readResult,
  resultJson,
  RESULT_VERSIONS,
  type AggregateResult,
  type EvalResult,
  type ResultKind,
  type ScoreResult,
  type SimulationResult,
} from "./results/index.js";

// ---- aggregating preferences
export { aggregateFile, runAggregate, type AggregateOptions, type AggregateReport } from "./choice/index.js";

// ---- simulating societies
export { loadScenario, parseScenario, runScenario, type Scenario, type SimulationReport } from "./sim/index.js";

// ---- several models compared: civitas.yaml, the dry run, the comparison (docs/config.md)
export { compareCells, loadConfig, pairedDifference, parseConfig, type CellOutcome, type Comparison, type EvalConfig } from "./config/index.js";
export { dryRun, type DryRun } from "./runs/index.js";
// ---- steering toward a population, judged on held-out questions (docs/steering.md)
export { runSteer, steerMethods, type SteerMethod, type SteerPlan } from "./steer/index.js";
// decoding-time steering on the in-process llama backend: Linear Alignment's two-prompt loop and
// Decoding-time Realignment (two models, or a model with and without a LoRA adapter)
export {
  linearWeight,
  openLinearDecoder,
  openRealign,
  realignWeight,
  steeredClient,
  type MixtureCompletionAnswer,
  type MixtureCompletionQuery,
  type MixtureDecoder,
  type MixtureOptionAnswer,
  type MixtureOptionQuery,
} from "./steer/decode.js";
export type { SteerResult } from "./results/index.js";

// ---- reports and the viewer
export { formatEvalResult, reportDocument } from "./report/index.js";
export { startViewer, type Viewer, type ViewerOptions } from "./view/index.js";
