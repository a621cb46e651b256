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
 * JSON schema as node-llama-cpp's createGrammarForJsonSchema understands it.
 */
import { createHash } from "node:crypto";
import { open, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Llama, LlamaContext, LlamaContextSequence, LlamaGrammar, LlamaModel, Token } from "node-llama-cpp";
import { CivitasError, messageOf } from "../errors.js";
import { defaultCacheDir } from "../cache.js";
import { labelOfToken } from "./extract.js";
import { checkCompletionQuery, completionSeed } from "./completion.js";
import type {
  CompletionAnswer,
  CompletionQuery,
  Constraint,
  ModelClient,
  ModelSpec,
  OptionAnswer,
  OptionQuery,
  TokenProb,
} from "./types.js";

export interface LlamaOptions {
  /** CPU threads for evaluation. Default: 1 on machines with <= 2 cores (more stall), else cores - 1, at most 8. */
  readonly threads?: number;
  /** Context sequences evaluated in parallel. Default: 1 on CPU-only machines with <= 2 cores, else 4. */
  readonly parallel?: number;
  /** Tokens per sequence. Default: min(2048, the model's training context). */
  readonly contextSize?: number;
  /** GPU use: "auto" (default) or false for CPU only. */
  readonly gpu?: "auto" | false;
  /**
   * Flash attention: node-llama-cpp's choice when undefined (the default). Setting it changes the
   * numbers in the last digits, so it is part of the model's request parameters (cache keys).
   */
  readonly flashAttention?: boolean;
  /** Where `hf:` models are downloaded to. */
  readonly modelsDir?: string;
  /** Download progress of `hf:` models. */
  readonly onDownload?: (downloaded: number, total: number) => void;
  /** Give up an `hf:` download when no data arrived for this long (default 30 s). */
  readonly downloadStallMs?: number;
}

/** Where `hf:` models go: <cache>/models, the cache being $CIVITAS_CACHE_DIR, $XDG_CACHE_HOME/civitas or ~/.cache/civitas. */
export function defaultModelsDir(): string {
  return path.join(defaultCacheDir(), "models");
}

export function defaultThreads(cores = os.availableParallelism()): number {
  return cores <= 2 ? 1 : Math.min(8, cores - 1);
}

/** The settings that change a llama model's numbers, as request parameters (none by default: keys of earlier stores stay valid). */
function llamaParams(options: LlamaOptions): Record<string, boolean> {
  return options.flashAttention === undefined ? {} : { flash_attention: options.flashAttention };
}

/**
 * Prompts that share a prefix are evaluated as the prefix, once, then each rest: a batch of a few
 * dozen tokens. llama.cpp's CPU flash-attention kernel evaluates such short batches row by row, so
 * slowly that on stories260K with AVX2 the split prompts took 1.56x the time of whole ones
 * (bench/variants); without flash attention they take 0.52x. A plan that shares prefixes is
 * therefore asked with flash attention off, unless the user set it; a plan that does not keeps
 * node-llama-cpp's default (faster for whole prompts with AVX2, bench/eval-throughput).
 */
function specOf(identity: string, display: string, options: LlamaOptions, open: (options: LlamaOptions) => Promise<LlamaClient>): ModelSpec {
  return {
    backend: "llama",
    identity,
    display,
    params: llamaParams(options),
    open: () => open(options),
    ...(options.flashAttention === undefined ? { forSharedPrefixes: () => specOf(identity, display, { ...options, flashAttention: false }, open) } : {}),
  };
}

/** node-llama-cpp's binding is loaded once per process. */
let llamaPromise: Promise<Llama> | undefined;
async function getSharedLlama(gpu: "auto" | false): Promise<Llama> {
  if (!llamaPromise) {
    llamaPromise = (async () => {
      const { getLlama, LlamaLogLevel } = await import("node-llama-cpp");
      return getLlama({ build: "never", gpu, logLevel: LlamaLogLevel.error });
    })();
  }
  return llamaPromise;
}

/** Size plus a hash of the first MiB: identifies a GGUF file without reading gigabytes. */
async function fileFingerprint(file: string): Promise<string> {
  const fh = await open(file, "r");
  try {
    const size = (await fh.stat()).size;
    const buf = Buffer.alloc(Math.min(size, 1 << 20));
    await fh.read(buf, 0, buf.length, 0);
    return `${size}-${createHash("sha256").update(buf).digest("hex").slice(0, 16)}`;
  } finally {
    await fh.close();
  }
}

/**
 * `llama:<file.gguf>` or `llama:hf:<org>/<repo>/<file.gguf>`. A local file must exist now (a
 * clear error beats one after the data has loaded); an `hf:` model is downloaded on open().
 */
export async function llamaSpec(target: string, options: LlamaOptions = {}): Promise<ModelSpec> {
  if (target.startsWith("hf:")) {
    const uri = target;
    if (!/^hf:[^/]+\/[^/]+\/.+/u.test(uri)) {
      throw new CivitasError("usage", `model "llama:${uri}" is not of the form llama:hf:<org>/<repo>/<file.gguf>`, {
        hint: "for example llama:hf:bartowski/Qwen2.5-0.5B-Instruct-GGUF/Qwen2.5-0.5B-Instruct-Q4_K_M.gguf",
      });
    }
    return specOf(`llama:${uri}`, `llama:${uri}`, options, async (options) => {
      const { resolveModelFile } = await import("node-llama-cpp");
      // node-llama-cpp's downloader retries for minutes when the host cannot be reached; give up
      // when no byte has arrived for a while.
      const stallMs = options.downloadStallMs ?? 30_000;
      // Its own retries do not all listen to an abort signal, so the stall is raced as well.
      const controller = new AbortController();
      let stalled: (e: Error) => void = () => undefined;
      const stall = new Promise<never>((_, reject) => (stalled = reject));
      const arm = () =>
        setTimeout(() => {
          controller.abort();
          stalled(new Error("stalled"));
        }, stallMs);
      let timer = arm();
      let file: string;
      try {
        file = await Promise.race([
          resolveModelFile(uri, {
            directory: options.modelsDir ?? defaultModelsDir(),
            cli: false,
            signal: controller.signal,
            onProgress: (s: { totalSize: number; downloadedSize: number }) => {
              clearTimeout(timer);
              timer = arm();
              options.onDownload?.(s.downloadedSize, s.totalSize);
            },
          }),
          stall,
        ]);
      } catch (e) {
        const why = controller.signal.aborted ? `nothing arrived for ${Math.round(stallMs / 1000)} s` : messageOf(e);
        throw new CivitasError("network", `could not download model ${uri}: ${why}`, {
          hint: "check the network (Hugging Face must be reachable), or download the .gguf file yourself and pass --model llama:<path/to/file.gguf>",
          cause: e,
        });
      } finally {
        clearTimeout(timer);
      }
      return openLlamaClient(file, `llama:${uri}`, options);
    });
  }
  const file = path.resolve(target);
  let ok = false;
  try {
    ok = (await stat(file)).isFile();
  } catch {
    ok = false;
  }
  if (!ok) {
    throw new CivitasError("usage", `model file not found: ${target} (resolved to ${file})`, {
      hint: "give the path of a .gguf file, e.g. --model llama:../shared/models/stories260K.gguf, or llama:hf:<org>/<repo>/<file.gguf> to download one",
    });
  }
  const identity = `llama:${path.basename(file)}#${await fileFingerprint(file)}`;
  return specOf(identity, `llama:${path.basename(file)}`, options, (options) => openLlamaClient(file, identity, options));
}

async function openLlamaClient(file: string, identity: string, options: LlamaOptions): Promise<LlamaClient> {
  const llama = await getSharedLlama(options.gpu ?? "auto");
  let model: LlamaModel;
  try {
    model = await llama.loadModel({ modelPath: file });
  } catch (e) {
    throw new CivitasError("model", `could not load model ${file}: ${messageOf(e)}`, {
      hint: "is it a GGUF file that llama.cpp supports?",
      cause: e,
    });
  }
  const cores = os.availableParallelism();
  const threads = options.threads ?? defaultThreads(cores);
  const parallel = Math.max(1, options.parallel ?? (llama.gpu === false && cores <= 2 ? 1 : 4));
  const contextSize = options.contextSize ?? Math.min(2048, model.trainContextSize);
  let context: LlamaContext;
  try {
    // Flash attention as node-llama-cpp decides unless told. On the CPU it is fast (1.6x on
    // stories260K with AVX2), but its kernel takes a tiled path for batches of 64 tokens or more
    // and a row-by-row one for smaller batches, which round differently: a prompt evaluated in two
    // parts can differ from the same prompt evaluated whole (up to 2.4% on stories260K with AVX2).
    // The run engine therefore splits a prompt only where its plan shares the prefix, and records
    // the split in the request key (docs/design.md, Reproducibility).
    context = await model.createContext({
      contextSize,
      sequences: parallel,
      threads,
      ...(options.flashAttention === undefined ? {} : { flashAttention: options.flashAttention }),
    });
  } catch (e) {
    await model.dispose();
    throw new CivitasError("model", `could not create a context of ${contextSize} tokens x ${parallel} sequences: ${messageOf(e)}`, {
      hint: "lower --parallel or --context-size",
      cause: e,
    });
  }
  return new LlamaClient(identity, model, context, parallel);
}

/** Token ids per lower-cased label text, built once per model from its vocabulary. */
class LabelIndex {
  private readonly byText = new Map<string, Token[]>();
  private readonly cache = new Map<string, { token: Token; label: number }[]>();

  constructor(model: LlamaModel) {
    for (const token of model.iterateAllTokens()) {
      if (model.isSpecialToken(token)) continue;
      const text = model.detokenize([token]);
      // Only short tokens can be a label form ("A", " A", "(A", "A.", "12").
      if (text.length === 0 || text.length > 6) continue;
      const key = text.toLowerCase();
      const list = this.byText.get(key);
      if (list) list.push(token);
      else this.byText.set(key, [token]);
    }
  }

  /** Every vocabulary token that is a form of one of the labels. */
  forLabels(labels: readonly string[]): { token: Token; label: number }[] {
    const key = labels.join("\u0000");
    const hit = this.cache.get(key);
    if (hit) return hit;
    const out: { token: Token; label: number }[] = [];
    for (const [text, tokens] of this.byText) {
      const label = labelOfToken(text, labels);
      if (label >= 0) for (const token of tokens) out.push({ token, label });
    }
    this.cache.set(key, out);
    return out;
  }
}

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

  /** Tokens of a prompt as evaluated (with the BOS token the model expects). */
  tokenize(prompt: string): Token[] {
    const tokens = this.model.tokenize(prompt);
    const bos = this.model.tokens.bos;
    return this.model.tokens.shouldPrependBosToken && bos !== null ? [bos, ...tokens] : tokens;
  }

  /** Tokens of a text that follows other text: no space is added at its start. */
  private tokenizeTail(text: string): Token[] {
    return this.model.tokenize(text, false, "trimLeadingSpace");
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
    return { labelMass, coverage, top: this.topOf(probs), promptTokens };
  }

  private topOf(probs: Map<Token, number>): TokenProb[] {
    const top: TokenProb[] = [];
    for (const [token, prob] of probs) {
      if (top.length >= 20) break;
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

/** Texts that end a completion under this grammar (node-llama-cpp's JSON grammars end in "\n\n\n\n"). */
function stopTexts(grammar: LlamaGrammar): string[] {
  const out: string[] = [];
  for (const t of grammar.stopGenerationTriggers) {
    // A trigger is a string, a LlamaText or a list of strings and tokens; only text is used here.
    const text = typeof t === "string" ? t : Array.isArray(t) ? (t.every((x) => typeof x === "string") ? t.join("") : "") : t.toString();
    if (text !== "") out.push(text);
  }
  return out;
}

function firstIndexOfAny(text: string, needles: readonly string[]): number {
  let best = -1;
  for (const n of needles) {
    const i = text.indexOf(n);
    if (i >= 0 && (best < 0 || i < best)) best = i;
  }
  return best;
}

/** A GBNF string literal: quotes, backslashes and control characters escaped. */
export function gbnfLiteral(text: string): string {
  let out = '"';
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === "\\") out += `\\${ch}`;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, "0")}`;
    else out += ch;
  }
  return `${out}"`;
}

/** The GBNF grammar of a `choice` constraint: exactly one of the choices, nothing before or after. */
export function choiceGrammar(choices: readonly string[]): string {
  if (choices.length === 0) throw new CivitasError("usage", "a choice constraint needs at least one choice");
  if (choices.some((c) => c === "")) throw new CivitasError("usage", "a choice constraint cannot allow an empty choice");
  return `root ::= ${[...new Set(choices)].map(gbnfLiteral).join(" | ")}`;
}

async function buildGrammar(llama: Llama, constraint: Constraint): Promise<LlamaGrammar> {
  if (constraint.kind === "choice") return llama.createGrammar({ grammar: choiceGrammar(constraint.choices) });
  const bounds = checkGrammarSchema(constraint.schema);
  let json: LlamaGrammar;
  try {
    json = await llama.createGrammarForJsonSchema(constraint.schema as Parameters<Llama["createGrammarForJsonSchema"]>[0]);
  } catch (e) {
    throw new CivitasError("usage", `the JSON schema cannot be turned into a grammar: ${messageOf(e)}`, { cause: e });
  }
  if (bounds === "any") return json;
  return llama.createGrammar({
    grammar: boundNumbers(json.grammar, bounds),
    stopGenerationTriggers: json.stopGenerationTriggers,
    trimWhitespaceSuffix: json.trimWhitespaceSuffix,
  });
}

/**
 * node-llama-cpp's JSON grammars ignore `minimum` and `maximum`. Where every number of the schema
 * must be >= 0, its number rules lose their minus sign (an exponent keeps its sign: 1e-3 >= 0);
 * where every number must lie in [0, 1] (a probability), the number rule allows exactly that:
 * 0, 0.xxx, 1, 1.000 (up to 16 decimals, no exponent).
 */
export function boundNumbers(grammar: string, bounds: "nonnegative" | "unit"): string {
  let out = grammar.replace(/^((?:fractional|integer)-number-rule ::= )"-"\? /gmu, "$1");
  if (bounds === "unit") {
    out = out.replace(/^(fractional-number-rule ::= ).*$/mu, '$1"0" ("." [0-9]{1,16})? | "1" ("." [0]{1,16})?');
  }
  return out;
}

/** Keywords that only describe: accepted and ignored. */
const SCHEMA_ANNOTATIONS = new Set(["description", "title", "$schema", "$id", "$comment", "default", "examples"]);
/** Keywords node-llama-cpp's JSON schema grammar understands (3.21.1, utils/gbnfJson/types). */
const SCHEMA_KEYWORDS = new Set([
  "type",
  "const",
  "enum",
  "oneOf",
  "$ref",
  "$defs",
  "minLength",
  "maxLength",
  "format",
  "properties",
  "additionalProperties",
  "minProperties",
  "maxProperties",
  "required",
  "items",
  "prefixItems",
  "minItems",
  "maxItems",
  // Not enforced by the grammar, except minimum/exclusiveMinimum >= 0 (see buildGrammar).
  "minimum",
  "exclusiveMinimum",
  "maximum",
  "exclusiveMaximum",
]);
const SCHEMA_TYPES = new Set(["string", "number", "integer", "boolean", "null", "object", "array"]);

/**
 * Checks that node-llama-cpp can turn the schema into a grammar: given anything it does not
 * understand (anyOf, allOf, pattern, ...), it silently produces a grammar for `null` instead.
 * Also says what all numbers in it are bounded to: "unit" when every number is a `number` with
 * minimum 0 and maximum 1, "nonnegative" when every number has a minimum >= 0, else "any".
 */
export function checkGrammarSchema(schema: unknown): "any" | "nonnegative" | "unit" {
  let numbers = 0;
  let nonNegative = 0;
  let unit = 0;
  const fail = (where: string, what: string): never => {
    throw new CivitasError("usage", `the JSON schema cannot be enforced by a llama.cpp grammar: ${what} at ${where}`, {
      hint: "supported: type, const, enum, oneOf, $ref/$defs, properties, additionalProperties, required, items, prefixItems, min/maxItems, min/maxLength, format, minimum/maximum; or drop --constrain",
    });
  };
  const walk = (s: unknown, where: string): void => {
    if (typeof s !== "object" || s === null || Array.isArray(s)) fail(where, "a schema that is not an object");
    const o = s as Record<string, unknown>;
    for (const key of Object.keys(o)) {
      if (!SCHEMA_ANNOTATIONS.has(key) && !SCHEMA_KEYWORDS.has(key)) fail(where, `the keyword "${key}"`);
    }
    const type = o["type"];
    if (type !== undefined) {
      const types: unknown[] = Array.isArray(type) ? type : [type];
      for (const t of types) if (typeof t !== "string" || !SCHEMA_TYPES.has(t)) fail(where, `the type ${JSON.stringify(t)}`);
      if (types.includes("number") || types.includes("integer")) {
        numbers++;
        const min = [o["minimum"], o["exclusiveMinimum"]].filter((x): x is number => typeof x === "number");
        if (min.some((m) => m >= 0)) nonNegative++;
        if (types.length === 1 && type === "number" && o["minimum"] === 0 && o["maximum"] === 1) unit++;
      }
    } else if (o["const"] === undefined && o["enum"] === undefined && o["oneOf"] === undefined && o["$ref"] === undefined) {
      fail(where, "a schema with no type, const, enum, oneOf or $ref");
    }
    const props = o["properties"];
    if (props !== undefined) {
      if (typeof props !== "object" || props === null || Array.isArray(props)) fail(where, "properties that are not an object");
      for (const [k, v] of Object.entries(props as Record<string, unknown>)) walk(v, `${where}.properties.${k}`);
    }
    const extra = o["additionalProperties"];
    if (typeof extra === "object" && extra !== null) walk(extra, `${where}.additionalProperties`);
    else if (extra === true) numbers++; // any JSON value: its numbers are unbounded
    if (o["items"] !== undefined) walk(o["items"], `${where}.items`);
    for (const [name, list] of [
      ["prefixItems", o["prefixItems"]],
      ["oneOf", o["oneOf"]],
    ] as const) {
      if (list === undefined) continue;
      if (!Array.isArray(list)) fail(where, `${name} that is not a list`);
      (list as unknown[]).forEach((v, i) => walk(v, `${where}.${name}[${i}]`));
    }
    const defs = o["$defs"];
    if (defs !== undefined) {
      if (typeof defs !== "object" || defs === null || Array.isArray(defs)) fail(where, "$defs that are not an object");
      for (const [k, v] of Object.entries(defs as Record<string, unknown>)) walk(v, `${where}.$defs.${k}`);
    }
  };
  walk(schema, "the root");
  if (numbers === 0) return "any";
  if (unit === numbers) return "unit";
  return nonNegative === numbers ? "nonnegative" : "any";
}
