/**
 * Decoding-time steering (src/steer/decode.ts) on the real stories260K model, threads 1: Linear
 * Alignment's two-sequence loop and Decoding-time Realignment (two models; a model with and
 * without a LoRA adapter written here), against hand computations on distributions computed
 * separately, through node-llama-cpp directly.
 *
 * Tolerances. llama.cpp promises no equality across batch shapes (test/models/llama.test.ts measures
 * them): what is compared here is computed either in the same batches or in others.
 * - SAME_BATCHES = 1e-9 relative: the reference goes through the decoder's batches (its own
 *   contexts, the same tokens, the two sequences of linear alignment evaluated at the same time, so
 *   node-llama-cpp puts both in one batch as the decoder does): llama.cpp's numbers are then the
 *   same, and what is left is float64 arithmetic (pow against log and exp, 1e-15 relative).
 * - PLAIN_TOLERANCE = 1e-2 relative: the decoder against plain one-sequence decoding, whose steps
 *   are batches of one token where linear alignment's hold two (one per sequence); llama.test.ts
 *   measured up to 2.6e-3 between a one-row batch and others (another code path), and
 *   BATCH_TOLERANCE there is 1e-2 for the same reason. Measured here: up to 2.4e-4.
 * - SIDE_TOLERANCE = 1e-4 relative: whole prompts evaluated together on two sequences against each
 *   alone (batches of many tokens both); llama.test.ts measured up to 2e-6 for that, 50x less.
 * The combination q ∝ pA^w pB^(1-w) turns relative errors eA, eB into at most |w| eA + |1-w| eB,
 * and its normalisation doubles that: combined(w, e) = 2 (|w| + |1-w|) e. Only probabilities above
 * 1e-6 are compared (float32 softmax rounding, 1e-7 relative near 1, is far below every tolerance).
 */
import assert from "node:assert/strict";
import { copyFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { LlamaContext, LlamaContextSequence, Token } from "node-llama-cpp";
import { CivitasError } from "../../src/errors.js";
import { labelOfToken, llamaSpec, openaiSpec, type LlamaClient } from "../../src/models/index.js";
import {
  asLlamaClient,
  combineDistributions,
  combineMasses,
  linearComplete,
  linearOptionProbabilities,
  linearWeight,
  openLinearDecoder,
  openLoraRealignDecoder,
  openRealign,
  openRealignDecoder,
  PROBABILITY_FLOOR,
  realignWeight,
  sampleToken,
  steeredClient,
  type MixtureDecoder,
  type MixtureStep,
} from "../../src/steer/decode.js";
import { writeLoraGguf } from "../helpers/gguf.js";
import { MODEL, tempDir } from "../helpers/paths.js";

const PINNED = { threads: 1, flashAttention: false } as const;
const SAME_BATCHES = 1e-9;
const PLAIN_TOLERANCE = 1e-2;
const SIDE_TOLERANCE = 1e-4;
const combinedTolerance = (w: number, e = SIDE_TOLERANCE): number => 2 * (Math.abs(w) + Math.abs(1 - w)) * e;

const PERSONA = "Once upon a time, there was a grumpy old cat named Tom. Tom did not like the rain. One day, Tom";
const PLAIN = "Once upon a time, there was a little girl. One day, she";
const QUESTION =
  "Question: How safe, if at all, would you say your local community is from crime? Would you say it is\n" +
  "A. Very safe\nB. Somewhat safe\nC. Not too safe\nD. Not at all safe\nE. Refused\nAnswer:";
const LABELS = ["A", "B", "C", "D", "E"];
/** The plain prompt against QUESTION: another question in the same form. */
const PLAIN_QUESTION = "Question: Which is it?\nA. Yes\nB. No\nAnswer:";

const open = async (extra: object = {}): Promise<LlamaClient> => (await (await llamaSpec(MODEL, { ...PINNED, ...extra })).open()) as LlamaClient;

/** q ∝ pA^w pB^(1-w) over token ids 0..size-1, written out from the formula (no library code). */
function handFormula(pA: ReadonlyMap<Token, number>, pB: ReadonlyMap<Token, number>, w: number, size: number): number[] {
  const raw: number[] = [];
  for (let t = 0; t < size; t++) raw.push(Math.pow(pA.get(t as Token)!, w) * Math.pow(pB.get(t as Token)!, 1 - w));
  const z = raw.reduce((x, y) => x + y, 0);
  return raw.map((x) => x / z);
}

function normalised(p: number[]): number[] {
  const z = p.reduce((x, y) => x + y, 0);
  return p.map((x) => x / z);
}

/** Asserts two distributions agree within a relative tolerance on every probability above 1e-6. */
function assertNear(got: ArrayLike<number>, want: ArrayLike<number>, rel: number, what: string): void {
  assert.equal(got.length, want.length, what);
  for (let t = 0; t < want.length; t++) {
    const x = got[t]!;
    const y = want[t]!;
    if (Math.max(x, y) < 1e-6) continue;
    assert.ok(Math.abs(x - y) <= rel * Math.max(x, y), `${what}: token ${t}: ${x} vs ${y} (tolerance ${rel} relative)`);
  }
}

/**
 * Next-token distributions of one sequence of a fresh node-llama-cpp context (not the decoder's),
 * evaluated as the decoder does: the prompt but its last token in one batch, then the last token,
 * then each of `generated`; the distribution after the last token and after each generated one.
 */
async function referenceSteps(client: LlamaClient, prompt: string, generated: readonly Token[], lora?: string): Promise<Map<Token, number>[]> {
  const context: LlamaContext = await client.llamaModel.createContext({
    contextSize: 2048,
    sequences: 1,
    threads: 1,
    flashAttention: false,
    ...(lora === undefined ? {} : { lora: { adapters: [{ filePath: lora }] } }),
  });
  try {
    const seq: LlamaContextSequence = context.getSequence();
    const tokens = client.tokenize(prompt);
    await seq.controlledEvaluate(tokens.slice(0, -1));
    const out: Map<Token, number>[] = [];
    for (const t of [tokens[tokens.length - 1]!, ...generated]) {
      const r = await seq.controlledEvaluate([[t, { generateNext: { probabilities: true } }]]);
      out.push(r[0]!.next.probabilities!);
    }
    return out;
  } finally {
    await context.dispose();
  }
}

/**
 * referenceSteps for two prompts on two sequences of one fresh context, evaluated at the same time
 * (each step's two tokens in one batch, as the linear decoder does).
 */
async function referencePair(client: LlamaClient, promptA: string, promptB: string, generated: readonly Token[]): Promise<[Map<Token, number>[], Map<Token, number>[]]> {
  const context: LlamaContext = await client.llamaModel.createContext({ contextSize: 2048, sequences: 2, threads: 1, flashAttention: false });
  try {
    const seqs = [context.getSequence(), context.getSequence()];
    const tokens = [client.tokenize(promptA), client.tokenize(promptB)];
    // One side after the other, as the decoder evaluates them (src/steer/decode.ts, file comment).
    for (let i = 0; i < 2; i++) await seqs[i]!.controlledEvaluate(tokens[i]!.slice(0, -1));
    const out: [Map<Token, number>[], Map<Token, number>[]] = [[], []];
    for (let j = 0; j <= generated.length; j++) {
      for (let i = 0; i < 2; i++) {
        const x = await seqs[i]!.controlledEvaluate([[j === 0 ? tokens[i]![tokens[i]!.length - 1]! : generated[j - 1]!, { generateNext: { probabilities: true } }]]);
        out[i]!.push(x[0]!.next.probabilities!);
      }
    }
    return out;
  } finally {
    await context.dispose();
  }
}

/** One whole prompt in one batch on a fresh context: its next-token distribution. */
async function referenceWhole(client: LlamaClient, prompt: string): Promise<Map<Token, number>> {
  return (await client.nextTokenProbabilities(prompt)).probs;
}

describe("the combination, by hand", () => {
  it("is pA^w pB^(1-w), normalised, over the vocabulary", () => {
    const pA = new Map<Token, number>([[0 as Token, 0.5], [1 as Token, 0.25], [2 as Token, 0.25]]);
    const pB = new Map<Token, number>([[0 as Token, 0.25], [1 as Token, 0.25], [2 as Token, 0.5]]);
    // a = 1: pA^2 / pB = 1, 0.25, 0.125; their sum 1.375.
    const q = combineDistributions(pA, pB, linearWeight(1), 3);
    [1 / 1.375, 0.25 / 1.375, 0.125 / 1.375].forEach((v, t) => assert.ok(Math.abs(q[t]! - v) < 1e-15, `${q[t]} vs ${v}`));
    // l = 0.5: sqrt(pA pB) = sqrt(1/8), 1/4, sqrt(1/8); their sum 0.25 + 2 sqrt(1/8).
    const r = combineDistributions(pA, pB, realignWeight(0.5), 3);
    const s = 0.25 + 2 * Math.sqrt(1 / 8);
    [Math.sqrt(1 / 8) / s, 0.25 / s, Math.sqrt(1 / 8) / s].forEach((v, t) => assert.ok(Math.abs(r[t]! - v) < 1e-15, `${r[t]} vs ${v}`));
    // w = 1 is pA, w = 0 pB, exactly.
    assert.deepEqual([...combineDistributions(pA, pB, 1, 3)], [0.5, 0.25, 0.25]);
    assert.deepEqual([...combineDistributions(pA, pB, 0, 3)], [0.25, 0.25, 0.5]);
  });

  it("counts a probability rounded to 0 as the smallest float32, so a > 0 gives it a finite weight", () => {
    const pA = new Map<Token, number>([[0 as Token, 0.5], [1 as Token, 0.5]]);
    const pB = new Map<Token, number>([[0 as Token, 1]]);
    // a = 1: q ∝ pA^2 / pB: 0.25 / 1 against 0.25 / 2^-149: token 1 takes everything.
    const q = combineDistributions(pA, pB, 2, 2);
    assert.ok(q[1]! > 0.999999 && q[0]! < 1e-30, `${q[0]} ${q[1]}`);
    assert.equal(PROBABILITY_FLOOR, 1.401298464324817e-45);
  });

  it("samples from q^(1/T): the token where the cumulative weight in id order passes u", () => {
    const q = Float64Array.from([0.5, 0.3, 0.2]);
    // T = 1: cumulative 0.5, 0.8, 1.
    assert.deepEqual([0, 0.49, 0.6, 0.79, 0.81, 0.999].map((u) => sampleToken(q, 1, u)), [0, 0, 1, 1, 2, 2]);
    // T = 0.5: q^2 = 0.25, 0.09, 0.04 over 0.38: cumulative 0.6579, 0.8947, 1.
    assert.deepEqual([0.6, 0.66, 0.89, 0.9].map((u) => sampleToken(q, 0.5, u)), [0, 1, 1, 2]);
    // T = 2: sqrt(q) = 0.7071, 0.5477, 0.4472 over 1.7020: cumulative 0.4155, 0.7373, 1.
    assert.deepEqual([0.41, 0.42, 0.73, 0.74].map((u) => sampleToken(q, 2, u)), [0, 1, 1, 2]);
    // T = 0: the most likely, the lowest id among ties.
    assert.equal(sampleToken(Float64Array.from([0.2, 0.4, 0.4]), 0, 0.99), 1);
  });

  it("combines two label distributions the same way (combineMasses)", () => {
    // a = 0.5 (w = 1.5): 0.6^1.5 0.2^-0.5 and 0.4^1.5 0.8^-0.5.
    const x = 0.6 ** 1.5 / Math.sqrt(0.2);
    const y = 0.4 ** 1.5 / Math.sqrt(0.8);
    const got = combineMasses([0.6, 0.4], [0.2, 0.8], 1.5)!;
    assert.ok(Math.abs(got[0]! - x / (x + y)) < 1e-15 && Math.abs(got[1]! - y / (x + y)) < 1e-15, JSON.stringify(got));
    // A mass of 0 counts as the smallest float32, as in combineDistributions: a = 1 leaves it (nearly) 0.
    const zero = combineMasses([0.3, 0, 0.1], [0.1, 0.2, 0.1], 2)!;
    [0.9, 0, 0.1].forEach((v, k) => assert.ok(Math.abs(zero[k]! - v) < 1e-15, JSON.stringify(zero)));
    assert.equal(combineMasses([0, 0], [0.5, 0.5], 1), null);
    assert.equal(combineMasses([0.5, 0.5], [0, 0], 1.5), null);
    assert.throws(() => combineMasses([0.5, 0.5], [1], 1), CivitasError);
    assert.throws(() => combineDistributions(new Map(), new Map(), Number.NaN, 1), /weight/);
  });
});

describe("Linear Alignment on stories260K", () => {
  let client: LlamaClient;
  let decoder: MixtureDecoder;
  before(async () => {
    client = await open();
    decoder = await openLinearDecoder(client);
  });
  after(async () => {
    await decoder.close();
    await client.close();
  });

  it("with a = 0 and temperature 0 writes what plain greedy decoding (llama.cpp's sampler) writes", async () => {
    const margins: number[] = [];
    const onStep = (s: MixtureStep): void => {
      const sorted = [...s.a.values()].sort((x, y) => y - x);
      margins.push((sorted[0]! - sorted[1]!) / sorted[0]!);
    };
    const ours = await decoder.complete({ prompt: PERSONA, refPrompt: PLAIN, weight: linearWeight(0), n: 1, temperature: 0, maxTokens: 40, seed: 1 }, { onStep });
    const plain = await client.complete({ prompt: PERSONA, n: 1, temperature: 0, maxTokens: 40, seed: 1 });
    assert.equal(ours.texts[0], plain.texts[0]);
    assert.ok(ours.tokens[0]!.length >= 20, JSON.stringify(ours.texts));
    // Greedy choices cannot flip within the tolerance: relative errors of PLAIN_TOLERANCE on each of
    // the top two close a relative gap of at most 2 PLAIN_TOLERANCE, and the gaps are wider.
    assert.ok(Math.min(...margins) > 2 * PLAIN_TOLERANCE, `smallest margin ${Math.min(...margins)}`);
  });

  it("at every step, q is the hand formula on the two prompts' distributions computed separately (a = 0 and a = 0.8, sampled)", async () => {
    for (const a of [0, 0.8]) {
      const steps: MixtureStep[] = [];
      const r = await decoder.complete({ prompt: PERSONA, refPrompt: PLAIN, weight: linearWeight(a), n: 1, temperature: 1, maxTokens: 12, seed: 7 }, { onStep: (s) => steps.push(s) });
      // linearComplete is this query in Linear Alignment's terms.
      assert.deepEqual((await linearComplete(decoder, { personaPrompt: PERSONA, plainPrompt: PLAIN, a, n: 1, temperature: 1, maxTokens: 12, seed: 7 })).tokens, r.tokens);
      const generated = r.tokens[0]!;
      // One step per generated token, and one more when it ended at end-of-generation.
      assert.ok(steps.length === generated.length || steps.length === generated.length + 1, `${steps.length} steps, ${generated.length} tokens`);
      assert.equal(r.steps, steps.length);
      // Every step evaluates one token per side: the prompts but their last token, then the steps.
      assert.equal(r.evaluatedTokens, r.promptTokens! - 1 + r.refPromptTokens - 1 + 2 * r.steps);
      // The same batches as the decoder: the hand formula on them, exactly.
      const [pairA, pairB] = await referencePair(client, PERSONA, PLAIN, generated);
      for (let i = 0; i < steps.length; i++) {
        assertNear(steps[i]!.combined, handFormula(pairA[i]!, pairB[i]!, linearWeight(a), decoder.vocabularySize), SAME_BATCHES, `a = ${a}, step ${i}`);
      }
      // Plain decoding of the persona prompt alone, one sequence.
      const refA = await referenceSteps(client, PERSONA, generated);
      if (a === 0) {
        // a = 0 is the persona prompt alone: q equals its plain next-token distribution.
        for (let i = 0; i < steps.length; i++) {
          const plainDist = Array.from({ length: decoder.vocabularySize }, (_, t) => refA[i]!.get(t as Token) ?? 0);
          assertNear(steps[i]!.combined, plainDist, PLAIN_TOLERANCE, `a = 0, step ${i}`);
        }
      } else {
        // The combination moves the distribution: not the persona prompt's alone (else the test proves nothing).
        const alone = Array.from({ length: decoder.vocabularySize }, (_, t) => refA[0]!.get(t as Token) ?? 0);
        const tv = alone.reduce((s, p, t) => s + Math.abs(p - steps[0]!.combined[t]!), 0) / 2;
        assert.ok(tv > 0.05, `total variation ${tv}`);
      }
    }
  });

  it("decodes a prompt combined with itself (a plain prompt under Linear Alignment) on one side only: the plain distribution, half the tokens", async () => {
    const steps: MixtureStep[] = [];
    const r = await decoder.complete({ prompt: PLAIN, refPrompt: PLAIN, weight: linearWeight(0.8), n: 1, temperature: 1, maxTokens: 12, seed: 3 }, { onStep: (s) => steps.push(s) });
    // One side evaluated: the prompt but its last token, then one token per step.
    assert.equal(r.evaluatedTokens, r.promptTokens! - 1 + r.steps);
    // q ∝ p^1.8 p^-0.8 = p: each step's q is plain one-sequence decoding's distribution.
    const ref = await referenceSteps(client, PLAIN, r.tokens[0]!);
    for (let i = 0; i < steps.length; i++) {
      const plainDist = Array.from({ length: decoder.vocabularySize }, (_, t) => ref[i]!.get(t as Token) ?? 0);
      assertNear(steps[i]!.combined, plainDist, PLAIN_TOLERANCE, `step ${i}`);
    }
    // The two-sided path still runs when the prompts differ (the shortcut is for equal prompts only).
    const two = await decoder.complete({ prompt: PERSONA, refPrompt: PLAIN, weight: linearWeight(0.8), n: 1, temperature: 1, maxTokens: 12, seed: 3 });
    assert.equal(two.evaluatedTokens, two.promptTokens! - 1 + two.refPromptTokens - 1 + 2 * two.steps);
  });

  it("gives the same texts for the same seed; completion k does not depend on n or on what came before", async () => {
    const q = { personaPrompt: PERSONA, plainPrompt: PLAIN, a: 0.5, n: 4, temperature: 1, maxTokens: 16, seed: 42 };
    const first = await linearComplete(decoder, q);
    await linearComplete(decoder, { ...q, seed: 3, n: 1 });
    await linearOptionProbabilities(decoder, { personaPrompt: QUESTION, plainPrompt: PLAIN, a: 1, labels: LABELS });
    const again = await linearComplete(decoder, q);
    assert.deepEqual(again.texts, first.texts);
    assert.deepEqual(again.tokens, first.tokens);
    assert.ok(new Set(first.texts).size >= 3, JSON.stringify(first.texts));
    assert.deepEqual((await linearComplete(decoder, { ...q, n: 2 })).texts, first.texts.slice(0, 2));
    assert.notDeepEqual((await linearComplete(decoder, { ...q, seed: 43 })).texts, first.texts);
    // The temperature reaches the sampler: near 0, every completion is the greedy one.
    const greedy = (await linearComplete(decoder, { ...q, n: 1, temperature: 0 })).texts[0];
    assert.deepEqual((await linearComplete(decoder, { ...q, temperature: 1e-3 })).texts, [greedy, greedy, greedy, greedy]);
    // The same seed on a new decoder (new context): the same texts.
    const other = await openLinearDecoder(client);
    try {
      assert.deepEqual((await linearComplete(other, q)).texts, first.texts);
    } finally {
      await other.close();
    }
  });

  it("over option labels: the combined mass of each label's token forms, from the two distributions computed separately", async () => {
    const labels = LABELS;
    const pA = await referenceWhole(client, QUESTION);
    const pB = await referenceWhole(client, PLAIN_QUESTION);
    for (const a of [0, 1.5]) {
      const got = await linearOptionProbabilities(decoder, { personaPrompt: QUESTION, plainPrompt: PLAIN_QUESTION, a, labels });
      const q = handFormula(pA, pB, linearWeight(a), decoder.vocabularySize);
      // Each label's forms, found here from the token texts ("A", " A", "a", "(A": labelOfToken).
      const want = labels.map(() => 0);
      for (let t = 0; t < q.length; t++) {
        if (client.llamaModel.isSpecialToken(t as Token)) continue;
        const text = client.tokenText(t as Token);
        if (text.length === 0 || text.length > 6) continue;
        const k = labelOfToken(text.toLowerCase(), labels);
        if (k >= 0) want[k]! += q[t]!;
      }
      // The labels have real mass under both prompts' combination (else this would compare noise).
      assert.ok(want.reduce((x, y) => x + y, 0) > 1e-3, JSON.stringify(want));
      // Whole prompts in one batch, as client.nextTokenProbabilities: only the cross-sequence batching differs.
      assertNear(got.labelMass, want, combinedTolerance(linearWeight(a)), `a = ${a}`);
      assert.ok(Math.abs(got.coverage - want.reduce((x, y) => x + y, 0)) < 1e-9);
      assert.equal(got.promptTokens, client.tokenize(QUESTION).length);
      assert.equal(got.evaluatedTokens, client.tokenize(QUESTION).length + client.tokenize(PLAIN_QUESTION).length);
    }
    // With continuations: the first token of each option text after the persona prompt.
    const conts = ["yes please", "no thanks"];
    const got = await linearOptionProbabilities(decoder, { personaPrompt: QUESTION, plainPrompt: PLAIN_QUESTION, a: 1, labels: LABELS, continuations: conts });
    const q = handFormula(pA, pB, 2, decoder.vocabularySize);
    const want = conts.map((c) => q[client.continuationTokens(QUESTION, c)[0]!]!);
    assertNear(got.labelMass, want, combinedTolerance(2), "continuations");
  });

  it("gives the answers for several weights from one evaluation, each as a query of its own would", async () => {
    const weights = [0, 0.5, 1, 1.5].map(linearWeight);
    const query = { prompt: QUESTION, refPrompt: PLAIN_QUESTION, labels: LABELS };
    const before = decoder.evaluatedTokens;
    const all = await decoder.optionProbabilitiesAt(query, weights);
    // One evaluation of the two prompts, whole.
    assert.equal(decoder.evaluatedTokens - before, client.tokenize(QUESTION).length + client.tokenize(PLAIN_QUESTION).length);
    assert.equal(all.length, weights.length);
    for (let i = 0; i < weights.length; i++) {
      const one = await decoder.optionProbabilities({ ...query, weight: weights[i]! });
      // The same batches each time: the same numbers.
      assertNear(all[i]!.labelMass, one.labelMass, SAME_BATCHES, `weight ${weights[i]}`);
    }
    assert.notDeepEqual(all[0]!.labelMass, all[3]!.labelMass);
  });

  it("answers as a ModelClient (steeredClient) what the decoder answers, and says a constraint was not applied", async () => {
    const steered = steeredClient(decoder, { identity: `${client.identity}+linear:a=0.5`, weight: linearWeight(0.5), refPromptOf: () => PLAIN_QUESTION });
    assert.equal(steered.identity, `${client.identity}+linear:a=0.5`);
    const got = await steered.optionProbabilities({ prompt: QUESTION, labels: LABELS, topK: 3 });
    const want = await decoder.optionProbabilities({ prompt: QUESTION, refPrompt: PLAIN_QUESTION, weight: 1.5, labels: LABELS, topK: 3 });
    assert.deepEqual(got, { labelMass: want.labelMass, coverage: want.coverage, top: want.top, promptTokens: want.promptTokens });
    const c = await steered.complete({ prompt: QUESTION, n: 2, temperature: 1, maxTokens: 8, seed: 5, constrain: { kind: "choice", choices: ["A", "B"] } });
    assert.equal(c.mode, "none");
    assert.deepEqual(c.texts, (await decoder.complete({ prompt: QUESTION, refPrompt: PLAIN_QUESTION, weight: 1.5, n: 2, temperature: 1, maxTokens: 8, seed: 5 })).texts);
  });

  it("runs only on the in-process llama backend", async () => {
    assert.equal(asLlamaClient(client), client);
    const remote = await openaiSpec("vllm", "some-model", { baseURL: "http://127.0.0.1:9/v1", retries: 0, env: {} }).open();
    try {
      assert.throws(() => asLlamaClient(remote, "--ref-model"), (e: unknown) => e instanceof CivitasError && /needs the in-process llama backend, but --ref-model \(.*some-model\) runs on the openai backend/.test(e.message));
    } finally {
      await remote.close();
    }
  });

  it("rejects what it cannot decode", async () => {
    await assert.rejects(decoder.complete({ prompt: PERSONA, refPrompt: PLAIN, weight: Number.POSITIVE_INFINITY, n: 1, temperature: 0, maxTokens: 4, seed: 1 }), /weight .* finite/);
    await assert.rejects(decoder.complete({ prompt: PERSONA, weight: 1, n: 0, temperature: 0, maxTokens: 4, seed: 1 }), /number of completions/);
    await assert.rejects(
      decoder.complete({ prompt: PERSONA, refPrompt: "word ".repeat(3000), weight: 1, n: 1, temperature: 0, maxTokens: 4, seed: 1 }),
      (e: unknown) => e instanceof CivitasError && /the reference prompt has \d+ tokens, more than the context of 2048/.test(e.message),
    );
  });
});

describe("Decoding-time Realignment on stories260K", () => {
  it("between two models (a second copy of the file): l = 1 is the aligned model's greedy text, l = 0.5 the hand formula", async () => {
    const dir = tempDir();
    const copy = path.join(dir, "copy.gguf");
    copyFileSync(MODEL, copy);
    const aligned = await open();
    const ref = (await (await llamaSpec(copy, PINNED)).open()) as LlamaClient;
    const decoder = await openRealignDecoder(aligned, ref);
    try {
      // l = 1: the aligned model alone, whatever the reference is asked.
      const ours = await decoder.complete({ prompt: PERSONA, refPrompt: PLAIN, weight: realignWeight(1), n: 1, temperature: 0, maxTokens: 30, seed: 1 });
      assert.equal(ours.texts[0], (await aligned.complete({ prompt: PERSONA, n: 1, temperature: 0, maxTokens: 30, seed: 1 })).texts[0]);
      // l = 0: the reference alone.
      const refOnly = await decoder.complete({ prompt: PERSONA, refPrompt: PLAIN, weight: realignWeight(0), n: 1, temperature: 0, maxTokens: 30, seed: 1 });
      assert.equal(refOnly.texts[0], (await ref.complete({ prompt: PLAIN, n: 1, temperature: 0, maxTokens: 30, seed: 1 })).texts[0]);
      // l = 0.5, two contexts: the first step against the hand formula.
      const steps: MixtureStep[] = [];
      await decoder.complete({ prompt: PERSONA, refPrompt: PLAIN, weight: 0.5, n: 1, temperature: 1, maxTokens: 1, seed: 1 }, { onStep: (s) => steps.push(s) });
      const [a0] = await referenceSteps(aligned, PERSONA, []);
      const [b0] = await referenceSteps(ref, PLAIN, []);
      // One context per model, one sequence each: the same batches as referenceSteps.
      assertNear(steps[0]!.combined, handFormula(a0!, b0!, 0.5, decoder.vocabularySize), SAME_BATCHES, "l = 0.5");
      // l = 2 extrapolates past the aligned model.
      const got = await decoder.optionProbabilities({ prompt: QUESTION, refPrompt: PLAIN, weight: 2, labels: LABELS, topK: 3 });
      const q = handFormula(await referenceWhole(aligned, QUESTION), await referenceWhole(ref, PLAIN), 2, decoder.vocabularySize);
      const top = [...q.keys()].sort((x, y) => q[y]! - q[x]!).slice(0, 3);
      assert.deepEqual(got.top.map((t) => t.token), top.map((t) => aligned.tokenText(t as Token)));
      got.top.forEach((t, i) => assert.ok(Math.abs(t.prob - q[top[i]!]!) <= combinedTolerance(2) * q[top[i]!]!));
    } finally {
      await decoder.close();
      await aligned.close();
      await ref.close();
    }
  });

  it("between a model with and without a LoRA adapter (a tiny adapter written here)", async () => {
    const dir = tempDir();
    // A rank-2 adapter on the output projection (dims [64, 512]): A is 64 x 2, B 2 x 512.
    const r = 2;
    const a = Float32Array.from({ length: 64 * r }, (_, i) => Math.sin(i) * 0.5);
    const b = Float32Array.from({ length: r * 512 }, (_, i) => Math.cos(i * 1.7) * 2);
    const lora = path.join(dir, "adapter.gguf");
    writeLoraGguf(lora, "llama", r, [
      { name: "output.weight.lora_a", dims: [64, r], data: a },
      { name: "output.weight.lora_b", dims: [r, 512], data: b },
    ]);
    // The same adapter with B = 0 adds nothing.
    const zero = path.join(dir, "zero.gguf");
    writeLoraGguf(zero, "llama", r, [
      { name: "output.weight.lora_a", dims: [64, r], data: a },
      { name: "output.weight.lora_b", dims: [r, 512], data: new Float32Array(r * 512) },
    ]);
    const base = await open();
    const tuned = await open({ lora: { path: lora } });
    const decoder = await openLoraRealignDecoder(base, { path: lora });
    try {
      assert.match(tuned.identity, /\+lora:adapter\.gguf#\d+-[0-9a-f]{16}@1$/);
      const size = decoder.vocabularySize;
      // node-llama-cpp's float32 probabilities, renormalised in float64 as the decoder does.
      const dist = (m: ReadonlyMap<Token, number>): number[] => normalised(Array.from({ length: size }, (_, t) => m.get(t as Token) ?? 0));
      const pBase = await referenceWhole(base, QUESTION);
      const pTuned = await referenceWhole(tuned, QUESTION);
      // The adapter changes the model (else nothing below would be tested).
      const tv = dist(pBase).reduce((s, p, t) => s + Math.abs(p - pTuned.get(t as Token)!), 0) / 2;
      assert.ok(tv > 0.1, `total variation ${tv}`);
      const at = async (l: number): Promise<Float64Array> => {
        const steps: MixtureStep[] = [];
        await decoder.complete({ prompt: QUESTION, weight: realignWeight(l), n: 1, temperature: 1, maxTokens: 1, seed: 1 }, { onStep: (s) => steps.push(s) });
        return steps[0]!.combined;
      };
      const [tuned0] = await referenceSteps(tuned, QUESTION, [], lora);
      const [base0] = await referenceSteps(base, QUESTION, []);
      // One context per side, one sequence each: the same batches as referenceSteps.
      assertNear(await at(1), dist(tuned0!), SAME_BATCHES, "l = 1: the model with its adapter");
      assertNear(await at(0), dist(base0!), SAME_BATCHES, "l = 0: the model without");
      assertNear(await at(0.3), handFormula(tuned0!, base0!, 0.3, size), SAME_BATCHES, "l = 0.3");
      // B = 0: the adapted side is the base model.
      const noop = await openLoraRealignDecoder(base, { path: zero });
      try {
        const steps: MixtureStep[] = [];
        await noop.complete({ prompt: QUESTION, weight: 1, n: 1, temperature: 1, maxTokens: 1, seed: 1 }, { onStep: (s) => steps.push(s) });
        // llama.cpp adds scale * B(A x) = 0 to W x: the numbers are those without the adapter.
        assertNear(steps[0]!.combined, dist(base0!), SAME_BATCHES, "zero adapter");
      } finally {
        await noop.close();
      }
    } finally {
      await decoder.close();
      await tuned.close();
      await base.close();
    }
  });

  it("openRealign takes exactly one of a reference model and an adapter", async () => {
    const base = await open();
    try {
      await assert.rejects(openRealign(base, {}), /exactly one of a reference model \(--ref-model\) and a LoRA adapter \(--lora\)/);
      await assert.rejects(openRealign(base, { model: base, lora: { path: MODEL } }), /exactly one/);
      const d = await openRealign(base, { model: base });
      await d.close();
    } finally {
      await base.close();
    }
  });

  it("rejects an adapter that is not one for this model, and a missing adapter file, by name", async () => {
    const dir = tempDir();
    const wrong = path.join(dir, "wrong.gguf");
    writeLoraGguf(wrong, "llama", 1, [
      { name: "output.weight.lora_a", dims: [32, 1], data: new Float32Array(32) },
      { name: "output.weight.lora_b", dims: [1, 512], data: new Float32Array(512) },
    ]);
    const base = await open();
    try {
      await assert.rejects(openLoraRealignDecoder(base, { path: wrong }), (e: unknown) => e instanceof CivitasError && e.message.includes("wrong.gguf"));
    } finally {
      await base.close();
    }
    await assert.rejects(llamaSpec(MODEL, { lora: { path: path.join(dir, "none.gguf") } }), /LoRA adapter file not found: .*none\.gguf/);
  });
});
