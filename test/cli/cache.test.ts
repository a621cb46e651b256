/**
 * Hosted models and the cache policy, through the command line as users run it: `civitas eval`
 * against the real-model OpenAI-compatible test server (two of them: two replicas of one model),
 * a real DuckDB store, and `civitas cache list|prune|clear`.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { Store } from "../../src/store/index.js";
import { runCli, type CliResult } from "../helpers/cli.js";
import { writeV4Store } from "../helpers/fixtures.js";
import { startLlamaOpenAIServer, type LlamaOpenAIServer } from "../helpers/llama-openai-server.js";
import { MODEL, OPINIONQA, tempDir } from "../helpers/paths.js";

const KEY = "sk-cache-test-SECRET789";
const dir = tempDir("civitas-cache-test-");
let replica1: LlamaOpenAIServer;
let replica2: LlamaOpenAIServer;

before(async () => {
  [replica1, replica2] = await Promise.all([startLlamaOpenAIServer({ apiKey: KEY }), startLlamaOpenAIServer({ apiKey: KEY })]);
});
after(async () => {
  await Promise.all([replica1?.close(), replica2?.close()]);
});

const evalHosted = (store: string, server: LlamaOpenAIServer, extra: string[]) =>
  runCli(
    ["eval", "opinionqa", "--model", "vllm:stories260K", "--base-url", server.url, "--data", OPINIONQA, "--populations", "POLPARTY", "--resamples", "10", "--store", store, "--progress", "none", "--json", ...extra],
    { env: { OPENAI_API_KEY: KEY } },
  );

interface EvalJson {
  run: string;
  answers: { model_calls: number; cache_hits: number; resumed: number; total: number };
  warnings: string[];
}
function parsed(r: CliResult): EvalJson {
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as EvalJson;
}

/** A query on the store file, through the store (which releases the file for the next command). */
async function sql(file: string, query: string): Promise<Record<string, unknown>[]> {
  const store = await Store.open(file);
  try {
    return await store.query(query);
  } finally {
    await store.close();
  }
}

/** Makes every cached answer look `days` older (time passing, without waiting for it). */
const age = (file: string, days: number) => sql(file, `UPDATE requests SET created_at = created_at - INTERVAL ${days} DAY`);

describe("model identity: --model-id, not the URL", () => {
  it("the same model behind two replicas shares one cache; --model-id keeps answers apart", async () => {
    const store = path.join(dir, "replicas.duckdb");
    const first = parsed(await evalHosted(store, replica1, ["--limit", "2"]));
    assert.equal(first.answers.model_calls, 2);
    // Another URL, one more question: the two first come from the cache the first replica filled.
    const second = parsed(await evalHosted(store, replica2, ["--limit", "3"]));
    assert.deepEqual([second.answers.model_calls, second.answers.cache_hits], [1, 2]);
    assert.equal(replica2.requests.length, 1);
    // Named otherwise, the same server's answers are another model's.
    const other = parsed(await evalHosted(store, replica2, ["--limit", "3", "--model-id", "stories260K@finetune-2"]));
    assert.deepEqual([other.answers.model_calls, other.answers.cache_hits], [3, 0]);
    const models = await sql(store, "SELECT DISTINCT model FROM requests ORDER BY model");
    assert.deepEqual(
      models.map((m) => m.model),
      ["openai:stories260K", "openai:stories260K@finetune-2"],
    );
    replica1.reset();
    replica2.reset();
  });

  it("records the server's model and system_fingerprint with each answer, and warns when they change within a run", async () => {
    const store = path.join(dir, "served.duckdb");
    replica1.configure({ served: { model: "stories260K-2025-06-01", fingerprint: "fp_one" } });
    replica1.inject({ kind: "ok" }, { kind: "rewrite", rewrite: (body) => ({ ...body, system_fingerprint: "fp_two" }) });
    const r = await evalHosted(store, replica1, ["--limit", "3", "--concurrency", "1", "--progress", "lines"]);
    const out = parsed(r);
    const warning = /the server's reported system_fingerprint changed within the run: "fp_one", then "fp_two"/u;
    assert.match(r.stderr, warning);
    assert.ok(out.warnings.some((w) => warning.test(w)), out.warnings.join("\n"));
    const rows = await sql(store, "SELECT served_model, system_fingerprint FROM requests ORDER BY created_at, key");
    assert.deepEqual(rows.map((x) => x.served_model), ["stories260K-2025-06-01", "stories260K-2025-06-01", "stories260K-2025-06-01"]);
    assert.deepEqual(rows.map((x) => x.system_fingerprint).sort(), ["fp_one", "fp_one", "fp_two"]);
    // The model's identity is still the one asked for.
    assert.deepEqual((await sql(store, "SELECT DISTINCT model FROM requests")).map((x) => x.model), ["openai:stories260K"]);
    replica1.reset();
  });

  it("the API key reaches neither the store, nor the output, nor cache list", async () => {
    const store = path.join(dir, "key.duckdb");
    const r = await evalHosted(store, replica1, ["--limit", "2", "--api-key", KEY]);
    assert.equal(r.code, 0, r.stderr);
    const list = await runCli(["cache", "list", "--store", store]);
    for (const text of [r.stdout, r.stderr, list.stdout, list.stderr]) assert.ok(!text.includes(KEY));
    const tables = (await sql(store, "SELECT table_name FROM information_schema.tables")).map((t) => String(t.table_name));
    assert.ok(tables.includes("requests") && tables.includes("invocations"));
    for (const t of tables) {
      const rows = await sql(store, `SELECT * FROM ${t}`);
      const text = JSON.stringify(rows, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
      assert.ok(!text.includes(KEY), `table ${t} holds the key`);
      assert.ok(!text.includes("SECRET789"), `table ${t} holds part of the key`);
    }
    // The command line is stored, with the key masked.
    assert.match(String((await sql(store, "SELECT command FROM runs"))[0]!.command), /--api-key \*\*\*/u);
    replica1.reset();
  });
});

describe("reasoning models on the command line", () => {
  it("--reasoning with --method logprobs: refused before anything is asked or stored, naming the method and the model", async () => {
    const store = path.join(dir, "reasoning.duckdb");
    replica1.configure({ reasoning: true });
    const r = await evalHosted(store, replica1, ["--limit", "2", "--reasoning"]);
    assert.equal(r.code, 2, r.stderr);
    const err = JSON.parse(r.stderr.trim().split("\n").pop()!) as { error: { message: string; hint: string } };
    assert.match(err.error.message, /^--method logprobs cannot ask vllm:stories260K: .*reasoning model/u);
    assert.match(err.error.hint, /--method sample and --method verbalize/u);
    assert.equal(replica1.requests.length, 0);
    assert.deepEqual(await sql(store, "SELECT id FROM runs"), []);
    // The text methods work, with max_completion_tokens from the start.
    const v = parsed(await evalHosted(store, replica1, ["--limit", "2", "--reasoning", "--method", "verbalize"]));
    assert.equal(v.answers.model_calls, 2);
    assert.ok(replica1.requests.every((q) => q.outcome === "ok" && "max_completion_tokens" in (q.body as object)));
    replica1.reset();
  });
});

describe("cache policy", () => {
  it("--no-cache asks again and stores the new answers, which later runs read; the run's result is the new one", async () => {
    const store = path.join(dir, "nocache.duckdb");
    const first = parsed(await evalHosted(store, replica1, ["--limit", "3"]));
    const before = await sql(store, "SELECT key, created_at FROM requests ORDER BY key");
    const again = parsed(await evalHosted(store, replica1, ["--limit", "3", "--no-cache"]));
    assert.equal(again.run, first.run);
    assert.deepEqual([again.answers.model_calls, again.answers.cache_hits, again.answers.resumed], [3, 0, 0]);
    const after = await sql(store, "SELECT key, created_at FROM requests ORDER BY key");
    assert.deepEqual(after.map((x) => x.key), before.map((x) => x.key), "the same keys, replaced, not added");
    after.forEach((x, i) => assert.ok((x.created_at as Date) > (before[i]!.created_at as Date)));
    // The run's stored result is the asking invocation's.
    const shown = JSON.parse((await runCli(["runs", "show", first.run, "--store", store, "--json"])).stdout) as EvalJson;
    assert.equal(shown.answers.model_calls, 3);
    // Later runs read the newest answers from the cache.
    const later = parsed(await evalHosted(store, replica1, ["--limit", "3", "--seed", "1"]));
    assert.deepEqual([later.answers.model_calls, later.answers.cache_hits], [0, 3]);
    assert.equal(replica1.requests.length, 6);
    replica1.reset();
  });

  it("--cache-expiry asks again what is older (the cache and a run's own answers), and uses what is younger", async () => {
    const store = path.join(dir, "expiry.duckdb");
    const first = parsed(await evalHosted(store, replica1, ["--limit", "3"]));
    await age(store, 10);
    // Younger than 30 days: nothing asked.
    const fresh = parsed(await evalHosted(store, replica1, ["--limit", "3", "--seed", "1", "--cache-expiry", "30d"]));
    assert.deepEqual([fresh.answers.model_calls, fresh.answers.cache_hits], [0, 3]);
    // Older than 7 days: another run asks again...
    const expired = parsed(await evalHosted(store, replica1, ["--limit", "3", "--seed", "2", "--cache-expiry", "7d"]));
    assert.deepEqual([expired.answers.model_calls, expired.answers.cache_hits], [3, 0]);
    await age(store, 10);
    // ...and so does the first run, whose own answers are now old: replaced, not kept.
    const rerun = parsed(await evalHosted(store, replica1, ["--limit", "3", "--cache-expiry", "7d"]));
    assert.equal(rerun.run, first.run);
    assert.deepEqual([rerun.answers.model_calls, rerun.answers.resumed], [3, 0]);
    assert.equal(Number((await sql(store, "SELECT count(*) AS n FROM requests WHERE created_at < now() - INTERVAL 1 DAY"))[0]!.n), 0);
    const bad = await evalHosted(store, replica1, ["--limit", "3", "--cache-expiry", "soon"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--cache-expiry must be a duration such as 7d/u);
    replica1.reset();
  });

  it("cache list by model; prune by age and model; runs that used pruned answers say so; clear asks or needs --yes", async () => {
    const store = path.join(dir, "list.duckdb");
    const hosted = parsed(await evalHosted(store, replica1, ["--limit", "3"]));
    await age(store, 40);
    const local = await runCli(["eval", "opinionqa", "--model", `llama:${MODEL}`, "--data", OPINIONQA, "--populations", "POLPARTY", "--limit", "2", "--resamples", "10", "--store", store, "--progress", "none", "--json"]);
    assert.equal(local.code, 0, local.stderr);

    const list = await runCli(["cache", "list", "--store", store, "--json"]);
    assert.equal(list.code, 0, list.stderr);
    const models = (JSON.parse(list.stdout) as { models: { model: string; answers: number; runs: number; served: string[]; oldest: string }[] }).models;
    assert.deepEqual(
      models.map((m) => [m.model.replace(/#.*/u, "#..."), m.answers, m.runs]),
      [
        ["llama:stories260K.gguf#...", 2, 1],
        ["openai:stories260K", 3, 1],
      ],
    );
    assert.deepEqual(models[1]!.served, ["stories260K"]);
    assert.ok(Date.now() - Date.parse(models[1]!.oldest) > 39 * 86_400_000);
    const text = await runCli(["cache", "list", "--store", store]);
    assert.match(text.stdout, /openai:stories260K\s+3\s+40d\s+40d\s+1\s+stories260K/u);

    const noFilter = await runCli(["cache", "prune", "--store", store]);
    assert.equal(noFilter.code, 2);
    assert.match(noFilter.stderr, /--older-than or --model/u);

    const dry = await runCli(["cache", "prune", "--older-than", "30d", "--dry-run", "--store", store]);
    assert.match(dry.stdout, /would remove 3 cached answers/u);
    assert.equal(Number((await sql(store, "SELECT count(*) AS n FROM requests"))[0]!.n), 5);

    const byModel = await runCli(["cache", "prune", "--model", "openai:*", "--older-than", "30d", "--store", store]);
    assert.equal(byModel.code, 0, byModel.stderr);
    assert.match(byModel.stdout, /removed 3 cached answers/u);
    assert.match(byModel.stdout, new RegExp(`1 run used them \\(${hosted.run}\\): their answers and results stay`, "u"));
    assert.deepEqual((await sql(store, "SELECT DISTINCT model FROM requests")).map((x) => String(x.model).replace(/#.*/u, "")), ["llama:stories260K.gguf"]);

    // The run that used them: its result still shows, with a note; its export says what is empty.
    const shown = await runCli(["runs", "show", hosted.run, "--store", store]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /note: 3 of this run's answers have no cached response any more \(pruned/u);
    const exported = await runCli(["export", hosted.run, "--format", "jsonl", "-o", path.join(dir, "pruned.jsonl"), "--store", store]);
    assert.equal(exported.code, 0, exported.stderr);
    assert.match(exported.stderr, /note: 3 of them have no cached response any more/u);
    // Asked again with an expiry, its pruned answers are asked again (they count as expired).
    const rerun = parsed(await evalHosted(store, replica1, ["--limit", "3", "--cache-expiry", "7d"]));
    assert.equal(rerun.answers.model_calls, 3);

    const refused = await runCli(["cache", "clear", "--store", store]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /no terminal to confirm on/u);
    assert.match(refused.stderr, /--yes/u);
    assert.equal(Number((await sql(store, "SELECT count(*) AS n FROM requests"))[0]!.n), 5);
    const cleared = await runCli(["cache", "clear", "--yes", "--store", store]);
    assert.equal(cleared.code, 0, cleared.stderr);
    assert.match(cleared.stdout, /removed 5 cached answers/u);
    assert.match((await runCli(["cache", "list", "--store", store])).stdout, /the cache is empty/u);
    const help = await runCli(["cache", "--help"]);
    assert.match(help.stdout, /list/u);
    assert.match(help.stdout, /prune/u);
    assert.match(help.stdout, /clear/u);
    assert.match(help.stdout, /--no-cache/u);
    replica1.reset();
  });

  it("an old store (schema 4) opens: its cache keys of local models still answer, its answers show no served model", async () => {
    const store = path.join(dir, "v4.duckdb");
    await writeV4Store(store);
    // The fixture's eval-basic command (test/fixtures/README.md) with another seed: another run, the same requests.
    const r = await runCli(["eval", "opinionqa", "--model", `llama:${MODEL}`, "--data", OPINIONQA, "--populations", "POLPARTY", "--limit", "5", "--resamples", "100", "--seed", "7", "--store", store, "--progress", "none", "--json"]);
    const out = parsed(r);
    assert.deepEqual([out.answers.model_calls, out.answers.cache_hits], [0, 5]);
    const cols = await sql(store, "SELECT count(*) AS n, count(served_model) AS served FROM requests");
    assert.ok(Number(cols[0]!.n) > 0);
    assert.equal(Number(cols[0]!.served), 0);
    assert.equal(String((await sql(store, "SELECT value FROM meta WHERE key = 'schema_version'"))[0]!.value), "6");
    const list = await runCli(["cache", "list", "--store", store]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /llama:stories260K\.gguf#/u);
  });
});
