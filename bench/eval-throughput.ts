/**
 * bench/eval-throughput: how much does civitas cost on top of the model?
 *
 * The same OpinionQA prompts go through
 *   (a) a bare loop of node-llama-cpp evaluations (tokenize, clear, evaluate, read probabilities), and
 *   (b) civitas's engine end to end (plan, cache lookup, llama backend, label extraction, DuckDB
 *       writes, scoring),
 * side by side in one process, in alternating rounds. It prints prompts per second of each once
 * started, their start-up times separately, and the ratio b / a (target: >= 0.9).
 *
 * Then a second figure: `civitas eval` rerun as a command answers entirely from the store; it
 * reports 0 model calls and takes about as long as process start-up plus reading the store.
 *
 *   npm run bench                      # 1000 prompts, 2 rounds
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
import { loadOpinionQA, parseVariant, renderPrompt, resolvePopulations, STANDARD_VARIANT, type Question } from "../src/surveys/index.js";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const SHARED = path.resolve(REPO, "../shared");
const MODEL = path.join(SHARED, "models/stories260K.gguf");
const DATA = path.join(SHARED, "data/opinionqa");

const { values: flags } = parseArgs({
  options: { prompts: { type: "string", default: "1000" }, rounds: { type: "string", default: "2" } },
});
const N = Number(flags.prompts);
const ROUNDS = Number(flags.rounds);

const suite = await loadOpinionQA({ data: DATA });
// OpinionQA has 684 questions: two presentations of each (survey and reversed option order)
// give enough distinct prompts.
const variants = [STANDARD_VARIANT, parseVariant("order=reversed")];
const nq = Math.ceil(N / variants.length);
if (nq > suite.questions.length) throw new Error(`at most ${suite.questions.length * variants.length} prompts`);
const questions: Question[] = suite.questions.slice(0, nq);
const prompts = questions.flatMap((q) => variants.map((v) => renderPrompt(q, v).text)).slice(0, N);

interface Measure {
  startup: number;
  rate: number;
  seconds: number;
}

async function bare(): Promise<Measure> {
  const t0 = performance.now();
  const llama = await getLlama({ build: "never", gpu: false, logLevel: LlamaLogLevel.error });
  const model = await llama.loadModel({ modelPath: MODEL });
  const ctx = await model.createContext({ contextSize: 2048, sequences: 1, threads: 1 });
  const seq = ctx.getSequence();
  const t1 = performance.now();
  let sink = 0;
  for (const p of prompts) {
    const tokens: Token[] = [model.tokens.bos!, ...model.tokenize(p)];
    await seq.clearHistory();
    const last = tokens.length - 1;
    const out = await seq.controlledEvaluate(tokens.map((t, i) => (i === last ? ([t, { generateNext: { probabilities: true } }] as const) : t)) as Parameters<typeof seq.controlledEvaluate>[0]);
    sink += out[last]?.next.probabilities?.size ?? 0;
  }
  const t2 = performance.now();
  if (sink === 0) throw new Error("no probabilities");
  await ctx.dispose();
  await model.dispose();
  return { startup: (t1 - t0) / 1000, rate: prompts.length / ((t2 - t1) / 1000), seconds: (t2 - t0) / 1000 };
}

async function civitas(dir: string, round: number): Promise<Measure & { scoring: number }> {
  const t0 = performance.now();
  const store = await Store.open(path.join(dir, `bench-${round}.duckdb`));
  let ready = 0;
  let lastAnswer = 0;
  await runEval(
    store,
    {
      suite,
      questions,
      populations: resolvePopulations(suite, ["POLPARTY", "SEX"]),
      model: await llamaSpec(MODEL, { threads: 1, parallel: 1, gpu: false }),
      variants,
      metric: "wasserstein",
      minCoverage: 0,
      seed: 0,
      resamples: 1000,
      command: "bench",
    },
    {
      onModelReady: () => (ready = performance.now()),
      onProgress: () => (lastAnswer = performance.now()),
    },
  );
  const t3 = performance.now();
  await store.close();
  // The engine plans question x variant; with an odd N it asks one prompt more than the bare loop.
  const asked = questions.length * variants.length;
  return { startup: (ready - t0) / 1000, rate: asked / ((lastAnswer - ready) / 1000), seconds: (t3 - t0) / 1000, scoring: (t3 - lastAnswer) / 1000 };
}

const dir = mkdtempSync(path.join(os.tmpdir(), "civitas-bench-"));
try {
  console.log(`eval-throughput: ${prompts.length} OpinionQA prompts, stories260K, 1 thread, ${os.availableParallelism()} cores, ${ROUNDS} round(s)`);
  const ratios: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const a = await bare();
    const b = await civitas(dir, r);
    ratios.push(b.rate / a.rate);
    console.log(
      `round ${r + 1}: bare loop ${a.rate.toFixed(1)} prompts/s (start-up ${a.startup.toFixed(2)} s) | ` +
        `civitas ${b.rate.toFixed(1)} prompts/s (start-up ${b.startup.toFixed(2)} s, scoring ${b.scoring.toFixed(2)} s) | ratio ${(b.rate / a.rate).toFixed(3)}`,
    );
  }
  const mean = ratios.reduce((s, x) => s + x, 0) / ratios.length;
  console.log(`civitas / bare loop, prompts per second once started: ${mean.toFixed(3)} (target >= 0.9)`);

  // Second figure: the same command again, as a user runs it.
  const cli = [path.join(REPO, "dist/cli/main.js")];
  const evalArgs = ["eval", "opinionqa", "--model", `llama:${MODEL}`, "--data", DATA, "--populations", "POLPARTY,SEX", "--limit", "300", "--store", path.join(dir, "cli.duckdb"), "--json", "--progress", "none"];
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
    `rerun of \`civitas eval ... --limit 300\`: ${again.seconds.toFixed(2)} s with ${calls} model calls ` +
      `(first run ${first.seconds.toFixed(2)} s; \`civitas --version\` process start-up ${startup.seconds.toFixed(2)} s)`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
