/**
 * What a hostile or careless user can do, end to end: each gets a clear error or safe output,
 * and nothing stored is lost. Real parts throughout: the command line as a child process, the
 * OpenAI-compatible path over real HTTP (stories260K behind test/helpers/llama-openai-server.ts),
 * real DuckDB files, the viewer on 127.0.0.1.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { copyFileSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { parse } from "csv-parse/sync";
import { aggregateFile } from "../../src/choice/index.js";
import { redactedCommand } from "../../src/cli/common.js";
import { parseSetFlags } from "../../src/cli/set.js";
import { CivitasError } from "../../src/errors.js";
import { jsonLines } from "../../src/jsonl.js";
import { redactCommandLine, redactUrls } from "../../src/redact.js";
import { readPredictions } from "../../src/runs/index.js";
import { applyOverrides, parseEdgeList, parseScenario } from "../../src/sim/index.js";
import { loadOpinionQA } from "../../src/surveys/index.js";
import { jsonTerminalSafe, terminalSafe } from "../../src/terminal.js";
import { startViewer } from "../../src/view/index.js";
import { runCli } from "../helpers/cli.js";
import { startLlamaOpenAIServer, type LlamaOpenAIServer } from "../helpers/llama-openai-server.js";
import { MODEL, OPINIONQA, REPO, tempDir } from "../helpers/paths.js";

/** A port on 127.0.0.1 that nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const probe = http.createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** Every byte of every file in a folder, as latin1 text (a DuckDB file included), with the file's name. */
function filesIn(dir: string): { name: string; text: string }[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => ({ name: path.join(d.parentPath, d.name), text: readFileSync(path.join(d.parentPath, d.name)).toString("latin1") }));
}

describe("credentials in a base URL never reach the store, the output, the report or the viewer", () => {
  let server: LlamaOpenAIServer;
  before(async () => {
    server = await startLlamaOpenAIServer();
  });
  after(async () => server.close());

  it("userinfo and ?key= in --base-url, --base-url= and OPENAI_BASE_URL; a failing server too", async () => {
    const dir = tempDir();
    const store = path.join(dir, "s.duckdb");
    const base = server.url.replace("http://", "http://alice:sk-USERINFO-1111@");
    const withQuery = `${server.url}?api-version=2024-06&key=sk-QUERY-2222`;
    const common = ["eval", "opinionqa", "--model", "openai:stories", "--data", OPINIONQA, "--limit", "2", "--store", store, "--progress", "lines"];
    const a = await runCli([...common, "--base-url", base, "--populations", "SEX"]);
    assert.equal(a.code, 0, a.stderr);
    const b = await runCli([...common, `--base-url=${withQuery}`, "--populations", "POLPARTY", "--json"]);
    assert.equal(b.code, 0, b.stderr);
    const c = await runCli([...common, "--populations", "RACE"], { env: { OPENAI_BASE_URL: `${server.url}?access_token=sk-ENV-3333` } });
    assert.equal(c.code, 0, c.stderr);
    // The credentials did work: HTTP Basic from the userinfo, the query sent with every request.
    assert.ok(server.requests.some((r) => r.authorization === `Basic ${Buffer.from("alice:sk-USERINFO-1111").toString("base64")}`));
    // A server that is not there: the error names the server, without the credentials. (Another
    // model id: the same model at another URL would be answered from the cache the runs above filled.)
    const port = await closedPort();
    const d = await runCli([...common, "--base-url", `http://bob:sk-DOWN-4444@127.0.0.1:${port}/v1?api_key=sk-DOWN-5555`, "--populations", "SEX=Male", "--model-id", "stories-down"]);
    assert.equal(d.code, 1, d.stderr);
    // Fails fast: one error, at most one retry line (not six per request in flight).
    assert.match(d.stderr, new RegExp(`^error: cannot connect to http://127\\.0\\.0\\.1:${port}/v1: connection refused; is the server running`, "mu"));
    assert.ok(d.stderr.split("\n").filter((l) => l.startsWith("retry")).length <= 1, d.stderr);

    const list = await runCli(["runs", "list", "--store", store, "--json"]);
    const runs = JSON.parse(list.stdout) as { id: string; command: string; status: string }[];
    assert.equal(runs.length, 4);
    assert.ok(runs.some((r) => r.command.includes("--base-url http://***@127.0.0.1:")), list.stdout);
    assert.ok(runs.some((r) => r.command.includes("?api-version=2024-06&key=***")), list.stdout);
    // A finished run and the failed one.
    const shows = await Promise.all(runs.slice(0, 2).map((r) => runCli(["runs", "show", r.id, "--store", store])));
    const report = path.join(dir, "r.html");
    const rep = await runCli(["report", ...runs.filter((r) => r.status === "done").map((r) => r.id), "-o", report, "--store", store, "--data", OPINIONQA]);
    assert.equal(rep.code, 0, rep.stderr);

    const before = new Set(readdirSync(os.tmpdir()).filter((d) => d.startsWith("civitas-view-")));
    const logged: unknown[] = [];
    const viewer = await startViewer({ file: store, port: 0, idleMs: 50, onError: (e) => logged.push(e) });
    const pages: string[] = [];
    try {
      for (const p of ["/", "/?q=sk-", ...runs.map((r) => `/runs/${r.id}`)]) {
        const res = await fetch(new URL(p, viewer.url));
        assert.equal(res.status, 200, p);
        pages.push(await res.text());
      }
      // The viewer's 500 page names no internal file: its temporary folder gone, a download fails.
      const tmp = readdirSync(os.tmpdir()).filter((d) => d.startsWith("civitas-view-") && !before.has(d));
      assert.equal(tmp.length, 1);
      rmSync(path.join(os.tmpdir(), tmp[0]!), { recursive: true });
      const res = await fetch(new URL(`/runs/${runs[0]!.id}/answers.csv`, viewer.url));
      assert.equal(res.status, 500);
      const page = await res.text();
      assert.match(page, /Internal error: this page could not be made\./u);
      assert.doesNotMatch(page, /civitas-view-|\bat \/|duckdb error/iu);
      assert.equal(logged.length, 1, "the error goes to the server's log instead");
      assert.match(String(logged[0]), /civitas-view-/u);
    } finally {
      await viewer.close();
    }
    assert.ok(pages.some((p) => p.includes("http://***@127.0.0.1")), "the viewer shows the redacted command");

    const secrets = /USERINFO|alice|QUERY-2222|sk-ENV|DOWN-4444|DOWN-5555|\bbob\b/u;
    const texts = [a, b, c, d, list, rep, ...shows].flatMap((r) => [r.stdout, r.stderr]);
    for (const t of [...texts, ...pages]) assert.doesNotMatch(t, secrets);
    for (const f of filesIn(dir)) assert.doesNotMatch(f.text, secrets, `${f.name} holds a credential`);
  });
});

/** A custom survey (aggregated, CSV) whose texts carry terminal escapes, bidi overrides and spreadsheet formulas. */
const ESC = "\x1b";
const HOSTILE_QUESTION = `Is ${ESC}]8;;http://evil.example${ESC}\\this link${ESC}]8;;${ESC}\\ ${ESC}[31mred${ESC}[0m? \u202Eevil\u202C \u009b2J ok`;
const HOSTILE_OPTION = `Yes${ESC}[2J`;
const FORMULA_IDS = ['=HYPERLINK("http://evil.example","x")', "+1+1", "@SUM(A1)", "-1", "-2.5e3"];

function hostileSurvey(dir: string): string {
  const cell = (c: string) => (/[",\n]/u.test(c) ? `"${c.replace(/"/gu, '""')}"` : c);
  const rows = [["question_id", "question", "options", "population", "option", "count"]];
  for (const id of FORMULA_IDS) {
    rows.push([id, HOSTILE_QUESTION, `${HOSTILE_OPTION} | No`, "grp=\u202Eright", HOSTILE_OPTION, "3"]);
    rows.push([id, "", "", "grp=\u202Eright", "No", "1"]);
    rows.push([id, "", "", "grp=left", HOSTILE_OPTION, "1"]);
    rows.push([id, "", "", "grp=left", "No", "2"]);
  }
  const file = path.join(dir, "hostile.csv");
  writeFileSync(file, rows.map((r) => r.map(cell).join(",")).join("\n") + "\n");
  return file;
}

/** No ESC, no other C0 control but newline and tab, no C1 control, no bidi override or isolate. */
function assertTerminalSafe(text: string, what: string): void {
  assert.doesNotMatch(text, /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/u, `${what} holds a control or bidi character:\n${text}`);
}

describe("text from data files reaches the terminal and spreadsheets neutralised", () => {
  let dir: string;
  let survey: string;
  let store: string;
  before(() => {
    dir = tempDir();
    survey = hostileSurvey(dir);
    store = path.join(dir, "s.duckdb");
  });

  it("suites show and eval print escapes as visible text; --json keeps the exact text, escaped", async () => {
    const show = await runCli(["suites", "show", "custom", "--data", survey]);
    assert.equal(show.code, 0, show.stderr);
    assertTerminalSafe(show.stdout + show.stderr, "suites show");
    assert.ok(show.stdout.includes("Is \\x1b]8;;http://evil.example\\x1b\\this link"), show.stdout);
    assert.ok(show.stdout.includes("grp=\\u202eright"), show.stdout);
    const json = await runCli(["suites", "show", "custom", "--data", survey, "--json"]);
    assert.equal(json.code, 0, json.stderr);
    assertTerminalSafe(json.stdout, "suites show --json");
    const parsed = JSON.parse(json.stdout) as { questions: { text: string; options: string[] }[]; populations: { population: string }[] };
    assert.equal(parsed.questions[0]!.text, HOSTILE_QUESTION);
    assert.equal(parsed.questions[0]!.options[0], HOSTILE_OPTION);
    assert.ok(parsed.populations.some((p) => p.population === "grp=\u202Eright"));

    const ev = await runCli(["eval", "custom", "--model", `llama:${MODEL}`, "--data", survey, "--populations", "grp", "--store", store, "--progress", "none"]);
    assert.equal(ev.code, 0, ev.stderr);
    assertTerminalSafe(ev.stdout + ev.stderr, "eval");
    assert.match(ev.stdout, /grp=\\u202eright\s+\d\.\d{3}/u, "the population row, its columns aligned");
    const bad = await runCli(["eval", "custom", "--model", `llama:${MODEL}`, "--data", survey, "--populations", `grp=${ESC}]0;pwned${ESC}\\`, "--store", store]);
    assert.equal(bad.code, 2);
    assertTerminalSafe(bad.stderr, "an error naming a hostile population");
  });

  it("CSV export: formula cells get a leading ', plain numbers and number columns stay", async () => {
    const list = JSON.parse((await runCli(["runs", "list", "--store", store, "--json"])).stdout) as { id: string }[];
    const out = path.join(dir, "answers.csv");
    const exp = await runCli(["export", list[0]!.id, "-o", out, "--store", store]);
    assert.equal(exp.code, 0, exp.stderr);
    const rows = parse(readFileSync(out, "utf8"), { columns: true }) as Record<string, string>[];
    assert.deepEqual(rows.map((r) => r.question).sort(), ["'+1+1", "'=HYPERLINK(\"http://evil.example\",\"x\")", "'@SUM(A1)", "-1", "-2.5e3"].sort());
    for (const r of rows) {
      assert.match(r.coverage!, /^\d\.\d+(e-\d+)?$/u, "coverage stays a number");
      assert.ok(r.prompt!.startsWith("Question: Is "), "an ordinary cell is unchanged");
      assert.deepEqual(JSON.parse(r.options!), [HOSTILE_OPTION, "No"]);
    }
    // JSON Lines keeps the values exactly: it is data, not a spreadsheet.
    const jl = path.join(dir, "answers.jsonl");
    assert.equal((await runCli(["export", list[0]!.id, "-f", "jsonl", "-o", jl, "--store", store])).code, 0);
    const ids = readFileSync(jl, "utf8").trim().split("\n").map((l) => (JSON.parse(l) as { question: string }).question);
    assert.deepEqual(ids.sort(), [...FORMULA_IDS].sort());
  });
});

describe("the neutralising functions", () => {
  it("terminalSafe: controls, C1, bidi and invisible characters become visible escapes; idempotent", () => {
    assert.equal(terminalSafe(`a${ESC}[31mb\u0007`), "a\\x1b[31mb\\x07");
    assert.equal(terminalSafe("x\u009b2Jy\u202Ez\u2066w\u200Bv\uFEFF"), "x\\u009b2Jy\\u202ez\\u2066w\\u200bv\\ufeff");
    assert.equal(terminalSafe("tag\u{E0041}\u{E0042}"), "tag\\u{e0041}\\u{e0042}");
    assert.equal(terminalSafe("one\ntwo\tthree\r\nfour"), "one two three four", "a table cell stays on one line");
    assert.equal(terminalSafe("one\ntwo\tthree\r\nfour\rfive", { multiline: true }), "one\ntwo\tthree\nfour\\rfive");
    assert.equal(terminalSafe("\ud800 lone"), "\\ud800 lone");
    const kept = "Zürich · 日本 · 👩\u200D💻 · \u0645\u06CC\u200C\u062E\u0648\u0627\u0647\u0645";
    assert.equal(terminalSafe(kept), kept, "letters, emoji and joiners stay");
    const once = terminalSafe(HOSTILE_QUESTION);
    assert.equal(terminalSafe(once), once);
  });

  it("jsonTerminalSafe: the same JSON value, with no C1, bidi or tag character left raw", () => {
    const value = { s: `a\u0085b\u202Ec\u{E0041}d\u2028e${ESC}` };
    const text = jsonTerminalSafe(JSON.stringify(value));
    assert.deepEqual(JSON.parse(text), value);
    assertTerminalSafe(text, "JSON");
    assert.doesNotMatch(text, /[\u2028\u{E0041}]/u);
  });

  it("redactUrls and redactCommandLine: userinfo and key-like parameters go, the rest stays", () => {
    assert.equal(redactUrls("at http://u:p%40ss@host:8/v1/x?model=m&api_key=sk-1&sig=abc#access_token=t"), "at http://***@host:8/v1/x?model=m&api_key=***&sig=***#access_token=***");
    assert.equal(redactUrls("https://sk-only@host/v1"), "https://***@host/v1");
    assert.equal(redactUrls("https://h/?X-Amz-Signature=1&X-Amz-Credential=2&page=3"), "https://h/?X-Amz-Signature=***&X-Amz-Credential=***&page=3");
    assert.equal(redactUrls("no url here: key=value"), "no url here: key=value");
    // A command stored by an earlier version is redacted when shown.
    assert.equal(
      redactCommandLine("civitas eval x --api-key sk-abc --base-url http://a:b@h/v1?token=t --data d"),
      "civitas eval x --api-key *** --base-url http://***@h/v1?token=*** --data d",
    );
    assert.equal(redactCommandLine("civitas eval x --api-key=***"), "civitas eval x --api-key=***");
    assert.equal(
      redactedCommand(["eval", "x", "--base-url", "me:sk-1@host:8000/v1", "--base-url=you:sk-2@h/v1", "--populations", "A B"]),
      'civitas eval x --base-url ***@host:8000/v1 --base-url=***@h/v1 --populations "A B"',
    );
  });
});

describe("output files never destroy a store or a data file", () => {
  it("report, export and aggregate refuse the store, any DuckDB file and other files without --force", async () => {
    const dir = tempDir();
    const store = path.join(dir, "s.duckdb");
    const survey = path.join(dir, "survey.csv");
    copyFileSync(path.join(REPO, "examples/custom/town-aggregated.csv"), survey);
    const ev = await runCli(["eval", "custom", "--model", `llama:${MODEL}`, "--data", survey, "--limit", "1", "--store", store, "--progress", "none", "--json"]);
    assert.equal(ev.code, 0, ev.stderr);
    const run = (JSON.parse(ev.stdout) as { run: string }).run;
    const digest = (f: string) => createHash("sha256").update(readFileSync(f)).digest("hex");
    const storeBefore = digest(store);
    const surveyBefore = digest(survey);
    const other = path.join(dir, "other.duckdb");
    copyFileSync(store, other);
    const link = path.join(dir, "link.html");
    symlinkSync(store, link);

    const refused = async (args: string[], pattern: RegExp) => {
      const r = await runCli([...args, "--store", store]);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, pattern);
      return r;
    };
    await refused(["report", run, "-o", store], /-o .*s\.duckdb: is the store this command reads/u);
    await refused(["export", run, "-o", store, "--force"], /-o .*s\.duckdb: is the store this command reads/u);
    await refused(["report", run, "-o", link, "--force"], /link\.html: is the store this command reads/u);
    await refused(["export", run, "-o", other, "--force"], /other\.duckdb: is a DuckDB database/u);
    await refused(["export", run, "-o", `${store}.wal`], /write-ahead log/u);
    const csv = await refused(["export", run, "-o", survey], /survey\.csv: already exists and is not a CSV export written by civitas/u);
    assert.match(csv.stderr, /--force/u);
    assert.equal(digest(store), storeBefore, "the store is untouched");
    assert.equal(digest(survey), surveyBefore, "the survey is untouched");
    assert.equal((await runCli(["runs", "show", run, "--store", store])).code, 0);

    // The same kind of output is replaced (running a command again); another kind with --force.
    const out = path.join(dir, "answers.csv");
    for (let i = 0; i < 2; i++) assert.equal((await runCli(["export", run, "-o", out, "--store", store])).code, 0);
    const html = path.join(dir, "r.html");
    for (let i = 0; i < 2; i++) assert.equal((await runCli(["report", run, "-o", html, "--store", store])).code, 0);
    const page = path.join(dir, "notes.html");
    writeFileSync(page, "<!doctype html><title>my notes</title>\n");
    await refused(["report", run, "-o", page], /notes\.html: already exists and is not an HTML report written by civitas/u);
    assert.equal((await runCli(["report", run, "-o", page, "--force", "--store", store])).code, 0);
    assert.match(readFileSync(page, "utf8"), /Made by civitas/u);

    // aggregate: never over an input file, nor another kind of file.
    const comparisons = path.join(dir, "comparisons.jsonl");
    copyFileSync(path.join(REPO, "examples/choice/comparisons.jsonl"), comparisons);
    const agg = await runCli(["aggregate", comparisons, "--export", comparisons]);
    assert.equal(agg.code, 2, agg.stderr);
    assert.match(agg.stderr, /--export .*comparisons\.jsonl is one of the input files/u);
    const notes = path.join(dir, "notes.txt");
    writeFileSync(notes, "my notes\n");
    const agg2 = await runCli(["aggregate", comparisons, "--html", notes]);
    assert.equal(agg2.code, 2, agg2.stderr);
    assert.match(agg2.stderr, /--html .*notes\.txt: already exists and is not an HTML report/u);
    assert.equal(readFileSync(notes, "utf8"), "my notes\n");
  });
});

describe("hostile input files: a clear error that quotes nothing it should not; a BOM is accepted everywhere", () => {
  it("a YAML alias bomb is an input error naming the file, not a bug", async () => {
    const dir = tempDir();
    const file = path.join(dir, "bomb.yaml");
    const level = (name: string, prev: string) => `${name}: &${name} [${Array(9).fill(`*${prev}`).join(", ")}]`;
    writeFileSync(file, ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]', level("b", "a"), level("c", "b"), level("d", "c"), level("e", "d"), level("f", "e"), "name: bomb", "dynamics: hk", ""].join("\n"));
    const r = await runCli(["simulate", file, "--store", path.join(dir, "s.duckdb")]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^error: .*bomb\.yaml: its aliases \(\*name\) expand too much/mu);
    assert.doesNotMatch(r.stderr, /bug in civitas/u);
    // The same through --set, which reads its value as YAML.
    const names = ["a", "b", "c", "d", "e", "f"];
    const flow = `[&a [1, 1, 1, 1, 1, 1, 1, 1, 1], ${names.slice(1).map((n, i) => `&${n} [${Array(9).fill(`*${names[i]}`).join(", ")}]`).join(", ")}]`;
    assert.throws(
      () => applyOverrides(parseScenario("name: x\ndynamics: hk\nparams: { agents: 10, steps: 5, epsilon: 0.2 }\n", "x.yaml"), { set: { params: parseSetFlags([`epsilon=${flow}`]), base: dir } }),
      (e: unknown) => e instanceof CivitasError && e.kind === "usage" && /^--set epsilon: its aliases/u.test(e.message),
    );
    assert.throws(() => parseScenario(readFileSync(file, "utf8"), "bomb.yaml"), (e: unknown) => e instanceof CivitasError && e.kind === "input" && /bomb\.yaml/u.test(e.message));
  });

  it("graph: file: names the line and what was expected, never the line's text", async () => {
    const dir = tempDir();
    const secret = path.join(dir, "passwd");
    writeFileSync(secret, "root:x:0:0:root:/root:/bin/bash\ndaemon x 1\n");
    const scenario = path.join(dir, "s.yaml");
    writeFileSync(scenario, `name: leak\ndynamics: degroot\nparams: { agents: 3, steps: 2, graph: "file:${secret}" }\nseeds: 1\n`);
    const r = await runCli(["simulate", scenario, "--store", path.join(dir, "s.duckdb")]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /passwd:1: expected 2 or 3 fields \(u v, or u v weight\), got 1 field/u);
    assert.doesNotMatch(r.stdout + r.stderr, /root|bash/u);
    assert.throws(() => parseEdgeList("0 1\ndaemon x 1\n", { source: "g" }), (e: unknown) => e instanceof CivitasError && /^g:2: field 1 is not a node id/u.test(e.message) && !e.message.includes("daemon"));
    assert.throws(() => parseEdgeList("0 1 heavy\n", { source: "g" }), (e: unknown) => e instanceof CivitasError && /field 3, the weight/u.test(e.message) && !e.message.includes("heavy"));
    // JSON Lines: JSON.parse's excerpt of the line is left out too.
    assert.throws(() => [...jsonLines("root:x:0:0:root\n", "preds.jsonl")], (e: unknown) => e instanceof CivitasError && e.message === "preds.jsonl line 1: not valid JSON (Unexpected token 'r')");
  });

  it("a UTF-8 BOM is accepted in predictions, comparisons, scenarios and edge lists, as in surveys", async () => {
    const dir = tempDir();
    const BOM = "\uFEFF";
    const suite = await loadOpinionQA({ data: OPINIONQA });
    const preds = path.join(dir, "preds.jsonl");
    writeFileSync(preds, `${BOM}${JSON.stringify({ question: "SAFECRIME_W26", population: "overall", distribution: { "Very safe": 0.4, "Somewhat safe": 0.4, "Not too safe": 0.1, "Not at all safe": 0.1 } })}\n`);
    assert.equal((await readPredictions(preds, suite)).lines, 1);
    const comparisons = path.join(dir, "c.jsonl");
    writeFileSync(comparisons, BOM + readFileSync(path.join(REPO, "examples/choice/comparisons.jsonl"), "utf8"));
    const plain = await aggregateFile(path.join(REPO, "examples/choice/comparisons.jsonl"));
    assert.deepEqual((await aggregateFile(comparisons)).profiles, plain.profiles);
    const edges = path.join(dir, "edges.txt");
    writeFileSync(edges, `${BOM}0 1\n1 2\n`);
    assert.equal(parseEdgeList(readFileSync(edges, "utf8")).n, 3);
    const scenario = path.join(dir, "bom.yaml");
    writeFileSync(scenario, `${BOM}name: bom\ndynamics: degroot\nparams: { agents: 3, steps: 5, graph: "file:edges.txt" }\nseeds: 1\n`);
    const r = await runCli(["simulate", scenario, "--store", path.join(dir, "s.duckdb"), "--json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { scenario: string }).scenario, "bom");
  });
});

describe("--json: errors are JSON too", () => {
  /** stdout empty; stderr one JSON line {"error": {kind, message, hint, exit_code}} whose exit_code is the process's. */
  function jsonError(r: { code: number | null; stdout: string; stderr: string }): { kind: string; message: string; hint: string | null; exit_code: number } {
    assert.equal(r.stdout, "", "stdout holds only a result");
    const lines = r.stderr.trimEnd().split("\n");
    assert.equal(lines.length, 1, r.stderr);
    const e = (JSON.parse(lines[0]!) as { error: { kind: string; message: string; hint: string | null; exit_code: number } }).error;
    assert.deepEqual(Object.keys(e), ["kind", "message", "hint", "exit_code"]);
    assert.equal(e.exit_code, r.code);
    return e;
  }

  it("a command's error, a flag commander refuses, and a missing input file", async () => {
    const model = jsonError(await runCli(["eval", "opinionqa", "--model", "llama:/nowhere/model.gguf", "--data", OPINIONQA, "--json"]));
    assert.equal(model.kind, "usage");
    assert.equal(model.exit_code, 2);
    assert.match(model.message, /^model file not found: \/nowhere\/model\.gguf/u);
    assert.match(model.hint ?? "", /\.gguf/u);
    const flag = jsonError(await runCli(["eval", "opinionqa", "--limit", "0", "--json"]));
    assert.equal(flag.kind, "usage");
    assert.match(flag.message, /--limit must be an integer >= 1 \(got "0"\)/u);
    const input = jsonError(await runCli(["score", "opinionqa", "--data", OPINIONQA, "--predictions", "/nowhere/preds.jsonl", "--json"]));
    // A path that does not exist is a usage error (exit 2), as in every command.
    assert.equal(input.kind, "usage");
    assert.equal(input.exit_code, 2);
    assert.match(input.message, /\/nowhere\/preds\.jsonl/u);
    // Without --json, the same error is text.
    const text = await runCli(["score", "opinionqa", "--data", OPINIONQA, "--predictions", "/nowhere/preds.jsonl"]);
    assert.match(text.stderr, /^error: .*\/nowhere\/preds\.jsonl/u);
  });
});
