/**
 * bench/variants: what does evaluating a question's shared prefix once save?
 *
 * The first N OpinionQA questions, each in 8 presentations (option order survey / reversed /
 * two seeded shuffles x letters / numbers), go through the llama backend twice, side by side in
 * one process, question by question:
 *   (a) naive: every prompt evaluated whole from a cleared sequence (no `prefix`);
 *   (b) prefixed: the same prompts with `prefix` = the text before the first option line
 *       ("Question: ...\n"), the 8 prompts of a question one after the other, so the prefix is
 *       evaluated once per question and only the options block and "Answer:" per prompt.
 * It prints the tokens llama.cpp evaluated and the seconds per variant-question of each, the
 * ratios b / a (target: tokens <= 0.6, time falling with them), and checks that both give the
 * same label masses.
 *
 * Time falls less than tokens on stories260K: a model this small (64 dimensions) spends most of
 * its time in attention, so a token costs more the more tokens precede it, and the options block
 * (positions ~90-150) costs more per token than the prefix it follows (measured: 89 prefix tokens
 * 12.8 ms, the 60 tokens after them 18.6 ms, all 149 at once 31.4 ms; 1 thread). With real models
 * the per-token matrix products dominate at these lengths and time follows tokens more closely.
 *
 *   npx tsx bench/variants.ts                   # 60 questions x 8 variants, 1 round
 *   npx tsx bench/variants.ts --questions 200 --rounds 3
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { LlamaClient, llamaSpec } from "../src/models/llama.js";
import type { OptionQuery } from "../src/models/types.js";
import { loadOpinionQA, parseVariant, renderPrompt } from "../src/surveys/index.js";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const SHARED = path.resolve(REPO, "../shared");
const MODEL = path.join(SHARED, "models/stories260K.gguf");
const DATA = path.join(SHARED, "data/opinionqa");

const { values: flags } = parseArgs({
  options: { questions: { type: "string", default: "60" }, rounds: { type: "string", default: "1" } },
});
const N = Number(flags.questions);
const ROUNDS = Number(flags.rounds);
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

const client = (await (await llamaSpec(MODEL, { threads: 1, parallel: 1 })).open()) as LlamaClient;

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
}
const naive: Tally = { tokens: 0, ms: 0 };
const prefixed: Tally = { tokens: 0, ms: 0 };
let maxRelDiff = 0;

async function run(queries: readonly OptionQuery[], tally: Tally): Promise<(readonly number[])[]> {
  const out: (readonly number[])[] = [];
  const tokens0 = client.evaluatedTokens;
  const t0 = performance.now();
  for (const q of queries) out.push((await client.optionProbabilities(q)).labelMass);
  tally.ms += performance.now() - t0;
  tally.tokens += client.evaluatedTokens - tokens0;
  return out;
}

// Warm-up (first evaluations are slower), not counted.
for (const q of questions[0]!) await client.optionProbabilities(q);

for (let round = 0; round < ROUNDS; round++) {
  for (const [i, prompts] of questions.entries()) {
    // Alternate which goes first, so that neither always follows the other.
    const plain = prompts.map(({ prompt, labels }) => ({ prompt, labels }));
    const order = (round + i) % 2 === 0 ? (["a", "b"] as const) : (["b", "a"] as const);
    const masses: Record<"a" | "b", (readonly number[])[]> = { a: [], b: [] };
    for (const which of order) masses[which] = which === "a" ? await run(plain, naive) : await run(prompts, prefixed);
    masses.a.forEach((m, k) =>
      m.forEach((x, j) => {
        const y = masses.b[k]![j]!;
        if (x !== y) maxRelDiff = Math.max(maxRelDiff, Math.abs(x - y) / Math.max(Math.abs(x), Math.abs(y)));
      }),
    );
  }
}
await client.close();

const per = (t: Tally) => ({ tokens: t.tokens / (prompts * ROUNDS), ms: t.ms / (prompts * ROUNDS) });
const a = per(naive);
const b = per(prefixed);
const fmt = (x: number, d = 1) => x.toFixed(d);
console.log(`bench/variants: ${N} OpinionQA questions x ${VARIANTS.length} variants = ${prompts} prompts, ${ROUNDS} round(s), stories260K, 1 thread, 1 sequence`);
console.log(
  `prompt: ${fmt(wholeTokens / prompts)} tokens on average, of which the shared prefix ${fmt(prefixTokens / prompts)} ` +
    `(${fmt((100 * prefixTokens) / wholeTokens, 0)}%) and the options block + "Answer:" ${fmt((wholeTokens - prefixTokens) / prompts)}`,
);
console.log(`                       tokens evaluated   ms per variant-question`);
console.log(`(a) naive (no prefix)  ${fmt(a.tokens).padStart(16)}   ${fmt(a.ms, 3).padStart(23)}`);
console.log(`(b) shared prefix      ${fmt(b.tokens).padStart(16)}   ${fmt(b.ms, 3).padStart(23)}`);
console.log(`ratio b / a            ${fmt(b.tokens / a.tokens, 3).padStart(16)}   ${fmt(b.ms / a.ms, 3).padStart(23)}   (target: tokens <= 0.6)`);
console.log(
  `expected token ratio if only the prefix is saved: (prefix + ${VARIANTS.length} x rest) / (${VARIANTS.length} x whole) = ` +
    fmt((prefixTokens / VARIANTS.length + (wholeTokens - prefixTokens)) / wholeTokens, 3),
);
console.log(`label masses, (a) vs (b): ${maxRelDiff === 0 ? "bit-identical" : `max relative difference ${maxRelDiff.toExponential(2)}`}`);
