/**
 * bench/eval-throughput: how much does civitas cost on top of the model?
 *
 * The same OpinionQA prompts (one per question, the standard presentation: no two share a prefix,
 * so civitas evaluates each whole, as the bare loop does) go through
 *   (a) a bare loop of node-llama-cpp evaluations (tokenize, clear, evaluate, read probabilities)
 *       with node-llama-cpp's default context settings and 1 thread, as civitas runs it,
 *   (b) civitas's engine end to end (plan, cache lookup, llama backend, label extraction, DuckDB
 *       writes in batches, scoring), and
 *   (d) civitas's engine with the store's batch writes replaced by nothing (answers are not
 *       kept: this only measures what writing them costs),
 * side by side in one process, in alternating rounds (the order rotates from round to round). It
 * prints, for each once started (start-up apart), prompts per second and the CPU time of the
 * whole process (all its threads) per prompt, then these ratios, each as the mean over rounds with
 * the lowest and highest round:
 *   - b / a in prompts per second: civitas's own cost (target >= 0.9);
 *   - a / b in CPU time per prompt: the same, counted in CPU rather than wall-clock time, which
 *     matters on a machine whose other cores are busy;
 *   - d / a in prompts per second, and b - d in CPU time per answer: what is left of civitas's
 *     cost without the store's writes, and what the writes cost.
 *
 * Then a second figure: `civitas eval` rerun as a command answers entirely from the store; it
 * reports 0 model calls and takes about as long as process start-up plus reading the store. It
 * runs the built CLI (dist/: `npm run build` first).
 *
 *   npm run bench                      # 600 prompts, 3 rounds (a few minutes)
 *   npm run bench -- --short           # 100 prompts, 2 rounds (about a minute)
 *   npm run bench -- --prompts 300 --rounds 1
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { getLlama, LlamaLogLevel, type Token } from "node-llama-cpp";
import { llamaSpec } from "../src/models/index.js";
import { runEval } from "../src/runs/index.js";
import { Store } from "../src/store/index.js";
import { loadOpinionQA, renderPrompt, resolvePopulations, STANDARD_VARIANT, type Question } from "../src/surveys/index.js";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const SHARED = path.resolve(REPO, "../shared");
const MODEL = path.join(SHARED, "models/stories260K.gguf");
const DATA = path.join(SHARED, "data/opinionqa");

const { values: flags } = parseArgs({
  options: { prompts: { type: "string" }, rounds: { type: "string" }, short: { type: "boolean", default: false } },
});
const N = Number(flags.prompts ?? (flags.short ? 100 : 600));
const ROUNDS = Number(flags.rounds ?? (flags.short ? 2 : 3));
const CLI_LIMIT = flags.short ? 40 : 300;
if (!Number.isInteger(N) || N < 1) throw new Error(`--prompts must be a whole number >= 1, got ${flags.prompts}`);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new Error(`--rounds must be a whole number >= 1, got ${flags.rounds}`);

const suite = await loadOpinionQA({ data: DATA });
// The first N questions whose question text no earlier one has (a few OpinionQA questions share
// it, or are asked again in a later wave with the same options: civitas would ask those once).
const questions: Question[] = [];
const stems = new Set<string>();
for (const q of suite.questions) {
  const { prefix } = renderPrompt(q, STANDARD_VARIANT);
  if (stems.has(prefix)) continue;
  stems.add(prefix);
  questions.push(q);
  if (questions.length === N) break;
}
if (questions.length < N) throw new Error(`at most ${questions.length} prompts (OpinionQA questions with distinct texts)`);
const prompts = questions.map((q) => renderPrompt(q, STANDARD_VARIANT).text);

interface Measure {
  startup: number;
  /** Prompts per second once started (wall clock). */
  rate: number;
  /** CPU time of the whole process (all threads) per prompt once started, ms. */
  cpu: number;
}

const cpuMs = (since: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1000;
};

const llama = await getLlama({ build: "never", gpu: false, logLevel: LlamaLogLevel.error });

/** The bare loop, with node-llama-cpp's default context settings (as civitas uses them). */
async function bare(): Promise<Measure> {
  const t0 = performance.now();
  const model = await llama.loadModel({ modelPath: MODEL });
  const ctx = await model.createContext({ contextSize: 2048, sequences: 1, threads: 1 });
  const seq = ctx.getSequence();
  const t1 = performance.now();
  const c1 = process.cpuUsage();
  let sink = 0;
  for (const p of prompts) {
    const tokens: Token[] = [model.tokens.bos!, ...model.tokenize(p)];
    await seq.clearHistory();
    const last = tokens.length - 1;
    const out = await seq.controlledEvaluate(tokens.map((t, i) => (i === last ? ([t, { generateNext: { probabilities: true } }] as const) : t)) as Parameters<typeof seq.controlledEvaluate>[0]);
    sink += out[last]?.next.probabilities?.size ?? 0;
  }
  const t2 = performance.now();
  const cpu = cpuMs(c1) / prompts.length;
  if (sink === 0) throw new Error("no probabilities");
  await ctx.dispose();
  await model.dispose();
  return { startup: (t1 - t0) / 1000, rate: prompts.length / ((t2 - t1) / 1000), cpu };
}

/** civitas's engine; `discardWrites`: the store's answer writes do nothing (what writing costs). */
async function civitas(dir: string, round: number, discardWrites = false): Promise<Measure & { scoring: number; calls: number }> {
  const t0 = performance.now();
  const store = await Store.open(path.join(dir, `bench-${round}${discardWrites ? "-d" : ""}.duckdb`));
  if (discardWrites) store.writeBatch = () => Promise.resolve();
  let ready = 0;
  let lastAnswer = 0;
  let c1 = process.cpuUsage();
  let cpu = 0;
  const result = await runEval(
    store,
    {
      suite,
      questions,
      populations: resolvePopulations(suite, ["POLPARTY", "SEX"]),
      model: await llamaSpec(MODEL, { threads: 1, parallel: 1, gpu: false }),
      variants: [STANDARD_VARIANT],
      metric: "wasserstein",
      minCoverage: 0,
      seed: 0,
      resamples: 1000,
      command: "bench",
    },
    {
      onModelReady: () => {
        ready = performance.now();
        c1 = process.cpuUsage();
      },
      onProgress: () => {
        lastAnswer = performance.now();
        if (ready > 0) cpu = cpuMs(c1);
      },
    },
  );
  const t3 = performance.now();
  await store.close();
  const calls = result.answers.model_calls;
  return { startup: (ready - t0) / 1000, rate: calls / ((lastAnswer - ready) / 1000), cpu: cpu / calls, scoring: (t3 - lastAnswer) / 1000, calls };
}

const summary = (xs: readonly number[], digits = 3, unit = "") => {
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  return `${mean.toFixed(digits)}${unit} (rounds ${Math.min(...xs).toFixed(digits)}-${Math.max(...xs).toFixed(digits)})`;
};

const dir = mkdtempSync(path.join(os.tmpdir(), "civitas-bench-"));
try {
  console.log(
    `eval-throughput${flags.short ? " --short" : ""}: ${prompts.length} OpinionQA prompts, stories260K, 1 thread, ` +
      `${os.availableParallelism()} cores, ${ROUNDS} round(s)`,
  );
  const overhead: number[] = [];
  const cpuOverhead: number[] = [];
  const withoutWrites: number[] = [];
  const writeCpu: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const m: Partial<Record<"a" | "b" | "d", Measure & { scoring?: number; calls?: number }>> = {};
    const order = (["a", "b", "d"] as const).map((_, i, all) => all[(i + r) % all.length]!);
    for (const which of order) {
      m[which] = which === "a" ? await bare() : which === "b" ? await civitas(dir, r) : await civitas(dir, r, true);
    }
    const { a, b, d } = m as Required<typeof m>;
    for (const x of [b, d]) if (x.calls !== prompts.length) throw new Error(`civitas asked the model ${x.calls} times for ${prompts.length} prompts`);
    overhead.push(b.rate / a.rate);
    cpuOverhead.push(a.cpu / b.cpu);
    withoutWrites.push(d.rate / a.rate);
    writeCpu.push(b.cpu - d.cpu);
    const fmt = (x: Measure) => `${x.rate.toFixed(1)} prompts/s, ${x.cpu.toFixed(1)} ms CPU each`;
    console.log(
      `round ${r + 1}: (a) bare loop ${fmt(a)} | (b) civitas ${fmt(b)} (start-up ${b.startup.toFixed(2)} s, scoring ${b.scoring!.toFixed(2)} s) | ` +
        `(d) civitas, answers not written ${fmt(d)}`,
    );
  }
  console.log(`ratio civitas / bare loop (b / a), prompts per second once started: ${summary(overhead)} (target >= 0.9)`);
  console.log(`ratio of CPU time per prompt, bare loop / civitas (a / b): ${summary(cpuOverhead)}`);
  console.log(
    `ratio civitas with its answers not written / bare loop (d / a), prompts per second: ${summary(withoutWrites)}; ` +
      `writing the answers costs ${summary(writeCpu, 1, " ms of CPU per answer")}`,
  );

  // Second figure: the same command again, as a user runs it.
  const cli = [path.join(REPO, "dist/cli/main.js")];
  const evalArgs = ["eval", "opinionqa", "--model", `llama:${MODEL}`, "--data", DATA, "--populations", "POLPARTY,SEX", "--limit", String(CLI_LIMIT), "--store", path.join(dir, "cli.duckdb"), "--json", "--progress", "none"];
  const time = (args: string[]) => {
    const t = performance.now();
    const out = execFileSync(process.execPath, [...cli, ...args], { encoding: "utf8" });
    return { seconds: (performance.now() - t) / 1000, out };
  };
  const first = time(evalArgs);
  const again = time(evalArgs);
  const startup = time(["--version"]);
  const calls = (JSON.parse(again.out) as { answers: { model_calls: number } }).answers.model_calls;
  console.log(
    `rerun of \`civitas eval ... --limit ${CLI_LIMIT}\`: ${again.seconds.toFixed(2)} s with ${calls} model calls ` +
      `(first run ${first.seconds.toFixed(2)} s; \`civitas --version\` process start-up ${startup.seconds.toFixed(2)} s)`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
