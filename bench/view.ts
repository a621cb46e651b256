/**
 * bench/view: does `civitas view` stay responsive on a big store?
 *
 * Two stores are built, one with ~1,000 answers and one with ~1,000,000, each with many runs and
 * one big run (of the 1M store: 926 questions x 8 variants x 36 personas x 3 methods = 800,064
 * answers; the other runs 100 answers each). A real run of stories260K on OpinionQA gives the
 * template (config, summary, scores, prompts); its rows are multiplied in DuckDB with
 * INSERT ... SELECT FROM range(), with a request (prompt, label mass) behind every answer and the
 * per-question scores of the big run.
 *
 * The viewer is started on each store, and each page is fetched several times (after one warm-up
 * fetch): time to first byte and to the full response, medians. Printed: both figures per page
 * and store, and the ratio 1M / 1k (target: within 3x for the viewer's own pages: pages scale with
 * what they show, not with the store).
 *
 *   npx tsx bench/view.ts                  # 7 fetches per page
 *   npx tsx bench/view.ts --short          # a big store of ~100,000 answers, 3 fetches per page
 *   npx tsx bench/view.ts --repeat 5 --keep   # keep the stores (printed paths)
 *   npx tsx bench/view.ts --skip-big-report   # leave out the report page of the big run (slow: see the output)
 */
import http from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { llamaSpec } from "../src/models/index.js";
import { listNumbers, resultJson, type EvalResult } from "../src/results/index.js";
import { runEval } from "../src/runs/index.js";
import { Store } from "../src/store/index.js";
import { loadOpinionQA, resolvePopulations } from "../src/surveys/index.js";
import { startViewer } from "../src/view/index.js";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const SHARED = path.resolve(REPO, "../shared");
const MODEL = path.join(SHARED, "models/stories260K.gguf");
const DATA = path.join(SHARED, "data/opinionqa");

const { values: flags } = parseArgs({
  options: {
    repeat: { type: "string" },
    keep: { type: "boolean", default: false },
    "skip-big-report": { type: "boolean", default: false },
    short: { type: "boolean", default: false },
  },
});
// --short: a big store of ~100,000 answers instead of ~1,000,000, 3 fetches per page (about a minute).
const REPEAT = Number(flags.repeat ?? (flags.short ? 3 : 7));

interface Shape {
  readonly name: string;
  /** Runs besides the big one, and answers in each. */
  readonly smallRuns: number;
  readonly smallAnswers: number;
  /** The big run: questions x variants x personas x methods. */
  readonly questions: number;
  readonly variants: number;
  readonly personas: number;
  readonly methods: number;
}

const SHAPES: readonly Shape[] = [
  { name: "1k", smallRuns: 70, smallAnswers: 10, questions: 20, variants: 1, personas: 5, methods: 3 },
  flags.short
    ? { name: "100k", smallRuns: 199, smallAnswers: 100, questions: 116, variants: 8, personas: 36, methods: 3 }
    : { name: "1M", smallRuns: 1999, smallAnswers: 100, questions: 926, variants: 8, personas: 36, methods: 3 },
];
const [SMALL, LARGE] = [SHAPES[0]!.name, SHAPES[1]!.name];

const BIG = "b16000000000";
const METHODS = ["logprobs", "sample", "verbalize"];
const VARIANTS = ["standard", "order=reversed", "labels=numbers", "labels=numbers;order=reversed", "answer=text", "answer=text;order=reversed", "answer=text;labels=numbers", "answer=text;labels=numbers;order=reversed"];

const sql = (s: string): string => `'${s.replace(/'/gu, "''")}'`;

/** A real run to copy: its config and summary (the report pages read them), on 20 OpinionQA questions. */
async function template(dir: string): Promise<{ config: Record<string, unknown>; summary: EvalResult; command: string }> {
  const suite = await loadOpinionQA({ data: DATA });
  const store = await Store.open(path.join(dir, "template.duckdb"));
  try {
    const result = await runEval(store, {
      suite,
      questions: suite.questions.slice(0, 20),
      populations: resolvePopulations(suite, ["POLPARTY"]),
      model: await llamaSpec(MODEL, { threads: 1 }),
      metric: "wasserstein",
      minCoverage: 0,
      seed: 0,
      resamples: 200,
      persona: true,
      command: "civitas eval opinionqa --model llama:stories260K.gguf --populations POLPARTY --persona --limit 20",
    });
    const run = (await store.getRun(result.run))!;
    if (run.kind !== "eval" || run.summary === null) throw new Error("the template run has no eval result");
    return { config: run.config as Record<string, unknown>, summary: run.summary, command: run.command };
  } finally {
    await store.close();
  }
}

async function build(file: string, shape: Shape, t: Awaited<ReturnType<typeof template>>): Promise<{ answers: number; runs: number; seconds: number }> {
  const t0 = performance.now();
  const store = await Store.open(file);
  try {
    const { questions: Q, variants: V, personas: P, methods: M } = shape;
    const questionIds = Array.from({ length: Q }, (_, q) => `SYN${String(q).padStart(4, "0")}_W99`);
    const personas = ["none", ...Array.from({ length: P - 1 }, (_, k) => `GROUP=g${k}`)];
    const populations = personas.slice(1);
    const bigConfig = {
      ...t.config,
      questions: questionIds,
      populations,
      method: METHODS.slice(0, M),
      variants: VARIANTS.slice(0, V),
      personas: personas.map((id) => ({ id, text: id === "none" ? "" : `Answer as a member of ${id}.` })),
    };
    const smallConfig = (r: number) => sql(JSON.stringify({ ...t.config, method: r % 3 === 0 ? "logprobs" : r % 3 === 1 ? ["logprobs", "verbalize"] : ["sample"] }));
    const summary = sql(JSON.stringify(resultJson("eval", t.summary)));
    // The numbers the runs list shows, as the store fills them when it stores a result.
    const listed = listNumbers({ kind: "eval", result: t.summary });
    const numbers = `'eval', ${listed.questions ?? "NULL"}, ${listed.answers ?? "NULL"}, ${listed.alignment ?? "NULL"}`;
    const RUNS = "runs (id, created_at, updated_at, command, suite, model, metric, status, config, summary, error, final, kind, n_questions, n_answers, alignment)";

    // Runs: the small ones spread over the last months, the big one in the middle.
    const configs = [0, 1, 2].map(smallConfig);
    await store.query(`INSERT INTO ${RUNS} SELECT printf('%012x', r), TIMESTAMP '2026-01-01' + r * INTERVAL 37 MINUTE, TIMESTAMP '2026-01-01' + r * INTERVAL 37 MINUTE,
        ${sql(t.command)} || ' --seed ' || r, ['opinionqa', 'globalopinions', 'distalign', 'moca'][r % 4 + 1],
        ['llama:stories260K.gguf', 'openai:gpt-4o-mini', 'openai:llama-3.1-8b', 'llama:qwen2.5-0.5b.gguf', 'openai:mistral-7b'][r % 5 + 1], 'wasserstein',
        CASE WHEN r % 50 = 7 THEN 'failed' ELSE 'done' END,
        CASE r % 3 WHEN 0 THEN ${configs[0]}::JSON WHEN 1 THEN ${configs[1]}::JSON ELSE ${configs[2]}::JSON END, ${summary}::JSON, NULL, r % 50 <> 7, ${numbers}
      FROM range(${shape.smallRuns}) t(r)`);
    await store.query(`INSERT INTO ${RUNS} VALUES (${sql(BIG)}, TIMESTAMP '2026-01-01' + ${Math.floor(shape.smallRuns / 2)} * INTERVAL 37 MINUTE + INTERVAL 1 MINUTE,
        TIMESTAMP '2026-01-01' + ${Math.floor(shape.smallRuns / 2)} * INTERVAL 37 MINUTE + INTERVAL 1 MINUTE, ${sql(`${t.command} --variants rnr8 --method logprobs,sample,verbalize`)},
        'opinionqa', 'llama:stories260K.gguf', 'wasserstein', 'done', ${sql(JSON.stringify(bigConfig))}::JSON, ${summary}::JSON, NULL, true, ${numbers})`);

    // The big run's answers, question by question as the engine stores them, each with its request.
    const n = Q * V * P * M;
    const dims = `i % ${M} AS m, (i // ${M}) % ${P} AS p, (i // ${M * P}) % ${V} AS v, i // ${M * P * V} AS q`;
    const qid = `'SYN' || lpad(q::VARCHAR, 4, '0') || '_W99'`;
    const dist = `[u1 / (u1 + u2 + u3 + u4), u2 / (u1 + u2 + u3 + u4), u3 / (u1 + u2 + u3 + u4), u4 / (u1 + u2 + u3 + u4)]`;
    const rows = (count: number, runExpr: string, dimsSql: string, variantExpr: string, personaExpr: string, methodExpr: string, qExpr: string) => `
      SELECT i, ${runExpr} AS run_id, ${qExpr} AS question_id, ${variantExpr} AS variant, ${personaExpr} AS persona, ${methodExpr} AS method,
        md5(${runExpr} || '|' || i) AS key, (1 + (i * 37) % 97)::DOUBLE AS u1, (1 + (i * 61) % 89)::DOUBLE AS u2, (1 + (i * 13) % 83)::DOUBLE AS u3, (1 + (i * 29) % 79)::DOUBLE AS u4,
        0.02 + (hash(i) % 1000000) / 4000000.0 AS coverage
      FROM (SELECT i, ${dimsSql} FROM range(${count}) t(i))`;
    const big = rows(n, sql(BIG), dims, `(${sql(JSON.stringify(VARIANTS))}::JSON::VARCHAR[])[v + 1]`, `CASE WHEN p = 0 THEN 'none' ELSE 'GROUP=g' || (p - 1) END`, `(['logprobs', 'sample', 'verbalize'])[m + 1]`, qid);
    const small = rows(
      shape.smallRuns * shape.smallAnswers,
      `printf('%012x', i // ${shape.smallAnswers})`,
      `i % ${shape.smallAnswers} AS q`,
      "'standard'",
      "'none'",
      "'logprobs'",
      qid,
    );
    for (const src of [big, small]) {
      await store.query(`INSERT INTO requests SELECT key, 'llama:stories260K.gguf', method,
          'Question: ' || question_id || ': how safe do you feel in your neighbourhood at night, compared with five years ago?' || chr(10) || 'A. Very safe' || chr(10) || 'B. Somewhat safe' || chr(10) || 'C. Not too safe' || chr(10) || 'D. Not at all safe' || chr(10) || 'Answer:',
          ['A', 'B', 'C', 'D'], '{}'::JSON, ${dist}, coverage, '{"top": [["A", -1.2], [" B", -1.9]]}'::JSON, 'none', 60, 3.5, TIMESTAMP '2026-01-01' + i * INTERVAL 1 MILLISECOND,
          NULL, NULL -- served_model, system_fingerprint (store schema 6): a local model reports neither
        FROM (${src})`);
      await store.query(`INSERT INTO answers SELECT run_id, question_id, variant, persona, method, key, ['Very safe', 'Somewhat safe', 'Not too safe', 'Not at all safe'], ${dist}, coverage,
          CASE WHEN i % 17 = 0 THEN 'low_coverage' ELSE 'scored' END, 'none', i % 3 = 0, TIMESTAMP '2026-01-01' + i * INTERVAL 1 MILLISECOND
        FROM (${src}) ORDER BY run_id, i`);
    }
    // The big run's per-question scores: question x population x method x (with, without persona).
    await store.query(`INSERT INTO scores SELECT ${sql(BIG)}, (['logprobs', 'sample', 'verbalize'])[m + 1], s = 1, 'SYN' || lpad(q::VARCHAR, 4, '0') || '_W99', 'GROUP=g' || p, 'wasserstein',
        ((i * 37) % 100) / 400.0, ((i * 13) % 100) / 300.0, ((i * 7) % 100) / 500.0, 0.01, 1000
      FROM (SELECT i, i % 2 AS s, (i // 2) % ${M} AS m, (i // ${2 * M}) % ${P - 1} AS p, i // ${2 * M * (P - 1)} AS q FROM range(${Q * (P - 1) * M * 2}) t(i))`);
    const counts = await store.query("SELECT (SELECT count(*) FROM answers) AS a, (SELECT count(*) FROM runs) AS r");
    return { answers: Number(counts[0]!.a), runs: Number(counts[0]!.r), seconds: (performance.now() - t0) / 1000 };
  } finally {
    await store.close();
  }
}

interface Timing {
  readonly ttfb: number;
  readonly total: number;
  readonly status: number;
  readonly bytes: number;
}

function fetchTimed(port: number, target: string): Promise<Timing> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.request({ host: "127.0.0.1", port, path: target, agent: false }, (res) => {
      const ttfb = performance.now() - t0;
      let bytes = 0;
      res.on("data", (c: Buffer) => (bytes += c.length));
      res.on("end", () => resolve({ ttfb, total: performance.now() - t0, status: res.statusCode ?? 0, bytes }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

interface PageSpec {
  readonly name: string;
  readonly target: (shape: Shape) => string;
  /**
   * "own": the viewer's own pages, held to the 3x target; "sort": a page sorted by a column, a
   * top-N over the run's answers (grows with the run, not the store); "report": the report's run
   * page (report/pages.ts), measured beside them.
   */
  readonly kind: "own" | "sort" | "report" | "download";
  readonly repeat?: number;
}

const PAGES: readonly PageSpec[] = [
  { name: "runs list, page 1", target: () => "/", kind: "own" },
  { name: "runs list, filtered (model, method)", target: () => `/?model=${encodeURIComponent("openai:gpt-4o-mini")}&method=verbalize`, kind: "own" },
  { name: "runs list, last page", target: (s) => `/?page=${Math.ceil((s.smallRuns + 1) / 50)}`, kind: "own" },
  { name: "big run: answers, page 1", target: () => `/runs/${BIG}/answers`, kind: "own" },
  { name: "big run: answers, filtered", target: () => `/runs/${BIG}/answers?method=sample&persona=GROUP%3Dg3&status=scored`, kind: "own" },
  { name: "big run: answers, middle page", target: (s) => `/runs/${BIG}/answers?page=${Math.ceil((s.questions * s.variants * s.personas * s.methods) / 100)}`, kind: "own" },
  { name: "big run: answers by coverage", target: () => `/runs/${BIG}/answers?order=coverage`, kind: "sort" },
  { name: "small run: answers", target: () => "/runs/000000000005/answers", kind: "own" },
  { name: "compare chooser", target: () => "/compare", kind: "own" },
  { name: "small run: report page", target: () => "/runs/000000000005", kind: "report" },
  { name: "big run: report page", target: () => `/runs/${BIG}`, kind: "report", repeat: Math.min(3, REPEAT) },
  { name: "small run: download CSV", target: () => "/runs/000000000005/answers.csv", kind: "download" },
  { name: "big run: download Parquet", target: () => `/runs/${BIG}/answers.parquet`, kind: "download", repeat: 1 },
];

const dir = mkdtempSync(path.join(os.tmpdir(), "civitas-bench-view-"));
try {
  process.stdout.write("template run (stories260K, 20 OpinionQA questions x 5 personas)...\n");
  const t = await template(dir);
  const results = new Map<string, Map<string, { ttfb: number; total: number; bytes: number; status: number }>>();
  for (const shape of SHAPES) {
    const file = path.join(dir, `view-${shape.name}.duckdb`);
    const built = await build(file, shape, t);
    process.stdout.write(`store ${shape.name}: ${built.answers.toLocaleString("en-US")} answers in ${built.runs.toLocaleString("en-US")} runs, built in ${built.seconds.toFixed(1)} s${flags.keep ? ` (${file})` : ""}\n`);
    const viewer = await startViewer({ file, port: 0, idleMs: 60_000 });
    const byPage = new Map<string, { ttfb: number; total: number; bytes: number; status: number }>();
    try {
      for (const p of PAGES) {
        if (flags["skip-big-report"] && p.name === "big run: report page") continue;
        const target = p.target(shape);
        const rss0 = process.memoryUsage().rss;
        await fetchTimed(viewer.address.port, target); // warm-up: the store opened, DuckDB's caches filled
        const runs: Timing[] = [];
        for (let i = 0; i < (p.repeat ?? REPEAT); i++) runs.push(await fetchTimed(viewer.address.port, target));
        const m = { ttfb: median(runs.map((r) => r.ttfb)), total: median(runs.map((r) => r.total)), bytes: runs[0]!.bytes, status: runs[0]!.status };
        byPage.set(p.name, m);
        const grew = (process.memoryUsage().rss - rss0) / 2 ** 20;
        process.stdout.write(
          `  ${p.name.padEnd(38)} ttfb ${m.ttfb.toFixed(1).padStart(8)} ms   full ${m.total.toFixed(1).padStart(8)} ms   ${(m.bytes / 1024).toFixed(0).padStart(7)} KiB   HTTP ${m.status}${grew > 50 ? `   rss +${grew.toFixed(0)} MiB` : ""}\n`,
        );
      }
    } finally {
      await viewer.close();
    }
    results.set(shape.name, byPage);
  }

  process.stdout.write(`\nbench/view${flags.short ? " --short" : ""}: medians of ${REPEAT} fetches after a warm-up (big run report page: ${Math.min(3, REPEAT)}); ratio = ${LARGE} / ${SMALL}\n`);
  process.stdout.write(
    `${"page".padEnd(38)} ${`${SMALL} full`.padStart(10)} ${`${LARGE} full`.padStart(10)} ${"ratio".padStart(7)} ${`${SMALL} ttfb`.padStart(10)} ${`${LARGE} ttfb`.padStart(10)} ${"ratio".padStart(7)}\n`,
  );
  let worst = 0;
  for (const p of PAGES) {
    const a = results.get(SMALL)!.get(p.name);
    const b = results.get(LARGE)!.get(p.name);
    if (!a || !b) continue;
    const r = b.total / a.total;
    if (p.kind === "own") worst = Math.max(worst, r);
    process.stdout.write(
      `${p.name.padEnd(38)} ${a.total.toFixed(1).padStart(10)} ${b.total.toFixed(1).padStart(10)} ${r.toFixed(2).padStart(7)} ${a.ttfb.toFixed(1).padStart(10)} ${b.ttfb.toFixed(1).padStart(10)} ${(b.ttfb / a.ttfb).toFixed(2).padStart(7)}${p.kind === "own" ? "" : `   (${p.kind === "sort" ? "sorts the run" : p.kind === "report" ? "report page" : "download"})`}\n`,
    );
  }
  process.stdout.write(`\nworst ratio of the viewer's own pages: ${worst.toFixed(2)} (target: <= 3)\n`);
} finally {
  if (!flags.keep) rmSync(dir, { recursive: true, force: true });
}
