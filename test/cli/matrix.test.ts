/**
 * `civitas eval` with several models and suites, from a civitas.yaml and from the command line:
 * two real local backends (stories260K in-process, and the same model behind the test
 * OpenAI-compatible server over HTTP), a cell whose server is down and a suite whose population
 * does not exist (they fail; the others run and are compared; the exit code says so), a dry run
 * that asks nothing, a rerun that asks nothing, the HTML comparison, schema errors with their
 * line, and `civitas init`.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { loadConfig } from "../../src/config/index.js";
import { checkPrinted } from "../../src/results/index.js";
import { runCli } from "../helpers/cli.js";
import { startLlamaOpenAIServer, type LlamaOpenAIServer } from "../helpers/llama-openai-server.js";
import { MODEL, OPINIONQA, REPO, tempDir } from "../helpers/paths.js";

const KEY = "test-key-7f3a9c1e5b";
const NEIGHBOURHOOD = path.join(REPO, "examples/custom/neighbourhood.csv");

/** A port nothing listens on (bound, then closed): a server that is down. */
async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** The JSON error lines a command given --json writes on stderr. */
function jsonErrors(stderr: string): { kind: string; message: string; hint: string | null; exit_code: number }[] {
  return stderr
    .trim()
    .split("\n")
    .map((l) => (JSON.parse(l) as { error: { kind: string; message: string; hint: string | null; exit_code: number } }).error);
}

interface Interval {
  mean: number;
  ci: [number, number];
}
interface Comparison {
  kind: string;
  cells: { suite: string; model: string; status: string; run: string | null; error: string | null }[];
  failed: string[];
  suites: {
    suite: string;
    populations: string[];
    models: { model: string; run: string; overall: Interval; populations: (Interval & { population: string })[]; closest: { population: string } | null; model_calls: number }[];
    differences: { a: string; b: string; questions: number; overall: Interval; populations: (Interval & { population: string; n: number })[] }[];
  }[];
}
interface DryRunOut {
  kind: string;
  cells: { model: string; suite: string; run: string | null; answers?: number; stored?: number; cached?: number; to_ask?: number; prompt_tokens?: number; tokens_counted?: string; output_tokens_max?: number; cost?: number | null; error: string | null }[];
  cost: number | null;
}

describe("civitas eval with several models and suites", () => {
  let server: LlamaOpenAIServer;
  let dir: string;
  let config: string;
  const env = () => ({ CIVITAS_TEST_KEY: KEY, OPENAI_API_KEY: "" });

  before(async () => {
    server = await startLlamaOpenAIServer({ apiKey: KEY });
    dir = tempDir();
    config = path.join(dir, "civitas.yaml");
    writeFileSync(
      config,
      `models:
  - model: llama:${MODEL}
    name: in-process
    threads: 1
  - model: openai:stories
    name: http
    base-url: ${server.url}
    api-key-env: CIVITAS_TEST_KEY
    price: {input: 2, output: 10}
  - model: openai:stories
    name: down
    base-url: http://127.0.0.1:${await deadPort()}/v1
    model-id: stories-down
    retries: 0
suites:
  - name: opinionqa
    data: ${OPINIONQA}
    populations: [POLPARTY]
  - name: custom
    data: ${NEIGHBOURHOOD}
    populations: [no_such_attribute]
limit: 3
store: runs.duckdb
`,
    );
  });
  after(async () => {
    await server?.close();
  });

  it("--dry-run asks nothing and says what each run would ask, with tokens and cost", async () => {
    const r = await runCli(["eval", "--config", config, "--dry-run", "--json"], { env: env() });
    // The custom suite's cells cannot be planned (no such population): exit 1, the others listed.
    assert.equal(r.code, 1, r.stderr);
    assert.equal(server.requests.length, 0, "a dry run sends the server nothing");
    assert.ok(!existsSync(path.join(dir, "runs.duckdb")), "a dry run creates no store");
    const out = JSON.parse(r.stdout) as DryRunOut;
    assert.equal(out.kind, "dry_run");
    const local = out.cells.find((c) => c.model === "in-process" && c.suite === "opinionqa")!;
    const http = out.cells.find((c) => c.model === "http" && c.suite === "opinionqa")!;
    for (const c of [local, http]) {
      assert.equal(c.error, null);
      // 3 questions, one logprobs answer each, nothing stored yet.
      assert.deepEqual([c.answers, c.stored, c.cached, c.to_ask], [3, 0, 0, 3]);
      assert.ok(c.prompt_tokens! > 0);
    }
    assert.equal(local.tokens_counted, "tokenizer");
    assert.equal(http.tokens_counted, "estimate");
    // A logprobs request generates at most one token.
    assert.equal(http.output_tokens_max, 3);
    // 2 and 10 per million input and output tokens.
    assert.ok(Math.abs(http.cost! - (http.prompt_tokens! * 2 + 3 * 10) / 1e6) < 1e-15);
    assert.equal(local.cost, null, "no price, no cost");
    const custom = out.cells.filter((c) => c.suite === "custom");
    assert.equal(custom.length, 3);
    for (const c of custom) assert.match(c.error ?? "", /no_such_attribute/u);
  });

  let first: Comparison;
  it("runs every cell, compares those that finished, and names those that failed", async () => {
    const r = await runCli(["eval", "--config", config, "--json", "--progress", "none"], { env: env() });
    assert.equal(r.code, 1, r.stderr);
    // With --json, each error is one JSON line on stderr, as it happens; the last names every failed cell.
    const errors = jsonErrors(r.stderr);
    assert.ok(errors.some((e) => /^down x opinionqa: /u.test(e.message)), r.stderr);
    assert.ok(errors.some((e) => /^in-process x custom: .*no_such_attribute/u.test(e.message)), r.stderr);
    assert.deepEqual(errors.at(-1), {
      kind: "failed",
      message: "4 of 6 runs failed: down x opinionqa; in-process x custom; http x custom; down x custom",
      hint: "the others are compared on stdout; run the same command again to resume",
      exit_code: 1,
    });
    assert.ok(server.requests.length >= 3, "the http cell asked the server");
    first = JSON.parse(r.stdout) as Comparison;
    // The comparison is a typed, versioned result (src/results/comparison.ts), as every --json.
    checkPrinted("comparison", first);
    assert.equal((first as unknown as { version: number }).version, 1);
    assert.deepEqual(first.failed, ["down x opinionqa", "in-process x custom", "http x custom", "down x custom"]);
    const oqa = first.suites.find((s) => s.suite === "opinionqa")!;
    assert.deepEqual(oqa.models.map((m) => m.model), ["in-process", "http"]);
    for (const m of oqa.models) assert.equal(m.model_calls, 3);
    assert.deepEqual(oqa.populations, ["POLPARTY=Republican", "POLPARTY=Democrat", "POLPARTY=Independent", "POLPARTY=Other"]);
    const [a, b] = oqa.models;
    const d = oqa.differences;
    assert.equal(d.length, 1);
    assert.equal(d[0]!.a, "in-process");
    assert.equal(d[0]!.questions, 3);
    // Both runs scored the same questions for every population, so the mean paired difference is
    // the difference of the two runs' own means (a sum of means is the mean of sums), per
    // population and over populations; 1e-9 allows only the rounding of the two summations.
    for (const p of d[0]!.populations) {
      const pa = a!.populations.find((x) => x.population === p.population)!;
      const pb = b!.populations.find((x) => x.population === p.population)!;
      assert.ok(Math.abs(p.mean - (pa.mean - pb.mean)) < 1e-9, p.population);
      assert.ok(p.ci[0] <= p.mean && p.mean <= p.ci[1]);
    }
    assert.ok(Math.abs(d[0]!.overall.mean - (a!.overall.mean - b!.overall.mean)) < 1e-9);
    // The key came from the environment variable the file names, and is nowhere in the output.
    assert.ok(server.requests.every((q) => q.authorization === `Bearer ${KEY}`));
    assert.ok(!r.stdout.includes(KEY) && !r.stderr.includes(KEY));
  });

  it("run again, it asks nothing: every finished cell is answered from the store (the same run ids)", async () => {
    server.reset();
    const html = path.join(dir, "comparison.html");
    const r = await runCli(["eval", "--config", config, "--json", "--progress", "none", "--html", html], { env: env() });
    assert.equal(r.code, 1, r.stderr);
    assert.equal(server.requests.length, 0);
    const again = JSON.parse(r.stdout) as Comparison;
    const oqa = again.suites.find((s) => s.suite === "opinionqa")!;
    assert.deepEqual(oqa.models.map((m) => [m.run, m.model_calls]), first.suites[0]!.models.map((m) => [m.run, 0]));
    const page = readFileSync(html, "utf8");
    assert.match(page, /Paired differences in alignment/u);
    assert.match(page, /in-process - http/u);
    assert.match(page, /failed cells \(4 of 6\)/u);
    // The multi-run comparison (charts) of the two finished runs follows.
    assert.match(page, /opinionqa: the runs side by side/u);
    assert.ok(!page.includes(KEY));
  });

  it("the same matrix from the command line: several --model, the same runs, nothing asked; text output", async () => {
    server.reset();
    const r = await runCli(
      [
        "eval", "opinionqa", "--model", `llama:${MODEL}`, "--model", "openai:stories", "--base-url", server.url, "--api-key", KEY,
        "--threads", "1", "--data", OPINIONQA, "--populations", "POLPARTY", "--limit", "3", "--store", path.join(dir, "runs.duckdb"), "--progress", "lines",
      ],
      { env: { OPENAI_API_KEY: "" } },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(server.requests.length, 0);
    // A local model and a server: two backends, run side by side, each cell's lines tagged with it.
    assert.match(r.stderr, /^2 runs on 2 backends side by side: llama\.cpp in this process; server http:\/\/127\.0\.0\.1:\d+\/v1$/mu);
    assert.match(r.stderr, /^\[openai:stories x opinionqa\] resuming run [0-9a-f]+: 3 of 3 answers already stored$/mu);
    for (const m of first.suites[0]!.models) assert.ok(r.stdout.includes(m.run), `run ${m.run} in:\n${r.stdout}`);
    assert.match(r.stdout, /^opinionqa: 2 models x 4 populations/mu);
    assert.match(r.stdout, /closest population/u);
    assert.match(r.stdout, /paired differences in alignment \(A - B\)/u);
    assert.match(r.stdout, new RegExp(`llama:${MODEL.replace(/[.*+?^${}()|[\]\\]/gu, "\\$&")} - openai:stories`, "u"));
    assert.ok(!r.stdout.includes(KEY) && !r.stderr.includes(KEY));
  });

  it("--dry-run after the runs: what is stored, and what the request cache would answer", async () => {
    server.reset();
    const r = await runCli(["eval", "--config", config, "--dry-run", "--json"], { env: env() });
    assert.equal(r.code, 1, r.stderr);
    const out = JSON.parse(r.stdout) as DryRunOut;
    for (const model of ["in-process", "http"]) {
      const c = out.cells.find((x) => x.model === model && x.suite === "opinionqa")!;
      assert.deepEqual([c.answers, c.stored, c.cached, c.to_ask, c.prompt_tokens], [3, 3, 0, 0, 0], model);
    }
    // Another run (other populations: another run id) whose first 3 questions are the same prompts:
    // nothing stored for it, every answer in the request cache.
    const other = await runCli(["eval", "--config", config, "--dry-run", "--json", "--populations", "SEX", "opinionqa"], { env: env() });
    const c = (JSON.parse(other.stdout) as DryRunOut).cells.find((x) => x.model === "in-process")!;
    assert.notEqual(c.run, out.cells.find((x) => x.model === "in-process")!.run);
    assert.deepEqual([c.answers, c.stored, c.cached, c.to_ask], [3, 0, 3, 0]);
    assert.equal(server.requests.length, 0);
  });

  it("with presentation variants, each model's stability verdict side by side", async () => {
    const store = path.join(dir, "variants.duckdb");
    const args = [
      "eval", "opinionqa", "--model", `llama:${MODEL}`, "--model", "openai:stories", "--base-url", server.url, "--threads", "1", "--data", OPINIONQA,
      "--populations", "POLPARTY", "--limit", "3", "--variants", "standard;order=reversed", "--store", store, "--progress", "none",
    ];
    const r = await runCli([...args, "--json"], { env: { OPENAI_API_KEY: KEY } });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as Comparison & { suites: { models: { stability: { top: string; stable: boolean; verdict: string } | null }[] }[] };
    const models = out.suites[0]!.models;
    assert.equal(models.length, 2);
    for (const m of models) {
      assert.ok(m.stability, `${m.model} has a stability verdict`);
      assert.ok(out.suites[0]!.populations.includes(m.stability.top));
      // The verdict (runs/stability.ts stabilityVerdict) names the population it is about.
      assert.ok(m.stability.verdict.includes(m.stability.top), m.stability.verdict);
      assert.equal(/is closest, stable/u.test(m.stability.verdict), m.stability.stable);
    }
    // The text shows them on one row, one column per model.
    const text = await runCli(args, { env: { OPENAI_API_KEY: KEY } });
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^stability +(stable|UNSTABLE) \(POLPARTY=[A-Za-z]+\) +(stable|UNSTABLE) \(POLPARTY=[A-Za-z]+\)$/mu);
  });

  it("two cells that are the same run (one model identity at two URLs) are not run twice", async () => {
    const twins = path.join(dir, "twins.yaml");
    writeFileSync(
      twins,
      `models:\n  - {model: "openai:stories", name: one, base-url: "${server.url}", api-key-env: CIVITAS_TEST_KEY}\n  - {model: "openai:stories", name: two, base-url: "http://127.0.0.1:${await deadPort()}/v1"}\n` +
        `suites: [{name: opinionqa, data: "${OPINIONQA}", populations: [POLPARTY]}]\nlimit: 3\nstore: runs.duckdb\n`,
    );
    const r = await runCli(["eval", "--config", twins, "--json", "--progress", "none"], { env: env() });
    assert.equal(r.code, 1, r.stderr);
    const twin = jsonErrors(r.stderr)[0]!;
    assert.match(twin.message, /^two x opinionqa: the same run as one x opinionqa \(run [0-9a-f]+\)/u);
    assert.match(twin.hint ?? "", /give one of them its own model-id/u);
    const out = JSON.parse(r.stdout) as Comparison;
    assert.deepEqual(out.suites[0]!.models.map((m) => m.model), ["one"]);
  });

  it("a schema error names the file and the line, and runs nothing", async () => {
    const bad = path.join(dir, "bad.yaml");
    writeFileSync(bad, `models:\n  - model: llama:${MODEL}\n    threads: two\nsuites: [opinionqa]\n`);
    const r = await runCli(["eval", "--config", bad]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: .*bad\.yaml: line 3, models\[0\]\.threads: /u);
  });

  it("a js: provider named in a file is refused (it would run code); on the command line it is the user's own", async () => {
    const file = path.join(dir, "js.yaml");
    const provider = path.join(dir, "provider.mjs");
    // The provider would write a file if it ran.
    writeFileSync(provider, `import { writeFileSync } from "node:fs"; writeFileSync(${JSON.stringify(path.join(dir, "ran"))}, "x"); export default () => { throw new Error("no"); };\n`);
    writeFileSync(file, `models: ["js:./provider.mjs"]\nsuites: [{name: opinionqa, data: "${OPINIONQA}"}]\nlimit: 1\n`);
    const r = await runCli(["eval", "--config", file, "--dry-run"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /js:.*provider\.mjs: a js: provider runs code, and .*js\.yaml is a file that may come from someone else/u);
    assert.ok(!existsSync(path.join(dir, "ran")), "the provider's code did not run");
  });

  it("civitas init writes an example that validates, and keeps an existing file without --force", async () => {
    const d = tempDir();
    const r = await runCli(["init"], { cwd: d });
    assert.equal(r.code, 0, r.stderr);
    const file = path.join(d, "civitas.yaml");
    const c = await loadConfig(file);
    assert.ok(c.models.length >= 2 && c.suites.length >= 2);
    writeFileSync(file, "mine\n");
    const again = await runCli(["init"], { cwd: d });
    assert.equal(again.code, 2);
    assert.match(again.stderr, /civitas\.yaml exists: not replaced/u);
    assert.equal(readFileSync(file, "utf8"), "mine\n");
    const forced = await runCli(["init", "--force"], { cwd: d });
    assert.equal(forced.code, 0, forced.stderr);
    await loadConfig(file);
  });
});
