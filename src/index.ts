/**
 * Civitas as a library: load a survey, name a model, run it into a store, read the result.
 *
 *   import { loadOpinionQA, parseModelSpec, resolvePopulations, runEval, Store } from "civitas";
 *   const suite = await loadOpinionQA({ data: "../shared/data/opinionqa" });
 *   const store = await Store.open(".civitas/civitas.duckdb");
 *   const result = await runEval(store, {
 *     suite, questions: suite.questions, limit: 100, // the first 100 a chosen population can be scored on
 *     populations: resolvePopulations(suite, ["POLPARTY"]),
 *     model: await parseModelSpec("llama:model.gguf"),
 *     metric: "wasserstein", minCoverage: 0, seed: 0, resamples: 1000, command: "my script",
 *   });
 *
 * The library never prints and never exits; errors are CivitasError with a `hint`.
 */
export { CivitasError, isCivitasError, type ErrorKind } from "./errors.js";
export { NO_ARGS, parseArgs, Registry, type Component, type ComponentSpec, type RegistryOptions } from "./registry.js";
export * from "./metrics/index.js";
export * from "./models/index.js";
export * from "./surveys/index.js";
export * from "./store/index.js";
export * from "./runs/index.js";
export * from "./report/index.js";
export * as choice from "./choice/index.js";
export * as sim from "./sim/index.js";
export * as view from "./view/index.js";
