/**
 * Model names as users write them on the command line, `<backend>:<target>`:
 *   llama:<file.gguf>                    a local GGUF file, run in-process by llama.cpp
 *   llama:hf:<org>/<repo>/<file.gguf>    downloaded once from Hugging Face into the cache
 *   openai:<model>                       any OpenAI-compatible server (OPENAI_BASE_URL, OPENAI_API_KEY)
 *   ollama:<model> | vllm:<model>        the same, at Ollama's / vLLM's usual local address
 *   js:<file.mjs>[#<target>]             a provider module the user brings (src/models/js.ts)
 *
 * Each backend is a registered component (src/registry.ts) keyed by its prefix; adding one is one
 * file and `backends.register(...)` (docs/extending.md), or, without touching civitas, a `js:`
 * provider.
 */
import { z } from "zod";
import { CivitasError } from "../errors.js";
import { parseArgs, Registry, type Component } from "../registry.js";
import { jsSpec } from "./js.js";
import { llamaSpec, type LlamaOptions } from "./llama.js";
import { openaiSpec, type OpenAIKind, type OpenAIOptions } from "./openai.js";
import type { ModelClient, ModelSpec } from "./types.js";

export type ModelOptions = LlamaOptions &
  OpenAIOptions & {
    /**
     * Load `js:` provider modules, whose code runs in this process. Only for a model named on a
     * command line or by a program (`civitas eval --model`); never for one a data file names (a
     * scenario file shared with you must not run code). Default false.
     */
    readonly allowModules?: boolean;
  };

/** A model backend: what `<name>:<target>` names. */
export interface ModelBackend extends Component {
  /** How users write its models, for help texts: "llama:<file.gguf>". */
  readonly forms: readonly string[];
  /**
   * The spec of the model `target` names (what follows "<name>:"), without loading it. `args`
   * (the component's) is the schema of the options a run records: never a secret.
   */
  spec(target: string, options: ModelOptions): Promise<ModelSpec>;
}

/** The model backends, by the prefix users write. */
export const backends = new Registry<ModelBackend>({
  kind: "model backend",
  check: (b) => [
    ...(Array.isArray(b.forms) && b.forms.length > 0 && b.forms.every((f) => typeof f === "string") ? [] : ['forms: expected how users write its models, e.g. ["mine:<name>"]']),
    ...(typeof b.spec === "function" ? [] : ["spec: expected a function (target, options) => Promise<ModelSpec>"]),
  ],
});

// The options a run records of each built-in: those that change how a model runs, never the API
// key or a base URL (it may carry credentials; the model's identity has it without them).
const count = z.number().optional();
const LLAMA_ARGS = z.object({
  threads: count,
  parallel: count,
  contextSize: count,
  gpu: z.union([z.literal("auto"), z.literal(false)]).optional(),
  flashAttention: z.boolean().optional(),
  chatTemplate: z.string().optional(),
});
const OPENAI_ARGS = z.object({
  concurrency: count,
  timeoutMs: count,
  retries: count,
  api: z.enum(["chat", "completions"]).optional(),
  modelId: z.string().optional(),
  reasoning: z.boolean().optional(),
});

backends.register({
  name: "llama",
  description: "a GGUF model run in-process by llama.cpp (node-llama-cpp)",
  args: LLAMA_ARGS,
  forms: ["llama:<file.gguf>", "llama:hf:<org>/<repo>/<file.gguf>"],
  spec: (target, options) => llamaSpec(target, options),
});
const openaiBackend = (kind: OpenAIKind, description: string): ModelBackend => ({
  name: kind,
  description,
  args: OPENAI_ARGS,
  forms: [`${kind}:<model>`],
  spec: (target, options) => Promise.resolve(openaiSpec(kind, target, options)),
});
backends.register(openaiBackend("openai", "any OpenAI-compatible server, chat or completions API (OPENAI_BASE_URL, OPENAI_API_KEY)"));
backends.register(openaiBackend("ollama", "an Ollama server (default http://localhost:11434/v1)"));
backends.register(openaiBackend("vllm", "a vLLM server (default http://localhost:8000/v1)"));
backends.register({
  name: "js",
  description: "a provider module you write: its default export makes a ModelClient (docs/extending.md)",
  args: z.object({}),
  forms: ["js:<file.mjs>[#<target>]"],
  spec: (target, options) => {
    if (options.allowModules !== true) {
      throw new CivitasError("usage", `the model "js:${target}" runs the code of a module, which is not loaded here`, {
        hint: "name a js: provider on civitas eval's command line (--model js:<file.mjs>), or call parseModelSpec with allowModules: true; a scenario or other data file cannot name code to run",
      });
    }
    return jsSpec(target, options);
  },
});

/** How users write models: every backend's forms, in order of registration. */
export function modelForms(): string[] {
  return backends.all.flatMap((b) => b.forms);
}

export async function parseModelSpec(spec: string, options: ModelOptions = {}): Promise<ModelSpec> {
  const colon = spec.indexOf(":");
  const kind = colon > 0 ? spec.slice(0, colon) : "";
  const target = colon > 0 ? spec.slice(colon + 1) : "";
  const backend = kind ? backends.find(kind) : undefined;
  if (!target || !backend || backend.name !== kind) {
    throw new CivitasError("usage", `cannot read the model "${spec}"`, {
      hint: `write one of: ${modelForms().join(", ")}`,
    });
  }
  const s = await backend.spec(target, options);
  return { ...s, component: { name: backend.name, args: { model: target, ...parseArgs(backends.kind, backend, options) } } };
}

/**
 * A view of a client that several users share: it answers through the client, and its `close`
 * does nothing (the owner closes the client once, when everyone is done).
 */
export function borrowClient(c: ModelClient): ModelClient {
  return {
    backend: c.backend,
    identity: c.identity,
    concurrency: c.concurrency,
    optionProbabilities: (q, s) => c.optionProbabilities(q, s),
    complete: (q, s) => c.complete(q, s),
    close: async () => {},
  };
}
