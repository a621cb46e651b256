/**
 * bench/steer: what decoding-time steering costs on the in-process backend (src/steer/decode.ts).
 *
 * On stories260K, 1 thread (civitas's default on a 2-core machine), the same OpinionQA prompts are
 * completed (temperature 1, up to --tokens tokens, one completion each, fixed seeds) by
 *   (p) plain decoding: LlamaClient.complete on the persona prompt (llama.cpp's sampler, one
 *       sequence), as the `sample` method runs it;
 *   (l) Linear Alignment: the two-sequence loop, persona prompt against the plain prompt, a = 0.5
 *       (two sequences of one context: each step's two tokens in one batch);
 *   (r) Decoding-time Realignment between two models (a second LlamaClient on the same file: one
 *       context each, two evaluations per step), l = 0.5;
 * side by side in one process, in alternating rounds (the order rotates from round to round). The
 * unit is the decoding step: one next-token distribution per sequence, giving one token (or the
 * end of generation). Steps are counted exactly: from node-llama-cpp's token meters for plain
 * decoding (the tokens evaluated less the prompt's), from the decoder's own count for the others.
 * It prints steps per second and the CPU time of the process per step, then the cost of each
 * method as plain steps per second / its steps per second, and its CPU time per step / plain's
 * (which matters on a machine whose other cores are busy), each the mean over rounds with the
 * lowest and highest round. Target for linear: at most 2.2 in steps per second.
 *
 * Then the model calls of steering methods: a tiny `civitas steer` (runSteer) on stories260K, 10
 * OpinionQA questions, one target (POLPARTY=Democrat), each method alone in a store of its own (no
 * cache). A method that post-processes stored answers (persona, linear, calibrate) makes exactly the
 * calls of the eval run it reads (each question unsteered, and with the persona where it uses
 * one): it adds none; fewshot (new prompts, k = 1) is shown for contrast.
 *
 *   npx tsx bench/steer.ts              # 60 prompts x 32 tokens, 3 rounds
 *   npx tsx bench/steer.ts --short      # 15 prompts x 24 tokens, 2 rounds
 *   npx tsx bench/steer.ts --prompts 100 --tokens 48 --rounds 2
 */
import path from "node:path";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { llamaSpec, type LlamaClient } from "../src/models/index.js";
import { linearWeight, openLinearDecoder, openRealignDecoder, realignWeight, type MixtureDecoder } from "../src/steer/decode.js";
import { mkdtempSync, rmSync } from "node:fs";
import { runSteer, steerMethods } from "../src/steer/index.js";
import { Store } from "../src/store/index.js";
import { loadOpinionQA, renderPrompt, resolvePopulations, STANDARD_VARIANT } from "../src/surveys/index.js";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const SHARED = path.resolve(REPO, "../shared");
const MODEL = path.join(SHARED, "models/stories260K.gguf");
const DATA = path.join(SHARED, "data/opinionqa");

const { values: flags } = parseArgs({
  options: {
    prompts: { type: "string" },
    tokens: { type: "string" },
    rounds: { type: "string" },
    short: { type: "boolean", default: false },
  },
});
const N = Number(flags.prompts ?? (flags.short ? 15 : 60));
const TOKENS = Number(flags.tokens ?? (flags.short ? 24 : 32));
const ROUNDS = Number(flags.rounds ?? (flags.short ? 2 : 3));
for (const [name, v] of [["--prompts", N], ["--tokens", TOKENS], ["--rounds", ROUNDS]] as const) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a whole number >= 1, got ${v}`);
}

const suite = await loadOpinionQA({ data: DATA });
const plainPrompts = suite.questions.slice(0, N).map((q) => renderPrompt(q, STANDARD_VARIANT).text);
if (plainPrompts.length < N) throw new Error(`at most ${plainPrompts.length} prompts`);
const PERSONA = "Answer the following question as a person who identifies as a Democrat would.\n\n";
const personaPrompts = plainPrompts.map((p) => PERSONA + p);

interface Measure {
  /** Decoding steps per second (wall clock). */
  rate: number;
  /** CPU time of the whole process per step, ms. */
  cpu: number;
  steps: number;
}

const cpuMs = (since: NodeJS.CpuUsage): number => {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1000;
};

async function timed(run: () => Promise<number>): Promise<Measure> {
  const c = process.cpuUsage();
  const t = performance.now();
  const steps = await run();
  const seconds = (performance.now() - t) / 1000;
  return { rate: steps / seconds, cpu: cpuMs(c) / steps, steps };
}

const open = async (): Promise<LlamaClient> => (await (await llamaSpec(MODEL, { threads: 1, parallel: 1, gpu: false })).open()) as LlamaClient;

/** (p): the persona prompts, plain decoding. Steps: tokens evaluated less the prompts' tokens but their last. */
function plain(client: LlamaClient, round: number): Promise<Measure> {
  return timed(async () => {
    let steps = 0;
    for (let i = 0; i < N; i++) {
      const before = client.evaluatedTokens;
      await client.complete({ prompt: personaPrompts[i]!, n: 1, temperature: 1, maxTokens: TOKENS, seed: round * 1000 + i });
      steps += client.evaluatedTokens - before - (client.tokenize(personaPrompts[i]!).length - 1);
    }
    return steps;
  });
}

/** (l) or (r): persona against plain prompt on a decoder. */
function mixture(decoder: MixtureDecoder, weight: number, round: number): Promise<Measure> {
  return timed(async () => {
    let steps = 0;
    for (let i = 0; i < N; i++) {
      const r = await decoder.complete({ prompt: personaPrompts[i]!, refPrompt: plainPrompts[i]!, weight, n: 1, temperature: 1, maxTokens: TOKENS, seed: round * 1000 + i });
      steps += r.steps;
    }
    return steps;
  });
}

const summary = (xs: readonly number[], digits = 2): string => {
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  return `${mean.toFixed(digits)} (rounds ${Math.min(...xs).toFixed(digits)}-${Math.max(...xs).toFixed(digits)})`;
};

console.log(
  `steer${flags.short ? " --short" : ""}: ${N} OpinionQA prompts (persona and plain), up to ${TOKENS} tokens each at temperature 1, ` +
    `stories260K, 1 thread, ${os.availableParallelism()} cores, ${ROUNDS} round(s)`,
);
const client = await open();
const second = await open();
const linear = await openLinearDecoder(client);
const realign = await openRealignDecoder(client, second);
try {
  // One untimed pass each: first-call costs (grammar-free sampler set-up, label tables) out of the rounds.
  await client.complete({ prompt: personaPrompts[0]!, n: 1, temperature: 1, maxTokens: 4, seed: 0 });
  await linear.complete({ prompt: personaPrompts[0]!, refPrompt: plainPrompts[0]!, weight: 1.5, n: 1, temperature: 1, maxTokens: 4, seed: 0 });
  await realign.complete({ prompt: personaPrompts[0]!, refPrompt: plainPrompts[0]!, weight: 0.5, n: 1, temperature: 1, maxTokens: 4, seed: 0 });
  const linearCost: number[] = [];
  const realignCost: number[] = [];
  const linearCpu: number[] = [];
  const realignCpu: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const m: Partial<Record<"p" | "l" | "r", Measure>> = {};
    const order = (["p", "l", "r"] as const).map((_, i, all) => all[(i + r) % all.length]!);
    for (const which of order) {
      m[which] = which === "p" ? await plain(client, r) : which === "l" ? await mixture(linear, linearWeight(0.5), r) : await mixture(realign, realignWeight(0.5), r);
    }
    const { p, l, r: re } = m as Required<typeof m>;
    linearCost.push(p.rate / l.rate);
    realignCost.push(p.rate / re.rate);
    linearCpu.push(l.cpu / p.cpu);
    realignCpu.push(re.cpu / p.cpu);
    const fmt = (x: Measure): string => `${x.rate.toFixed(0)} steps/s, ${x.cpu.toFixed(2)} ms CPU each (${x.steps} steps)`;
    console.log(`round ${r + 1}: (p) plain ${fmt(p)} | (l) linear ${fmt(l)} | (r) realign, two models ${fmt(re)}`);
  }
  console.log(`cost of linear alignment, plain / linear steps per second: ${summary(linearCost)} (target <= 2.2); CPU time per step, linear / plain: ${summary(linearCpu)}`);
  console.log(`cost of realignment between two models, plain / realign steps per second: ${summary(realignCost)}; CPU time per step, realign / plain: ${summary(realignCpu)}`);
} finally {
  await linear.close();
  await realign.close();
  await client.close();
  await second.close();
}

// ---- model calls of the steering methods (a tiny steer run per method)
{
  const QUESTIONS = 10;
  const spec = await llamaSpec(MODEL, { threads: 1, parallel: 1, gpu: false });
  const populations = resolvePopulations(suite, ["POLPARTY=Democrat"]);
  const dir = mkdtempSync(path.join(os.tmpdir(), "bench-steer-"));
  console.log(`model calls of each steering method alone: runSteer on ${QUESTIONS} OpinionQA questions, target POLPARTY=Democrat, stories260K, a fresh store each (no cache)`);
  try {
    for (const name of ["persona", "linear", "calibrate", "fewshot"]) {
      const method = steerMethods.get(name);
      const store = await Store.open(path.join(dir, `${name}.duckdb`));
      try {
        const r = await runSteer(store, {
          suite,
          model: spec,
          populations,
          methods: [method],
          split: "stratified",
          seed: 0,
          limit: QUESTIONS,
          minCoverage: 0,
          resamples: 20,
          grids: { fewshot: [1] },
          command: `bench/steer ${name}`,
        });
        // The eval run it reads: each question unsteered, and with the persona where the method uses one.
        const read = QUESTIONS * (method.usesPersona ? 2 : 1);
        console.log(`  ${name.padEnd(9)} ${String(r.answers.model_calls).padStart(4)} model calls = ${read} of the eval run it reads (${QUESTIONS} questions${method.usesPersona ? " x (unsteered, persona)" : ", unsteered"}) + ${r.answers.model_calls - read} of its own`);
      } finally {
        await store.close();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
