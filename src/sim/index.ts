export * from "./types.js";
export * from "./graph.js";
export * from "./engine.js";
export * from "./dynamics/index.js";
