/**
 * In-process llama.cpp through node-llama-cpp. One evaluation of the prompt gives the full
 * next-token distribution; the mass on each option label (all its token forms) is read from it.
 */
import { createHash } from "node:crypto";
import { open, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Llama, LlamaContext, LlamaContextSequence, LlamaModel, Token } from "node-llama-cpp";
import { CivitasError, messageOf } from "../errors.js";
import { defaultCacheDir } from "../cache.js";
import { labelOfToken } from "./extract.js";
import type { CompletionAnswer, CompletionQuery, ModelClient, ModelSpec, OptionAnswer, OptionQuery, TokenProb } from "./types.js";

export interface LlamaOptions {
  /** CPU threads for evaluation. Default: 1 on machines with <= 2 cores (more stall), else cores - 1, at most 8. */
  readonly threads?: number;
  /** Context sequences evaluated in parallel. Default: 1 on CPU-only machines with <= 2 cores, else 4. */
  readonly parallel?: number;
  /** Tokens per sequence. Default: min(2048, the model's training context). */
  readonly contextSize?: number;
  /** GPU use: "auto" (default) or false for CPU only. */
  readonly gpu?: "auto" | false;
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
    return {
      backend: "llama",
      identity: `llama:${uri}`,
      display: `llama:${uri}`,
      params: {},
      open: async () => {
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
      },
    };
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
  return {
    backend: "llama",
    identity,
    display: `llama:${path.basename(file)}`,
    params: {},
    open: () => openLlamaClient(file, identity, options),
  };
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
    context = await model.createContext({ contextSize, sequences: parallel, threads });
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

export class LlamaClient implements ModelClient {
  readonly backend = "llama" as const;
  private readonly free: LlamaContextSequence[] = [];
  private readonly waiting: ((s: LlamaContextSequence) => void)[] = [];
  private readonly labels: LabelIndex;

  constructor(
    readonly identity: string,
    private readonly model: LlamaModel,
    private readonly context: LlamaContext,
    readonly concurrency: number,
  ) {
    for (let i = 0; i < concurrency; i++) this.free.push(context.getSequence());
    this.labels = new LabelIndex(model);
  }

  /** Tokens of a prompt as evaluated (with the BOS token the model expects). */
  tokenize(prompt: string): Token[] {
    const tokens = this.model.tokenize(prompt);
    const bos = this.model.tokens.bos;
    return this.model.tokens.shouldPrependBosToken && bos !== null ? [bos, ...tokens] : tokens;
  }

  /** The full next-token distribution after the prompt (token id -> probability, most likely first). */
  async nextTokenProbabilities(prompt: string): Promise<{ probs: Map<Token, number>; promptTokens: number }> {
    const tokens = this.tokenize(prompt);
    const seq = await this.acquire();
    try {
      if (tokens.length >= seq.contextSize) {
        throw new CivitasError("model", `the prompt has ${tokens.length} tokens, more than the context of ${seq.contextSize}`, {
          hint: "raise --context-size",
        });
      }
      // A fresh state for every prompt: results do not depend on what was evaluated before.
      await seq.clearHistory();
      const last = tokens.length - 1;
      const out = await seq.controlledEvaluate(
        tokens.map((t, i) => (i === last ? ([t, { generateNext: { probabilities: true } }] as const) : t)) as Parameters<
          LlamaContextSequence["controlledEvaluate"]
        >[0],
      );
      const probs = out[last]?.next.probabilities;
      if (!probs) throw new CivitasError("model", "llama.cpp returned no next-token probabilities");
      return { probs, promptTokens: tokens.length };
    } finally {
      this.release(seq);
    }
  }

  /** Text of a token, for reports and for serving it over HTTP. */
  tokenText(token: Token): string {
    return this.model.detokenize([token]);
  }

  async optionProbabilities(query: OptionQuery): Promise<OptionAnswer> {
    const { probs, promptTokens } = await this.nextTokenProbabilities(query.prompt);
    const labelMass = query.labels.map(() => 0);
    for (const { token, label } of this.labels.forLabels(query.labels)) {
      labelMass[label]! += probs.get(token) ?? 0;
    }
    const coverage = Math.min(1, labelMass.reduce((a, b) => a + b, 0));
    const top: TokenProb[] = [];
    for (const [token, prob] of probs) {
      if (top.length >= 20) break;
      top.push({ token: this.tokenText(token), prob });
    }
    return { labelMass, coverage, top, promptTokens };
  }

  private acquire(): Promise<LlamaContextSequence> {
    const s = this.free.pop();
    if (s) return Promise.resolve(s);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(s: LlamaContextSequence): void {
    const next = this.waiting.shift();
    if (next) next(s);
    else this.free.push(s);
  }

  // TODO(issue 3): sampled completions; being written.
  complete(_query: CompletionQuery): Promise<CompletionAnswer> {
    return Promise.reject(new CivitasError("usage", "this backend cannot sample completions yet"));
  }

  async close(): Promise<void> {
    await this.context.dispose();
    await this.model.dispose();
  }
}
