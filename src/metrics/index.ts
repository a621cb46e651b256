export * from "./distances.js";
export * from "./bootstrap.js";
export * from "./rng.js";
export * from "./noise.js";
export * from "./moca.js";
export * from "./stability.js";
export * from "./intervals.js";
export { logGamma, normalQuantile, tQuantile } from "./distributions.js";
export { binomialSample } from "./binomial.js";
