/**
 * The realign steering method (Decoding-time Realignment, src/steer/methods.ts REALIGN) on the
 * real stories260K model, threads 1: against a second copy of the file as the reference model and
 * against the model with a tiny LoRA adapter written here (test/helpers/gguf.ts). Its answers at
 * l = 1 and l = 0 are each side's own answers, at a mid l the hand formula over the vocabulary; one
 * evaluation per question serves every l of the grid, and tuning asks only dev questions.
 *
 * Tolerances (as test/steer/decode.test.ts justifies them):
 * - CLIENT_TOLERANCE = 1e-2 relative: realign's answers against LlamaClient.optionProbabilities,
 *   which evaluates the prompt in its own context and batches: llama.cpp promises no equality
 *   across batch shapes; test/models/llama.test.ts measured up to 2.6e-3 between batch shapes and
 *   its BATCH_TOLERANCE is 1e-2. Label masses are sums of token probabilities (the same relative
 *   error) and renormalising at most doubles it, which the margin covers (measured: ~1e-6).
 * - SAME_BATCHES = 1e-6 relative: the hand formula is computed from distributions read through
 *   contexts made as the decoder makes them (LlamaClient.createContext, one sequence, the whole
 *   prompt in one batch), so llama.cpp's numbers are the same; what is left is float64 arithmetic
 *   (pow against log/exp, sums over 512 tokens: about 1e-13), far below 1e-6.
 * Each test also checks that the two sides differ by far more than the tolerance, so that it can fail.
 */
import assert from "node:assert/strict";
import { copyFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import type { Token } from "node-llama-cpp";
import { labelOfToken, llamaSpec, openaiSpec, type LlamaClient, type ModelSpec } from "../../src/models/index.js";
import { resolveConventions } from "../../src/runs/index.js";
import { REALIGN, REALIGN_GRID, splitQuestions, tuneMethod, type AskedPrompt, type SteerContext } from "../../src/steer/index.js";
import type { Population, Question } from "../../src/surveys/index.js";
import { writeLoraGguf } from "../helpers/gguf.js";
import { MODEL, tempDir } from "../helpers/paths.js";
import { pop, question, suiteOf } from "./synthetic.js";

const PINNED = { threads: 1, flashAttention: false } as const;
const CLIENT_TOLERANCE = 1e-2;
const SAME_BATCHES = 1e-6;
const FLOOR = 2 ** -149;

const A = pop("a");
const LABELS = ["A", "B", "C"];
const questions: Question[] = Array.from({ length: 10 }, (_, i) => ({
  ...question(`q${i}`, 3, `W${i % 2}`),
  text: ["Is the sky blue", "Do cats like rain", "Is the park big", "Was the girl happy", "Did Tom run"][i % 5]! + ` today (${i})?`,
}));
const split = splitQuestions(questions, "stratified", 0);

/**
 * The prompt of a question under variant v for a target (null: none): variant 0 shows the options
 * in survey order, variant 1 reversed (so order = [2, 1, 0] and an answer maps back reversed).
 */
function promptOf(calls: string[]) {
  return (q: Question, v: number, target: Population | null): AskedPrompt => {
    calls.push(q.id);
    const order = v === 0 ? [0, 1, 2] : [2, 1, 0];
    const persona = target ? "Once upon a time there was a grumpy old cat. " : "";
    const text = `${persona}Question: ${q.text}\n${order.map((i, k) => `${LABELS[k]}. ${q.options[i]}`).join("\n")}\nAnswer:`;
    return { text, system: null, labels: LABELS, order };
  };
}

function ctxOf(model: ModelSpec, realign: SteerContext["realign"], calls: string[], grid?: number[]): SteerContext {
  const humans = Object.fromEntries(questions.map((q, i) => [q.id, { [A.id]: [0.2 + 0.05 * (i % 3), 0.3, 0.5 - 0.05 * (i % 3)] }]));
  return {
    suite: suiteOf(questions, [A], humans).suite,
    conventions: { refusals: "drop" },
    targets: [A],
    variants: ["standard", "reversed"],
    train: split.train,
    answers: { plain: () => undefined, persona: () => undefined },
    personas: new Map(),
    ask: () => Promise.reject(new Error("realign asks through its decoder")),
    grids: grid ? { realign: grid } : {},
    ...(realign ? { realign } : {}),
    model,
    prompt: promptOf(calls),
  };
}

const renorm = (m: readonly number[]): number[] => {
  const z = m.reduce((x, y) => x + y, 0);
  return m.map((x) => x / z);
};
/** Survey order by hand: variant 0 as shown, variant 1 reversed. */
const bySurvey = (shown: number[], v: number): number[] => (v === 0 ? shown : [...shown].reverse());

/** A client's own answer to the prompt (its optionProbabilities), renormalised, in survey order. */
async function clientAnswer(client: LlamaClient, q: Question, v: number): Promise<number[]> {
  const p = promptOf([])(q, v, A);
  return bySurvey(renorm([...(await client.optionProbabilities({ prompt: p.text, labels: LABELS })).labelMass]), v);
}

function assertClose(got: readonly number[], want: readonly number[], rel: number, what: string): void {
  assert.equal(got.length, want.length, what);
  got.forEach((x, i) => assert.ok(Math.abs(x - want[i]!) <= rel * Math.max(Math.abs(want[i]!), 1e-6), `${what}: option ${i}: ${x} vs ${want[i]} (${rel} relative)`));
}

const maxDiff = (x: readonly number[], y: readonly number[]): number => Math.max(...x.map((v, i) => Math.abs(v - y[i]!)));

/** The full next-token distribution after a prompt, in a context made as the decoder makes its (one sequence, whole prompt in one batch). */
async function fullDistribution(client: LlamaClient, prompt: string, lora: { path: string } | null): Promise<Map<Token, number>> {
  const context = await client.createContext(1, lora);
  try {
    const seq = context.getSequence();
    const tokens = client.tokenize(prompt);
    const last = tokens.length - 1;
    const out = await seq.controlledEvaluate(tokens.map((t, i) => (i === last ? [t, { generateNext: { probabilities: true } }] : t)));
    return out[last]!.next.probabilities!;
  } finally {
    await context.dispose();
  }
}

/** q ∝ pA^l pB^(1-l) over the vocabulary, summed over each label's token forms, renormalised: written out from the formula. */
function handRealign(client: LlamaClient, pA: Map<Token, number>, pB: Map<Token, number>, l: number): number[] {
  const model = client.llamaModel;
  const q: number[] = [];
  let size = 0;
  for (const _ of model.iterateAllTokens()) size++;
  for (let t = 0; t < size; t++) q.push(Math.pow(Math.max(pA.get(t as Token) ?? 0, FLOOR), l) * Math.pow(Math.max(pB.get(t as Token) ?? 0, FLOOR), 1 - l));
  const z = q.reduce((x, y) => x + y, 0);
  const mass = LABELS.map(() => 0);
  for (let t = 0; t < size; t++) {
    if (model.isSpecialToken(t as Token)) continue;
    const text = model.detokenize([t as Token]);
    if (text.length === 0 || text.length > 6) continue;
    const k = labelOfToken(text.toLowerCase(), LABELS);
    if (k >= 0) mass[k]! += q[t]! / z;
  }
  return renorm(mass);
}

/** A rank-2 adapter on the output projection of stories260K (dims [64, 512]), strong enough to move the answers. */
function writeAdapter(file: string): void {
  const r = 2;
  writeLoraGguf(file, "llama", r, [
    { name: "output.weight.lora_a", dims: [64, r], data: Float32Array.from({ length: 64 * r }, (_, i) => Math.sin(i) * 0.5) },
    { name: "output.weight.lora_b", dims: [r, 512], data: Float32Array.from({ length: r * 512 }, (_, i) => Math.cos(i * 1.7) * 2) },
  ]);
}

describe("realign (Decoding-time Realignment) as a steering method, on stories260K", () => {
  it("with a LoRA adapter: l = 1 is the adapted model's answers, l = 0 the base model's, l = 0.5 the hand formula; survey order restored", async () => {
    const lora = path.join(tempDir(), "adapter.gguf");
    writeAdapter(lora);
    const spec = await llamaSpec(MODEL, PINNED);
    const steerer = await REALIGN.fit(ctxOf(spec, { lora: { path: lora } }, []));
    const base = (await spec.open()) as LlamaClient;
    const tuned = (await (await llamaSpec(MODEL, { ...PINNED, lora: { path: lora } })).open()) as LlamaClient;
    try {
      const qs = questions.slice(0, 3);
      const [at1, at0, atHalf] = [await steerer.steer(1, A, qs), await steerer.steer(0, A, qs), await steerer.steer(0.5, A, qs)];
      let apart = 0;
      for (const q of qs) {
        for (const v of [0, 1]) {
          const wantTuned = await clientAnswer(tuned, q, v);
          const wantBase = await clientAnswer(base, q, v);
          apart = Math.max(apart, maxDiff(wantTuned, wantBase));
          assertClose(at1(q)[v]!.dist, wantTuned, CLIENT_TOLERANCE, `${q.id} v${v} l=1`);
          assertClose(at0(q)[v]!.dist, wantBase, CLIENT_TOLERANCE, `${q.id} v${v} l=0`);
          const text = promptOf([])(q, v, A).text;
          const hand = bySurvey(handRealign(base, await fullDistribution(base, text, { path: lora }), await fullDistribution(base, text, null), 0.5), v);
          assertClose(atHalf(q)[v]!.dist, hand, SAME_BATCHES, `${q.id} v${v} l=0.5`);
          // One evaluation of both sides serves every l: the same tokens, both prompts counted.
          const tokens = at1(q)[v]!.tokens;
          assert.equal(at0(q)[v]!.tokens, tokens);
          assert.equal(tokens, 2 * base.tokenize(text).length);
        }
      }
      // The adapter moves the answers by far more than the tolerance (else the test could not fail).
      assert.ok(apart > 0.05, `the two sides differ by only ${apart}`);
    } finally {
      await steerer.close!();
      await tuned.close();
      await base.close();
    }
  });

  it("against a reference model (a second copy of the file): each side's answers at l = 1 and l = 0, a distinct identity", async () => {
    const copy = path.join(tempDir(), "reference.gguf");
    copyFileSync(MODEL, copy);
    const spec = await llamaSpec(MODEL, PINNED);
    const refSpec = await llamaSpec(copy, PINNED);
    assert.notEqual(refSpec.identity, spec.identity);
    const steerer = await REALIGN.fit(ctxOf(spec, { refModel: refSpec }, []));
    const client = (await spec.open()) as LlamaClient;
    try {
      const q = questions[0]!;
      const [at1, at0, at2] = [await steerer.steer(1, A, [q]), await steerer.steer(0, A, [q]), await steerer.steer(2, A, [q])];
      for (const v of [0, 1]) {
        const want = await clientAnswer(client, q, v);
        // The same weights in both files: every l gives the model's own persona answer.
        for (const [l, got] of [[1, at1], [0, at0], [2, at2]] as const) assertClose(got(q)[v]!.dist, want, CLIENT_TOLERANCE, `l=${l} v${v}`);
      }
    } finally {
      await steerer.close!();
      await client.close();
    }
  });

  it("tuning asks only dev questions, once each whatever the grid; the test questions once more at the chosen l", async () => {
    const calls: string[] = [];
    const ctx = ctxOf(await llamaSpec(MODEL, PINNED), { lora: { path: path.join(tempDir(), "a.gguf") } }, calls);
    writeAdapter((ctx.realign!.lora!).path);
    const steerer = await REALIGN.fit(ctx);
    try {
      assert.deepEqual(steerer.grid, REALIGN_GRID);
      const tuned = await tuneMethod(steerer, { suite: ctx.suite, conventions: resolveConventions(ctx.suite), seed: 0, targets: [A], dev: split.dev });
      const dev = new Set(split.dev.map((q) => q.id));
      assert.ok(calls.every((id) => dev.has(id)), `tuning asked ${calls.filter((id) => !dev.has(id)).join(", ")}`);
      // One prompt per dev question and variant, for five values of l.
      assert.equal(calls.length, split.dev.length * 2);
      assert.equal(tuned.dev.length, REALIGN_GRID.length);
      assert.ok(REALIGN_GRID.includes(tuned.value!));
      calls.length = 0;
      await steerer.steer(tuned.value, A, split.test);
      assert.deepEqual(calls.sort(), split.test.flatMap((q) => [q.id, q.id]).sort());
    } finally {
      await steerer.close!();
    }
  });

  it("refuses without exactly one of --ref-model and --lora, and any backend but llama, before opening anything", async () => {
    const spec = await llamaSpec(MODEL, PINNED);
    const remote = openaiSpec("vllm", "some-model", { baseURL: "http://127.0.0.1:9/v1", retries: 0, env: {} });
    await assert.rejects(REALIGN.fit(ctxOf(spec, undefined, [])), /exactly one of a reference model \(--ref-model\) and a LoRA adapter \(--lora\)/);
    await assert.rejects(REALIGN.fit(ctxOf(spec, { refModel: spec, lora: { path: MODEL } }, [])), /exactly one/);
    await assert.rejects(REALIGN.fit(ctxOf(remote, { lora: { path: MODEL } }, [])), /the model \(.*\) runs on the openai backend/);
    await assert.rejects(REALIGN.fit(ctxOf(spec, { refModel: remote }, [])), /--ref-model \(.*\) runs on the openai backend/);
  });
});
