/**
 * bench/variants: what does evaluating a question's shared prefix once save?
 *
 * The first N OpinionQA questions, each in 8 presentations (option order survey / reversed /
 * two seeded shuffles x letters / numbers), go through the llama backend twice, side by side in
 * one process, question by question:
 *   (a) naive: every prompt evaluated whole from a cleared sequence (no `prefix`), with the llama
 *       settings of a run whose prompts share no prefix (node-llama-cpp's defaults);
 *   (b) prefixed, as civitas asks a run with variants: the same prompts with `prefix` = the text
 *       before the first option line ("Question: ...\n"), the 8 prompts of a question one after
 *       the other, so the prefix is evaluated once per question and only the options block and
 *       "Answer:" per prompt, with the llama settings for shared prefixes (ModelSpec.forSharedPrefixes:
 *       flash attention off);
 * and (c), for reference, the naive way as a bare node-llama-cpp loop with the same (default)
 * context settings. (b) and (a) may differ in the last digits where llama.cpp's kernels depend
 * on the batch shape (docs/design.md, Reproducibility): it prints by how much.
 * The order of (a), (b), (c) rotates from question to question. It prints the tokens llama.cpp
 * evaluated, the wall-clock and CPU milliseconds per variant-question of each, the ratios b / a
 * (target: tokens <= 0.6, time below 1) and b / c, and how far the label masses of (b) and (c)
 * are from those of (a).
 *
 *   npx tsx bench/variants.ts                   # 60 questions x 8 variants, 2 rounds
 *   npx tsx bench/variants.ts --short           # 20 questions x 8 variants, 1 round (under a minute)
 *   npx tsx bench/variants.ts --questions 200 --rounds 3
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { getLlama, LlamaLogLevel, type Token } from "node-llama-cpp";
import { labelMassFromTokens } from "../src/models/extract.js";
import { LlamaClient, llamaSpec } from "../src/models/index.js";
import type { OptionQuery } from "../src/models/types.js";
import { loadOpinionQA, parseVariant, renderPrompt } from "../src/surveys/index.js";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const SHARED = path.resolve(REPO, "../shared");
const MODEL = path.join(SHARED, "models/stories260K.gguf");
const DATA = path.join(SHARED, "data/opinionqa");

const { values: flags } = parseArgs({
  options: { questions: { type: "string" }, rounds: { type: "string" }, short: { type: "boolean", default: false } },
});
const N = Number(flags.questions ?? (flags.short ? 20 : 60));
const ROUNDS = Number(flags.rounds ?? (flags.short ? 1 : 2));
if (!Number.isInteger(N) || N < 1) throw new Error(`--questions must be a whole number >= 1, got ${flags.questions}`);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new Error(`--rounds must be a whole number >= 1, got ${flags.rounds}`);

const VARIANTS = [
  "standard",
  "order=reversed",
  "labels=numbers",
  "order=reversed,labels=numbers",
  "order=shuffle1",
  "order=shuffle2",
  "labels=numbers,order=shuffle1",
  "labels=numbers,order=shuffle2",
].map((v) => parseVariant(v));

/** The text before the first option line: the line that starts with the first label and ". ". */
function prefixOf(text: string, firstLabel: string): string {
  const line = `${firstLabel}. `;
  if (text.startsWith(line)) return "";
  const at = text.indexOf(`\n${line}`);
  if (at < 0) throw new Error(`no option line "${line}..." in the prompt:\n${text}`);
  return text.slice(0, at + 1);
}

const suite = await loadOpinionQA({ data: DATA });
if (N > suite.questions.length) throw new Error(`OpinionQA has ${suite.questions.length} questions`);
/** Per question, its 8 prompts, with their prefix. */
const questions: OptionQuery[][] = suite.questions.slice(0, N).map((q) =>
  VARIANTS.map((v) => {
    const r = renderPrompt(q, v);
    return { prompt: r.text, labels: r.labels, prefix: prefixOf(r.text, r.labels[0]!) };
  }),
);

const spec = await llamaSpec(MODEL, { threads: 1, parallel: 1 });
const client = (await spec.open()) as LlamaClient;
const sharing = (await (spec.forSharedPrefixes?.() ?? spec).open()) as LlamaClient;

// Where the tokens of a prompt are: the shared prefix vs the options block and "Answer:".
let prefixTokens = 0;
let wholeTokens = 0;
for (const prompts of questions) {
  for (const p of prompts) {
    prefixTokens += client.tokenize(p.prefix!).length;
    wholeTokens += client.tokenize(p.prompt).length;
  }
}
const prompts = N * VARIANTS.length;

interface Tally {
  tokens: number;
  ms: number;
  cpu: number;
}
const tally = (): Tally => ({ tokens: 0, ms: 0, cpu: 0 });
const naive = tally();
const prefixed = tally();
const defaults = tally();
const maxRelDiff = { b: 0, c: 0 };

type Masses = (readonly number[])[];

async function timed(t: Tally, f: () => Promise<Masses>): Promise<Masses> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const out = await f();
  t.ms += performance.now() - t0;
  const c = process.cpuUsage(c0);
  t.cpu += (c.user + c.system) / 1000;
  return out;
}

async function run(c: LlamaClient, queries: readonly OptionQuery[], t: Tally): Promise<Masses> {
  const tokens0 = c.evaluatedTokens;
  const out = await timed(t, async () => {
    const m: Masses = [];
    for (const q of queries) m.push((await c.optionProbabilities(q)).labelMass);
    return m;
  });
  t.tokens += c.evaluatedTokens - tokens0;
  return out;
}

// (c): node-llama-cpp with its default context settings, as one would write it.
const llama = await getLlama({ build: "never", gpu: false, logLevel: LlamaLogLevel.error });
const bareModel = await llama.loadModel({ modelPath: MODEL });
const bareContext = await bareModel.createContext({ contextSize: 2048, sequences: 1, threads: 1 });
const bareSeq = bareContext.getSequence();
async function runBare(queries: readonly OptionQuery[], t: Tally): Promise<Masses> {
  const probs: Map<Token, number>[] = [];
  await timed(t, async () => {
    for (const q of queries) {
      const tokens: Token[] = [bareModel.tokens.bos!, ...bareModel.tokenize(q.prompt)];
      await bareSeq.clearHistory();
      const last = tokens.length - 1;
      const out = await bareSeq.controlledEvaluate(tokens.map((x, i) => (i === last ? ([x, { generateNext: { probabilities: true } }] as const) : x)) as Parameters<typeof bareSeq.controlledEvaluate>[0]);
      probs.push(out[last]!.next.probabilities!);
      t.tokens += tokens.length;
    }
    return [];
  });
  // Label masses as civitas computes them (all forms of each label), outside the timing.
  return probs.map((p, k) => labelMassFromTokens([...p].map(([token, prob]) => ({ token: bareModel.detokenize([token]), prob })), queries[k]!.labels).labelMass);
}

// Warm-up (first evaluations are slower), not counted.
for (const q of questions[0]!) {
  await client.optionProbabilities(q);
  await sharing.optionProbabilities(q);
  await runBare([q], tally());
}

const relDiff = (x: Masses, y: Masses) => {
  let d = 0;
  x.forEach((m, k) => m.forEach((v, j) => (d = v === y[k]![j]! ? d : Math.max(d, Math.abs(v - y[k]![j]!) / Math.max(Math.abs(v), Math.abs(y[k]![j]!))))));
  return d;
};

for (let round = 0; round < ROUNDS; round++) {
  for (const [i, prompts] of questions.entries()) {
    const plain = prompts.map(({ prompt, labels }) => ({ prompt, labels }));
    // Rotate which goes first, so that none always follows another.
    const order = (["a", "b", "c"] as const).map((_, j, all) => all[(j + i + round) % all.length]!);
    const masses: Partial<Record<"a" | "b" | "c", Masses>> = {};
    for (const which of order) masses[which] = which === "a" ? await run(client, plain, naive) : which === "b" ? await run(sharing, prompts, prefixed) : await runBare(plain, defaults);
    maxRelDiff.b = Math.max(maxRelDiff.b, relDiff(masses.a!, masses.b!));
    maxRelDiff.c = Math.max(maxRelDiff.c, relDiff(masses.a!, masses.c!));
  }
}
await client.close();
await sharing.close();
await bareContext.dispose();
await bareModel.dispose();

const per = (t: Tally) => ({ tokens: t.tokens / (prompts * ROUNDS), ms: t.ms / (prompts * ROUNDS), cpu: t.cpu / (prompts * ROUNDS) });
const a = per(naive);
const b = per(prefixed);
const c = per(defaults);
const fmt = (x: number, d = 1) => x.toFixed(d);
const line = (name: string, x: { tokens: number; ms: number; cpu: number }, d = 1) =>
  `${name.padEnd(44)}${fmt(x.tokens, d).padStart(8)}${fmt(x.ms, d === 1 ? 2 : 3).padStart(12)}${fmt(x.cpu, d === 1 ? 2 : 3).padStart(12)}`;
const ratio = (x: typeof a, y: typeof a) => ({ tokens: x.tokens / y.tokens, ms: x.ms / y.ms, cpu: x.cpu / y.cpu });
const diff = (d: number) => (d === 0 ? "bit-identical" : `max relative difference ${d.toExponential(2)}`);
console.log(`bench/variants${flags.short ? " --short" : ""}: ${N} OpinionQA questions x ${VARIANTS.length} variants = ${prompts} prompts, ${ROUNDS} round(s), stories260K, 1 thread, 1 sequence`);
console.log(
  `prompt: ${fmt(wholeTokens / prompts)} tokens on average, of which the shared prefix ${fmt(prefixTokens / prompts)} ` +
    `(${fmt((100 * prefixTokens) / wholeTokens, 0)}%) and the options block + "Answer:" ${fmt((wholeTokens - prefixTokens) / prompts)}`,
);
console.log(`${"per variant-question".padEnd(44)}${"tokens".padStart(8)}${"ms".padStart(12)}${"CPU ms".padStart(12)}`);
console.log(line("(a) naive (no prefix)", a));
console.log(line("(b) shared prefix", b));
console.log(line("(c) naive, node-llama-cpp defaults", c));
console.log(`${line("ratio b / a", ratio(b, a), 3)}   (target: tokens <= 0.6, time < 1)`);
console.log(line("ratio b / c", ratio(b, c), 3));
console.log(
  `expected token ratio if only the prefix is saved: (prefix + ${VARIANTS.length} x rest) / (${VARIANTS.length} x whole) = ` +
    fmt((prefixTokens / VARIANTS.length + (wholeTokens - prefixTokens)) / wholeTokens, 3),
);
console.log(`label masses, (b) vs (a): ${diff(maxRelDiff.b)}; (c) vs (a): ${diff(maxRelDiff.c)}`);
