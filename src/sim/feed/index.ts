/** The rule-based parts of the `feed` scenario (src/sim/agents/feed.ts): posts, ranking, metrics. */
export * from "./posts.js";
export * from "./ranking.js";
export * from "./metrics.js";
