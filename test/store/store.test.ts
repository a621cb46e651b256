/**
 * One store, several processes, and the files civitas must not take for a store. Every test here
 * uses real processes on a real DuckDB file: `civitas eval` with the real model, the viewer over
 * HTTP, and a process that holds the file open the way a DuckDB shell does.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { describe, it } from "node:test";
import { DuckDBInstance } from "@duckdb/node-api";
import { BatchWriter, fileKind, isStoreBusy, Store, type AnswerRow } from "../../src/store/index.js";
import { startViewer } from "../../src/view/index.js";
import { runCli, type CliResult } from "../helpers/cli.js";
import { v1Result } from "../helpers/fixtures.js";
import { MODEL, OPINIONQA, REPO, tempDir } from "../helpers/paths.js";

const dir = tempDir("civitas-store-test-");

const evalArgs = (store: string, extra: string[]) => [
  "eval", "opinionqa", "--model", `llama:${MODEL}`, "--data", OPINIONQA, "--store", store, "--progress", "none", ...extra,
];

/** A process that opens the file with DuckDB and keeps it open for `ms` (as a DuckDB shell would). */
async function holdFile(file: string, ms: number): Promise<{ child: ChildProcess; exited: Promise<unknown> }> {
  const code = `
    import { DuckDBInstance } from "@duckdb/node-api";
    const db = await DuckDBInstance.create(${JSON.stringify(file)});
    process.stdout.write("holding\\n");
    setTimeout(() => { db.closeSync(); process.exit(0); }, ${ms});`;
  const child = spawn(process.execPath, ["--input-type=module", "-e", code], { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] });
  const exited = once(child, "exit");
  let err = "";
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", (d: Buffer) => {
      if (d.toString().includes("holding")) resolve();
    });
    child.on("exit", (c) => reject(new Error(`holder exited ${c}: ${err}`)));
  });
  return { child, exited };
}

function get(port: number, p: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: "127.0.0.1", port, path: p }, (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      })
      .on("error", reject);
  });
}

function answer(runId: string, q: number): AnswerRow {
  return {
    runId,
    questionId: `Q${q}`,
    variant: "standard",
    persona: "none",
    method: "logprobs",
    requestKey: `k${q}`,
    options: ["a", "b"],
    distribution: [0.25, 0.75],
    coverage: 1,
    status: "scored",
    mode: "none",
    cacheHit: false,
  };
}

describe("one store, several processes", () => {
  it("two evals and a viewer on one store all complete, each waiting for the others briefly", async () => {
    const store = path.join(dir, "shared.duckdb");
    // Create the store first, so that the viewer can start before the evals.
    await (await Store.open(store)).close();
    const viewer = await startViewer({ file: store, port: 0, idleMs: 100 });
    const a = runCli(evalArgs(store, ["--populations", "SEX", "--limit", "60", "--json"]));
    const b = runCli(evalArgs(store, ["--populations", "RACE", "--limit", "60", "--json"]));
    let finished = false;
    const statuses: number[] = [];
    const polling = (async () => {
      // Page loads while both evals write (about ten a second).
      while (!finished) {
        statuses.push(await get(viewer.address.port, "/"));
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    let ra: CliResult;
    let rb: CliResult;
    try {
      [ra, rb] = await Promise.all([a, b]);
    } finally {
      finished = true;
      await polling;
      await viewer.close();
    }
    assert.equal(ra.code, 0, ra.stderr);
    assert.equal(rb.code, 0, rb.stderr);
    assert.ok(statuses.length > 0);
    assert.deepEqual([...new Set(statuses)], [200], "every page load was served");
    const s = await Store.open(store, { readOnly: true });
    try {
      const runs = await s.listRuns();
      assert.deepEqual(runs.map((r) => r.status).sort(), ["done", "done"]);
      for (const r of [ra, rb]) {
        const id = (JSON.parse(r.stdout) as { run: string }).run;
        assert.equal(await s.countAnswers(id), 60);
      }
    } finally {
      await s.close();
    }
  });

  it("waits for a process that holds the file, and names it when it holds it too long", async () => {
    const file = path.join(dir, "held.duckdb");
    await (await Store.open(file)).close();
    // Held for 600 ms: opening waits, then works.
    const brief = await holdFile(file, 600);
    const waits: string[] = [];
    const s = await Store.open(file, { onWait: (m) => waits.push(m), waitMs: 30_000 });
    assert.deepEqual(await s.listRuns(), []);
    await s.close();
    await brief.exited;
    // Held for longer than the caller waits: an error naming the holder, not a hang.
    const long = await holdFile(file, 10_000);
    try {
      await assert.rejects(Store.open(file, { waitMs: 300 }), (e: unknown) => {
        assert.ok(isStoreBusy(e));
        assert.match((e as Error).message, new RegExp(`in use by another process \\(process ${long.child.pid} `, "u"));
        return true;
      });
    } finally {
      long.child.kill("SIGKILL");
      await long.exited;
    }
  });

  it("a batch writer keeps its rows while another process holds the file, and writes them when it is free", async () => {
    const file = path.join(dir, "batches.duckdb");
    const store = await Store.open(file);
    await store.beginRun({ id: "batchrun0001", command: "test", suite: "opinionqa", model: "m", metric: "tv", config: {} });
    const writer = new BatchWriter(store, { intervalMs: 20, runId: "batchrun0001" });
    const holder = await holdFile(file, 800);
    for (let q = 0; q < 30; q++) writer.add({ answers: [answer("batchrun0001", q)] });
    // Batches come due while the file is held: nothing is lost, nothing fails.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(writer.error, null);
    await writer.flush(); // waits for the holder to let go
    await holder.exited;
    assert.equal(await store.countAnswers("batchrun0001"), 30);
    await store.finishRun("batchrun0001", v1Result("eval", "eval-basic"));
    await store.close();
  });

  it("a failed run keeps each invocation's command and error; a rerun never replaces a finished result", async () => {
    const file = path.join(dir, "invocations.duckdb");
    // A port nobody listens on.
    const port = await new Promise<number>((resolve) => {
      const srv = net.createServer().listen(0, "127.0.0.1", () => {
        const p = (srv.address() as net.AddressInfo).port;
        srv.close(() => resolve(p));
      });
    });
    const base = ["eval", "opinionqa", "--model", "openai:stories", "--base-url", `http://127.0.0.1:${port}/v1`, "--data", OPINIONQA, "--limit", "2", "--store", file, "--progress", "none"];
    const first = await runCli([...base, "--retries", "0"]);
    assert.notEqual(first.code, 0);
    const second = await runCli([...base, "--retries", "1", "--timeout", "5"]);
    assert.notEqual(second.code, 0);
    const s = await Store.open(file, { readOnly: true });
    try {
      const [run] = await s.listRuns();
      assert.equal(run!.status, "failed");
      assert.equal(run!.invocations, 2);
      const inv = await s.invocations(run!.id);
      assert.deepEqual(inv.map((i) => i.status), ["failed", "failed"]);
      assert.match(inv[0]!.command, /--retries 0/u);
      assert.match(inv[1]!.command, /--retries 1 --timeout 5/u);
      for (const i of inv) assert.ok(i.error && i.error.length > 0, "each invocation has its own error");
    } finally {
      await s.close();
    }
    const shown = await runCli(["runs", "show", "--store", file, (await (async () => {
      const t = await Store.open(file, { readOnly: true });
      const id = (await t.listRuns())[0]!.id;
      await t.close();
      return id;
    })())]);
    assert.match(shown.stdout, /invocations:/u);
    assert.match(shown.stdout, /#1 .* failed .*--retries 0/u);
    assert.match(shown.stdout, /#2 .* failed .*--retries 1 --timeout 5/u);

    // A finished run: its result stays the first complete one.
    const done = await Store.open(file);
    await done.beginRun({ id: "finished0001", command: "first", suite: "s", model: "m", metric: "tv", config: {} });
    const result = v1Result("eval", "eval-basic");
    await done.finishRun("finished0001", { ...result, answers: { ...result.answers, model_calls: 7 } });
    await done.beginRun({ id: "finished0001", command: "second", suite: "s", model: "m", metric: "tv", config: {} });
    await done.finishRun("finished0001", { ...result, answers: { ...result.answers, model_calls: 0 } });
    const run = await done.getRun("finished0001");
    assert.ok(run!.kind === "eval" && run!.summary !== null);
    assert.equal(run!.summary.answers.model_calls, 7);
    assert.equal(run!.command, "first");
    assert.deepEqual((await done.invocations("finished0001")).map((i) => i.command), ["first", "second"]);
    // A result that is not final (a simulation stopped by its budget) is replaced by the next.
    await done.beginRun({ id: "budget000001", command: "sim", suite: "sim:x", model: "m", metric: "-", config: {} });
    const budget = v1Result("simulate", "sim-budget");
    assert.equal(budget.stop, "budget");
    await done.finishRun("budget000001", budget, { final: false });
    await done.beginRun({ id: "budget000001", command: "sim", suite: "sim:x", model: "m", metric: "-", config: {} });
    await done.finishRun("budget000001", { ...budget, stop: "done" });
    const sim = await done.getRun("budget000001");
    assert.ok(sim!.kind === "simulate" && sim!.summary !== null);
    assert.equal(sim!.summary.stop, "done");
    await done.close();
  });
});

describe("files that are not a store", () => {
  it("refuses a file that is not a DuckDB database, and leaves it as it was", async () => {
    const csv = path.join(dir, "survey.csv");
    writeFileSync(csv, "question,answer\nQ1,yes\n");
    const before = readFileSync(csv);
    const r = await runCli(evalArgs(csv, ["--limit", "2"]));
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /survey\.csv is not a DuckDB file/u);
    assert.deepEqual(readFileSync(csv), before, "the file is untouched");
    assert.equal(existsSync(`${csv}.wal`), false);
    const list = await runCli(["runs", "list", "--store", csv]);
    assert.equal(list.code, 2);
    assert.match(list.stderr, /not a DuckDB file/u);
    // A DuckDB database of someone else's: not taken over either.
    const other = path.join(dir, "other.duckdb");
    const db = await DuckDBInstance.create(other);
    const con = await db.connect();
    await con.run("CREATE TABLE mine (x INTEGER)");
    con.closeSync();
    db.closeSync();
    await assert.rejects(Store.open(other), /a DuckDB database but not a civitas store/u);
    await assert.rejects(Store.open(other, { readOnly: true }), /not a civitas store/u);
  });

  it("refuses a store in a folder that does not exist, and creates only the default one's", async () => {
    const missing = path.join(dir, "no-such-folder", "s.duckdb");
    const r = await runCli(evalArgs(missing, ["--limit", "2"]));
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /the folder of the store .* does not exist/u);
    assert.equal(existsSync(path.dirname(missing)), false, "no folder was created");
    // The default store, .civitas/civitas.duckdb in the working folder, has its folder made.
    const cwd = tempDir("civitas-default-store-");
    const d = await runCli(["eval", "opinionqa", "--model", `llama:${MODEL}`, "--data", OPINIONQA, "--limit", "2", "--progress", "none"], { cwd, env: { CIVITAS_STORE: "" } });
    assert.equal(d.code, 0, d.stderr);
    assert.equal(await fileKind(path.join(cwd, ".civitas", "civitas.duckdb")), "duckdb");
  });

  it("says a damaged store is damaged, and where, never that it is in use", async () => {
    const good = path.join(dir, "good.duckdb");
    const s = await Store.open(good);
    await s.beginRun({ id: "run000000001", command: "test", suite: "s", model: "m", metric: "tv", config: {} });
    await s.finishRun("run000000001", v1Result("eval", "eval-basic"));
    await s.close();
    const bytes = readFileSync(good);
    // DuckDB's main header (offset 0) and the first database header (offset 4096) carry checksums.
    for (const offset of [20, 4096 + 20]) {
      const damaged = path.join(dir, `damaged-${offset}.duckdb`);
      const copy = Buffer.from(bytes);
      for (let i = 0; i < 64; i++) copy[offset + i] = copy[offset + i]! ^ 0xff;
      writeFileSync(damaged, copy);
      const r = await runCli(["runs", "list", "--store", damaged]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`the store ${damaged.replace(/[.*+?^${}()|[\]\\/]/gu, "\\$&")} is damaged`, "u"));
      assert.doesNotMatch(r.stderr, /in use|this is a bug/u);
      assert.match(r.stderr, /Move it aside/u);
      await assert.rejects(startViewer({ file: damaged, port: 0 }), /is damaged/u);
    }
    // Damaged while a viewer serves it: a page that says so (500), not "busy" (503) for ever.
    const served = path.join(dir, "served.duckdb");
    writeFileSync(served, bytes);
    const viewer = await startViewer({ file: served, port: 0, idleMs: 0 });
    try {
      assert.equal(await get(viewer.address.port, "/"), 200);
      const copy = Buffer.from(bytes);
      for (let i = 0; i < 64; i++) copy[20 + i] = copy[20 + i]! ^ 0xff;
      writeFileSync(served, copy);
      const page = await new Promise<{ status: number; text: string }>((resolve, reject) => {
        http
          .get({ host: "127.0.0.1", port: viewer.address.port, path: "/" }, (res) => {
            let text = "";
            res.on("data", (d: Buffer) => (text += d.toString()));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
          })
          .on("error", reject);
      });
      assert.equal(page.status, 500);
      assert.match(page.text, /the store served\.duckdb is damaged/u);
      assert.doesNotMatch(page.text, new RegExp(dir.replace(/[.*+?^${}()|[\]\\/]/gu, "\\$&"), "u"), "no folder of this machine on the page");
    } finally {
      await viewer.close();
    }
  });
});
