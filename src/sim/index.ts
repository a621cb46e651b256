export * from "./types.js";
export * from "./graph.js";
export * from "./engine.js";
export * from "./dynamics/index.js";
export * from "./scenario.js";
export * from "./sweep.js";
export * from "./run.js";
export { BudgetExhaustedError, createSimModel, isBudgetExhausted, type RecordingSimModel, type SimModelOptions } from "./model.js";
export { AGENT_SCENARIOS } from "./agents/index.js";
