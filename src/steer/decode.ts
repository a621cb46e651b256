/**
 * Decoding-time steering on the in-process llama backend: two next-token distributions, from two
 * prompts on one model or from two models, combined at every step as a weighted geometric mean
 *
 *   log q(t) = w * log pA(t) + (1 - w) * log pB(t) - log Z,   Z the sum over the vocabulary,
 *
 * then sampled (or, for option probabilities, read at the options' tokens). Two methods are this
 * one formula:
 *
 * - Linear Alignment (Gao et al. 2024, "Linear Alignment: A Closed-form Solution for Aligning
 *   Human Preferences without Tuning and Feedback"): A = the persona prompt, B = the plain prompt,
 *   both on one model, w = 1 + a: q ∝ p_persona^(1+a) * p_plain^(-a). a = 0 is the persona prompt
 *   alone; a > 0 moves further along the direction the persona moved the model.
 * - Decoding-time Realignment (Liu et al. 2024, "Decoding-time Realignment of Language Models"):
 *   A = the aligned model (or the model with its LoRA adapter), B = the reference model (the
 *   model without it), w = l: q ∝ p_aligned^l * p_ref^(1-l). l = 1 is the aligned model alone,
 *   l = 0 the reference, l > 1 extrapolates.
 *
 * Both sides are llama.cpp contexts opened on the clients' models (LlamaClient.createContext); the
 * client's own sequences are not used. Linear alignment puts its two sequences in one context;
 * realignment has one context per model. Side A is evaluated, then side B, never both at once: had
 * the two evaluations been issued together, node-llama-cpp would put them in one batch or two as
 * timing falls, the two placements round differently, and the same query with the same seed gave
 * other numbers from run to run (seen in test/sim/steer.test.ts; up to a factor 12 on a label mass
 * of 1e-3). One after the other, a query is always the same computation: bit-identical numbers. The next-token distributions are node-llama-cpp's full
 * vocabulary maps (`probabilities: true`, softmax of the raw logits in float32), combined in
 * float64. A probability the float32 softmax rounded to 0 counts as 2^-149 (the smallest float32),
 * so that a token the reference side rules out does not get an infinite weight when w > 1.
 *
 * Sampling is done here, not by llama.cpp's sampler (which cannot sample from a combination of two
 * sequences): completion k draws from q^(1/T) (full vocabulary: no top-k, top-p or min-p) with
 * civitas's seeded generator seeded with completionSeed(seed, k), so the same query gives the
 * same texts; temperature 0 takes the most likely token (the lowest id among ties, as llama.cpp's
 * greedy sampler). Generation stops at end-of-generation, after maxTokens tokens, or when the
 * context is full. Constrained decoding (CompletionQuery.constrain) is not supported.
 *
 * Prompts are evaluated as plain decoding does (LlamaClient.complete): each prompt's tokens but
 * the last once, then for every completion the last token and the generated ones, one step at a
 * time, from the same state, so a completion does not depend on the ones before it.
 *
 * Control vectors (steering by adding a vector to the hidden states) are not in node-llama-cpp's
 * API (3.21.1), so they are not offered.
 */
import type { LlamaContext, LlamaContextSequence, LlamaModel, Token } from "node-llama-cpp";
import { CivitasError } from "../errors.js";
import { seededRng } from "../metrics/index.js";
import {
  checkCompletionQuery,
  completionSeed,
  labelOfToken,
  LlamaClient,
  type CompletionAnswer,
  type ModelClient,
  type OptionAnswer,
  type TokenProb,
} from "../models/index.js";

/**
 * The in-process llama client behind a model, for the decoding-time methods; a clear error for
 * any other backend (`what` names the model's role, e.g. "--ref-model").
 */
export function asLlamaClient(client: ModelClient, what = "the model"): LlamaClient {
  if (client instanceof LlamaClient) return client;
  throw new CivitasError("usage", `decoding-time steering (linear over generated text, realign) needs the in-process llama backend, but ${what} (${client.identity}) runs on the ${client.backend} backend`, {
    hint: "give it as llama:<file.gguf> or llama:hf:<org>/<repo>/<file.gguf>",
  });
}

/** The weight of side A for Linear Alignment's strength a: w = 1 + a (q ∝ pA^(1+a) pB^(-a)). */
export function linearWeight(a: number): number {
  return 1 + a;
}

/** The weight of side A (the aligned model) for Decoding-time Realignment's l: w = l. */
export function realignWeight(l: number): number {
  return l;
}

/**
 * A completion of the combined distribution. `prompt` is side A's (the persona prompt, or the
 * prompt the aligned model is asked); `refPrompt` side B's (the plain prompt; default `prompt`:
 * realignment usually asks both models the same). `weight` is w (linearWeight, realignWeight).
 */
export interface MixtureCompletionQuery {
  readonly prompt: string;
  readonly refPrompt?: string;
  readonly weight: number;
  /** How many completions to draw; completion k is seeded with completionSeed(seed, k). */
  readonly n: number;
  /** 0: greedy. */
  readonly temperature: number;
  readonly maxTokens: number;
  readonly seed: number;
}

export interface MixtureCompletionAnswer extends CompletionAnswer {
  /** The generated tokens of each completion (end-of-generation not included). */
  readonly tokens: readonly (readonly Token[])[];
  /** Tokens of side A's prompt (CompletionAnswer.promptTokens) and of side B's. */
  readonly refPromptTokens: number;
  /** Tokens llama.cpp evaluated for this query, both sides. */
  readonly evaluatedTokens: number;
  /**
   * Decoding steps over all completions: distributions combined, one per generated token plus one
   * for each end-of-generation drawn. Each costs one evaluation per side.
   */
  readonly steps: number;
}

/** What `onStep` sees at each step of a completion (tests, tracing). */
export interface MixtureStep {
  /** The completion (0..n-1) and the step in it (0: the first generated token). */
  readonly completion: number;
  readonly index: number;
  /** The combined distribution q over the vocabulary (by token id), before the temperature. */
  readonly combined: Float64Array;
  /** Side A's and side B's next-token distributions, as node-llama-cpp gave them. */
  readonly a: ReadonlyMap<Token, number>;
  readonly b: ReadonlyMap<Token, number>;
  /** The token chosen. */
  readonly token: Token;
}

/**
 * Option probabilities under the combined next-token distribution: the mass q gives to each
 * label's token forms ("A", " A", "(A": LlamaClient.optionProbabilities's forms), or, with
 * `continuations`, to the first token of each option text as it follows side A's prompt.
 * Combining over the full vocabulary and then reading the labels is what the decoding loop's first
 * step does; it is not the same as combining the two label distributions (`combineMasses`).
 */
export interface MixtureOptionQuery {
  readonly prompt: string;
  readonly refPrompt?: string;
  readonly weight: number;
  readonly labels: readonly string[];
  readonly continuations?: readonly string[];
  /** How many of the most likely tokens of q `top` lists (default 20). */
  readonly topK?: number;
}

export interface MixtureOptionAnswer extends OptionAnswer {
  /** Tokens evaluated for this query: both prompts (OptionAnswer.promptTokens is side A's). */
  readonly evaluatedTokens: number;
}

/** Side B's weight is 1 - w: the two weights sum to one, so q needs no other normalisation than Z. */
function checkWeight(weight: number): void {
  if (!Number.isFinite(weight)) throw new CivitasError("usage", `the weight of a decoding-time combination must be a finite number, got ${weight}`);
}

/** The smallest positive float32: what a probability the float32 softmax rounded to 0 counts as. */
export const PROBABILITY_FLOOR = 2 ** -149;

/**
 * q = normalise(pA^w * pB^(1-w)) over a vocabulary of `size` tokens, in float64; pA and pB are
 * token -> probability (a token absent has probability 0, counted as PROBABILITY_FLOOR). A side
 * with weight 0 is left out (so that w = 1 is pA exactly, up to normalisation).
 */
export function combineDistributions(pA: ReadonlyMap<Token, number>, pB: ReadonlyMap<Token, number>, weight: number, size: number): Float64Array {
  checkWeight(weight);
  const wA = weight;
  const wB = 1 - weight;
  // Dense copies (absent tokens 0): one pass over each map instead of a lookup per token.
  const a = new Float64Array(size);
  const b = new Float64Array(size);
  for (const [t, p] of pA) if (t < size) a[t] = p;
  for (const [t, p] of pB) if (t < size) b[t] = p;
  const logq = a;
  let max = -Infinity;
  for (let t = 0; t < size; t++) {
    let v = 0;
    if (wA !== 0) v += wA * Math.log(Math.max(a[t]!, PROBABILITY_FLOOR));
    if (wB !== 0) v += wB * Math.log(Math.max(b[t]!, PROBABILITY_FLOOR));
    logq[t] = v;
    if (v > max) max = v;
  }
  let sum = 0;
  for (let t = 0; t < size; t++) {
    const e = Math.exp(logq[t]! - max);
    logq[t] = e;
    sum += e;
  }
  for (let t = 0; t < size; t++) logq[t]! /= sum;
  return logq;
}

/**
 * The same combination over two label distributions (masses per option, normalised or not):
 * normalise(mA^w * mB^(1-w)), a mass of 0 counting as PROBABILITY_FLOOR as in
 * combineDistributions. null when a side with a weight other than 0 has no mass at all.
 */
export function combineMasses(massA: readonly number[], massB: readonly number[], weight: number): number[] | null {
  checkWeight(weight);
  if (massA.length !== massB.length) throw new CivitasError("usage", `the two label distributions have ${massA.length} and ${massB.length} options`);
  const total = (m: readonly number[]): number => m.reduce((x, y) => x + y, 0);
  if ((weight !== 0 && !(total(massA) > 0)) || (weight !== 1 && !(total(massB) > 0))) return null;
  const logs = massA.map((a, k) => {
    let v = 0;
    if (weight !== 0) v += weight * Math.log(Math.max(a, PROBABILITY_FLOOR));
    if (weight !== 1) v += (1 - weight) * Math.log(Math.max(massB[k]!, PROBABILITY_FLOOR));
    return v;
  });
  const max = Math.max(...logs);
  const e = logs.map((v) => Math.exp(v - max));
  const sum = e.reduce((x, y) => x + y, 0);
  return e.map((x) => x / sum);
}

/** Index of the largest value (the first among ties). */
function argmax(q: Float64Array): number {
  let best = 0;
  for (let t = 1; t < q.length; t++) if (q[t]! > q[best]!) best = t;
  return best;
}

/**
 * The token drawn from q at `temperature` with a uniform u in [0, 1): the most likely one (the
 * lowest id among ties) at 0, else the first token whose cumulative weight, in id order, of
 * q^(1/temperature) (normalised) exceeds u.
 */
export function sampleToken(q: Float64Array, temperature: number, u: number): number {
  return temperature === 0 ? argmax(q) : drawToken(q, temperature, u);
}

function drawToken(q: Float64Array, temperature: number, u: number): number {
  if (temperature === 1) return inverseCdf(q, 1, u);
  const max = q[argmax(q)]!;
  const w = new Float64Array(q.length);
  let sum = 0;
  for (let t = 0; t < q.length; t++) {
    // (q/max)^(1/T): the largest is 1, nothing overflows.
    const v = q[t]! > 0 ? Math.exp(Math.log(q[t]! / max) / temperature) : 0;
    w[t] = v;
    sum += v;
  }
  return inverseCdf(w, sum, u);
}

function inverseCdf(w: Float64Array, sum: number, u: number): number {
  const target = u * sum;
  let acc = 0;
  let last = 0;
  for (let t = 0; t < w.length; t++) {
    if (w[t]! <= 0) continue;
    acc += w[t]!;
    last = t;
    if (target < acc) return t;
  }
  // Rounding left target at or above the last partial sum: the last token with weight.
  return last;
}

type EvalItem = Parameters<LlamaContextSequence["controlledEvaluate"]>[0][number];
const withProbabilities = (t: Token): EvalItem => [t, { generateNext: { probabilities: true } }];

/** One side of the combination: a client (its model and tokenizer) and a sequence of its own. */
interface Side {
  readonly client: LlamaClient;
  readonly seq: LlamaContextSequence;
}

/**
 * The decoder: two sides, each a context sequence of its own, evaluated step by step. Open one with
 * openLinearDecoder (one model, two prompts) or openRealignDecoder (two models); close it before
 * the clients. Queries on one decoder run one at a time (they share its sequences).
 */
export class MixtureDecoder {
  private queue: Promise<unknown> = Promise.resolve();
  private readonly labelTokens = new Map<string, { token: Token; label: number }[]>();
  private tokenTexts: string[] | undefined;

  private constructor(
    private readonly sideA: Side,
    private readonly sideB: Side,
    private readonly contexts: readonly LlamaContext[],
    /** Tokens in the vocabulary (ids 0..size-1), the same on both sides. */
    readonly vocabularySize: number,
  ) {}

  /**
   * @internal Use openLinearDecoder / openRealignDecoder / openLoraRealignDecoder. `lora`: side A
   * is client `a`'s model with this adapter and side B the same model without one (a === b).
   */
  static async create(a: LlamaClient, b: LlamaClient, lora?: { readonly path: string; readonly scale?: number }): Promise<MixtureDecoder> {
    const size = vocabularySize(a.llamaModel);
    if (a !== b) checkSameVocabulary(a, b, size);
    if (lora !== undefined) {
      const ca = await a.createContext(1, lora);
      let cb: LlamaContext;
      try {
        cb = await a.createContext(1, null);
      } catch (e) {
        await ca.dispose();
        throw e;
      }
      return new MixtureDecoder({ client: a, seq: ca.getSequence() }, { client: a, seq: cb.getSequence() }, [ca, cb], size);
    }
    if (a === b) {
      // Both sequences in one context (evaluated one after the other: see the file comment).
      const context = await a.createContext(2);
      return new MixtureDecoder({ client: a, seq: context.getSequence() }, { client: a, seq: context.getSequence() }, [context], size);
    }
    const ca = await a.createContext(1);
    let cb: LlamaContext;
    try {
      cb = await b.createContext(1);
    } catch (e) {
      await ca.dispose();
      throw e;
    }
    return new MixtureDecoder({ client: a, seq: ca.getSequence() }, { client: b, seq: cb.getSequence() }, [ca, cb], size);
  }

  /** Tokens llama.cpp has evaluated on this decoder's sequences so far (both sides). */
  get evaluatedTokens(): number {
    let n = 0;
    for (const { seq } of [this.sideA, this.sideB]) n += seq.tokenMeter.usedInputTokens + seq.tokenMeter.usedOutputTokens;
    return n;
  }

  /** Runs queries one at a time. */
  private serial<T>(f: () => Promise<T>): Promise<T> {
    const run = this.queue.then(f, f);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** n completions of the combined distribution (see the file comment). */
  async complete(query: MixtureCompletionQuery, options: { signal?: AbortSignal; onStep?: (step: MixtureStep) => void } = {}): Promise<MixtureCompletionAnswer> {
    checkCompletionQuery({ ...query, prompt: query.prompt });
    checkWeight(query.weight);
    return this.serial(() => this.completeNow(query, options.signal, options.onStep));
  }

  private async completeNow(query: MixtureCompletionQuery, signal: AbortSignal | undefined, onStep: ((step: MixtureStep) => void) | undefined): Promise<MixtureCompletionAnswer> {
    signal?.throwIfAborted();
    const before = this.evaluatedTokens;
    const tokensA = this.promptTokens(this.sideA, query.prompt, "prompt");
    const tokensB = this.promptTokens(this.sideB, query.refPrompt ?? query.prompt, "reference prompt");
    // One model, no adapter, the same prompt on both sides (a plain prompt under Linear Alignment):
    // q ∝ p^w · p^(1-w) = p, so side B is not evaluated (half the work; it is p exactly, not p
    // combined with a second evaluation of itself in another batch shape).
    const single = this.sideA.client === this.sideB.client && this.contexts.length === 1 && (query.refPrompt ?? query.prompt) === query.prompt;
    const room = Math.min(this.sideA.seq.contextSize - tokensA.length, this.sideB.seq.contextSize - tokensB.length);
    const maxTokens = Math.min(query.maxTokens, room);
    const model = this.sideA.client.llamaModel;
    await Promise.all([
      this.startPrompt(this.sideA.seq, tokensA),
    ]);
    if (!single) await this.startPrompt(this.sideB.seq, tokensB);
    const texts: string[] = [];
    const generated: Token[][] = [];
    let steps = 0;
    for (let k = 0; k < query.n; k++) {
      signal?.throwIfAborted();
      const rng = seededRng(completionSeed(query.seed, k));
      const out: Token[] = [];
      let [pA, pB] = single
        ? await this.stepFrom(this.sideA.seq, tokensA).then((p) => [p, p] as const)
        : [await this.stepFrom(this.sideA.seq, tokensA), await this.stepFrom(this.sideB.seq, tokensB)];
      for (let index = 0; ; index++) {
        const q = combineDistributions(pA, pB, query.weight, this.vocabularySize);
        steps++;
        const token = sampleToken(q, query.temperature, query.temperature === 0 ? 0 : rng.float()) as Token;
        onStep?.({ completion: k, index, combined: q, a: pA, b: pB, token });
        if (model.isEogToken(token)) break;
        out.push(token);
        if (out.length >= maxTokens || signal?.aborted) break;
        [pA, pB] = single
          ? await this.next(this.sideA.seq, token).then((p) => [p, p] as const)
          : [await this.next(this.sideA.seq, token), await this.next(this.sideB.seq, token)];
      }
      signal?.throwIfAborted();
      generated.push(out);
      texts.push(model.detokenize(out, false, tokensA));
    }
    return { texts, mode: "none", promptTokens: tokensA.length, refPromptTokens: tokensB.length, tokens: generated, evaluatedTokens: this.evaluatedTokens - before, steps };
  }

  /** Option probabilities under the combined next-token distribution (MixtureOptionQuery). */
  async optionProbabilities(query: MixtureOptionQuery, signal?: AbortSignal): Promise<MixtureOptionAnswer> {
    const { weight, ...rest } = query;
    return (await this.optionProbabilitiesAt(rest, [weight], signal))[0]!;
  }

  /**
   * Option probabilities for several weights from one evaluation of the two prompts (tuning a or l
   * on dev costs no more model calls than one weight): one answer per weight, in order. Each
   * answer's evaluatedTokens is the whole evaluation's (the answers share it).
   */
  async optionProbabilitiesAt(query: Omit<MixtureOptionQuery, "weight">, weights: readonly number[], signal?: AbortSignal): Promise<MixtureOptionAnswer[]> {
    for (const w of weights) checkWeight(w);
    const firsts = query.continuations?.map((c, k) => {
      if (c === "") throw new CivitasError("usage", `continuation ${k + 1} of a query is empty: there is no option text to score`);
      return this.sideA.client.continuationTokens(query.prompt, c)[0]!;
    });
    return this.serial(async () => {
      signal?.throwIfAborted();
      const before = this.evaluatedTokens;
      const tokensA = this.promptTokens(this.sideA, query.prompt, "prompt");
      const tokensB = this.promptTokens(this.sideB, query.refPrompt ?? query.prompt, "reference prompt");
      const pA = await this.whole(this.sideA.seq, tokensA);
      const pB = await this.whole(this.sideB.seq, tokensB);
      const evaluatedTokens = this.evaluatedTokens - before;
      const forms = firsts === undefined ? this.formsOf(query.labels) : [];
      return weights.map((weight) => {
        const q = combineDistributions(pA, pB, weight, this.vocabularySize);
        let labelMass: number[];
        if (firsts !== undefined) labelMass = firsts.map((t) => q[t] ?? 0);
        else {
          labelMass = query.labels.map(() => 0);
          for (const { token, label } of forms) labelMass[label]! += q[token] ?? 0;
        }
        const coverage = Math.min(1, labelMass.reduce((x, y) => x + y, 0));
        return { labelMass, coverage, top: this.topOf(q, query.topK ?? 20), promptTokens: tokensA.length, evaluatedTokens };
      });
    });
  }

  /** The vocabulary tokens that are forms of the labels (LlamaClient's label forms). */
  private formsOf(labels: readonly string[]): { token: Token; label: number }[] {
    const key = labels.join("\u0000");
    let forms = this.labelTokens.get(key);
    if (forms) return forms;
    forms = [];
    const texts = this.texts();
    for (let t = 0; t < texts.length; t++) {
      const text = texts[t]!;
      if (text.length === 0 || text.length > 6) continue;
      const label = labelOfToken(text.toLowerCase(), labels);
      if (label >= 0) forms.push({ token: t as Token, label });
    }
    this.labelTokens.set(key, forms);
    return forms;
  }

  /** Each token's text ("" for special tokens). */
  private texts(): string[] {
    if (this.tokenTexts) return this.tokenTexts;
    const model = this.sideA.client.llamaModel;
    const texts: string[] = [];
    for (let t = 0; t < this.vocabularySize; t++) texts.push(model.isSpecialToken(t as Token) ? "" : model.detokenize([t as Token]));
    this.tokenTexts = texts;
    return texts;
  }

  private topOf(q: Float64Array, k: number): TokenProb[] {
    const order = Array.from(q.keys()).sort((x, y) => q[y]! - q[x]! || x - y);
    const texts = this.texts();
    return order.slice(0, k).map((t) => ({ token: texts[t] || this.sideA.client.tokenText(t as Token), prob: q[t]! }));
  }

  private promptTokens(side: Side, prompt: string, what: string): Token[] {
    const tokens = side.client.tokenize(prompt);
    if (tokens.length === 0) throw new CivitasError("usage", `cannot decode from an empty ${what}`);
    if (tokens.length >= side.seq.contextSize) {
      throw new CivitasError("model", `the ${what} has ${tokens.length} tokens, more than the context of ${side.seq.contextSize}`, { hint: "raise --context-size" });
    }
    return tokens;
  }

  /** Clears the sequence and evaluates all of the prompt but its last token. */
  private async startPrompt(seq: LlamaContextSequence, tokens: readonly Token[]): Promise<void> {
    await seq.clearHistory();
    if (tokens.length > 1) await seq.controlledEvaluate(tokens.slice(0, -1));
  }

  /** Back to the prompt's state before its last token, then the last token: the first step's distribution. */
  private async stepFrom(seq: LlamaContextSequence, tokens: readonly Token[]): Promise<Map<Token, number>> {
    const start = tokens.length - 1;
    if (seq.nextTokenIndex > start) await seq.eraseContextTokenRanges([{ start, end: seq.nextTokenIndex }]);
    return this.next(seq, tokens[start]!);
  }

  /** A whole prompt from a cleared sequence, one batch: its next-token distribution. */
  private async whole(seq: LlamaContextSequence, tokens: readonly Token[]): Promise<Map<Token, number>> {
    await seq.clearHistory();
    const last = tokens.length - 1;
    const out = await seq.controlledEvaluate(tokens.map((t, i) => (i === last ? withProbabilities(t) : t)));
    const probs = out[last]?.next.probabilities;
    if (!probs) throw new CivitasError("model", "llama.cpp returned no next-token probabilities");
    return probs;
  }

  private async next(seq: LlamaContextSequence, token: Token): Promise<Map<Token, number>> {
    const out = await seq.controlledEvaluate([withProbabilities(token)]);
    const probs = out[0]?.next.probabilities;
    if (!probs) throw new CivitasError("model", "llama.cpp returned no next-token probabilities");
    return probs;
  }

  /** Disposes the decoder's contexts (the clients stay open). */
  async close(): Promise<void> {
    await this.queue;
    for (const c of this.contexts) await c.dispose();
  }
}

function vocabularySize(model: LlamaModel): number {
  let n = 0;
  for (const _ of model.iterateAllTokens()) n++;
  return n;
}

/** Realignment combines token by token: both models must have the same vocabulary. */
function checkSameVocabulary(a: LlamaClient, b: LlamaClient, size: number): void {
  const mb = b.llamaModel;
  const sizeB = vocabularySize(mb);
  if (sizeB !== size) {
    throw new CivitasError("usage", `the aligned model ${a.identity} has ${size} tokens and the reference model ${b.identity} ${sizeB}: decoding-time realignment needs one vocabulary`, {
      hint: "use a reference model of the same family (the base model the aligned one was tuned from)",
    });
  }
  const ma = a.llamaModel;
  for (let t = 0; t < size; t++) {
    const x = ma.detokenize([t as Token], true);
    const y = mb.detokenize([t as Token], true);
    if (x !== y) {
      throw new CivitasError("usage", `token ${t} is ${JSON.stringify(x)} in the aligned model ${a.identity} and ${JSON.stringify(y)} in the reference model ${b.identity}: decoding-time realignment needs one vocabulary`, {
        hint: "use a reference model of the same family (the base model the aligned one was tuned from)",
      });
    }
  }
}

/**
 * A Linear Alignment decoder on one model: side A is the persona prompt, side B the plain prompt,
 * two sequences of one new context. Use weight linearWeight(a).
 */
export function openLinearDecoder(client: LlamaClient): Promise<MixtureDecoder> {
  return MixtureDecoder.create(client, client);
}

/**
 * A Decoding-time Realignment decoder: side A the aligned model (or the model opened with its LoRA
 * adapter: LlamaOptions.lora), side B the reference model (or the same file without the adapter),
 * each with a new context of one sequence. The vocabularies must be the same. Use weight
 * realignWeight(l). Passing the same client twice gives a one-model decoder (two prompts).
 */
export function openRealignDecoder(aligned: LlamaClient, ref: LlamaClient): Promise<MixtureDecoder> {
  return MixtureDecoder.create(aligned, ref);
}

/**
 * A Decoding-time Realignment decoder on one model with and without a LoRA adapter (node-llama-cpp
 * applies adapters per context): side A is a new context of the client's model with the adapter
 * (a GGUF LoRA adapter made for this model, at `scale`, default 1), side B a new context without
 * any. The model is loaded once. Use weight realignWeight(l).
 */
export function openLoraRealignDecoder(base: LlamaClient, lora: { readonly path: string; readonly scale?: number }): Promise<MixtureDecoder> {
  return MixtureDecoder.create(base, base, lora);
}

/**
 * The realignment decoder a command asks for: the model against `ref.model` (--ref-model), or the
 * model with and without `ref.lora` (--lora); exactly one of the two. Both must be in-process
 * llama models (asLlamaClient).
 */
export async function openRealign(model: ModelClient, ref: { readonly model?: ModelClient; readonly lora?: { readonly path: string; readonly scale?: number } }): Promise<MixtureDecoder> {
  if ((ref.model === undefined) === (ref.lora === undefined)) {
    throw new CivitasError("usage", "decoding-time realignment needs exactly one of a reference model (--ref-model) and a LoRA adapter (--lora)", {
      hint: "--ref-model llama:<base.gguf> compares the model with its base; --lora <adapter.gguf> compares the model with and without the adapter",
    });
  }
  const aligned = asLlamaClient(model);
  if (ref.lora !== undefined) return openLoraRealignDecoder(aligned, ref.lora);
  return openRealignDecoder(aligned, asLlamaClient(ref.model!, "--ref-model"));
}

/**
 * A ModelClient whose answers come from a decoder at one weight, so that the run engine's
 * elicitation methods (logprobs, sample, verbalize, sequence) and the simulation's agents can run
 * steered: optionProbabilities and complete ask the decoder with the prompt as side A's and
 * `refPromptOf(prompt)` as side B's (default: the same prompt, as realignment asks). `identity`
 * must name everything that changes the answers (the model, the method, the weight, how the
 * reference prompt is made): it is part of every cache key. A completion's constraint cannot be
 * applied in the loop: its answer says mode "none", as a server without grammars does, and the
 * parsers read the first answer in the free text. close() closes the decoder, not its clients.
 */
export function steeredClient(decoder: MixtureDecoder, options: { readonly identity: string; readonly weight: number; readonly refPromptOf?: (prompt: string) => string }): ModelClient {
  checkWeight(options.weight);
  const ref = options.refPromptOf ?? ((p: string) => p);
  return {
    backend: "llama",
    identity: options.identity,
    concurrency: 1,
    optionProbabilities: async (query, signal) => {
      const { labelMass, coverage, top, promptTokens } = await decoder.optionProbabilities(
        {
          prompt: query.prompt,
          refPrompt: ref(query.prompt),
          weight: options.weight,
          labels: query.labels,
          ...(query.continuations === undefined ? {} : { continuations: query.continuations }),
          ...(query.topK === undefined ? {} : { topK: query.topK }),
        },
        signal,
      );
      return { labelMass, coverage, top, promptTokens };
    },
    complete: async (query, signal) => {
      checkCompletionQuery(query);
      const { texts, promptTokens } = await decoder.complete(
        { prompt: query.prompt, refPrompt: ref(query.prompt), weight: options.weight, n: query.n, temperature: query.temperature, maxTokens: query.maxTokens, seed: query.seed },
        signal === undefined ? {} : { signal },
      );
      return { texts, mode: "none", promptTokens };
    },
    close: () => decoder.close(),
  };
}

/** Linear Alignment completions: q ∝ p_persona^(1+a) * p_plain^(-a). */
export function linearComplete(
  decoder: MixtureDecoder,
  query: { readonly personaPrompt: string; readonly plainPrompt: string; readonly a: number; readonly n: number; readonly temperature: number; readonly maxTokens: number; readonly seed: number },
  signal?: AbortSignal,
): Promise<MixtureCompletionAnswer> {
  const { personaPrompt, plainPrompt, a, ...rest } = query;
  return decoder.complete({ ...rest, prompt: personaPrompt, refPrompt: plainPrompt, weight: linearWeight(a) }, signal === undefined ? {} : { signal });
}

/** Linear Alignment over option labels (first token of each label or option text). */
export function linearOptionProbabilities(
  decoder: MixtureDecoder,
  query: { readonly personaPrompt: string; readonly plainPrompt: string; readonly a: number; readonly labels: readonly string[]; readonly continuations?: readonly string[]; readonly topK?: number },
  signal?: AbortSignal,
): Promise<MixtureOptionAnswer> {
  const { personaPrompt, plainPrompt, a, ...rest } = query;
  return decoder.optionProbabilities({ ...rest, prompt: personaPrompt, refPrompt: plainPrompt, weight: linearWeight(a) }, signal);
}
