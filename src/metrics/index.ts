export * from "./distances.js";
export * from "./bootstrap.js";
export * from "./rng.js";
