/**
 * `--model js:<file>`: a model backend the user brings as a module, end to end through the
 * command line. The providers are written here to a temporary folder: one that serves fixed
 * probabilities (uniform: its alignment is the uniform baseline), one that wraps civitas's real
 * llama.cpp backend (its numbers are those of `--model llama:`), and broken ones. A provider's
 * identity is a hash of its file: different files never share cached answers.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { before, describe, it } from "node:test";
import { jsSpec, parseModelSpec } from "../../src/models/index.js";
import { Store } from "../../src/store/index.js";
import { CLI_BUILT, cliCommand, runCli } from "../helpers/cli.js";
import { rejectsCivitas } from "../helpers/errors.js";
import { MODEL, OPINIONQA, REPO, tempDir } from "../helpers/paths.js";

/** Fixed probabilities: the same mass on every label; every sampled completion names the first label, A. */
const UNIFORM = `
export const identity = "uniform";
export default function (target, options) {
  return {
    concurrency: 2,
    optionProbabilities(query) {
      const k = (query.continuations ?? query.labels).length;
      return { labelMass: Array.from({ length: k }, () => 1 / k), coverage: 1 };
    },
    async complete(query) {
      return { texts: Array.from({ length: query.n }, () => "A") };
    },
  };
}
`;

/** civitas's own llama backend as the CLI runs it (the build, or the source through tsx). */
const llamaProvider = () => {
  const models = cliCommand()[0] === CLI_BUILT ? path.join(REPO, "dist/models/index.js") : path.join(REPO, "src/models/index.ts");
  return `
import { llamaSpec } from ${JSON.stringify(pathToFileURL(models).href)};
export default async function (target, options) {
  return (await llamaSpec(target, options)).open();
}
`;
};

interface EvalJson {
  run: string;
  model: string;
  populations: { population: string; mean: number; uniform: number }[];
  answers: { model_calls: number; cache_hits: number; resumed: number };
}

describe("js: providers", () => {
  let dir: string;
  let store: string;
  const evalArgs = (model: string, ...more: string[]) => [
    "eval",
    "opinionqa",
    "--model",
    model,
    "--data",
    OPINIONQA,
    "--limit",
    "8",
    "--populations",
    "POLPARTY",
    "--store",
    store,
    "--threads",
    "1",
    "--parallel",
    "1",
    ...more,
  ];
  const evalJson = async (model: string, ...more: string[]): Promise<EvalJson> => {
    const r = await runCli(evalArgs(model, "--json", ...more));
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as EvalJson;
  };
  before(() => {
    dir = tempDir();
    store = path.join(dir, "s.duckdb");
    writeFileSync(path.join(dir, "uniform.mjs"), UNIFORM);
    writeFileSync(path.join(dir, "llama.mjs"), llamaProvider());
  });

  it("its identity is a hash of the file, its identity export and its target; it is not loaded for the spec", async () => {
    const file = path.join(dir, "uniform.mjs");
    await assert.rejects(parseModelSpec(`js:${file}`), /the model "js:.*uniform\.mjs" runs the code of a module, which is not loaded here/);
    const spec = await parseModelSpec(`js:${file}#some target`, { allowModules: true });
    const digest = createHash("sha256").update(readFileSync(file)).digest("hex").slice(0, 16);
    assert.equal(spec.identity, `js:${digest}:uniform#some target`);
    assert.equal(spec.display, "js:uniform.mjs#some target");
    assert.equal(spec.backend, "js");
    assert.deepEqual(spec.component, { name: "js", args: { model: `${file}#some target` } });
    const client = await spec.open();
    assert.equal(client.identity, spec.identity);
    assert.equal(client.concurrency, 2);
    assert.deepEqual((await client.optionProbabilities({ prompt: "x", labels: ["A", "B"] })).labelMass, [0.5, 0.5]);
  });

  it("fixed uniform probabilities score the uniform baseline; sampled completions are counted", async () => {
    const r = await evalJson(`js:${path.join(dir, "uniform.mjs")}`);
    assert.equal(r.model, "js:uniform.mjs");
    assert.equal(r.answers.model_calls, 8);
    assert.equal(r.populations.length, 4);
    // The model's distribution and the baseline's are both 1/k over the scored options; they
    // differ only by the rounding of two renormalisations.
    for (const p of r.populations) assert.ok(Math.abs(p.mean - p.uniform) < 1e-12, `${p.population}: ${p.mean} vs ${p.uniform}`);

    const s = await evalJson(`js:${path.join(dir, "uniform.mjs")}`, "--method", "sample", "--samples", "5");
    const db = await Store.open(store);
    try {
      const answers = await db.answers(s.run);
      assert.equal(answers.length, 8);
      // Every completion names the first label shown, which is the first option (survey order).
      for (const a of answers) assert.deepEqual(a.distribution, a.options.map((_, i) => (i === 0 ? 1 : 0)));
    } finally {
      await db.close();
    }
  });

  it("a provider that wraps the real llama backend gives llama's numbers, and never its cached answers", async () => {
    const llama = await evalJson(`llama:${MODEL}`);
    assert.equal(llama.answers.model_calls, 8);
    const js = await evalJson(`js:${path.join(dir, "llama.mjs")}#${MODEL}`);
    assert.notEqual(js.run, llama.run);
    // Same store, same prompts: a different identity, so nothing from llama's cache.
    assert.equal(js.answers.cache_hits, 0);
    assert.equal(js.answers.model_calls, 8);
    // The same model evaluated the same way in two processes on one machine: llama.cpp gives the
    // same numbers for the same batches (docs/design.md, Reproducibility); 1e-12 allows only for
    // the last bit of the sums over questions.
    assert.equal(js.populations.length, llama.populations.length);
    js.populations.forEach((p, i) => assert.ok(Math.abs(p.mean - llama.populations[i]!.mean) < 1e-12, `${p.population}: ${p.mean} vs ${llama.populations[i]!.mean}`));
  });

  it("the same file elsewhere is the same provider; an edited one asks again", async () => {
    const first = await evalJson(`js:${path.join(dir, "uniform.mjs")}`);
    const elsewhere = path.join(dir, "copy");
    mkdirSync(elsewhere, { recursive: true });
    copyFileSync(path.join(dir, "uniform.mjs"), path.join(elsewhere, "uniform.mjs"));
    const again = await evalJson(`js:${path.join(elsewhere, "uniform.mjs")}`);
    assert.equal(again.run, first.run);
    assert.equal(again.answers.model_calls, 0);
    writeFileSync(path.join(elsewhere, "uniform.mjs"), `${UNIFORM}// edited\n`);
    const edited = await evalJson(`js:${path.join(elsewhere, "uniform.mjs")}`);
    assert.notEqual(edited.run, first.run);
    assert.equal(edited.answers.cache_hits, 0);
    assert.equal(edited.answers.model_calls, 8);
  });

  it("a missing file exits 2; a module that makes no client, or answers badly, exits 1 naming the file", async () => {
    const missing = await runCli(evalArgs(`js:${path.join(dir, "none.mjs")}`));
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /error: no provider file .*none\.mjs/);

    const noDefault = path.join(dir, "no-default.mjs");
    writeFileSync(noDefault, "export const identity = 'x';\n");
    const nd = await runCli(evalArgs(`js:${noDefault}`));
    assert.equal(nd.code, 1);
    assert.match(nd.stderr, /error: the provider .*no-default\.mjs has no default export that makes a client/);

    const short = path.join(dir, "short.mjs");
    writeFileSync(short, "export default () => ({ optionProbabilities: () => ({ labelMass: [1], coverage: 1 }) });\n");
    const s = await runCli(evalArgs(`js:${short}`));
    assert.equal(s.code, 1);
    assert.match(s.stderr, /error: the provider .*short\.mjs answered optionProbabilities badly: labelMass has 1 values for \d+ labels/);

    const negative = path.join(dir, "negative.mjs");
    writeFileSync(negative, "export default () => ({ optionProbabilities: (q) => ({ labelMass: q.labels.map(() => -1), coverage: 2 }) });\n");
    const n = await runCli(evalArgs(`js:${negative}`));
    assert.equal(n.code, 1);
    assert.match(n.stderr, /answered optionProbabilities badly: labelMass\.0: expected finite numbers >= 0; .*coverage: expected a number in \[0, 1\]/);

    const throws = path.join(dir, "throws.mjs");
    writeFileSync(throws, "export default () => ({ optionProbabilities: () => { throw new Error('out of tokens'); } });\n");
    const t = await runCli(evalArgs(`js:${throws}`));
    assert.equal(t.code, 1);
    assert.match(t.stderr, /error: the provider .*throws\.mjs failed in optionProbabilities: out of tokens/);

    const logprobsOnly = path.join(dir, "logprobs-only.mjs");
    writeFileSync(logprobsOnly, "export default () => ({ optionProbabilities: (q) => ({ labelMass: q.labels.map(() => 1), coverage: 1 }) });\n");
    const lo = await runCli(evalArgs(`js:${logprobsOnly}`, "--method", "verbalize"));
    assert.equal(lo.code, 1);
    assert.match(lo.stderr, /error: the provider .*logprobs-only\.mjs has no complete\(\): it answers --method logprobs only/);
  });

  it("a scenario file cannot name a provider module: simulations do not load code a data file names", async () => {
    const ran = path.join(dir, "ran.txt");
    const evil = path.join(dir, "evil.mjs");
    writeFileSync(evil, `import { writeFileSync } from "node:fs"; writeFileSync(${JSON.stringify(ran)}, "ran"); export default () => ({});\n`);
    const scenario = path.join(dir, "scenario.yaml");
    writeFileSync(
      scenario,
      readFileSync(path.join(REPO, "examples/opinion.yaml"), "utf8")
        .replace(/spec: llama:\S+/u, `spec: js:${evil}`)
        .replace(/data: \S+/u, `data: ${OPINIONQA}`),
    );
    const r = await runCli(["simulate", scenario, "--store", path.join(dir, "sim.duckdb")]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /runs the code of a module, which is not loaded here/);
    assert.equal(existsSync(ran), false, "the module was not imported");
  });

  it("a module that does not load, or makes something else than a client, is an input error", async () => {
    const broken = path.join(dir, "broken.mjs");
    writeFileSync(broken, "export default function ( {\n");
    assert.match((await rejectsCivitas(jsSpec(broken), "input")).message, /^cannot load the provider .*broken\.mjs: /);
    const notClient = path.join(dir, "not-client.mjs");
    writeFileSync(notClient, "export default () => ({ complete: 1, concurrency: 0 });\n");
    const spec = await jsSpec(notClient);
    assert.equal(
      (await rejectsCivitas(spec.open(), "input")).message,
      `the client the provider ${notClient} made is not a model client: optionProbabilities: expected a function; complete: expected a function; concurrency: expected an integer >= 1`,
    );
    const badIdentity = path.join(dir, "bad-identity.mjs");
    writeFileSync(badIdentity, "export const identity = 3; export default () => ({});\n");
    assert.match((await rejectsCivitas(jsSpec(badIdentity), "input")).message, /its identity export must be a non-empty string/);
  });
});
