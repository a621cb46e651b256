/**
 * `civitas view` end to end: real runs (OpinionQA questions asked of stories260K through
 * llama.cpp, a small Hegselmann-Krause simulation) in a real DuckDB file, the viewer on
 * 127.0.0.1 with an ephemeral port, pages fetched over HTTP and opened in Chromium.
 *
 * The store holds hostile values on purpose: run A's command contains markup and its model file
 * is named `<img src=x onerror=...>.gguf`; no page may carry them as markup.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readdirSync, symlinkSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { parse as parseCsv } from "csv-parse/sync";
import type { Browser } from "playwright-core";
import { llamaSpec } from "../../src/models/llama.js";
import { escapeHtml } from "../../src/report/html.js";
import { comparePage, runPage } from "../../src/report/pages.js";
import { runEval, type EvalPlan, type EvalResult } from "../../src/runs/engine.js";
import { parseScenario, runScenario } from "../../src/sim/index.js";
import { Store } from "../../src/store/store.js";
import { loadOpinionQA } from "../../src/surveys/opinionqa.js";
import { resolvePopulations } from "../../src/surveys/populations.js";
import { route, startViewer, type Viewer } from "../../src/view/index.js";
import { launchBrowser, openPage, screenshot } from "../helpers/browser.js";
import { spawnCli } from "../helpers/cli.js";
import { MODEL, OPINIONQA, REPO, tempDir } from "../helpers/paths.js";

const HOSTILE_COMMAND = `civitas eval opinionqa --api-key *** --populations "</pre><script>alert('pwned')</script>" & echo 'x'`;
const HOSTILE_MODEL_FILE = `<img src=x onerror=alert(1)>.gguf`;

interface Fetched {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
  readonly text: string;
}

/** One request exactly as given: the path is not normalised (fetch would resolve `..`). */
function request(port: number, pathAndQuery: string, options: { method?: string; headers?: Record<string, string> } = {}): Promise<Fetched> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path: pathAndQuery, method: options.method ?? "GET", headers: options.headers ?? {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString("utf8") });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

/** The rows of the first table with the given class, as text cells. */
function tableRows(page: string, cls: string): string[][] {
  const table = new RegExp(`<table class="${cls}">([\\s\\S]*?)</table>`, "u").exec(page);
  if (!table) return [];
  const body = /<tbody>([\s\S]*)<\/tbody>/u.exec(table[1]!)?.[1] ?? "";
  return [...body.matchAll(/<tr>([\s\S]*?)<\/tr>/gu)].map((tr) => [...tr[1]!.matchAll(/<td[^>]*>([\s\S]*?)<\/td>/gu)].map((td) => td[1]!.replace(/<[^>]+>/gu, " ").replace(/\s+/gu, " ").trim()));
}

/** Run ids linked from a runs list page, in order. */
const listedRuns = (page: string): string[] => tableRows(page, "runs").map((cells) => cells[1]!.split(" ")[0]!);

/** Vega numbers its clip paths per process: two renderings of one chart differ only there. */
const sameSvgIds = (s: string): string => s.replace(/clip\d+/gu, "clip");

/** No hostile value appears as markup; their escaped forms may. */
function assertNoMarkupFromStore(page: string): void {
  assert.ok(!page.includes("<script"), "no script element");
  assert.ok(!page.includes("<img"), "no img element");
}

const dir = tempDir("civitas-view-test-");
const storeFile = path.join(dir, "store.duckdb");
let runA = "";
let runB = "";
let runC = "";
let simRun = "";
let viewer: Viewer;
let port = 0;

before(async () => {
  const suite = await loadOpinionQA({ data: OPINIONQA });
  const hostileModel = path.join(dir, HOSTILE_MODEL_FILE);
  symlinkSync(MODEL, hostileModel);
  const model = await llamaSpec(hostileModel, { threads: 1 });
  const store = await Store.open(storeFile);
  try {
    const plan: EvalPlan = {
      suite,
      questions: suite.questions.slice(0, 6),
      populations: resolvePopulations(suite, ["POLPARTY"]),
      model,
      metric: "wasserstein",
      minCoverage: 0.05,
      seed: 0,
      resamples: 200,
      persona: true,
      command: HOSTILE_COMMAND,
    };
    runA = (await runEval(store, plan)).run;
    runB = (await runEval(store, { ...plan, persona: false, metric: "tv", minCoverage: 0, command: "civitas eval opinionqa --metric tv" })).run;
    runC = (await runEval(store, { ...plan, persona: false, metric: "tv", minCoverage: 0, seed: 1, command: "civitas eval opinionqa --metric tv --seed 1" })).run;
    const scenario = parseScenario("name: hk-small\ndynamics: hk\nparams: { agents: 40, steps: 30 }\nsweep: { epsilon: [0.1, 0.3] }\nseeds: 1..2\n", "hk-small.yaml");
    simRun = (await runScenario(scenario, { store, command: "civitas simulate hk-small.yaml" })).run;
  } finally {
    await store.close();
  }
  viewer = await startViewer({ file: storeFile, port: 0, idleMs: 150 });
  port = viewer.address.port;
});

after(async () => {
  await viewer?.close();
});

/** Reads the store directly (read-only) for expected values. */
async function withStore<T>(fn: (s: Store) => Promise<T>): Promise<T> {
  const s = await Store.open(storeFile, { readOnly: true });
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}

describe("civitas view over HTTP", () => {
  it("listens on 127.0.0.1 by default, and prints a URL on it", () => {
    assert.equal(viewer.address.address, "127.0.0.1");
    assert.equal((viewer.server.address() as { address: string }).address, "127.0.0.1");
    assert.equal(viewer.url, `http://127.0.0.1:${port}/`);
    assert.equal(viewer.exposed, false);
  });

  it("lists every run, newest first, with counts, and escapes what the store holds", async () => {
    const r = await request(port, "/");
    assert.equal(r.status, 200);
    assert.equal(r.headers["content-type"], "text/html; charset=utf-8");
    assert.match(String(r.headers["content-security-policy"]), /default-src 'none'/u);
    assert.equal(r.headers["x-content-type-options"], "nosniff");
    const runs = await withStore((s) => s.listRuns());
    const expected = runs.map((x) => x.id);
    assert.deepEqual(listedRuns(r.text), expected);
    assert.deepEqual(new Set(expected), new Set([runA, runB, runC, simRun]));
    assert.match(r.text, /4 runs · page 1 of 1/u);
    // The hostile command and model name are shown, escaped as stored.
    assert.ok(r.text.includes(escapeHtml(HOSTILE_COMMAND)));
    assert.ok(r.text.includes(escapeHtml(`llama:${HOSTILE_MODEL_FILE}`)));
    assertNoMarkupFromStore(r.text);
    // Run A's row: questions and answers from its summary, alignment to 3 decimals.
    const rowA = tableRows(r.text, "runs").find((c) => c[1]!.startsWith(runA))!;
    assert.equal(rowA[3], "done");
    assert.equal(rowA[4], "opinionqa wasserstein");
    assert.equal(rowA[5], `${escapeHtml(`llama:${HOSTILE_MODEL_FILE}`)} logprobs`);
    const summary = runs.find((x) => x.id === runA)!.summary as EvalResult;
    assert.equal(rowA[6], String(summary.questions.scored));
    assert.equal(summary.answers.total, 30);
    assert.equal(rowA[7], "30");
    assert.equal(rowA[8], summary.overall.mean.toFixed(3));
  });

  it("filters runs by suite, model, method, status, date and text, in DuckDB", async () => {
    const ids = async (q: string) => listedRuns((await request(port, `/${q}`)).text);
    assert.deepEqual(new Set(await ids("?suite=opinionqa")), new Set([runA, runB, runC]));
    assert.deepEqual(await ids("?suite=sim%3Ahk-small"), [simRun]);
    assert.deepEqual(new Set(await ids(`?model=${encodeURIComponent(`llama:${HOSTILE_MODEL_FILE}`)}`)), new Set([runA, runB, runC]));
    assert.deepEqual(new Set(await ids("?method=logprobs")), new Set([runA, runB, runC]));
    assert.deepEqual(await ids("?method=verbalize"), []);
    assert.deepEqual(new Set(await ids("?status=done")), new Set([runA, runB, runC, simRun]));
    assert.deepEqual(await ids(`?q=${runB.slice(0, 8)}`), [runB]);
    assert.deepEqual(await ids("?q=--seed%201"), [runC]);
    const today = new Date().toISOString().slice(0, 10);
    assert.equal((await ids(`?from=${today}&to=${today}`)).length, 4);
    assert.deepEqual(await ids("?to=2001-01-01"), []);
    const none = await request(port, "/?to=2001-01-01");
    assert.match(none.text, /No run matches these filters/u);
    // The filter form offers the store's values, escaped.
    assert.ok(none.text.includes(`<option value="${escapeHtml(`llama:${HOSTILE_MODEL_FILE}`)}">`));
    for (const bad of ["/?from=2026-13-01", "/?page=0", "/?per=5000", "/?page=x", "/?from=2026-02-02&to=2026-02-01"]) {
      const r = await request(port, bad);
      assert.equal(r.status, 400, bad);
      assert.match(r.text, /class="error-box"/u);
    }
  });

  it("pages runs with counts, keeping the filters in the page links", async () => {
    const all = listedRuns((await request(port, "/")).text);
    const pages: string[] = [];
    for (let p = 1; p <= 4; p++) {
      const r = await request(port, `/?per=1&page=${p}`);
      assert.match(r.text, new RegExp(`4 runs · page ${p} of 4`, "u"));
      pages.push(...listedRuns(r.text));
    }
    assert.deepEqual(pages, all);
    const second = await request(port, "/?per=1&page=2&suite=opinionqa");
    assert.match(second.text, /3 runs · page 2 of 3/u);
    assert.ok(second.text.includes('href="/?suite=opinionqa&amp;per=1&amp;page=3" rel="next"'), "the next link keeps the filters");
    // Past the last page: the last page.
    assert.match((await request(port, "/?per=1&page=99")).text, /page 4 of 4/u);
  });

  it("shows a run's page with its stored command escaped, its answers and downloads", async () => {
    const r = await request(port, `/runs/${runA}`);
    const placeholder = await withStore(async (s) =>
      runPage(s, runA).then(
        (p) => ({ title: p.title, body: p.body.value }),
        (e: unknown) => (e instanceof Error && /being written/u.test(e.message) ? undefined : Promise.reject(e)),
      ),
    );
    assert.equal(r.headers["content-type"], "text/html; charset=utf-8");
    assert.ok(r.text.includes(escapeHtml(HOSTILE_COMMAND)), "the command, escaped as stored");
    assert.ok(r.text.includes(`<a href="/runs/${runA}/answers">30 answers</a>`));
    assert.ok(r.text.includes(`href="/runs/${runA}/answers.parquet"`));
    assertNoMarkupFromStore(r.text);
    if (placeholder === undefined) {
      // The report's run page is not written yet: an error box says so, the rest works.
      assert.equal(r.status, 500);
      assert.match(r.text, /class="error-box" role="alert"><strong>The report of this run could not be drawn: runPage: being written/u);
      assert.ok(r.text.includes(`<pre class="command" title="the command line, as stored (secrets were replaced by *** before storing)">${escapeHtml(HOSTILE_COMMAND)}</pre>`));
    } else {
      assert.equal(r.status, 200);
      assert.ok(r.text.includes(`<h1>${escapeHtml(placeholder.title)}</h1>`));
      assert.ok(sameSvgIds(r.text).includes(sameSvgIds(placeholder.body)), "the report's run page, in the viewer's frame");
    }
    const sim = await request(port, `/runs/${simRun}`);
    assert.ok(sim.status === 200 || sim.status === 500);
    assert.ok(sim.text.includes("civitas simulate hk-small.yaml"));
  });

  it("redirects a unique run id prefix to the run", async () => {
    const r = await request(port, `/runs/${runA.slice(0, 7)}/answers?per=5`);
    assert.equal(r.status, 302);
    assert.equal(r.headers.location, `/runs/${runA}/answers?per=5`);
  });

  it("pages a run's answers with filters and orders, counted in DuckDB", async () => {
    const stored = await withStore((s) => s.answers(runA));
    assert.equal(stored.length, 30);
    const first = await request(port, `/runs/${runA}/answers?per=7`);
    assert.equal(first.status, 200);
    assert.match(first.text, /30 answers · page 1 of 5/u);
    const rows: string[][] = [];
    for (let p = 1; p <= 5; p++) rows.push(...tableRows((await request(port, `/runs/${runA}/answers?per=7&page=${p}`)).text, "answers"));
    assert.equal(rows.length, 30);
    assert.deepEqual(rows.map((c) => Number(c[0])), Array.from({ length: 30 }, (_, i) => i + 1));
    const key = (q: string, persona: string) => `${q}|${persona}`;
    assert.deepEqual(new Set(rows.map((c) => key(c[1]!, c[3]!))), new Set(stored.map((a) => key(a.questionId, a.persona))));
    // Coverage and the distribution of one answer, as stored.
    const a = stored[0]!;
    const row = rows.find((c) => c[1] === a.questionId && c[3] === a.persona)!;
    assert.equal(row[6], `${(a.coverage * 100).toFixed(1)}%`);
    assert.ok(row[7]!.includes(`${a.options[0]} ${((a.distribution?.[0] ?? 0) * 100).toFixed(1)}%`));

    const persona = stored.find((x) => x.persona !== "none")!.persona;
    const byPersona = await request(port, `/runs/${runA}/answers?persona=${encodeURIComponent(persona)}&per=200`);
    assert.deepEqual(tableRows(byPersona.text, "answers").map((c) => c[3]), stored.filter((x) => x.persona === persona).map(() => persona));
    const q = stored[0]!.questionId;
    const byQuestion = await request(port, `/runs/${runA}/answers?question=${encodeURIComponent(q.slice(0, q.length - 1))}&per=200`);
    assert.ok(tableRows(byQuestion.text, "answers").every((c) => c[1]!.startsWith(q.slice(0, q.length - 1))));
    const statuses = new Map<string, number>();
    for (const x of stored) statuses.set(x.status, (statuses.get(x.status) ?? 0) + 1);
    for (const [status, n] of statuses) {
      const r = await request(port, `/runs/${runA}/answers?status=${status}&per=200`);
      assert.equal(tableRows(r.text, "answers").length, n, status);
    }
    const byCoverage = tableRows((await request(port, `/runs/${runA}/answers?order=coverage&per=200`)).text, "answers").map((c) => Number.parseFloat(c[6]!));
    assert.deepEqual(byCoverage, [...byCoverage].sort((x, y) => x - y));
    const byQ = tableRows((await request(port, `/runs/${runA}/answers?order=question&per=200`)).text, "answers").map((c) => c[1]!);
    assert.deepEqual(byQ, [...byQ].sort());
    assert.equal((await request(port, `/runs/${runA}/answers?status=<b>`)).status, 400);
    assert.equal((await request(port, `/runs/${runA}/answers?order=rowid`)).status, 400);
    // A simulation has no survey answers: it says so.
    assert.match((await request(port, `/runs/${simRun}/answers`)).text, /This run has no answers stored/u);
  });

  it("compares two runs, and offers a chooser otherwise", async () => {
    const r = await request(port, `/compare?run=${runA}&run=${runB.slice(0, 8)}`);
    const expected = await withStore((s) =>
      comparePage(s, [runA, runB]).then(
        (p) => ({ title: p.title, body: p.body.value }),
        (e: unknown) => (e instanceof Error && /being written/u.test(e.message) ? undefined : Promise.reject(e)),
      ),
    );
    assert.ok(r.text.includes(`href="/runs/${runA}"`) && r.text.includes(`href="/runs/${runB}"`), "both runs, the prefix resolved");
    assertNoMarkupFromStore(r.text);
    if (expected === undefined) {
      assert.equal(r.status, 500);
      assert.match(r.text, /The comparison could not be drawn: comparePage: being written/u);
    } else {
      assert.equal(r.status, 200);
      assert.ok(r.text.includes(`<h1>${escapeHtml(expected.title)}</h1>`));
      assert.ok(sameSvgIds(r.text).includes(sameSvgIds(expected.body)), "the report's comparison, in the viewer's frame");
    }
    const chooser = await request(port, "/compare");
    assert.equal(chooser.status, 200);
    assert.match(chooser.text, /<datalist id="recent-runs">/u);
    assert.equal((await request(port, `/compare?run=${runA}`)).status, 400);
    assert.equal((await request(port, `/compare?run=${runA}&run=${runA}`)).status, 400);
    assert.equal((await request(port, `/compare?run=${runA}&run=ffffffffffff`)).status, 404);
  });

  it("downloads a run's answers as CSV, JSONL and Parquet", async () => {
    const stored = await withStore((s) => s.answers(runA));
    const csv = await request(port, `/runs/${runA}/answers.csv`);
    assert.equal(csv.status, 200);
    assert.equal(csv.headers["content-type"], "text/csv; charset=utf-8");
    assert.equal(csv.headers["content-disposition"], `attachment; filename="${runA}.csv"`);
    assert.equal(Number(csv.headers["content-length"]), csv.body.length);
    const records = parseCsv(csv.text, { columns: true }) as Record<string, string>[];
    assert.equal(records.length, 30);
    assert.deepEqual(Object.keys(records[0]!).slice(0, 8), ["run", "question", "variant", "persona", "method", "options", "distribution", "coverage"]);
    const byKey = new Map(stored.map((a) => [`${a.questionId}|${a.persona}`, a]));
    for (const rec of records) {
      const a = byKey.get(`${rec.question}|${rec.persona}`)!;
      assert.equal(rec.run, runA);
      assert.deepEqual(JSON.parse(rec.distribution!), a.distribution);
    }
    const jsonl = await request(port, `/runs/${runA}/answers.jsonl`);
    assert.equal(jsonl.status, 200);
    const lines = jsonl.text.trim().split("\n").map((l) => JSON.parse(l) as { question: string; persona: string; distribution: number[] });
    assert.equal(lines.length, 30);
    assert.deepEqual(lines[0]!.distribution, byKey.get(`${lines[0]!.question}|${lines[0]!.persona}`)!.distribution);
    const parquet = await request(port, `/runs/${runA}/answers.parquet`);
    assert.equal(parquet.status, 200);
    assert.equal(parquet.body.subarray(0, 4).toString("latin1"), "PAR1");
    const pq = path.join(dir, "download.parquet");
    writeFileSync(pq, parquet.body);
    const check = await Store.open(path.join(dir, "check.duckdb"));
    try {
      const n = await check.query(`SELECT count(*) AS n, count(DISTINCT persona) AS personas FROM '${pq}'`);
      assert.equal(Number(n[0]!.n), 30);
      assert.equal(Number(n[0]!.personas), 5);
    } finally {
      await check.close();
    }
    // The viewer's temporary files are gone once sent.
    const leftovers = readdirSync(os.tmpdir())
      .filter((d) => d.startsWith("civitas-view-"))
      .flatMap((d) => {
        try {
          return readdirSync(path.join(os.tmpdir(), d)).filter((f) => f.startsWith(runA));
        } catch {
          return [];
        }
      });
    assert.deepEqual(leftovers, []);
    assert.equal((await request(port, "/runs/ffffffffffff/answers.csv")).status, 404);
    assert.equal((await request(port, `/runs/${runA}/answers.exe`)).status, 404);
  });

  it("answers 404 to unknown routes and refuses path traversal", async () => {
    for (const p of ["/nope", "/runs/ffffffffffff", `/runs/${runA}/extra`, "/static/style.css", "/index.html", "/runs/x/answers/y"]) {
      const r = await request(port, p);
      assert.equal(r.status, 404, p);
      assert.equal(r.headers["content-type"], "text/html; charset=utf-8");
    }
    const attempts = [
      "/../../../../etc/passwd",
      "/..%2f..%2f..%2f..%2fetc%2fpasswd",
      "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
      "//etc/passwd",
      "/runs/..%2f..%2f..%2fetc%2fpasswd",
      "/runs/%2e%2e%2f%2e%2e%2fpackage.json/answers.csv",
      "/runs/../../../../etc/passwd/answers.csv",
      `/runs/${runA}/answers.csv/../../../../../etc/passwd`,
      "/runs/..%5c..%5c..%5cetc%5cpasswd",
      `/runs/${encodeURIComponent(storeFile)}/answers.csv`,
      `/runs/${encodeURIComponent(path.join(REPO, "package.json"))}`,
      "/runs/%00/answers.csv",
    ];
    for (const p of attempts) {
      const r = await request(port, p);
      assert.ok(r.status === 404 || r.status === 400, `${p}: ${r.status}`);
      assert.ok(!r.text.includes("root:x:0:0") && !r.text.includes('"name": "civitas"'), p);
    }
    // Parameters naming files are ignored: the viewer serves the store it was given.
    const ignored = await request(port, `/?store=${encodeURIComponent("/etc/passwd")}&file=../../package.json`);
    assert.equal(ignored.status, 200);
    assert.equal(listedRuns(ignored.text).length, 4);
    assert.equal(route("/runs/a/answers.csv")?.kind, "download");
    assert.equal(route("/runs/a/b/c"), undefined);
  });

  it("only reads, and only answers to loopback host names", async () => {
    const post = await request(port, "/", { method: "POST" });
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, "GET, HEAD");
    assert.equal((await request(port, `/runs/${runA}`, { method: "DELETE" })).status, 405);
    const head = await request(port, "/", { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    // A page on another site reaching 127.0.0.1 through DNS rebinding carries its own host name.
    const rebound = await request(port, "/", { headers: { host: `evil.example:${port}` } });
    assert.equal(rebound.status, 403);
    assert.equal(listedRuns(rebound.text).length, 0);
    assert.equal((await request(port, "/", { headers: { host: `localhost:${port}` } })).status, 200);
  });

  it("refuses to start without a store", async () => {
    await assert.rejects(startViewer({ file: path.join(dir, "missing.duckdb"), port: 0 }), /no store at/u);
  });
});

describe("the viewer beside the commands that write to its store", () => {
  const liveStore = path.join(dir, "live.duckdb");
  let live: Viewer;
  let livePort = 0;
  before(async () => {
    await (await Store.open(liveStore)).close();
    live = await startViewer({ file: liveStore, port: 0, idleMs: 150 });
    livePort = live.address.port;
  });
  after(async () => {
    await live?.close();
  });

  it("shows a run another process is working on, live, and sees it interrupted when that process dies", async () => {
    // Another process works on a run through the store (as \`civitas eval\` does), and is then killed.
    const code = `
      import { Store } from ${JSON.stringify(path.join(REPO, "src/store/store.ts"))};
      const s = await Store.open(${JSON.stringify(liveStore)});
      await s.beginRun({ id: "fresh0000001", command: "civitas eval opinionqa --limit 50", suite: "opinionqa", model: "m", metric: "tv", config: {} });
      s.progress("fresh0000001", 20, 50);
      await s.heartbeat("fresh0000001");
      process.stdout.write("working\\n");
      setInterval(() => undefined, 1000);`;
    const worker = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] });
    let err = "";
    worker.stderr.on("data", (d: Buffer) => (err += d.toString()));
    await new Promise<void>((resolve, reject) => {
      worker.stdout.on("data", (d: Buffer) => {
        if (d.toString().includes("working")) resolve();
      });
      worker.on("exit", (c) => reject(new Error(`worker exited ${c}: ${err}`)));
    });
    try {
      const list = await request(livePort, "/");
      assert.equal(list.status, 200);
      const row = tableRows(list.text, "runs").find((cells) => cells[1]!.startsWith("fresh0000001"));
      assert.ok(row, "the run being worked on is listed");
      assert.match(row[3]!, /running 20 of 50 stored \(40%\)/u);
      assert.match(list.text, /<meta http-equiv="refresh" content="5">/u, "a list with a running run reloads itself");
      const page = await request(livePort, "/runs/fresh0000001");
      assert.match(page.text, /running/u);
      assert.match(page.text, /20 of 50 stored/u);
      assert.match(page.text, /<meta http-equiv="refresh" content="3">/u);
    } finally {
      worker.kill("SIGKILL");
      await once(worker, "exit");
    }
    const after = await request(livePort, "/runs/fresh0000001");
    assert.equal(after.status, 200);
    assert.match(after.text, />interrupted</u, "a run whose process died is interrupted, not running");
    assert.doesNotMatch(after.text, /http-equiv="refresh"/u, "and its page stops reloading");
    const list = await request(livePort, "/?status=interrupted");
    assert.deepEqual(listedRuns(list.text), ["fresh0000001"], list.text);
  });

  it("waits for a process holding the store, and answers 503 only when it holds it for longer than the viewer waits", async () => {
    // A process that keeps the file open (a DuckDB shell, a notebook): civitas never does this.
    const hold = (ms: number) => {
      const code = `
        import { DuckDBInstance } from "@duckdb/node-api";
        // The viewer may still hold the file for its idle time: try until it is free.
        let db;
        for (let attempt = 1; db === undefined; attempt++) {
          try {
            db = await DuckDBInstance.create(${JSON.stringify(liveStore)});
          } catch (e) {
            if (!/Could not set lock/u.test(String(e?.message)) || attempt >= 600) throw e;
            await new Promise((r) => setTimeout(r, 50));
          }
        }
        process.stdout.write("holding\\n");
        setTimeout(() => { db.closeSync(); process.exit(0); }, ${ms});`;
      const child = spawn(process.execPath, ["--input-type=module", "-e", code], { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] });
      const exited = once(child, "exit");
      let err = "";
      child.stderr.on("data", (d: Buffer) => (err += d.toString()));
      return new Promise<{ child: typeof child; exited: typeof exited }>((resolve, reject) => {
        child.stdout.on("data", (d: Buffer) => {
          if (d.toString().includes("holding")) resolve({ child, exited });
        });
        child.on("exit", (c) => reject(new Error(`holder exited ${c}: ${err}`)));
      });
    };
    // Held for 1 s: the page waits for it.
    const brief = await hold(1000);
    const waited = await request(livePort, "/");
    assert.equal(waited.status, 200, waited.text.slice(0, 300));
    await brief.exited;
    // Held for longer than a viewer that waits 300 ms: 503, saying why.
    const impatient = await startViewer({ file: liveStore, port: 0, idleMs: 0, waitMs: 300 });
    const long = await hold(600_000);
    try {
      const busy = await request(impatient.address.port, "/");
      assert.equal(busy.status, 503, busy.text.slice(0, 300));
      assert.equal(busy.headers["retry-after"], "5");
      assert.match(busy.text, /Another process has held this store/u);
    } finally {
      long.child.kill("SIGKILL");
      await long.exited;
      await impatient.close();
    }
  });
});

describe("civitas view in a browser", () => {
  let browser: Browser;
  before(async () => {
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
  });

  for (const [name, target, heading] of [
    ["view-runs", "/", "Runs"],
    ["view-run", "/runs/{A}", undefined],
    ["view-answers", "/runs/{A}/answers?per=10", "Answers of run"],
    ["view-compare", "/compare?run={A}&run={B}", undefined],
  ] as const) {
    it(`renders ${target} with no console error, no failed or external request, no script`, async () => {
      const url = `${viewer.url.replace(/\/$/u, "")}${target.replace("{A}", runA).replace("{B}", runB)}`;
      const { page, errors, failed } = await openPage(browser, url);
      try {
        await screenshot(page, name);
        const status = await page.title();
        const broken = (await page.locator(".error-box").count()) > 0 && /being written/u.test(await page.locator(".error-box").first().innerText());
        // Chromium logs a failed main document (status 500, while the report's pages are being written) as a console error.
        const expectedErrors = broken ? errors.filter((e) => !/status of 500/u.test(e)) : errors;
        assert.deepEqual(expectedErrors, []);
        assert.deepEqual(failed, []);
        assert.equal(await page.locator("script").count(), 0);
        assert.equal(await page.locator("img").count(), 0);
        if (heading) assert.ok(status.startsWith(heading), status);
        if (name === "view-runs") {
          assert.equal(await page.locator("table.runs tbody tr").count(), (await withStore((s) => s.listRuns())).length);
          assert.ok((await page.locator("body").innerText()).includes("</pre><script>alert('pwned')</script>"), "the hostile command shows as text");
          // Tick two runs and compare them: the form needs no script.
          await page.locator(`input[type=checkbox][value="${runA}"]`).check();
          await page.locator(`input[type=checkbox][value="${runB}"]`).check();
          await Promise.all([page.waitForURL(/\/compare\?/u), page.locator("#compare button").click()]);
          assert.deepEqual(new Set(new URL(page.url()).searchParams.getAll("run")), new Set([runA, runB]));
        }
        if (name === "view-compare") {
          const text = await page.locator("body").innerText();
          assert.ok(text.includes(runA) && text.includes(runB));
        }
      } finally {
        await page.close();
      }
    });
  }
});

describe("civitas view on the command line", () => {
  /** Starts the command, waits for its URL, returns it with the child. */
  async function startCli(args: string[]): Promise<{ url: string; stderr: () => string; stop: () => Promise<number | null> }> {
    const child = spawnCli(["view", "--store", storeFile, "--port", "0", ...args]);
    let stdout = "";
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout!.on("data", (d: Buffer) => {
        stdout += d.toString();
        const m = /at (http:\/\/\S+)/u.exec(stdout);
        if (m) resolve(m[1]!);
      });
      child.on("exit", (c) => reject(new Error(`civitas view exited ${c}: ${stderr}`)));
    });
    return {
      url,
      stderr: () => stderr,
      // Resolves once the process has exited and its output is read to the end.
      stop: async () => {
        child.kill("SIGINT");
        const [code] = (await once(child, "close")) as [number | null];
        return code;
      },
    };
  }

  it("starts with one command, prints its URL, and stops on Ctrl-C", async () => {
    const cli = await startCli([]);
    assert.match(cli.url, /^http:\/\/127\.0\.0\.1:\d+\/$/u);
    const r = await fetch(cli.url);
    assert.equal(r.status, 200);
    const n = (await withStore((s) => s.listRuns())).length;
    assert.match(await r.text(), new RegExp(`${n} runs · page 1 of 1`, "u"));
    assert.equal(await cli.stop(), 0);
    assert.match(cli.stderr(), /stopped/u);
    assert.doesNotMatch(cli.stderr(), /warning/u);
  });

  it("warns that the store becomes visible to the network with --host", async () => {
    const cli = await startCli(["--host", "0.0.0.0"]);
    assert.equal((await fetch(cli.url)).status, 200);
    assert.equal(await cli.stop(), 0);
    assert.match(cli.stderr(), /warning: listening on 0\.0\.0\.0 .*visible to the network/u);
  });
});
