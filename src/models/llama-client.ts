/**
 * In-process llama.cpp through node-llama-cpp. One evaluation of the prompt gives the full
 * next-token distribution; the mass on each option label (all its token forms) is read from it.
 *
 * Sampled completions (`complete`, for the `sample` and `verbalize` methods): completion k is
 * drawn with llama.cpp's own sampler seeded with completionSeed(seed, k), from the full
 * vocabulary at the given temperature (no top-k, top-p or min-p truncation, no repeat penalty),
 * and stops at end-of-generation, at maxTokens, or where a JSON grammar ends. Unconstrained
 * completions do not stop at a newline: a verbalized answer may be pretty-printed JSON or sit in
 * a ```json fence; bound them with maxTokens, the parsers read the first answer. Constraints
 * become GBNF grammars (mode "grammar"): `choice` allows exactly one of the choices, `json` the
 * JSON schema as node-llama-cpp's createGrammarForJsonSchema understands it (llama-grammar.ts).
 *
 * The client is opened by llamaSpec (llama.ts).
 */
import type { LlamaContext, LlamaContextOptions, LlamaContextSequence, LlamaGrammar, LlamaModel, Token } from "node-llama-cpp";
import { CivitasError } from "../errors.js";
import { checkCompletionQuery, completionSeed } from "./completion.js";
import { buildGrammar, stopTexts } from "./llama-grammar.js";
import { LabelIndex } from "./llama-labels.js";
import type {
  CompletionAnswer,
  CompletionQuery,
  Constraint,
  ModelClient,
  OptionAnswer,
  OptionQuery,
  TokenProb,
} from "./types.js";

/** One context sequence of the pool and the prefix whose standalone evaluation it holds. */
interface Slot {
  readonly seq: LlamaContextSequence;
  /**
   * Tokens (with BOS) of the prefix held in cells [0, held.length): evaluated as one batch from an
   * empty sequence, nothing else. null when the sequence holds anything else or its state is unknown.
   */
  held: Token[] | null;
}

/** How a prompt is evaluated: a prefix as its own batch (or none), then the rest. */
interface PromptPlan {
  /** Tokens of the prefix, with BOS; null: the whole prompt is `rest`, from a cleared sequence. */
  readonly prefix: Token[] | null;
  /** The tokens after the prefix (the whole prompt, with BOS, when there is no prefix). */
  readonly rest: Token[];
}

type EvalItem = Parameters<LlamaContextSequence["controlledEvaluate"]>[0][number];
const withProbabilities = (t: Token): EvalItem => [t, { generateNext: { probabilities: true } }];

function sameTokens(a: readonly Token[], b: readonly Token[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Prefix reuse (OptionQuery.prefix). A prompt with a prefix is always evaluated in two batches:
 * tokens(prefix) with BOS, from an empty sequence, then tokens(rest) (rest = prompt minus prefix,
 * tokenized on its own, without the space SentencePiece tokenizers put at the start of a text).
 * A sequence remembers the prefix it holds; the next prompt with the same prefix erases only what
 * follows it and evaluates the rest. The prefix's state is thus always the result of the same
 * computation, so the numbers are bit-identical whether or not it was reused (tested). Models
 * whose state cannot be cut back (recurrent, sliding-window attention without a full cache:
 * `needsCheckpoints`) evaluate the prefix again every time, which gives the same numbers, slower.
 * Without a prefix a prompt is evaluated whole from a cleared sequence. With a prefix the numbers
 * may differ from those without (two batches instead of one), within the tolerance docs/design.md
 * states (Reproducibility); on the x86-64 CPU builds measured they do not differ at all. The run
 * engine passes a prefix only when another prompt of the run shares it.
 *
 * Option texts (OptionQuery.continuations): labelMass[k] = P(continuation k | prompt), the product
 * of the next-token probabilities of its tokens. A continuation is tokenized as it follows the
 * prompt: a space is put before it when the prompt ends without whitespace and the continuation
 * starts without it ("Answer:" + "Completely disagree" is scored as " Completely disagree"). The
 * prompt is evaluated once; each continuation is evaluated after it, from the same state (what the
 * previous one added is erased), so its probability does not depend on the other continuations or
 * their order. Only this tokenization of the text is scored (other token splits of the same text
 * are not summed, as in the papers). node-llama-cpp 3.21.1 can only give the probability of a
 * token other than the sampled one through the full vocabulary map (`probabilities: true`), so
 * each continuation position costs one vocabulary-sized map (cheap for small vocabularies, some
 * milliseconds for 150K-token ones).
 */
export class LlamaClient implements ModelClient {
  readonly backend = "llama" as const;
  private readonly slots: Slot[] = [];
  private readonly free: Slot[] = [];
  private readonly waiting: ((s: Slot) => void)[] = [];
  private readonly labels: LabelIndex;

  constructor(
    readonly identity: string,
    private readonly model: LlamaModel,
    private readonly context: LlamaContext,
    readonly concurrency: number,
    /**
     * Prompts are rendered by a chat template (llama-chat.ts): their special-token texts
     * ("<|im_start|>", "<s>") are parsed as the special tokens they name. Raw prompts are plain text.
     */
    private readonly templated = false,
    /**
     * The settings its context was created with (threads, context size, flash attention, LoRA
     * adapter), for the contexts `createContext` makes; by default the context's size alone.
     */
    private readonly contextSettings: Omit<LlamaContextOptions, "sequences"> = { contextSize: context.contextSize },
  ) {
    for (let i = 0; i < concurrency; i++) this.slots.push({ seq: context.getSequence(), held: null });
    this.free.push(...this.slots);
    this.labels = new LabelIndex(model);
  }

  /**
   * Tokens llama.cpp has evaluated so far over all sequences (prompts, prefixes, continuations,
   * completions), as node-llama-cpp's token meters count them.
   */
  get evaluatedTokens(): number {
    let n = 0;
    for (const { seq } of this.slots) n += seq.tokenMeter.usedInputTokens + seq.tokenMeter.usedOutputTokens;
    return n;
  }

  /** The loaded model, for decoding loops of their own (src/steer/decode.ts). */
  get llamaModel(): LlamaModel {
    return this.model;
  }

  /**
   * A new context on this client's model with the client's settings (threads, context size,
   * flash attention, LoRA adapter) and `sequences` sequences of its own, for decoding loops that
   * read token-level probabilities (src/steer/decode.ts). `lora` replaces the client's adapter
   * (null: none; a path: that adapter GGUF, made for this model). The caller disposes it (before
   * close()).
   */
  async createContext(sequences: number, lora?: { readonly path: string; readonly scale?: number } | null): Promise<LlamaContext> {
    const { lora: own, ...settings } = this.contextSettings;
    const adapter =
      lora === undefined ? (own === undefined ? {} : { lora: own }) : lora === null ? {} : { lora: { adapters: [{ filePath: lora.path, scale: lora.scale ?? 1 }] } };
    try {
      return await this.model.createContext({ ...settings, ...adapter, sequences });
    } catch (e) {
      const what = lora ? ` with LoRA adapter ${lora.path}` : "";
      throw new CivitasError("model", `could not create a context of ${sequences} sequences${what} on ${this.identity}: ${e instanceof Error ? e.message : String(e)}`, {
        hint: lora ? "is it a LoRA adapter GGUF made for this model (same architecture and tensor shapes)?" : "lower --context-size",
        cause: e,
      });
    }
  }

  /**
   * Tokens of a prompt as evaluated, with the BOS token the model expects (once: a chat template
   * that writes it already has it).
   */
  tokenize(prompt: string): Token[] {
    const tokens = this.model.tokenize(prompt, this.templated);
    const bos = this.model.tokens.bos;
    return this.model.tokens.shouldPrependBosToken && bos !== null && tokens[0] !== bos ? [bos, ...tokens] : tokens;
  }

  /** Tokens of a text that follows other text: no space is added at its start. */
  private tokenizeTail(text: string): Token[] {
    return this.model.tokenize(text, this.templated, "trimLeadingSpace");
  }

  /**
   * How a prompt is evaluated. A prefix that is empty, or that is the whole prompt, is no prefix;
   * one that does not start the prompt is an error.
   */
  private planPrompt(prompt: string, prefix: string | undefined): PromptPlan {
    if (prefix === undefined || prefix === "") return { prefix: null, rest: this.tokenize(prompt) };
    if (!prompt.startsWith(prefix)) {
      throw new CivitasError("usage", `the prefix of a query is not the start of its prompt (prefix ${JSON.stringify(prefix.length > 60 ? `${prefix.slice(0, 60)}...` : prefix)})`, {
        hint: "pass as prefix the exact text the prompt starts with, or no prefix",
      });
    }
    const rest = this.tokenizeTail(prompt.slice(prefix.length));
    if (rest.length === 0) return { prefix: null, rest: this.tokenize(prompt) };
    return { prefix: this.tokenize(prefix), rest };
  }

  /** Tokens of a continuation as it follows the prompt (see the class comment). */
  continuationTokens(prompt: string, text: string): Token[] {
    const space = /\s$/u.test(prompt) || /^\s/u.test(text) ? "" : " ";
    return this.tokenizeTail(space + text);
  }

  /**
   * Brings the slot's sequence to hold exactly the prompt and returns the next-token distribution
   * after it. With a prefix: reuses the prefix the sequence holds, else evaluates it from an empty
   * sequence, then evaluates the rest; without: clears the sequence and evaluates the whole prompt.
   */
  private async evaluatePrompt(slot: Slot, plan: PromptPlan): Promise<Map<Token, number>> {
    const { seq } = slot;
    const { prefix, rest } = plan;
    try {
      if (prefix === null) {
        slot.held = null;
        // A fresh state for every prompt: results do not depend on what was evaluated before.
        await seq.clearHistory();
      } else if (slot.held !== null && sameTokens(slot.held, prefix) && !seq.needsCheckpoints && sameTokens(seq.contextTokens.slice(0, prefix.length), prefix)) {
        if (seq.nextTokenIndex > prefix.length) await seq.eraseContextTokenRanges([{ start: prefix.length, end: seq.nextTokenIndex }]);
      } else {
        slot.held = null;
        await seq.clearHistory();
        // The prefix alone, as one evaluation from an empty sequence: always the same computation.
        await seq.controlledEvaluate(prefix);
        slot.held = prefix;
      }
      const last = rest.length - 1;
      const out = await seq.controlledEvaluate(rest.map((t, i) => (i === last ? withProbabilities(t) : t)));
      const probs = out[last]?.next.probabilities;
      if (!probs) throw new CivitasError("model", "llama.cpp returned no next-token probabilities");
      return probs;
    } catch (e) {
      // The state is unknown: the next query on this sequence starts from a cleared one.
      slot.held = null;
      throw e;
    }
  }

  private checkFits(seq: LlamaContextSequence, promptTokens: number, extra = 0): void {
    if (promptTokens + extra >= seq.contextSize) {
      const what = extra > 0 ? `the prompt and its longest continuation have ${promptTokens + extra} tokens` : `the prompt has ${promptTokens} tokens`;
      throw new CivitasError("model", `${what}, more than the context of ${seq.contextSize}`, { hint: "raise --context-size" });
    }
  }

  /**
   * The full next-token distribution after the prompt (token id -> probability, most likely
   * first). With a prefix (the start of the prompt), evaluated as described in the class comment.
   */
  async nextTokenProbabilities(prompt: string, prefix?: string): Promise<{ probs: Map<Token, number>; promptTokens: number }> {
    const plan = this.planPrompt(prompt, prefix);
    const promptTokens = (plan.prefix?.length ?? 0) + plan.rest.length;
    const slot = await this.acquire(plan.prefix);
    try {
      this.checkFits(slot.seq, promptTokens);
      return { probs: await this.evaluatePrompt(slot, plan), promptTokens };
    } finally {
      this.release(slot);
    }
  }

  /** Text of a token, for reports and for serving it over HTTP. */
  tokenText(token: Token): string {
    return this.model.detokenize([token]);
  }

  async optionProbabilities(query: OptionQuery, signal?: AbortSignal): Promise<OptionAnswer> {
    signal?.throwIfAborted();
    if (query.continuations !== undefined) return this.continuationProbabilities(query, query.continuations, signal);
    const { probs, promptTokens } = await this.nextTokenProbabilities(query.prompt, query.prefix);
    const labelMass = query.labels.map(() => 0);
    for (const { token, label } of this.labels.forLabels(query.labels)) {
      labelMass[label]! += probs.get(token) ?? 0;
    }
    const coverage = Math.min(1, labelMass.reduce((a, b) => a + b, 0));
    return { labelMass, coverage, top: this.topOf(probs, query.topK), promptTokens };
  }

  /** The k most likely tokens (default 20); `probs` is most likely first. */
  private topOf(probs: Map<Token, number>, k = 20): TokenProb[] {
    const top: TokenProb[] = [];
    for (const [token, prob] of probs) {
      if (top.length >= k) break;
      top.push({ token: this.tokenText(token), prob });
    }
    return top;
  }

  /** labelMass[k] = P(continuations[k] | prompt); see the class comment. */
  private async continuationProbabilities(query: OptionQuery, continuations: readonly string[], signal?: AbortSignal): Promise<OptionAnswer> {
    const texts = continuations.map((c, k) => {
      if (c === "") throw new CivitasError("usage", `continuation ${k + 1} of a query is empty: there is no option text to score`);
      return this.continuationTokens(query.prompt, c);
    });
    const plan = this.planPrompt(query.prompt, query.prefix);
    const promptTokens = (plan.prefix?.length ?? 0) + plan.rest.length;
    const slot = await this.acquire(plan.prefix);
    const { seq } = slot;
    try {
      this.checkFits(seq, promptTokens, Math.max(0, ...texts.map((t) => t.length - 1)));
      const probs = await this.evaluatePrompt(slot, plan);
      const labelMass: number[] = [];
      for (const tokens of texts) {
        signal?.throwIfAborted();
        let p = probs.get(tokens[0]!) ?? 0;
        if (tokens.length > 1) {
          try {
            // Every token but the last, each giving the distribution of the one after it.
            const out = await seq.controlledEvaluate(tokens.slice(0, -1).map(withProbabilities));
            for (let i = 1; i < tokens.length; i++) {
              const next = out[i - 1]?.next.probabilities;
              if (!next) throw new CivitasError("model", "llama.cpp returned no next-token probabilities");
              p *= next.get(tokens[i]!) ?? 0;
            }
            // Back to the end of the prompt: the next continuation starts from the same state.
            await seq.eraseContextTokenRanges([{ start: promptTokens, end: seq.nextTokenIndex }]);
          } catch (e) {
            slot.held = null;
            throw e;
          }
        }
        labelMass.push(p);
      }
      const coverage = Math.min(1, labelMass.reduce((a, b) => a + b, 0));
      return { labelMass, coverage, top: this.topOf(probs), promptTokens };
    } finally {
      this.release(slot);
    }
  }

  /**
   * A free sequence, preferring one that holds this prefix, then an empty one, then the one
   * released longest ago (its prefix is the least likely to come back). When none is free, the
   * first caller waiting gets the next one released.
   */
  private acquire(prefix: readonly Token[] | null): Promise<Slot> {
    if (this.free.length > 0) {
      let i = prefix === null ? -1 : this.free.findIndex((s) => s.held !== null && sameTokens(s.held, prefix));
      if (i < 0) i = this.free.findIndex((s) => s.held === null);
      if (i < 0) i = 0;
      return Promise.resolve(this.free.splice(i, 1)[0]!);
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(s: Slot): void {
    const next = this.waiting.shift();
    if (next) next(s);
    else this.free.push(s);
  }

  /**
   * n completions of the prompt. The prompt is evaluated once (all but its last token); each
   * completion then erases what the previous one generated, evaluates the last prompt token and
   * samples, so every completion goes through the same computation from the same state: the
   * texts depend only on the query, never on what was asked before. Completion k uses the seed
   * completionSeed(seed, k), so it is the same whatever n is. Generation stops at
   * end-of-generation, after maxTokens tokens (or when the context is full), or, with a `json`
   * constraint, where the JSON value ends. With a `choice` constraint the token limit is raised
   * to the longest choice's length in bytes, so that the choice is always complete.
   */
  async complete(query: CompletionQuery, signal?: AbortSignal): Promise<CompletionAnswer> {
    checkCompletionQuery(query);
    signal?.throwIfAborted();
    const grammar = query.constrain === undefined ? undefined : await this.grammarFor(query.constrain);
    const { LlamaGrammarEvaluationState } = await import("node-llama-cpp");
    const tokens = this.tokenize(query.prompt);
    if (tokens.length === 0) throw new CivitasError("usage", "cannot complete an empty prompt");
    const slot = await this.acquire(null);
    const { seq } = slot;
    // The sequence is cleared below: it no longer holds a prefix.
    slot.held = null;
    try {
      if (tokens.length >= seq.contextSize) {
        throw new CivitasError("model", `the prompt has ${tokens.length} tokens, more than the context of ${seq.contextSize}`, {
          hint: "raise --context-size",
        });
      }
      // A choice always completes: a token holds at least one byte, and once a choice is complete
      // the grammar allows only end-of-generation.
      const wanted =
        query.constrain?.kind === "choice"
          ? Math.max(query.maxTokens, ...query.constrain.choices.map((c) => Buffer.byteLength(c, "utf8")))
          : query.maxTokens;
      // Never let node-llama-cpp shift the context (it would drop the start of the prompt).
      const maxTokens = Math.min(wanted, seq.contextSize - tokens.length);
      const prefix = tokens.slice(0, -1);
      const last = tokens[tokens.length - 1]!;
      await seq.clearHistory();
      if (prefix.length > 0) await seq.evaluateWithoutGeneratingNewTokens(prefix);
      const stops = grammar === undefined ? [] : stopTexts(grammar);
      const texts: string[] = [];
      for (let k = 0; k < query.n; k++) {
        signal?.throwIfAborted();
        await seq.eraseContextTokenRanges([{ start: prefix.length, end: seq.nextTokenIndex }]);
        const out: Token[] = [];
        let text: string | undefined;
        const evaluation = seq.evaluate([last], {
          temperature: query.temperature,
          seed: completionSeed(query.seed, k),
          // Sample from the whole distribution: no truncation of the vocabulary.
          topK: 0,
          topP: 1,
          minP: 0,
          ...(grammar === undefined ? {} : { grammarEvaluationState: new LlamaGrammarEvaluationState({ model: this.model, grammar }) }),
        });
        for await (const token of evaluation) {
          out.push(token);
          if (stops.length > 0) {
            const sofar = this.model.detokenize(out, false, tokens);
            const at = firstIndexOfAny(sofar, stops);
            if (at >= 0) {
              text = sofar.slice(0, at);
              break;
            }
          }
          if (out.length >= maxTokens || signal?.aborted) break;
        }
        signal?.throwIfAborted();
        text ??= this.model.detokenize(out, false, tokens);
        if (grammar?.trimWhitespaceSuffix) text = text.trimEnd();
        texts.push(text);
      }
      return { texts, mode: grammar === undefined ? "none" : "grammar", promptTokens: tokens.length };
    } finally {
      this.release(slot);
    }
  }

  private readonly grammars = new Map<string, Promise<LlamaGrammar>>();

  /** The grammar of a constraint, built once per distinct constraint. */
  private grammarFor(constraint: Constraint): Promise<LlamaGrammar> {
    const key = JSON.stringify(constraint);
    let g = this.grammars.get(key);
    if (!g) {
      g = buildGrammar(this.model.llama, constraint);
      this.grammars.set(key, g);
      g.catch(() => this.grammars.delete(key));
    }
    return g;
  }

  async close(): Promise<void> {
    await this.context.dispose();
    await this.model.dispose();
  }
}

function firstIndexOfAny(text: string, needles: readonly string[]): number {
  let best = -1;
  for (const n of needles) {
    const i = text.indexOf(n);
    if (i >= 0 && (best < 0 || i < best)) best = i;
  }
  return best;
}
