/**
 * The in-process llama.cpp backend (node-llama-cpp): a `llama:` model spec, a local GGUF file or
 * an `hf:` download, and opening it as a LlamaClient (llama-client.ts) with its context.
 */
import { createHash } from "node:crypto";
import { open, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Llama, LlamaContext, LlamaModel } from "node-llama-cpp";
import { CivitasError, messageOf } from "../errors.js";
import { defaultCacheDir } from "../cache.js";
import { checkChatTemplateChoice, resolveChatTemplate } from "./llama-chat.js";
import { LlamaClient } from "./llama-client.js";
import type { ChatTemplate, ModelSpec } from "./types.js";

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
  /**
   * The chat template prompts are rendered with (llama-chat.ts): "auto" (default: the GGUF's own,
   * raw text when it has none), "none" (raw text), or a built-in's name (CHAT_TEMPLATE_NAMES).
   * An `hf:` model with a template other than none is downloaded when its spec is made: the
   * template is read from the file.
   */
  readonly chatTemplate?: string;
  /**
   * A LoRA adapter (a GGUF file made for this model) applied to every context of the model, at
   * `scale` (default 1). It changes the model's numbers, so it is part of the identity (its file
   * name and fingerprint, and the scale). Decoding-time realignment compares a model with and
   * without its adapter (src/steer/decode.ts).
   */
  readonly lora?: { readonly path: string; readonly scale?: number };
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
function specOf(
  identity: string,
  display: string,
  options: LlamaOptions,
  template: ChatTemplate | null,
  open: (options: LlamaOptions) => Promise<LlamaClient>,
): ModelSpec {
  return {
    backend: "llama",
    identity,
    display,
    params: llamaParams(options),
    open: () => open(options),
    prompts: "text",
    ...(template === null ? {} : { chatTemplate: template }),
    ...(options.flashAttention === undefined ? { forSharedPrefixes: () => specOf(identity, display, { ...options, flashAttention: false }, template, open) } : {}),
  };
}

/** The chat template of a GGUF file (llama-chat.ts), read from its header; null for raw text. */
async function chatTemplateOf(file: string, choice: string, where: string): Promise<ChatTemplate | null> {
  if (choice.trim().toLowerCase() === "none") return null;
  const { readGgufFileInfo } = await import("node-llama-cpp");
  let info;
  try {
    info = await readGgufFileInfo(file, { readTensorInfo: false });
  } catch (e) {
    throw new CivitasError("model", `could not read the header of ${where}: ${messageOf(e)}`, {
      hint: "is it a GGUF file that llama.cpp supports? (--chat-template none skips reading its template)",
      cause: e,
    });
  }
  return resolveChatTemplate(choice, info, where);
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
 * clear error beats one after the data has loaded), and its chat template is read from its header
 * (options.chatTemplate). An `hf:` model is downloaded on open(), or now when its template is
 * needed (any --chat-template but none).
 */
export async function llamaSpec(target: string, options: LlamaOptions = {}): Promise<ModelSpec> {
  if (target.startsWith("hf:")) {
    const uri = target;
    if (!/^hf:[^/]+\/[^/]+\/.+/u.test(uri)) {
      throw new CivitasError("usage", `model "llama:${uri}" is not of the form llama:hf:<org>/<repo>/<file.gguf>`, {
        hint: "for example llama:hf:bartowski/Qwen2.5-0.5B-Instruct-GGUF/Qwen2.5-0.5B-Instruct-Q4_K_M.gguf",
      });
    }
    const choice = options.chatTemplate ?? "auto";
    checkChatTemplateChoice(choice);
    // The template is read from the file: with one, the file is needed now.
    if (choice.trim().toLowerCase() !== "none") {
      const file = await downloadHf(uri, options);
      const template = await chatTemplateOf(file, choice, `llama:${uri}`);
      const identity = `llama:${uri}${await loraSuffix(options, false)}`;
      return specOf(identity, `llama:${uri}${await loraSuffix(options, true)}`, options, template, (options) => openLlamaClient(file, identity, options, template !== null));
    }
    const identity = `llama:${uri}${await loraSuffix(options, false)}`;
    return specOf(identity, `llama:${uri}${await loraSuffix(options, true)}`, options, null, async (options) => openLlamaClient(await downloadHf(uri, options), identity, options, false));
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
  const identity = `llama:${path.basename(file)}#${await fileFingerprint(file)}${await loraSuffix(options, false)}`;
  const template = await chatTemplateOf(file, options.chatTemplate ?? "auto", target);
  return specOf(identity, `llama:${path.basename(file)}${await loraSuffix(options, true)}`, options, template, (options) => openLlamaClient(file, identity, options, template !== null));
}

/**
 * What a LoRA adapter adds to a model's identity ("+lora:<file>#<fingerprint>@<scale>") or, for
 * display, its name ("+lora:<file>"); "" without one. The adapter file must exist.
 */
async function loraSuffix(options: LlamaOptions, display: boolean): Promise<string> {
  if (options.lora === undefined) return "";
  const file = path.resolve(options.lora.path);
  const scale = options.lora.scale ?? 1;
  if (!Number.isFinite(scale)) throw new CivitasError("usage", `the scale of LoRA adapter ${options.lora.path} must be a finite number, got ${scale}`);
  let ok = false;
  try {
    ok = (await stat(file)).isFile();
  } catch {
    ok = false;
  }
  if (!ok) throw new CivitasError("usage", `LoRA adapter file not found: ${options.lora.path} (resolved to ${file})`);
  return display ? `+lora:${path.basename(file)}` : `+lora:${path.basename(file)}#${await fileFingerprint(file)}@${scale}`;
}

/** Downloads an `hf:` model into the models directory (once), giving up when it stalls; its local file. */
async function downloadHf(uri: string, options: LlamaOptions): Promise<string> {
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
  return file;
}

async function openLlamaClient(file: string, identity: string, options: LlamaOptions, templated: boolean): Promise<LlamaClient> {
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
  const settings = {
    contextSize,
    threads,
    ...(options.flashAttention === undefined ? {} : { flashAttention: options.flashAttention }),
    ...(options.lora === undefined ? {} : { lora: { adapters: [{ filePath: path.resolve(options.lora.path), scale: options.lora.scale ?? 1 }] } }),
  };
  let context: LlamaContext;
  try {
    // Flash attention as node-llama-cpp decides unless told. On the CPU it is fast (1.6x on
    // stories260K with AVX2), but its kernel takes a tiled path for batches of 64 tokens or more
    // and a row-by-row one for smaller batches, which round differently: a prompt evaluated in two
    // parts can differ from the same prompt evaluated whole (up to 2.4% on stories260K with AVX2).
    // The run engine therefore splits a prompt only where its plan shares the prefix, and records
    // the split in the request key (docs/design.md, Reproducibility).
    context = await model.createContext({ ...settings, sequences: parallel });
  } catch (e) {
    await model.dispose();
    if (options.lora !== undefined) {
      throw new CivitasError("model", `could not create a context with LoRA adapter ${options.lora.path} on ${file}: ${messageOf(e)}`, {
        hint: "is it a LoRA adapter GGUF made for this model (same architecture and tensor shapes)?",
        cause: e,
      });
    }
    throw new CivitasError("model", `could not create a context of ${contextSize} tokens x ${parallel} sequences: ${messageOf(e)}`, {
      hint: "lower --parallel or --context-size",
      cause: e,
    });
  }
  return new LlamaClient(identity, model, context, parallel, templated, settings);
}
