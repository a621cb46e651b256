/** The command line as a user meets it: help, results, stored runs, exports, and errors. */
import assert from "node:assert/strict";
import { cpSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { parse } from "csv-parse/sync";
import { startLlamaOpenAIServer, type LlamaOpenAIServer } from "../helpers/llama-openai-server.js";
import { runCli, type CliResult } from "../helpers/cli.js";
import { MODEL, OPINIONQA, tempDir } from "../helpers/paths.js";

const W26 = "human_resp/American_Trends_Panel_W26";

/** Exactly one error line, then optional indented hint lines. */
function assertOneError(stderr: string, pattern: RegExp): void {
  const lines = stderr.trimEnd().split("\n");
  const errors = lines.filter((l) => l.startsWith("error:"));
  assert.equal(errors.length, 1, stderr);
  assert.match(errors[0]!, pattern);
  assert.ok(lines.every((l) => l.startsWith("error:") || l.startsWith("  ")), `unexpected output:\n${stderr}`);
  assert.doesNotMatch(stderr, /\n\s+at /u, "no stack trace");
}

describe("help", () => {
  it("civitas --help lists the commands and how to start", async () => {
    const r = await runCli(["--help"]);
    assert.equal(r.code, 0);
    for (const s of ["eval", "runs", "export", "Start here:"]) assert.ok(r.stdout.includes(s), s);
  });
  it("civitas eval --help teaches the flags with examples", async () => {
    const r = await runCli(["eval", "--help"]);
    assert.equal(r.code, 0);
    for (const s of ["--model", "--data", "--populations", "--limit", "--metric", "--min-coverage", "--json", "--threads", "--base-url", "--concurrency", "Examples:", "llama:hf:"]) {
      assert.ok(r.stdout.includes(s), s);
    }
  });
});

describe("usage errors exit 2 and say what is wrong", () => {
  it("a bad flag value, an unknown command, a missing argument", async () => {
    const limit = await runCli(["eval", "opinionqa", "--model", `llama:${MODEL}`, "--limit", "0"]);
    assert.equal(limit.code, 2);
    assert.match(limit.stderr, /--limit must be an integer >= 1 \(got "0"\)/);
    const cmd = await runCli(["evaluate"]);
    assert.equal(cmd.code, 2);
    assert.match(cmd.stderr, /unknown command 'evaluate'/);
    const arg = await runCli(["runs", "show"]);
    assert.equal(arg.code, 2);
    assert.match(arg.stderr, /missing required argument 'run'/);
  });
});

describe("civitas eval, runs, export", () => {
  // Two runs in one store, made once for the tests below (each of them needs only this).
  let dir: string;
  let store: string;
  let table: CliResult;
  let json: CliResult;
  before(async () => {
    dir = tempDir();
    store = path.join(dir, "s.duckdb");
    table = await runCli(["eval", "opinionqa", "--model", `llama:${MODEL}`, "--data", OPINIONQA, "--populations", "POLPARTY=Democrat,SEX", "--limit", "6", "--store", store, "--progress", "none"]);
    json = await runCli(["eval", "opinionqa", "--model", `llama:${MODEL}`, "--data", OPINIONQA, "--populations", "SEX", "--limit", "6", "--store", store, "--json"]);
  });

  it("prints the alignment table with baselines, counts and where the run is stored", () => {
    const r = table;
    assert.equal(r.code, 0, r.stderr);
    for (const s of ["population", "alignment", "95% CI", "uniform", "human vs overall", "POLPARTY=Democrat", "SEX=Male", "SEX=Female", "mean over populations", "6 scored", "set aside: 0", "mean coverage", `stored in ${store}`]) {
      assert.ok(r.stdout.includes(s), `missing "${s}" in:\n${r.stdout}`);
    }
  });

  it("--json prints the documented shape", () => {
    const r = json;
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as Record<string, unknown> & { overall: { mean: number; ci: number[] }; populations: Record<string, unknown>[]; baselines: Record<string, unknown>; set_aside: Record<string, number> };
    assert.match(String(j.run), /^[0-9a-f]{12}$/);
    assert.equal(j.metric, "wasserstein");
    assert.equal(typeof j.overall.mean, "number");
    assert.equal(j.overall.ci.length, 2);
    assert.deepEqual(Object.keys(j.populations[0]!).slice(0, 4), ["population", "mean", "ci", "n"]);
    assert.ok("uniform" in j.baselines && "human" in j.baselines);
    assert.equal(j.set_aside.total, 0);
  });

  it("lists, shows and exports stored runs", async () => {
    const list = await runCli(["runs", "list", "--store", store, "--json"]);
    assert.equal(list.code, 0, list.stderr);
    const runs = JSON.parse(list.stdout) as { id: string; status: string; command: string }[];
    assert.equal(runs.length, 2);
    assert.ok(runs.every((r) => r.status === "done"));
    // Newest first: the --json run (SEX only).
    const id = runs[0]!.id;
    assert.equal(id, (JSON.parse(json.stdout) as { run: string }).run);
    const show = await runCli(["runs", "show", id.slice(0, 6), "--store", store]);
    assert.equal(show.code, 0, show.stderr);
    assert.ok(show.stdout.includes(`run ${id}`) && show.stdout.includes("SEX=Female"));
    const table = await runCli(["runs", "list", "--store", store]);
    assert.ok(table.stdout.includes(id));
    const out = path.join(dir, "a.csv");
    const exp = await runCli(["export", id, "--format", "csv", "--out", out, "--store", store]);
    assert.equal(exp.code, 0, exp.stderr);
    const text = readFileSync(out, "utf8");
    assert.match(text, /^run,question,variant,persona,method,options,distribution,coverage,status/);
    const rows = parse(text, { columns: true }) as Record<string, string>[];
    assert.equal(rows.length, 6);
    const dist = JSON.parse(rows[0]!.distribution!) as number[];
    assert.equal(dist.length, (JSON.parse(rows[0]!.options!) as string[]).length);
    assert.ok(Math.abs(dist.reduce((a, b) => a + b, 0) - 1) < 1e-9);
    const missing = await runCli(["runs", "show", "ffffff", "--store", store]);
    assert.equal(missing.code, 2);
    assertOneError(missing.stderr, /no run "ffffff"/);
  });
});

describe("bad input gets one clear error and a non-zero exit", () => {
  /** A copy of the OpinionQA folder to break. */
  const copy = (): string => {
    const d = tempDir();
    cpSync(OPINIONQA, d, { recursive: true });
    return d;
  };
  const evalArgs = (d: string, extra: string[] = []) => ["eval", "opinionqa", "--model", `llama:${MODEL}`, "--data", d, "--limit", "3", "--store", path.join(d, "s.duckdb"), ...extra];

  it("a missing model file", async () => {
    const r = await runCli(["eval", "opinionqa", "--model", "llama:/nowhere/model.gguf", "--data", OPINIONQA]);
    assert.equal(r.code, 2);
    assertOneError(r.stderr, /model file not found: \/nowhere\/model\.gguf/);
  });

  it("an unknown population, listing the valid ones", async () => {
    const r = await runCli(evalArgs(OPINIONQA, ["--populations", "POLPARTY=Green"]));
    assert.equal(r.code, 2);
    assertOneError(r.stderr, /unknown population "POLPARTY=Green"/);
    assert.match(r.stderr, /Democrat/);
  });

  it("an unknown suite and an unknown metric", async () => {
    const s = await runCli(["eval", "nosuchsuite", "--model", `llama:${MODEL}`]);
    assert.equal(s.code, 2);
    assertOneError(s.stderr, /unknown suite "nosuchsuite"/);
    const m = await runCli(evalArgs(OPINIONQA, ["--metric", "kl"]));
    assert.equal(m.code, 2);
    assertOneError(m.stderr, /unknown metric "kl"/);
  });

  it("a truncated JSON file, named", async () => {
    const d = copy();
    const file = path.join(d, W26, "SEX_data.json");
    const text = readFileSync(file, "utf8");
    writeFileSync(file, text.slice(0, Math.floor(text.length / 2)));
    const r = await runCli(evalArgs(d));
    assert.equal(r.code, 1);
    assertOneError(r.stderr, /SEX_data\.json/);
  });

  it("a CSV missing a column, named with the column", async () => {
    const d = copy();
    const file = path.join(d, W26, "info.csv");
    const text = readFileSync(file, "utf8").replace(/,option_ordinal/u, ",ordinal_renamed");
    writeFileSync(file, text);
    const r = await runCli(evalArgs(d));
    assert.equal(r.code, 1);
    assertOneError(r.stderr, /info\.csv.*option_ordinal|option_ordinal.*info\.csv/);
  });
});

describe("API keys never reach the store, the output or the logs", () => {
  let server: LlamaOpenAIServer;
  before(async () => {
    server = await startLlamaOpenAIServer({ apiKey: "sk-test-VERYSECRET42" });
  });
  after(async () => server.close());

  it("with the key as a flag and as a variable", async () => {
    const dir = tempDir();
    const store = path.join(dir, "k.duckdb");
    const common = ["eval", "opinionqa", "--model", "openai:stories", "--base-url", server.url, "--data", OPINIONQA, "--limit", "4", "--store", store];
    const a = await runCli([...common, "--api-key", "sk-test-VERYSECRET42", "--populations", "SEX"]);
    assert.equal(a.code, 0, a.stderr);
    const b = await runCli([...common, "--populations", "POLPARTY", "--json"], { env: { OPENAI_API_KEY: "sk-test-VERYSECRET42" } });
    assert.equal(b.code, 0, b.stderr);
    // A wrong key (and a new store, so nothing comes from the cache): the server echoes the key
    // in its 401; civitas must not repeat it.
    const c = await runCli([...common.slice(0, -1), path.join(dir, "wrong.duckdb"), "--api-key", "sk-test-WRONGKEY99", "--progress", "none"]);
    assert.equal(c.code, 2);
    assertOneError(c.stderr, /refused the API key/);
    assert.ok(server.requests.some((r) => r.authorization === "Bearer sk-test-VERYSECRET42"), "the key did reach the server");
    for (const out of [a.stdout, a.stderr, b.stdout, b.stderr, c.stdout, c.stderr]) {
      assert.doesNotMatch(out, /VERYSECRET42|WRONGKEY99/);
    }
    const list = await runCli(["runs", "list", "--store", store, "--json"]);
    assert.match(list.stdout, /--api-key \*\*\*/);
    for (const f of readdirSync(dir)) {
      const bytes = readFileSync(path.join(dir, f));
      assert.equal(bytes.indexOf("VERYSECRET42"), -1, `${f} holds the key`);
      assert.equal(bytes.indexOf("WRONGKEY99"), -1, `${f} holds the key`);
    }
  });
});
