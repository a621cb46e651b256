export { configSchema, modelEntry, suiteEntry, type EvalConfig, type ModelEntry, type SuiteEntry } from "./schema.js";
export { CONFIG_HINT, loadConfig, parseConfig, resolveConfigPaths } from "./load.js";
export { EXAMPLE_CONFIG } from "./example.js";
export { compareCells, pairedDifference, runDistances, type CellOutcome, type Comparison, type DistanceMap, type ModelRow, type PairedDifference, type SuiteComparison } from "./compare.js";
export { CHARS_PER_TOKEN, costOf, countLlamaTokens, estimateTokens, type TokenCount } from "./tokens.js";
