/**
 * Civitas from TypeScript: an evaluation and an aggregation, stored in one store, read back as
 * typed results. In your own project, import from "civitas"; this file imports from the source so
 * that it runs in a checkout without a build:
 *
 *   npx tsx examples/library.ts [--store file.duckdb] [--shared ../shared]
 *
 * It asks the tiny stories260K model 20 OpinionQA questions (a model that knows nothing of
 * surveys: this shows the machinery, never a finding) and aggregates the Debian 2002 leader
 * election from PrefLib.
 */
import path from "node:path";
import { parseArgs } from "node:util";
import { findSuite, parseModelSpec, readResult, resolvePopulations, runAggregate, runEval, Store } from "../src/index.js";

const { values } = parseArgs({ options: { store: { type: "string" }, shared: { type: "string", default: "../shared" } } });
const shared = path.resolve(values.shared!);

const store = await Store.open(values.store ?? ".civitas/civitas.duckdb", { createFolder: values.store === undefined });
try {
  // ---- measure: a survey, a model, populations
  const suite = await findSuite("opinionqa").load({ data: path.join(shared, "data/opinionqa") });
  const result = await runEval(store, {
    suite,
    questions: suite.questions,
    limit: 20,
    populations: resolvePopulations(suite, ["POLPARTY"]),
    model: await parseModelSpec(`llama:${path.join(shared, "models/stories260K.gguf")}`),
    metric: "wasserstein",
    minCoverage: 0,
    seed: 0,
    resamples: 1000,
    command: "examples/library.ts",
  });
  for (const p of result.populations) {
    console.log(`${p.population}: alignment ${p.mean.toFixed(3)} [${p.ci[0].toFixed(3)}, ${p.ci[1].toFixed(3)}] (uniform answers: ${p.uniform.toFixed(3)})`);
  }

  // ---- aggregate: a real election, every rule that applies
  const election = await runAggregate(store, path.join(shared, "data/preflib/00002-00000001.soi"), { rules: ["schulze", "irv", "plurality"] }, { command: "examples/library.ts" });
  const profile = election.profiles[0]!;
  for (const [rule, r] of Object.entries(profile.rules)) {
    console.log(`${rule}: ${r.winners.map((w) => profile.alternatives[String(w)] ?? w).join(", ")}`);
  }

  // ---- read back: every run is stored with its typed result
  for (const run of await store.listRuns()) {
    if (run.kind === "eval" && run.summary !== null) {
      const stored = readResult("eval", run.summary, `run ${run.id}`);
      console.log(`stored: ${run.id} ${run.kind} ${run.status}, ${stored.questions.scored} questions scored`);
    } else {
      console.log(`stored: ${run.id} ${run.kind} ${run.status}`);
    }
  }
} finally {
  await store.close();
}
