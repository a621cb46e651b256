/**
 * The layering of src/ (../shared/DESIGN.md, docs/design.md "Layers"), checked by `npm test`
 * (`npm run lint:deps`): dependency-cruiser reads the real import graph of the TypeScript sources.
 *
 *   src/*.ts (errors, cache, files, jsonl, redact, terminal, registry): the base, importing no folder
 *   metrics, models, results   -> the base (results: the typed result of every kind of run)
 *   store                      -> the base, models (types), results
 *   surveys                    -> the base, metrics
 *   choice                     -> the base, metrics, results, store (aggregations are stored runs)
 *   runs                       -> the base, metrics, models, results, store, surveys
 *   steer                      -> the base, metrics, models, results, runs, store, surveys
 *   sim                        -> the base, metrics, models, results, runs, steer, store, surveys
 *   config                     -> the base, metrics, models, results, runs, store, surveys (civitas.yaml)
 *   queue                      -> the base, models, runs, store (BullMQ executor and worker)
 *   report                     -> all of the above but queue
 *   view                       -> all of the above, report
 *   cli                        -> everything; nothing imports cli
 *
 * A folder is reached from another only through its index.ts (its public API); no cycles.
 */
const FOLDERS = ["metrics", "models", "results", "store", "surveys", "choice", "runs", "steer", "sim", "config", "queue", "report", "view", "cli"];
/** What each folder may import, besides itself and the base. */
const ALLOWED = {
  metrics: [],
  models: [],
  results: [],
  store: ["models", "results"],
  surveys: ["metrics"],
  choice: ["metrics", "results", "store"],
  runs: ["metrics", "models", "results", "store", "surveys"],
  steer: ["metrics", "models", "results", "runs", "store", "surveys"],
  sim: ["metrics", "models", "results", "runs", "steer", "store", "surveys"],
  config: ["metrics", "models", "results", "runs", "store", "surveys"],
  queue: ["models", "runs", "store"],
  report: ["metrics", "models", "results", "store", "surveys", "choice", "runs", "steer", "sim", "config"],
  view: ["metrics", "models", "results", "store", "surveys", "choice", "runs", "steer", "sim", "config", "report"],
  cli: FOLDERS.filter((f) => f !== "cli"),
};

const layerRules = FOLDERS.map((from) => {
  const forbidden = FOLDERS.filter((to) => to !== from && !ALLOWED[from].includes(to));
  return {
    name: `layers-${from}`,
    comment: `src/${from} may import only ${["the base", ...ALLOWED[from]].join(", ")} (docs/design.md, Layers)`,
    severity: "error",
    from: { path: `^src/${from}/` },
    to: { path: `^src/(${forbidden.join("|")})/` },
  };
}).filter((r) => !r.to.path.endsWith("()/"));

module.exports = {
  forbidden: [
    {
      name: "no-circular",
      comment: "no import cycles",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    {
      name: "through-index",
      comment: "a folder is reached from another folder only through its index.ts",
      severity: "error",
      from: { path: "^src/([^/]+)/" },
      to: { path: "^src/([^/]+)/.+", pathNot: ["^src/$1/", "^src/[^/]+/index\\.ts$"] },
    },
    {
      name: "base-imports-no-folder",
      comment: "the base files of src/ import no folder",
      severity: "error",
      from: { path: "^src/[^/]+\\.ts$", pathNot: "^src/index\\.ts$" },
      to: { path: "^src/[^/]+/" },
    },
    ...layerRules,
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    includeOnly: "^src/",
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { extensions: [".ts", ".js"] },
  },
};
